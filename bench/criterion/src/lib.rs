//! The criterion benches of the server variants (`benches/*.rs`): their harness, measurements and
//! client.
//!
//! * [`harness`]: [`Suite`] and [`Bench`] — every scenario runs once per measurement ([`Measure`]: wall
//!   time and CPU time, as groups `<scenario>.wall` and `<scenario>.cpu`), with one benchmark per
//!   variant ([`Bench::variants`]); [`bench_main!`] is the `main` of every bench.
//! * [`interleave`]: the scenario's benchmarks sampled in turns, all servers up at once, so that a
//!   slow spell of the machine falls on every variant alike; criterion analyses those samples.
//! * [`settings`]: what the command line asks of criterion that the harness needs to know (filter,
//!   sample count, times, whether criterion measures at all).
//! * [`cpu_time`]: [`CpuTime`], criterion's measurement of CPU time per iteration of one process.
//! * [`server`]: [`BenchServer`], a variant under test either in a pinned child process (the default)
//!   or in this process ([`Placement`], `BENCH_SERVER`); [`child`] is the child's side.
//! * [`client`], [`chat_room`], [`work`]: the clients, shared by every variant. Chat and work are
//!   driven by the workspace's one blocking line client, the conformance suite's [`ChatClient`]; echo
//!   over TLS and unix sockets by the suite's transports ([`Endpoint`]). The client is deliberately
//!   plain: blocking sockets with `TCP_NODELAY`, all driven from the bench thread itself (the work
//!   app's slow requests too, [`FastBesideSlow`]), with a read and write timeout of
//!   [`IO_TIMEOUT`] on every socket. A server that does not send the expected bytes back
//!   in time makes the bench panic with a message naming the scenario, instead of hanging; every byte
//!   that comes back is compared with what was expected (messages carry a per-iteration sequence
//!   number), so a broken server cannot look fast.
//! * [`mod@chat_stream`]: generated client input for the sans-IO benches.
//! * [`scratch`]: [`ScratchDir`], where a bench puts its servers' unix socket and TLS certificate.
//!
//! Quick mode: set `BENCH_QUICK=1` to shorten warm-up and measurement and skip the plots (see
//! [`criterion_config`]).

pub mod chat_room;
pub mod chat_stream;
pub mod child;
pub mod client;
pub mod cpu_time;
pub mod harness;
pub mod interleave;
pub mod scratch;
pub mod server;
pub mod settings;
pub mod work;

use std::time::Duration;

pub use chat_room::ChatRoom;
pub use chat_stream::{Rng, chat_stream};
pub use client::{
    EchoBurst, EchoClient, Message, connect, connect_echo_close, connect_to, expect_bytes,
    read_exact, write_all,
};
pub use conformance::chat_client::ChatClient;
pub use conformance::transport::Endpoint;
pub use cpu_time::{CpuTarget, CpuTime};
/// Criterion itself, for [`bench_main!`] and the benches.
pub use criterion;
use criterion::Criterion;
pub use harness::{Bench, Measure, Param, Suite};
pub use interleave::Workload;
pub use scratch::ScratchDir;
pub use serve::{App, Config, Impl, RunningServer};
pub use server::{BenchServer, Placement, ServerSpec, VARIANT_PLACEHOLDER};
pub use work::{FastBesideSlow, WorkClient};

/// Timeout of every connect, read and write the bench client makes.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Drain timeout given to the servers under test: the benches close their clients before stopping a
/// server, so stopping never needs long.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether quick mode was asked for (`BENCH_QUICK` set to anything but empty or `0`).
pub fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The criterion configuration of every bench in this package: criterion's defaults, or in quick mode
/// 20 samples over 0.3 s of warm-up and 1.5 s of measurement per benchmark, and no plots or HTML report
/// (drawing them takes criterion several seconds per benchmark, longer than measuring it; the estimates
/// are still saved, so baselines work). Command-line options (`--warm-up-time`, `--measurement-time`,
/// `--sample-size`, `--save-baseline`, ...) still apply on top.
pub fn criterion_config() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.without_plots()
            .sample_size(QUICK_SAMPLES)
            .warm_up_time(QUICK_WARM_UP)
            .measurement_time(QUICK_MEASUREMENT)
    } else {
        c
    }
}

/// Samples per benchmark in quick mode.
pub const QUICK_SAMPLES: usize = 20;
/// Warm-up per benchmark in quick mode.
pub const QUICK_WARM_UP: Duration = Duration::from_millis(300);
/// Measurement time per benchmark in quick mode.
pub const QUICK_MEASUREMENT: Duration = Duration::from_millis(1500);

/// The variants that can run here, in [`Impl::ALL`] order; each one left out (io_uring unavailable)
/// is named with its reason on stderr.
pub fn available() -> Vec<Impl> {
    Impl::ALL
        .into_iter()
        .filter(|imp| match imp.unavailable_reason() {
            Some(reason) => {
                eprintln!("skipping {imp}: {reason}");
                false
            }
            None => true,
        })
        .collect()
}
