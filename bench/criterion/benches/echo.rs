//! Echo, per variant: the round trip of one message on one connection (64 B and 4 KiB), and a burst of
//! messages over 100 concurrent connections; each in wall time and in CPU time.

use criterion::Throughput;
use criterion::measurement::Measurement;
use variant_benches::{App, Bench, EchoBurst, EchoClient, Message, Param, bench_main};

/// Message sizes of the round-trip group.
const RTT_SIZES: [usize; 2] = [64, 4096];
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

fn round_trip<M: Measurement>(b: &mut Bench<M>) {
    let params =
        RTT_SIZES.map(|size| Param::new(size_label(size), Throughput::Bytes(size as u64), size));
    b.variants("echo_rtt", App::Echo, &params, |addr, &size| {
        let mut client = EchoClient::connect(addr);
        let mut msg = Message::new(size);
        move || client.round_trip(&mut msg)
    });
}

fn burst<M: Measurement>(b: &mut Bench<M>) {
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

bench_main!(round_trip, burst);
