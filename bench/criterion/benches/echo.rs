//! Echo, per variant: the round trip of one message on one connection (64 B and 4 KiB), the 64 B round
//! trip over each transport (TCP, TLS, a unix socket), and a burst of messages over 100 concurrent
//! connections; each in wall time and in CPU time.

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::Measurement;
use variant_benches::{
    App, Bench, EchoBurst, EchoClient, Message, Param, ScratchDir, ServerSpec, VARIANT_PLACEHOLDER,
    bench_main,
};

/// Message sizes of the round-trip group.
const RTT_SIZES: [usize; 2] = [64, 4096];
/// Message size of the transport group.
const TRANSPORT_SIZE: usize = 64;
/// Concurrent connections in the burst group.
const BURST_CONNS: usize = 100;
/// Messages per connection in one burst.
const BURST_PER_CONN: usize = 10;
/// Bytes per burst message.
const BURST_MSG: usize = 64;

fn size_label(size: usize) -> String {
    if size >= 1024 && size % 1024 == 0 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

fn round_trip<M: Measurement<Value = Duration>>(b: &mut Bench<M>) {
    let params =
        RTT_SIZES.map(|size| Param::new(size_label(size), Throughput::Bytes(size as u64), size));
    b.variants("echo_rtt", App::Echo, &params, |addr, &size| {
        let mut client = EchoClient::connect(addr);
        let mut msg = Message::new(size);
        move || client.round_trip(&mut msg)
    });
}

fn transport<M: Measurement<Value = Duration>>(b: &mut Bench<M>) {
    // The unix socket and the TLS certificate each server writes for the client to trust, one per
    // variant (their servers run at once).
    let files = ScratchDir::new("echo-transport");
    let tls = ServerSpec::new(App::Echo).flag("--tls-self-signed").option(
        "--tls-cert-out",
        files
            .file(&format!("{VARIANT_PLACEHOLDER}-cert.pem"))
            .display(),
    );
    let unix = ServerSpec::new(App::Echo).option(
        "--unix",
        files
            .file(&format!("{VARIANT_PLACEHOLDER}-echo.sock"))
            .display(),
    );
    let throughput = Throughput::Bytes(TRANSPORT_SIZE as u64);
    let params = [
        Param::new("tcp", throughput.clone(), TRANSPORT_SIZE),
        Param::new("tls", throughput.clone(), TRANSPORT_SIZE).serving(tls),
        Param::new("unix", throughput, TRANSPORT_SIZE).serving(unix),
    ];
    b.variants_on(
        "echo_rtt_transport",
        App::Echo,
        &params,
        |endpoint, &size| {
            let mut client = EchoClient::connect_to(endpoint);
            let mut msg = Message::new(size);
            move || client.round_trip(&mut msg)
        },
    );
    drop(files);
}

fn burst<M: Measurement<Value = Duration>>(b: &mut Bench<M>) {
    let params = [Param::new(
        format!("{BURST_CONNS}conns_x{BURST_PER_CONN}x{BURST_MSG}B"),
        Throughput::Elements((BURST_CONNS * BURST_PER_CONN) as u64),
        (),
    )];
    b.variants("echo_burst", App::Echo, &params, |addr, ()| {
        let mut clients = EchoBurst::connect(addr, BURST_CONNS, BURST_PER_CONN, BURST_MSG);
        move || clients.burst()
    });
}

bench_main!(round_trip, transport, burst);
