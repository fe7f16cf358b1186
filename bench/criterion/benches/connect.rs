//! Connection handling, per variant: the time to accept and serve N fresh connections (connect, one
//! small echo, half-close, server closes), all N opened at once like a burst of arriving clients; in
//! wall time and in CPU time.

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::Measurement;
use variant_benches::{App, Bench, Message, Param, bench_main, connect_echo_close};

/// Connections per iteration.
const COUNTS: [usize; 2] = [1, 50];
/// Bytes echoed on each connection.
const MSG_LEN: usize = 16;

fn connect<M: Measurement<Value = Duration>>(b: &mut Bench<M>) {
    let params = COUNTS.map(|n| Param::new(n.to_string(), Throughput::Elements(n as u64), n));
    b.variants("connect", App::Echo, &params, |addr, &n| {
        let mut msg = Message::new(MSG_LEN);
        let mut scratch = Vec::new();
        let mut seq = 0u64;
        move || {
            seq += 1;
            connect_echo_close(addr, n, msg.stamp(seq), &mut scratch);
        }
    });
}

bench_main!(connect);
