//! The work app, per variant: a fast request's round trip on one connection, alone, and beside slow
//! requests that other connections keep in flight, executed inline and offloaded to the variant's
//! blocking pool; in wall time (per fast request) and in CPU time (per request answered, fast or
//! slow: how many slow requests complete during a batch depends on where the fast ones land in their
//! cycle, so CPU time per fast request would not repeat).

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::Measurement;
use variant_benches::{
    App, Bench, Endpoint, Param, ServerSpec, SlowLoad, WorkClient, Workload, bench_main,
};

/// Connections that keep a slow request in flight beside the measured one.
const SLOW_CONNS: usize = 2;
/// The slow request's sleep, in milliseconds: `SLEEP 5` blocks the thread that executes it.
const SLOW_SLEEP_MS: u32 = 5;
/// Pool threads and queue of the offloaded servers: room for the slow requests and the fast one
/// together, so that no request is ever refused `ERR busy`.
const OFFLOAD_THREADS: usize = 4;

/// The fast request measured, and the slow load beside it, which runs only during a batch of this
/// benchmark (never beside another one's).
struct FastBesideSlow {
    client: WorkClient,
    endpoint: Endpoint,
    slow_conns: usize,
    load: Option<SlowLoad>,
}

impl Workload for FastBesideSlow {
    fn iteration(&mut self) {
        if let Some(load) = &mut self.load {
            load.check();
        }
        self.client.round_trip();
    }

    fn enter(&mut self) {
        if self.slow_conns > 0 {
            let (request, reply) = (
                format!("SLEEP {SLOW_SLEEP_MS}"),
                format!("SLEPT {SLOW_SLEEP_MS}"),
            );
            self.load = Some(SlowLoad::start(
                &self.endpoint,
                self.slow_conns,
                &request,
                &reply,
            ));
        }
    }

    fn leave(&mut self) {
        if let Some(load) = self.load.take() {
            load.finish();
        }
    }

    fn beside(&self) -> u64 {
        self.load.as_ref().map_or(0, SlowLoad::replies)
    }
}

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
    b.variants_on(
        "work_fast_beside_slow",
        inline,
        &params,
        |endpoint, &slow_conns| FastBesideSlow {
            client: WorkClient::connect(endpoint),
            endpoint: endpoint.clone(),
            slow_conns,
            load: None,
        },
    );
}

bench_main!(fast_beside_slow);
