//! Latency histograms: creation, summaries, merging and V2 serialization.
//!
//! All latency histograms count microseconds, from 1 µs to 60 s with three
//! significant digits, like wrk2. Values beyond 60 s are clamped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Lowest trackable latency, in microseconds.
pub const LOWEST_US: u64 = 1;
/// Highest trackable latency, in microseconds (60 s).
pub const HIGHEST_US: u64 = 60_000_000;
/// Significant decimal digits kept.
pub const SIGFIG: u8 = 3;

/// A new, empty latency histogram (µs, 1 µs to 60 s, 3 digits).
pub fn new_latency() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG)
        .unwrap_or_else(|e| unreachable!("constant histogram bounds rejected: {e}"))
}

/// A latency in nanoseconds as the histogram's value: rounded to the
/// nearest µs (not down: that would bias every figure by −0.5 µs), clamped
/// to `LOWEST_US..=HIGHEST_US`.
#[inline]
pub fn us_of_ns(ns: u64) -> u64 {
    (ns.saturating_add(500) / 1000).clamp(LOWEST_US, HIGHEST_US)
}

/// Records a latency given in nanoseconds (rounded to the nearest µs,
/// clamped to range).
#[inline]
pub fn record_ns(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(us_of_ns(ns));
}

/// Measures what recording costs per message on this machine: two clock
/// reads (send and receive timestamps) and one histogram record, in ns.
pub fn record_cost_ns(iterations: u32) -> f64 {
    let mut h = new_latency();
    let start = std::time::Instant::now();
    let mut prev = start;
    for _ in 0..iterations {
        let a = std::time::Instant::now();
        let b = std::time::Instant::now();
        record_ns(&mut h, b.duration_since(prev).as_nanos() as u64 + 20_000);
        prev = a;
    }
    std::hint::black_box(&h);
    start.elapsed().as_nanos() as f64 / f64::from(iterations.max(1))
}

/// Adds `src` into `dst` (same bounds, so this cannot fail in practice).
pub fn merge(dst: &mut Histogram<u64>, src: &Histogram<u64>) -> Result<()> {
    dst.add(src)
        .map_err(|e| Error::Histogram(format!("merge: {e:?}")))
}

/// Serializes a histogram in the HdrHistogram V2 format, base64-encoded.
pub fn to_base64(h: &Histogram<u64>) -> Result<String> {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| Error::Histogram(format!("serialize: {e:?}")))?;
    Ok(BASE64.encode(buf))
}

/// Decodes a histogram written by [`to_base64`] (or any V2 encoder).
pub fn from_base64(s: &str) -> Result<Histogram<u64>> {
    let bytes = BASE64
        .decode(s.trim())
        .map_err(|e| Error::Histogram(format!("base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| Error::Histogram(format!("deserialize: {e:?}")))
}

/// The usual percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded samples.
    pub count: u64,
    /// Smallest sample.
    pub min_us: u64,
    /// Mean.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// 99.99th percentile.
    pub p9999_us: u64,
    /// Largest sample.
    pub max_us: u64,
}

impl LatencySummary {
    /// Summarizes a histogram (all zeros when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            stdev_us: h.stdev(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            p9999_us: h.value_at_quantile(0.9999),
            max_us: h.max(),
        }
    }
}

/// A histogram together with its summary, as stored in reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramReport {
    /// The percentiles.
    pub summary: LatencySummary,
    /// The full histogram: HdrHistogram V2 encoding, base64.
    pub v2_base64: String,
}

impl HistogramReport {
    /// Summarizes and serializes a histogram.
    pub fn of(h: &Histogram<u64>) -> Result<Self> {
        Ok(HistogramReport {
            summary: LatencySummary::of(h),
            v2_base64: to_base64(h)?,
        })
    }

    /// Decodes the stored histogram, e.g. to merge several runs.
    pub fn histogram(&self) -> Result<Histogram<u64>> {
        from_base64(&self.v2_base64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_of_worker_histograms_equals_single() {
        let mut all = new_latency();
        let mut parts = [new_latency(), new_latency(), new_latency()];
        for i in 0..30_000u64 {
            let ns = (i * 7919) % 5_000_000 + 1000;
            record_ns(&mut all, ns);
            record_ns(&mut parts[(i % 3) as usize], ns);
        }
        let mut merged = new_latency();
        for p in &parts {
            merge(&mut merged, p).unwrap();
        }
        assert_eq!(merged, all);
        assert_eq!(LatencySummary::of(&merged), LatencySummary::of(&all));
    }

    #[test]
    fn v2_round_trip() {
        let mut h = new_latency();
        for v in [1u64, 2, 50, 999, 12_345, 1_000_000, HIGHEST_US] {
            h.record(v).unwrap();
        }
        // Beyond the range is clamped, not lost.
        record_ns(&mut h, 120_000_000_000);
        let s = to_base64(&h).unwrap();
        let back = from_base64(&s).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), 8);
        let rep = HistogramReport::of(&h).unwrap();
        assert_eq!(rep.histogram().unwrap(), h);
        assert!(rep.summary.max_us >= HIGHEST_US);
    }

    #[test]
    fn summary_percentiles() {
        let mut h = new_latency();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.count, 10_000);
        assert!((4990..=5010).contains(&s.p50_us));
        assert!((9890..=9910).contains(&s.p99_us));
        assert!(s.p9999_us <= s.max_us);
        assert!((s.mean_us - 5000.5).abs() < 10.0);
        assert_eq!(LatencySummary::of(&new_latency()).count, 0);
    }

    #[test]
    fn record_cost_is_small() {
        let ns = record_cost_ns(100_000);
        assert!(ns > 0.0);
        // Generous bound (debug build, noisy machine): well under 10 µs.
        assert!(ns < 10_000.0, "{ns}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(from_base64("not base64!").is_err());
        assert!(from_base64("aGVsbG8=").is_err());
    }
}
