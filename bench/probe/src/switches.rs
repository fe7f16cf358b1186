//! Context switches, summed over a process's threads.
//!
//! `/proc/PID/status` shows only the leader thread's counts, so they are
//! summed over every `/proc/PID/task/TID/status`. Threads that have exited
//! are not counted (the kernel folds their counts into the process's signal
//! struct, which `/proc` does not show).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::time::{Duration, Instant};

use crate::error::{ProbeError, Result};
use crate::status::status_value;

/// Voluntary and involuntary context switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextSwitches {
    /// Switches where the thread blocked (waited for I/O, a lock, a sleep).
    pub voluntary: u64,
    /// Switches where the thread was preempted.
    pub involuntary: u64,
}

impl ContextSwitches {
    /// Parses the two `*_ctxt_switches` lines of a `status` file.
    pub fn parse_status(text: &str) -> Option<ContextSwitches> {
        Some(ContextSwitches {
            voluntary: status_value(text, "voluntary_ctxt_switches")?,
            involuntary: status_value(text, "nonvoluntary_ctxt_switches")?,
        })
    }

    /// Both kinds together.
    pub fn total(&self) -> u64 {
        self.voluntary + self.involuntary
    }
}

/// Per-thread context-switch counts of a process at one moment.
#[derive(Debug, Clone, Default)]
pub struct ThreadSwitches {
    /// Thread id to its counts.
    pub per_thread: HashMap<u32, ContextSwitches>,
    /// Wall time the scan took (it grows with the number of threads).
    pub scan_time: Duration,
}

impl ThreadSwitches {
    /// Scans `/proc/PID/task/*/status` (`"self"` or a pid as `base`).
    ///
    /// One read buffer is reused for every thread; threads that exit during
    /// the scan are skipped.
    pub(crate) fn scan(base: &str) -> Result<ThreadSwitches> {
        let started = Instant::now();
        let dir = fs::read_dir(base).map_err(|e| ProbeError::read(base, e))?;
        let mut per_thread = HashMap::new();
        let mut buf = String::with_capacity(4096);
        let mut path = String::with_capacity(base.len() + 24);
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(tid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            path.clear();
            path.push_str(base);
            path.push('/');
            path.push_str(&tid.to_string());
            path.push_str("/status");
            buf.clear();
            let ok = File::open(&path)
                .and_then(|mut f| f.read_to_string(&mut buf))
                .is_ok();
            if !ok {
                continue; // the thread exited meanwhile
            }
            if let Some(c) = ContextSwitches::parse_status(&buf) {
                per_thread.insert(tid, c);
            }
        }
        Ok(ThreadSwitches {
            per_thread,
            scan_time: started.elapsed(),
        })
    }

    /// Sum over the threads present.
    pub fn total(&self) -> ContextSwitches {
        self.per_thread
            .values()
            .fold(ContextSwitches::default(), |a, c| ContextSwitches {
                voluntary: a.voluntary + c.voluntary,
                involuntary: a.involuntary + c.involuntary,
            })
    }

    /// Switches between `self` (earlier) and `later`, per thread: a thread
    /// present in both contributes its difference, a thread born in between
    /// all of its count, a thread that exited in between nothing.
    pub fn delta_to(&self, later: &ThreadSwitches) -> ContextSwitches {
        later
            .per_thread
            .iter()
            .fold(ContextSwitches::default(), |a, (tid, c)| {
                let c0 = self.per_thread.get(tid).copied().unwrap_or_default();
                ContextSwitches {
                    voluntary: a.voluntary + c.voluntary.saturating_sub(c0.voluntary),
                    involuntary: a.involuntary + c.involuntary.saturating_sub(c0.involuntary),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(voluntary: u64, involuntary: u64) -> ContextSwitches {
        ContextSwitches {
            voluntary,
            involuntary,
        }
    }

    #[test]
    fn delta_per_thread() {
        let mut a = ThreadSwitches::default();
        a.per_thread.insert(1, cs(10, 1));
        a.per_thread.insert(2, cs(5, 5)); // exits before the end
        let mut b = ThreadSwitches::default();
        b.per_thread.insert(1, cs(15, 3));
        b.per_thread.insert(3, cs(7, 0)); // born in between
        assert_eq!(a.delta_to(&b), cs(12, 2));
        assert_eq!(b.total(), cs(22, 3));
        assert_eq!(b.total().total(), 25);
    }

    #[test]
    fn parses_status() {
        let t = "voluntary_ctxt_switches:\t4\nnonvoluntary_ctxt_switches:\t9\n";
        assert_eq!(ContextSwitches::parse_status(t), Some(cs(4, 9)));
        assert_eq!(
            ContextSwitches::parse_status("voluntary_ctxt_switches: 4"),
            None
        );
    }
}
