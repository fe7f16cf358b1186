//! The time series of a run: per-interval figures, the same block in every
//! scenario's report, so that warm-up effects, stalls and drift show.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default interval of the time series: one second.
pub fn default_interval() -> Duration {
    Duration::from_secs(1)
}

/// Per-interval figures of a run, from the start of the load (warm-up
/// included) to the end of the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// Nominal interval length, seconds (the last one may be shorter).
    pub interval_s: f64,
    /// The intervals, in order.
    pub intervals: Vec<Interval>,
}

/// One interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Start, seconds after the start of the measured window (negative in
    /// the warm-up).
    pub start_s: f64,
    /// Length, seconds.
    pub length_s: f64,
    /// Whether the interval is inside the measured window.
    pub measured: bool,
    /// Messages (chat: deliveries) received in the interval.
    pub messages: u64,
    /// The same per second.
    pub per_s: f64,
    /// Median latency of those messages from their intended send time, µs
    /// (`None`: no message, or latencies not recorded).
    pub p50_us: Option<u64>,
    /// 99th percentile, µs.
    pub p99_us: Option<u64>,
    /// Largest, µs.
    pub max_us: Option<u64>,
    /// Cores the server used in the interval (with a server pid).
    pub server_cpu_cores: Option<f64>,
    /// Server RSS at the end of the interval, bytes.
    pub server_rss_bytes: Option<u64>,
    /// The interval's latency histogram (HdrHistogram V2, base64), for an
    /// interval log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}
