//! The chat scenario's settings and report.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cost::Cost;
use super::hist::HistogramReport;
use super::series::TimeSeries;
use crate::util::serde_secs;

/// Settings of a chat run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSettings {
    /// Server address.
    pub addr: std::net::SocketAddr,
    /// The transport to the server (`addr` is unused for a unix socket).
    #[serde(default)]
    pub transport: crate::results::transport::Transport,
    /// Rooms.
    pub rooms: usize,
    /// Members per room (clients = rooms × members).
    pub members: usize,
    /// Room `i` is named `<room_prefix><i>` (a capacity search gives each
    /// step its own rooms, so that a server still relaying a previous
    /// step's backlog cannot mix it into this one).
    #[serde(default = "default_room_prefix")]
    pub room_prefix: String,
    /// Clients that send, spread evenly over the rooms.
    pub senders: usize,
    /// Messages per second over all senders.
    pub rate: f64,
    /// Text size of each message in bytes (at least the header,
    /// 51 bytes, see `generator::chat::HEADER_LEN`).
    pub size: usize,
    /// Measured duration.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
    /// Warm-up before the window (load on, not recorded).
    #[serde(with = "serde_secs")]
    pub warmup: Duration,
    /// How long connecting and joining may take, per client.
    #[serde(with = "serde_secs")]
    pub join_timeout: Duration,
    /// After the last send, how long to wait for the remaining deliveries.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to, round-robin (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Local addresses to connect from, round-robin (empty: the kernel's
    /// choice).
    #[serde(default)]
    pub source_ips: Vec<std::net::IpAddr>,
    /// Connection attempts per second (`None`: all at once).
    #[serde(default)]
    pub connect_rate: Option<f64>,
    /// Server process to sample in /proc.
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and threads.
    #[serde(with = "serde_secs")]
    pub sample_interval: Duration,
    /// Length of one interval of the time series.
    #[serde(
        with = "serde_secs",
        default = "crate::results::series::default_interval"
    )]
    pub interval: Duration,
}

impl ChatSettings {
    /// Defaults: one room of 10 members, 2 senders, 1000 messages/s of 64
    /// bytes, 1 s warm-up, 5 s measured.
    pub fn new(addr: std::net::SocketAddr) -> Self {
        ChatSettings {
            addr,
            transport: crate::results::transport::Transport::Tcp,
            rooms: 1,
            members: 10,
            room_prefix: default_room_prefix(),
            senders: 2,
            rate: 1000.0,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            join_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            connect_rate: None,
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            interval: crate::results::series::default_interval(),
        }
    }

    /// Total clients.
    pub fn clients(&self) -> usize {
        self.rooms * self.members
    }
}

/// Results of a chat run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReport {
    /// The settings used.
    pub settings: ChatSettings,
    /// Worker threads used.
    pub threads: usize,
    /// Clients requested.
    pub clients: usize,
    /// Clients that received `OK JOIN` before the load started.
    pub joined: usize,
    /// Clients that could not connect or join (refused, `ERR server-full`,
    /// timeout).
    pub join_failures: usize,
    /// Seconds from the first connect to the last `OK JOIN`.
    pub join_s: f64,
    /// Measured window, seconds.
    pub window_s: f64,
    /// Messages of the window (by intended send time) that were sent.
    pub sent: u64,
    /// Messages sent over the whole run (warm-up included).
    pub sent_total: u64,
    /// Messages of the window scheduled but never sent (the sender's
    /// connection was gone).
    #[serde(default)]
    pub unsent: u64,
    /// Receipts of the window's messages (one per receiving member).
    pub deliveries: u64,
    /// Receipts of all messages.
    pub deliveries_total: u64,
    /// Receipts expected for all messages from the members still connected.
    pub deliveries_expected: u64,
    /// Deliveries received inside the window (by receipt time) per second
    /// of window. Before 2026-11-26 it was the window's messages' receipts,
    /// those during the drain included, which read about the offered rate
    /// when the server could not keep up.
    pub deliveries_per_s: f64,
    /// Deliveries of window messages never received (never sent, lost, or
    /// missed by a client cut off as a slow consumer), recorded in
    /// `latency_corrected` with latency `t_stop − intended` as a lower bound
    /// (no survivorship: the corrected histogram holds every delivery the
    /// window's messages owed).
    #[serde(default)]
    pub latency_lower_bounds: u64,
    /// Open loop: how late the generator wrote each window message (actual −
    /// intended send time); its own lag, apart from the server's (absent
    /// from results saved before it existed).
    #[serde(default)]
    pub send_lag: Option<HistogramReport>,
    /// Window messages sent per second.
    pub msgs_per_s: f64,
    /// Fan-out latency, send to each receipt, of the window's messages.
    pub latency: HistogramReport,
    /// The same from each message's intended send time on the fixed
    /// schedule (corrected for coordinated omission: a sender held up by
    /// the server does not hide the delay). It also includes the
    /// generator's own lateness in waking up (senders are woken by a
    /// timerfd, so normally a few µs).
    #[serde(default)]
    pub latency_corrected: HistogramReport,
    /// Receipts missing at connected receivers (after the drain).
    pub lost: u64,
    /// Messages received twice.
    pub duplicated: u64,
    /// Messages that arrived after a later one of the same sender.
    pub reordered: u64,
    /// MSG lines whose text did not parse or had the wrong size.
    pub corrupt: u64,
    /// Clients cut off with `ERR slow-consumer` (or closed by the server
    /// without it while being sent to).
    pub slow_consumer_cutoffs: u64,
    /// Receipts those cut-off clients did not get (not counted in `lost`).
    pub lost_to_cutoffs: u64,
    /// Other disconnects and I/O errors after joining.
    pub disconnects: u64,
    /// The first problem, described.
    pub first_error: Option<String>,
    /// Whether every receipt arrived before the drain timeout.
    pub drained: bool,
    /// How evenly the connections were served (absent from results saved
    /// before it was counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<super::fairness::Fairness>,
    /// The server's and the generator's cost and the cores' load (the same
    /// block in every scenario's report; its fields sit at the top level).
    #[serde(flatten)]
    pub cost: Cost,
    /// Per-interval figures, deliveries by receipt time (absent from results
    /// saved before it existed).
    #[serde(default)]
    pub series: TimeSeries,
}

impl ChatReport {
    /// Whether the senders could not keep the schedule (messages unsent;
    /// lost deliveries are errors, and cut-offs are reported apart).
    pub fn behind_schedule(&self) -> bool {
        self.unsent > 0
    }

    /// Errors that make the run fail: loss, duplicates, reordering,
    /// corruption, join failures and disconnects (slow-consumer cut-offs
    /// are reported separately and not counted).
    pub fn error_count(&self) -> u64 {
        self.lost
            + self.duplicated
            + self.reordered
            + self.corrupt
            + self.join_failures as u64
            + self.disconnects
    }
}

/// The rooms' default name prefix: `r0`, `r1`, ...
pub fn default_room_prefix() -> String {
    "r".to_string()
}
