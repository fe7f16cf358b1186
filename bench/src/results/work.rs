//! The work scenario's settings and report: two classes of request/response
//! connections (fast and slow requests, `work/1`, docs/PROTOCOL.md) side by
//! side, each open loop at its own rate, measured apart.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cost::Cost;
use super::counts::{ConnectStats, ErrorCounts};
use super::hist::HistogramReport;
use super::series::TimeSeries;
use crate::util::serde_secs;

/// One class of connections: how many, what each request is, how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkClassSettings {
    /// Connections of the class (0: the class is absent).
    pub conns: usize,
    /// The request line, without its LF (`FIB 27`, `SLEEP 5`, `PING x`).
    pub request: String,
    /// Requests per second over all the class's connections (open loop;
    /// each connection sends `rate / conns` per second).
    pub rate: f64,
}

impl WorkClassSettings {
    /// Requests per second of one connection of the class.
    pub fn rate_per_conn(&self) -> f64 {
        if self.conns == 0 {
            0.0
        } else {
            self.rate / self.conns as f64
        }
    }
}

/// Settings of a work run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// The transport to the server (`addr` is unused for a unix socket).
    #[serde(default)]
    pub transport: crate::results::transport::Transport,
    /// The fast class (the one whose latency matters).
    pub fast: WorkClassSettings,
    /// The slow class, its neighbours (`conns` 0: the fast class alone).
    pub slow: WorkClassSettings,
    /// Measured duration.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
    /// Warm-up before the measured window (load on, not recorded).
    #[serde(with = "serde_secs")]
    pub warmup: Duration,
    /// At most this many requests in flight per connection; the schedule
    /// keeps running meanwhile, so the delay shows in the corrected latency.
    pub max_inflight: usize,
    /// Worker threads per class (`None`: one per CPU of `cpus`, else one per
    /// core).
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
    /// A request not answered within this long is a timeout error.
    #[serde(with = "serde_secs")]
    pub timeout: Duration,
    /// After the window, how long to wait for the remaining replies.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
    /// Server process to sample in /proc.
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and threads.
    #[serde(with = "serde_secs")]
    pub sample_interval: Duration,
    /// Length of one interval of the time series.
    #[serde(with = "serde_secs")]
    pub interval: Duration,
}

impl WorkSettings {
    /// Defaults: 10 fast connections sending `FIB 1` at 1000/s in all, 2
    /// slow ones sending `FIB 27` at 20/s in all, 1 s warm-up, 5 s measured.
    pub fn new(addr: SocketAddr) -> Self {
        WorkSettings {
            addr,
            transport: crate::results::transport::Transport::Tcp,
            fast: WorkClassSettings {
                conns: 10,
                request: "FIB 1".into(),
                rate: 1000.0,
            },
            slow: WorkClassSettings {
                conns: 2,
                request: "FIB 27".into(),
                rate: 20.0,
            },
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            max_inflight: 64,
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            connect_rate: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(5),
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            interval: crate::results::series::default_interval(),
        }
    }
}

/// Results of one class of a work run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkClassReport {
    /// The class's settings.
    pub settings: WorkClassSettings,
    /// The reply every request must get (computed once), without its LF.
    pub expected_reply: String,
    /// Requests per second of one connection (`rate / conns`).
    pub rate_per_conn: f64,
    /// Worker threads that ran the class.
    pub threads: usize,
    /// Connections that were established.
    pub ready: usize,
    /// Requests of the window (by intended send time) that were sent.
    pub sent: u64,
    /// Requests of the window scheduled but never sent.
    pub unsent: u64,
    /// Requests of the window sent but never answered.
    pub lost: u64,
    /// Requests of the window answered with the expected reply (each
    /// verified byte for byte).
    pub served: u64,
    /// Requests of the window answered `ERR busy` (the server's bounded
    /// pool and queue were full): valid under overload, counted apart, in
    /// no latency histogram.
    pub busy: u64,
    /// `ERR busy` answers over the whole run (warm-up and drain included).
    pub busy_total: u64,
    /// Expected replies received inside the window (by receipt time) per
    /// second of window: the achieved rate.
    pub served_per_s: f64,
    /// `ERR busy` answers received inside the window per second.
    pub busy_per_s: f64,
    /// Latency from the actual send, served requests of the window.
    pub latency: HistogramReport,
    /// Latency from the intended send time (corrected for coordinated
    /// omission), served requests of the window plus those never answered
    /// as lower bounds.
    pub latency_corrected: HistogramReport,
    /// Window requests never answered, in `latency_corrected` with latency
    /// `t_stop − intended` as a lower bound.
    pub latency_lower_bounds: u64,
    /// How late the generator wrote each window request (its own lag).
    pub send_lag: HistogramReport,
    /// Failures on the class's connections (a wrong reply is a mismatch;
    /// an `ERR` other than `busy` is refused).
    pub errors: ErrorCounts,
    /// The class's first failure, described.
    pub first_error: Option<String>,
}

impl WorkClassReport {
    /// Whether the class could not keep its schedule.
    pub fn behind_schedule(&self) -> bool {
        self.unsent > 0 || self.latency_lower_bounds > 0
    }
}

/// Results of a work run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkReport {
    /// The settings used.
    pub settings: WorkSettings,
    /// Worker threads used (both classes).
    pub threads: usize,
    /// Connection establishment (both classes).
    pub connect: ConnectStats,
    /// Measured window, seconds.
    pub window_s: f64,
    /// The fast class.
    pub fast: WorkClassReport,
    /// The slow class (`None`: the fast class ran alone).
    pub slow: Option<WorkClassReport>,
    /// Failures on all connections.
    pub errors: ErrorCounts,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// Server CPU-µs per answered request: the server's CPU over the
    /// window divided by every reply (expected or `ERR busy`, both classes)
    /// received inside the window.
    pub server_cpu_us_per_request: Option<f64>,
    /// The server's and the generator's cost and the cores' load (the
    /// generator's per-message figures count served requests).
    #[serde(flatten)]
    pub cost: Cost,
    /// Per-interval figures, served requests of both classes by receipt
    /// time.
    pub series: TimeSeries,
}

impl WorkReport {
    /// The classes that ran: fast, then slow.
    pub fn classes(&self) -> impl Iterator<Item = (&'static str, &WorkClassReport)> {
        std::iter::once(("fast", &self.fast)).chain(self.slow.iter().map(|s| ("slow", s)))
    }

    /// Whether a class could not keep its schedule.
    pub fn behind_schedule(&self) -> bool {
        self.classes().any(|(_, c)| c.behind_schedule())
    }

    /// Window requests unsent and never completed, both classes.
    pub fn behind_counts(&self) -> (u64, u64) {
        self.classes().fold((0, 0), |(u, l), (_, c)| {
            (u + c.unsent, l + c.latency_lower_bounds)
        })
    }

    /// Connect failures plus per-connection errors (wrong replies, `ERR`
    /// other than busy, resets, timeouts); `ERR busy` is not an error.
    pub fn error_count(&self) -> u64 {
        self.connect.failures.total() + self.errors.total()
    }
}
