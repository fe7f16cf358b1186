//! Echo, per variant: the round-trip time of one message on one connection (64 B and 4 KiB), and the
//! time for a burst of messages over 100 concurrent connections.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use variant_benches::{App, EchoBurst, EchoClient, Message, available, start_server, stop_server};

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

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_rtt");
    for imp in available() {
        // Started lazily, so that a filtered-out variant never starts a server.
        let mut server = None;
        let mut client = None;
        for size in RTT_SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let mut msg = Message::new(size);
            group.bench_function(BenchmarkId::new(imp.name(), size_label(size)), |b| {
                let server = server.get_or_insert_with(|| start_server(imp, App::Echo));
                let client = client.get_or_insert_with(|| EchoClient::connect(server.addr()));
                b.iter(|| client.round_trip(&mut msg));
            });
        }
        drop(client);
        if let Some(server) = server {
            stop_server(server);
        }
    }
    group.finish();
}

fn burst(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_burst");
    group.throughput(Throughput::Elements((BURST_CONNS * BURST_PER_CONN) as u64));
    let param = format!("{BURST_CONNS}conns_x{BURST_PER_CONN}x{BURST_MSG}B");
    for imp in available() {
        let mut server = None;
        let mut clients = None;
        group.bench_function(BenchmarkId::new(imp.name(), &param), |b| {
            let server = server.get_or_insert_with(|| start_server(imp, App::Echo));
            let clients = clients.get_or_insert_with(|| {
                EchoBurst::connect(server.addr(), BURST_CONNS, BURST_PER_CONN, BURST_MSG)
            });
            b.iter(|| clients.burst());
        });
        drop(clients);
        if let Some(server) = server {
            stop_server(server);
        }
    }
    group.finish();
}

mod group {
    //! The criterion group (in a module: the macro makes an undocumented `pub fn`).
    use super::*;

    criterion::criterion_group! {
        name = benches;
        config = variant_benches::criterion_config();
        targets = round_trip, burst
    }
}
criterion_main!(group::benches);
