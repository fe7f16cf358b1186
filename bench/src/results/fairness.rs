//! Fairness across connections: how evenly the server served them, from
//! each connection's count of window messages (chat: deliveries) and their
//! mean latency.

use serde::{Deserialize, Serialize};

/// The spread across connections of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    /// Connections counted (every connection of the run, including any that
    /// received nothing).
    pub conns: usize,
    /// Messages per second of the slowest connection.
    pub min_per_s: f64,
    /// Median over connections, messages per second.
    pub median_per_s: f64,
    /// Messages per second of the fastest connection.
    pub max_per_s: f64,
    /// Jain's fairness index of the per-connection rates, `(Σx)² / (n·Σx²)`:
    /// 1 when every connection got the same, `1/n` when one got everything.
    pub jain: f64,
    /// Mean latency of the connection with the lowest mean, µs.
    pub latency_mean_min_us: f64,
    /// Median over connections of their mean latency, µs.
    pub latency_mean_median_us: f64,
    /// Mean latency of the connection with the highest mean, µs.
    pub latency_mean_max_us: f64,
}

/// Jain's fairness index of some non-negative amounts (1 for none, or all
/// zero: nobody was favoured).
pub fn jain(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let squares: f64 = x.iter().map(|v| v * v).sum();
    if x.is_empty() || squares == 0.0 {
        1.0
    } else {
        sum * sum / (x.len() as f64 * squares)
    }
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Fairness {
    /// From each connection's (window messages, sum of their latencies in
    /// ns) over a window of `window_s` (`None` without connections or
    /// window).
    pub fn of(per_conn: &[(u64, u64)], window_s: f64) -> Option<Fairness> {
        if per_conn.is_empty() || window_s <= 0.0 {
            return None;
        }
        let mut rates: Vec<f64> = per_conn.iter().map(|&(n, _)| n as f64 / window_s).collect();
        let index = jain(&rates);
        let mut means: Vec<f64> = per_conn
            .iter()
            .filter(|&&(n, _)| n > 0)
            .map(|&(n, ns)| ns as f64 / n as f64 / 1000.0)
            .collect();
        let median_per_s = median_of(&mut rates);
        let latency_mean_median_us = median_of(&mut means);
        Some(Fairness {
            conns: per_conn.len(),
            min_per_s: rates.first().copied().unwrap_or(0.0),
            median_per_s,
            max_per_s: rates.last().copied().unwrap_or(0.0),
            jain: index,
            latency_mean_min_us: means.first().copied().unwrap_or(0.0),
            latency_mean_median_us,
            latency_mean_max_us: means.last().copied().unwrap_or(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_is_one_when_even_and_one_over_n_when_one_gets_all() {
        assert_eq!(jain(&[5.0, 5.0, 5.0, 5.0]), 1.0);
        assert_eq!(jain(&[8.0, 0.0, 0.0, 0.0]), 0.25);
        assert_eq!(jain(&[]), 1.0);
        assert!((jain(&[1.0, 3.0]) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn spread_across_connections() {
        // Two seconds; three connections: 10, 20 and 30 messages, mean
        // latencies 1, 2 and 3 ms; one that received nothing.
        let f = Fairness::of(
            &[(10, 10_000_000), (20, 40_000_000), (30, 90_000_000), (0, 0)],
            2.0,
        )
        .unwrap();
        assert_eq!(f.conns, 4);
        assert_eq!((f.min_per_s, f.median_per_s, f.max_per_s), (0.0, 7.5, 15.0));
        assert_eq!(
            (
                f.latency_mean_min_us,
                f.latency_mean_median_us,
                f.latency_mean_max_us
            ),
            (1000.0, 2000.0, 3000.0)
        );
        assert!((f.jain - 3600.0 / (4.0 * 1400.0)).abs() < 1e-12);
        assert!(Fairness::of(&[], 1.0).is_none());
    }
}
