//! The churn scenario's settings and report: new connections per second, each one round trip.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::counts::ConnectStats;
use super::hist::HistogramReport;
use crate::util::serde_secs;

/// What each churned connection does before it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChurnApp {
    /// One echo round trip of `size` bytes.
    Echo,
    /// Wait for `HELLO`, send `PING churn`, wait for `PONG churn`.
    Chat,
}

/// Settings of a churn run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// What each connection does.
    pub app: ChurnApp,
    /// Offered new connections per second (open loop: attempts start on schedule whatever the
    /// server does).
    pub rate: f64,
    /// How long to offer them: `rate × duration` connections in all.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
    /// Echo: bytes of the one round trip.
    pub size: usize,
    /// Give up on a connection (connect and round trip) after this long.
    #[serde(with = "serde_secs")]
    pub connect_timeout: Duration,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Local addresses to connect from, round-robin.
    pub source_ips: Vec<IpAddr>,
    /// Server process whose CPU time is read before and after.
    pub server_pid: Option<u32>,
    /// Seed of the per-connection byte patterns.
    pub seed: u64,
}

impl ChurnSettings {
    /// Defaults: echo, 1000 new connections/s for 3 s, 16 bytes each.
    pub fn new(addr: SocketAddr) -> Self {
        ChurnSettings {
            addr,
            app: ChurnApp::Echo,
            rate: 1000.0,
            duration: Duration::from_secs(3),
            size: 16,
            connect_timeout: Duration::from_secs(5),
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            server_pid: None,
            seed: 0x00c4_0e2a,
        }
    }

    /// Connections offered in all.
    pub fn conns(&self) -> usize {
        (self.rate * self.duration.as_secs_f64()).round().max(1.0) as usize
    }
}

/// Results of a churn run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnReport {
    /// The settings used.
    pub settings: ChurnSettings,
    /// Worker threads used.
    pub threads: usize,
    /// Connection establishment: latency (from `connect()` to writable), rate, failures by cause.
    pub connect: ConnectStats,
    /// Connections that completed their round trip (and were closed).
    pub completed: usize,
    /// Seconds from the first attempt to the last completed round trip.
    pub elapsed_s: f64,
    /// Completed connections per second over `elapsed_s`.
    pub achieved_rate: f64,
    /// From each connection's scheduled start to its round trip's end (open loop: includes any wait
    /// for the generator or the server), µs.
    pub round_trip: HistogramReport,
    /// Failures after establishment (closed, reset, mismatch, refused), and the first described.
    pub errors: u64,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// Server CPU time over the run (user + system), seconds, if its pid was given.
    pub server_cpu_s: Option<f64>,
}

impl ChurnReport {
    /// Completed connections per second of server CPU: new connections per second one fully busy
    /// server core would sustain at this load.
    pub fn conns_per_server_core_s(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (cpu > 0.0).then(|| self.completed as f64 / cpu)
    }

    /// Server CPU per completed connection, µs.
    pub fn server_us_per_conn(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.completed > 0).then(|| cpu * 1e6 / self.completed as f64)
    }

    /// Connect failures plus per-connection errors.
    pub fn error_count(&self) -> u64 {
        self.connect.failures.total() + self.errors
    }
}
