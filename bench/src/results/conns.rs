//! The conns scenario's settings and report.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cost::Cost;
use super::counts::{ConnectStats, ErrorCounts};
use super::hist::HistogramReport;
use crate::util::serde_secs;

/// Settings of a conns run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnsSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// The transport to the server (`addr` is unused for a unix socket).
    #[serde(default)]
    pub transport: crate::results::transport::Transport,
    /// Connections to open.
    pub conns: usize,
    /// Connection attempts per second (`None`: all at once).
    pub connect_rate: Option<f64>,
    /// Give up on a connection attempt after this long.
    #[serde(with = "serde_secs")]
    pub connect_timeout: Duration,
    /// How long to hold the connections open.
    #[serde(with = "serde_secs")]
    pub hold: Duration,
    /// Echo probes per connection during the hold, spread evenly.
    pub probes_per_conn: u32,
    /// Probe size, bytes.
    pub probe_size: usize,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Local addresses to connect from, round-robin.
    pub source_ips: Vec<IpAddr>,
    /// A probe not echoed within this long is a timeout error.
    #[serde(with = "serde_secs")]
    pub timeout: Duration,
    /// How long to wait for the close after the half-close.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
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

impl ConnsSettings {
    /// Defaults: 1000 connections at once, held 5 s, probed twice each
    /// with 16 bytes.
    pub fn new(addr: SocketAddr) -> Self {
        ConnsSettings {
            addr,
            transport: crate::results::transport::Transport::Tcp,
            conns: 1000,
            connect_rate: None,
            connect_timeout: Duration::from_secs(10),
            hold: Duration::from_secs(5),
            probes_per_conn: 2,
            probe_size: 16,
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(5),
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            seed: 0x00c0_22e5,
            interval: crate::results::series::default_interval(),
        }
    }
}

/// Results of a conns run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnsReport {
    /// The settings used.
    pub settings: ConnsSettings,
    /// Worker threads used.
    pub threads: usize,
    /// Connection establishment: latency percentiles, rate, failures.
    pub connect: ConnectStats,
    /// Measured hold, seconds.
    pub hold_s: f64,
    /// Probes scheduled during the hold and sent.
    pub probes_sent: u64,
    /// Probes echoed back and verified.
    pub probes_ok: u64,
    /// Probes not sent (connection gone).
    pub probes_unsent: u64,
    /// Probes sent but never echoed.
    pub probes_lost: u64,
    /// Probe round-trip time.
    pub probe_latency: HistogramReport,
    /// Connections that answered at least one probe.
    pub conns_alive: usize,
    /// Connections whose echo was complete when the server closed them
    /// after the half-close.
    pub conns_closed_cleanly: usize,
    /// Failures after connection establishment.
    pub errors: ErrorCounts,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// The server's and the generator's cost and the cores' load (the same
    /// block in every scenario's report; its fields sit at the top level).
    #[serde(flatten)]
    pub cost: Cost,
    /// Per-interval figures (absent from results saved before it existed).
    #[serde(default)]
    pub series: crate::results::series::TimeSeries,
}

impl ConnsReport {
    /// Connect failures plus per-connection errors.
    pub fn error_count(&self) -> u64 {
        self.connect.failures.total() + self.errors.total()
    }
}
