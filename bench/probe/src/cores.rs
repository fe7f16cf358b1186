//! Per-core time counters of `/proc/stat`.

use std::fs;
use std::time::Instant;

use crate::error::{ProbeError, Result};
use crate::sys::clk_tck;

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
/// the wall time between them.
///
/// On a kernel with tickless idle and tick-based CPU accounting (this one:
/// `CONFIG_NO_HZ_IDLE`, `CONFIG_TICK_CPU_ACCOUNTING`, HZ 250), idle time is
/// accounted exactly when a core leaves idle, but user, system, irq and
/// steal ticks are sampled at the tick: a load whose period divides the tick
/// (a 250 µs schedule at HZ 250) is never sampled busy, and `1 − Δidle/Δtotal`
/// reads it as 0. So `busy` is `1 − (Δidle + Δsteal)/(Δwall·CLK_TCK)`: exact
/// idle against the exact wall time, steal (time the hypervisor ran
/// something else) reported apart and not counted as busy. The
/// user/system/irq split of `busy` is in proportion to the sampled ticks (it
/// is only as good as the sampling; all zero when no busy tick was sampled).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoreShare {
    /// CPU number.
    pub cpu: usize,
    /// Fraction of the wall time neither idle nor stolen (0..1).
    pub busy: f64,
    /// Part of `busy` in user mode.
    pub user: f64,
    /// Part of `busy` in kernel mode.
    pub system: f64,
    /// Part of `busy` in hard and soft interrupts.
    pub irq: f64,
    /// Fraction of the wall time stolen by the hypervisor (not in `busy`).
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

    /// Each core's share of the wall time between `earlier` and `self`
    /// (see [`CoreShare`]); cores absent from either snapshot are left out,
    /// and so is everything when no time passed between them.
    pub fn shares_since(&self, earlier: &CoreSnapshot) -> Vec<CoreShare> {
        let wall = self.taken_at.saturating_duration_since(earlier.taken_at);
        self.shares_over(earlier, wall.as_secs_f64() * clk_tck() as f64)
    }

    /// Each core's share of `wall_ticks` clock ticks of wall time between
    /// `earlier` and `self` (what [`CoreSnapshot::shares_since`] computes
    /// from the snapshots' times).
    pub fn shares_over(&self, earlier: &CoreSnapshot, wall_ticks: f64) -> Vec<CoreShare> {
        if wall_ticks.is_nan() || wall_ticks <= 0.0 {
            return Vec::new();
        }
        self.cores
            .iter()
            .filter_map(|y| {
                let x = earlier.cores.iter().find(|x| x.cpu == y.cpu)?;
                let d = |p: u64, q: u64| q.saturating_sub(p) as f64;
                let idle = d(x.idle, y.idle) / wall_ticks;
                let steal = (d(x.steal, y.steal) / wall_ticks).clamp(0.0, 1.0);
                let busy = (1.0 - idle - steal).clamp(0.0, 1.0);
                let user = d(x.user, y.user);
                let system = d(x.system, y.system);
                let irq = d(x.irq + x.softirq, y.irq + y.softirq);
                let sampled = user + system + irq;
                let part = |v: f64| {
                    if sampled > 0.0 {
                        busy * v / sampled
                    } else {
                        0.0
                    }
                };
                Some(CoreShare {
                    cpu: y.cpu,
                    busy,
                    user: part(user),
                    system: part(system),
                    irq: part(irq),
                    steal,
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
                "cpu0 150 0 100 850 0 0 100 50 0 0\ncpu1 10 0 10 110 0 0 0 0\n",
            ),
        };
        // 200 ticks of wall time: core 0 was idle 50 of them and had 50
        // stolen, so it was busy 100 (although 150 busy ticks were sampled,
        // split evenly); core 1 idle for 100 and no busy tick sampled: busy
        // 100 all the same.
        let u = b.shares_over(&a, 200.0);
        assert_eq!(u.len(), 2);
        assert!((u[0].busy - 0.5).abs() < 1e-9, "{:?}", u[0]);
        assert!((u[0].steal - 0.25).abs() < 1e-9, "{:?}", u[0]);
        for part in [u[0].user, u[0].system, u[0].irq] {
            assert!((part - 0.5 / 3.0).abs() < 1e-9, "{:?}", u[0]);
        }
        assert!((u[1].busy - 0.5).abs() < 1e-9, "{:?}", u[1]);
        assert_eq!(u[1].user + u[1].system + u[1].irq, 0.0);
        assert!(b.shares_over(&a, 0.0).is_empty());
    }

    #[test]
    fn reads_this_host() {
        let s = CoreSnapshot::read().expect("/proc/stat");
        assert!(!s.cores.is_empty());
    }
}
