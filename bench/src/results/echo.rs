//! The echo scenario's settings and report.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cost::Cost;
use super::counts::{ConnectStats, ErrorCounts};
use super::hist::HistogramReport;
use super::series::TimeSeries;
use crate::util::serde_secs;

/// Settings of an echo run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// The transport to the server (`addr` is unused for a unix socket).
    #[serde(default)]
    pub transport: crate::results::transport::Transport,
    /// Connections.
    pub conns: usize,
    /// Message size, bytes.
    pub size: usize,
    /// Measured duration.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
    /// Warm-up before the measured window (load on, not recorded).
    #[serde(with = "serde_secs")]
    pub warmup: Duration,
    /// Closed loop: messages in flight per connection.
    pub pipeline: usize,
    /// Open loop: messages per second over all connections (`None`: closed
    /// loop).
    pub rate: Option<f64>,
    /// Open loop: at most this many messages in flight per connection; the
    /// schedule keeps running meanwhile, so the delay shows in the corrected
    /// latency.
    pub max_inflight: usize,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to, round-robin (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Local addresses to connect from, round-robin (empty: the kernel's
    /// choice).
    pub source_ips: Vec<IpAddr>,
    /// Connection attempts per second (`None`: all at once).
    pub connect_rate: Option<f64>,
    /// Give up on a connection attempt after this long.
    #[serde(with = "serde_secs")]
    pub connect_timeout: Duration,
    /// A message not echoed within this long is a timeout error.
    #[serde(with = "serde_secs")]
    pub timeout: Duration,
    /// After the window, how long to wait for the remaining echoes and the
    /// server's close following the half-close.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
    /// Timestamp messages and record latencies (off only to measure the
    /// cost of measuring).
    pub record_latency: bool,
    /// Server process to sample in /proc.
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and threads.
    #[serde(with = "serde_secs")]
    pub sample_interval: Duration,
    /// Seed of the per-connection byte patterns.
    pub seed: u64,
    /// Length of one interval of the time series.
    #[serde(
        with = "serde_secs",
        default = "crate::results::series::default_interval"
    )]
    pub interval: Duration,
}

impl EchoSettings {
    /// Defaults: 10 connections, 64-byte messages, closed loop with one
    /// message in flight, 1 s warm-up, 5 s measured.
    pub fn new(addr: SocketAddr) -> Self {
        EchoSettings {
            addr,
            transport: crate::results::transport::Transport::Tcp,
            conns: 10,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            pipeline: 1,
            rate: None,
            max_inflight: 64,
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            connect_rate: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(2),
            record_latency: true,
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            seed: 0x010a_d6e4,
            interval: crate::results::series::default_interval(),
        }
    }
}

/// Results of an echo run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoReport {
    /// The settings used.
    pub settings: EchoSettings,
    /// `closed` or `open`.
    pub mode: String,
    /// Worker threads used.
    pub threads: usize,
    /// Connection establishment.
    pub connect: ConnectStats,
    /// Measured window, seconds.
    pub window_s: f64,
    /// Messages of the window that completed (sent or scheduled in the
    /// window, echoed completely and verified).
    pub messages: u64,
    /// Payload bytes of those messages, one direction.
    pub bytes: u64,
    /// The achieved rate: messages received inside the window (by receipt
    /// time, whenever sent) per second of window. Before 2026-11-26 it was
    /// the window's completed messages per second, receipts during the drain
    /// included, which overstated an overloaded open loop.
    pub msgs_per_s: f64,
    /// Open loop: window messages never completed (unsent, lost, timed
    /// out), recorded in `latency_corrected` with latency `t_stop −
    /// intended` as a lower bound (`t_stop`: when the run stopped waiting).
    #[serde(default)]
    pub latency_lower_bounds: u64,
    /// Open loop: how late the generator wrote each window message (actual −
    /// intended send time); its own lag, apart from the server's (absent
    /// from results saved before it existed).
    #[serde(default)]
    pub send_lag: Option<HistogramReport>,
    /// Payload MiB per second, one direction.
    pub mib_per_s: f64,
    /// Open loop: the requested rate.
    pub target_rate: Option<f64>,
    /// Messages of the window that were sent.
    pub sent: u64,
    /// Open loop: messages scheduled in the window but never sent (the
    /// connection was gone or had `max_inflight` outstanding until the end).
    pub unsent: u64,
    /// Messages of the window sent but never echoed (connection lost).
    pub lost: u64,
    /// Latency from the actual send (closed loop: the only one).
    pub latency: HistogramReport,
    /// Open loop: latency from the intended send time (corrected for
    /// coordinated omission).
    pub latency_corrected: Option<HistogramReport>,
    /// Failures after connection establishment.
    pub errors: ErrorCounts,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// Connections that completed at least one message.
    pub conns_answered: usize,
    /// Connections whose echo was complete when the server closed them
    /// after the half-close.
    pub conns_clean: usize,
    /// How evenly the connections were served (absent from results saved
    /// before it was counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<super::fairness::Fairness>,
    /// The server's and the generator's cost and the cores' load (the same
    /// block in every scenario's report; its fields sit at the top level).
    #[serde(flatten)]
    pub cost: Cost,
    /// Per-interval figures (absent from results saved before it existed).
    #[serde(default)]
    pub series: TimeSeries,
}

impl EchoReport {
    /// Whether an open loop could not keep its schedule: window messages
    /// unsent or never completed.
    pub fn behind_schedule(&self) -> bool {
        self.unsent > 0 || self.latency_lower_bounds > 0
    }

    /// Connect failures plus per-connection errors.
    pub fn error_count(&self) -> u64 {
        self.connect.failures.total() + self.errors.total()
    }
}
