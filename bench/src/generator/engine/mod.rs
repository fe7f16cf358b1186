//! The one engine every scenario runs on.
//!
//! * [`protocol`]: the small trait a scenario implements (what to send, how
//!   to check what arrives, when a connection is done);
//! * `worker`: the event loop of one worker thread (connect and handshake,
//!   closed or open loop, drain), the same for every scenario;
//! * `coordinator`: spawns the workers, starts them at one instant, brackets
//!   the measured window with the cost probes (server /proc, generator
//!   getrusage, per-core /proc/stat), samples the time series, and merges
//!   the workers' results;
//! * `recorder`: per-message recording (window, histograms, intervals);
//! * `classes`: groups of connections with loads of their own, measured
//!   apart in one run.
//! * `link`: the transport under a connection (TCP, TLS, unix socket).
//!
//! The engine knows nothing of comparisons or reports: it returns an
//! [`Outcome`] made of plain result types.

pub(crate) mod classes;
mod coordinator;
mod link;
pub mod protocol;
mod recorder;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

pub(crate) use classes::{Class, ClassOutcome};
pub(crate) use coordinator::{run, run_classes};

/// How messages are offered by one worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Load {
    /// Each connection keeps `pipeline` messages in flight.
    Closed {
        /// Messages in flight per connection.
        pipeline: usize,
    },
    /// A fixed schedule of `rate` messages/s over this worker's sending
    /// connections.
    Open {
        /// Messages per second for this worker.
        rate: f64,
        /// Cap on messages in flight per connection (protocols with replies).
        max_inflight: usize,
        /// The worker's schedule starts this long after the common start, so
        /// that workers do not all send at the same instants.
        offset_ns: u64,
    },
}

/// How the load is offered, for the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LoadSpec {
    /// Closed loop: messages in flight per connection.
    Closed { pipeline: usize },
    /// Open loop: messages per second over all sending connections.
    Open { rate: f64, max_inflight: usize },
}

/// Everything the coordinator needs (the same for every scenario).
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub addr: SocketAddr,
    /// Where and over which transport to connect (`addr` is its TCP address, if any).
    pub endpoint: conformance::transport::Endpoint,
    pub conns: usize,
    pub threads: Option<usize>,
    pub cpus: Vec<usize>,
    pub source_ips: Vec<IpAddr>,
    pub connect_rate: Option<f64>,
    /// Per connection: from `connect()` to ready (handshake included).
    pub connect_timeout: Duration,
    pub load: LoadSpec,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub drain_timeout: Duration,
    pub record: bool,
    pub server_pid: Option<u32>,
    pub sample_interval: Duration,
    /// Length of one interval of the time series.
    pub interval: Duration,
}

/// What one worker does.
#[derive(Debug, Clone)]
pub(crate) struct WorkerPlan {
    pub index: usize,
    pub endpoint: conformance::transport::Endpoint,
    /// Global connection indices (for the protocol and source addresses).
    pub conn_ids: Vec<usize>,
    pub source_ips: Vec<IpAddr>,
    pub connect_start: Instant,
    /// Connection attempts per second for this worker.
    pub connect_rate: Option<f64>,
    pub connect_timeout: Duration,
    pub load: Load,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub drain_timeout: Duration,
    pub record: bool,
    pub interval: Duration,
    pub cpu: Option<usize>,
    pub progress: Arc<AtomicU64>,
    /// Set by the coordinator once the end-of-window snapshots are taken:
    /// only then do connections drain.
    pub drain: Arc<AtomicBool>,
}
