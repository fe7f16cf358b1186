//! The work app, per variant: a fast request's round trip on one connection, alone, and beside slow
//! requests that two other connections of the client keep in flight (each sent again before a fast
//! request once its reply is in), executed inline and offloaded to the variant's blocking pool; in
//! wall time and in CPU time.

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::Measurement;
use variant_benches::{App, Bench, FastBesideSlow, Param, ServerSpec, bench_main};

/// Connections that keep a slow request in flight beside the measured one.
const SLOW_CONNS: usize = 2;
/// The slow request's sleep, in milliseconds: `SLEEP 5` blocks the thread that executes it.
const SLOW_SLEEP_MS: u32 = 5;
/// Pool threads and queue of the offloaded servers: room for the slow requests and the fast one
/// together, so that no request is ever refused `ERR busy`.
const OFFLOAD_THREADS: usize = 4;

fn fast_beside_slow<M: Measurement<Value = Duration>>(b: &mut Bench<M>) {
    let inline = ServerSpec::new(App::Work);
    let offload = ServerSpec::new(App::Work)
        .flag("--offload")
        .option("--offload-threads", OFFLOAD_THREADS)
        .option("--offload-queue", OFFLOAD_THREADS);
    let params = [
        Param::new("alone", Throughput::Elements(1), 0),
        Param::new("inline", Throughput::Elements(1), SLOW_CONNS),
        Param::new("offload", Throughput::Elements(1), SLOW_CONNS).serving(offload),
    ];
    let (request, reply) = (
        format!("SLEEP {SLOW_SLEEP_MS}"),
        format!("SLEPT {SLOW_SLEEP_MS}"),
    );
    b.variants_on(
        "work_fast_beside_slow",
        inline,
        &params,
        |endpoint, &slow_conns| FastBesideSlow::connect(endpoint, slow_conns, &request, &reply),
    );
}

bench_main!(fast_beside_slow);
