//! Connection handling, per variant: the time to accept and serve N fresh connections (connect, one
//! small echo, half-close, server closes), all N opened at once like a burst of arriving clients.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use variant_benches::{App, Message, available, connect_echo_close, start_server, stop_server};

/// Connections per iteration.
const COUNTS: [usize; 2] = [1, 50];
/// Bytes echoed on each connection.
const MSG_LEN: usize = 16;

fn connect(c: &mut Criterion) {
    let mut group = c.benchmark_group("connect");
    for imp in available() {
        let mut server = None;
        for n in COUNTS {
            group.throughput(Throughput::Elements(n as u64));
            let mut msg = Message::new(MSG_LEN);
            let mut scratch = Vec::new();
            let mut seq = 0u64;
            group.bench_function(BenchmarkId::new(imp.name(), n), |b| {
                let server = server.get_or_insert_with(|| start_server(imp, App::Echo));
                let addr = server.addr();
                b.iter(|| {
                    seq += 1;
                    connect_echo_close(addr, n, msg.stamp(seq), &mut scratch);
                });
            });
        }
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
        targets = connect
    }
}
criterion_main!(group::benches);
