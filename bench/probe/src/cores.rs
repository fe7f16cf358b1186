//! Per-core time counters of `/proc/stat`.

use std::fs;
use std::time::Instant;

use crate::error::{ProbeError, Result};

/// One core's counters from a `cpuN` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreTimes {
    /// CPU number.
    pub cpu: usize,
    /// user + nice.
    pub user: u64,
    /// system.
    pub system: u64,
    /// idle + iowait.
    pub idle: u64,
    /// Hardware interrupts.
    pub irq: u64,
    /// Software interrupts (on loopback, much of the TCP receive path).
    pub softirq: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
}

impl CoreTimes {
    /// Sum of every counter.
    pub fn total(&self) -> u64 {
        self.user + self.system + self.idle + self.irq + self.softirq + self.steal
    }
}

/// The per-core counters of `/proc/stat` at one moment.
#[derive(Debug, Clone)]
pub struct CoreSnapshot {
    /// When it was read.
    pub taken_at: Instant,
    /// One entry per online core, in the order of `/proc/stat`.
    pub cores: Vec<CoreTimes>,
}

/// How one core's time was spent between two snapshots, as fractions of
/// the ticks counted on that core.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoreShare {
    /// CPU number.
    pub cpu: usize,
    /// Fraction not idle (0..1).
    pub busy: f64,
    /// Fraction in user mode.
    pub user: f64,
    /// Fraction in kernel mode.
    pub system: f64,
    /// Fraction in hard and soft interrupts.
    pub irq: f64,
    /// Fraction stolen by the hypervisor.
    pub steal: f64,
}

impl CoreSnapshot {
    /// Reads `/proc/stat` now.
    pub fn read() -> Result<CoreSnapshot> {
        let path = "/proc/stat";
        let taken_at = Instant::now();
        let text = fs::read_to_string(path).map_err(|e| ProbeError::read(path, e))?;
        let cores = CoreSnapshot::parse(&text);
        if cores.is_empty() {
            return Err(ProbeError::format(path, "no cpuN lines"));
        }
        Ok(CoreSnapshot { taken_at, cores })
    }

    /// Parses the `cpuN` lines of a `/proc/stat` text (the `cpu` total line
    /// and every other line are skipped).
    pub fn parse(text: &str) -> Vec<CoreTimes> {
        text.lines()
            .filter_map(|l| {
                let mut it = l.split_ascii_whitespace();
                let cpu = it.next()?.strip_prefix("cpu")?.parse().ok()?;
                let mut v = [0u64; 8];
                for (slot, x) in v.iter_mut().zip(it) {
                    *slot = x.parse().unwrap_or(0);
                }
                Some(CoreTimes {
                    cpu,
                    user: v[0] + v[1],
                    system: v[2],
                    idle: v[3] + v[4],
                    irq: v[5],
                    softirq: v[6],
                    steal: v[7],
                })
            })
            .collect()
    }

    /// Each core's share of time between `earlier` and `self`; cores absent
    /// from either snapshot, or with no ticks counted, are left out.
    pub fn shares_since(&self, earlier: &CoreSnapshot) -> Vec<CoreShare> {
        self.cores
            .iter()
            .filter_map(|y| {
                let x = earlier.cores.iter().find(|x| x.cpu == y.cpu)?;
                let t = y.total().saturating_sub(x.total()) as f64;
                if t <= 0.0 {
                    return None;
                }
                let f = |p: u64, q: u64| q.saturating_sub(p) as f64 / t;
                Some(CoreShare {
                    cpu: y.cpu,
                    busy: 1.0 - f(x.idle, y.idle),
                    user: f(x.user, y.user),
                    system: f(x.system, y.system),
                    irq: f(x.irq + x.softirq, y.irq + y.softirq),
                    steal: f(x.steal, y.steal),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_from_two_texts() {
        let at = Instant::now();
        let a = CoreSnapshot {
            taken_at: at,
            cores: CoreSnapshot::parse(
                "cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 100 0 50 800 0 0 50 0 0 0\n\
                 cpu1 10 0 10 10 0 0 0 0 0 0\nintr 5\n",
            ),
        };
        assert_eq!(a.cores.len(), 2);
        let b = CoreSnapshot {
            taken_at: at,
            cores: CoreSnapshot::parse(
                "cpu0 150 0 100 850 0 0 100 0 0 0\ncpu1 10 0 10 110 0 0 0 0\n",
            ),
        };
        let u = b.shares_since(&a);
        assert_eq!(u.len(), 2);
        assert!((u[0].busy - 0.75).abs() < 1e-9);
        assert!((u[0].irq - 0.25).abs() < 1e-9);
        assert!((u[1].busy - 0.0).abs() < 1e-9);
    }

    #[test]
    fn reads_this_host() {
        let s = CoreSnapshot::read().expect("/proc/stat");
        assert!(!s.cores.is_empty());
    }
}
