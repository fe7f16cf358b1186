//! Interleaved sampling: every benchmark of a scenario measured in turns, so that each one's samples
//! spread over the whole scenario's time instead of one stretch of it.
//!
//! Criterion measures one benchmark after another, each within a second or two; on a shared machine a
//! slow spell of a few seconds then lands on one variant and moves its median by up to 30 % (see the
//! README). Here every benchmark of the scenario (every variant and parameter) has its server and
//! clients up at once; after a warm-up of each, sample `k` of every benchmark is taken in round `k`,
//! one benchmark after another (each round starting one benchmark further on), and each sample
//! records the wall time and the server's CPU time of one batch of iterations. A spell then costs
//! every variant the same rounds. Criterion is then given these samples (by the harness, see
//! [`Bench::variants_on`](crate::Bench::variants_on)) for its statistics, baselines and reports, in
//! wall time and in CPU time: both measurements come from the same batches.

use std::time::{Duration, Instant};

use host_probe::CpuClock;

/// One iteration's work against a server, which verifies what it receives; and what must happen
/// after a batch of iterations. Any `FnMut()` is one (an iteration, nothing after it).
pub trait Workload {
    /// One iteration (measured).
    fn iteration(&mut self);

    /// After a batch (unmeasured): e.g. wait for the requests still in flight, so that nothing of
    /// this benchmark runs during another one's batch.
    fn leave(&mut self) {}
}

impl<F: FnMut()> Workload for F {
    fn iteration(&mut self) {
        self()
    }
}

/// One batch of iterations of one benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Iterations in the batch.
    pub iters: u64,
    /// Wall time of the batch.
    pub wall: Duration,
    /// CPU time the measured process spent during the batch.
    pub cpu: Duration,
}

impl Sample {
    /// Wall nanoseconds per iteration.
    pub fn wall_per_iter(&self) -> f64 {
        self.wall.as_nanos() as f64 / self.iters as f64
    }

    /// CPU nanoseconds per iteration.
    pub fn cpu_per_iter(&self) -> f64 {
        self.cpu.as_nanos() as f64 / self.iters as f64
    }
}

/// How long to warm up and measure each benchmark, and in how many samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Warm-up of each benchmark (also how its batch size is found).
    pub warm_up: Duration,
    /// Measurement time of each benchmark, over all its samples.
    pub measurement: Duration,
    /// Samples (rounds).
    pub samples: usize,
}

/// One benchmark to sample: its workload and the clock of the process whose CPU time it measures.
pub struct Entry<'w> {
    /// The work of one iteration.
    pub workload: Box<dyn Workload + 'w>,
    /// The CPU clock read around each batch.
    pub clock: CpuClock,
}

/// A benchmark's samples, in the order they were taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    /// One per round.
    pub samples: Vec<Sample>,
}

impl Samples {
    /// Mean wall time of one iteration over every sample.
    pub fn mean_iteration(&self) -> Duration {
        let wall: Duration = self.samples.iter().map(|s| s.wall).sum();
        let iters: u64 = self.samples.iter().map(|s| s.iters).sum();
        wall / u32::try_from(iters.max(1)).unwrap_or(u32::MAX)
    }
}

/// Samples every entry `plan.samples` times in turns, after warming each up; returns each entry's
/// samples, in entry order.
///
/// # Panics
/// If a CPU clock cannot be read (a server died), or as the workloads panic.
pub fn sample(entries: &mut [Entry<'_>], plan: Plan) -> Vec<Samples> {
    let batch: Vec<u64> = entries
        .iter_mut()
        .map(|entry| batch_size(entry, plan))
        .collect();
    let mut out = vec![Samples::default(); entries.len()];
    for round in 0..plan.samples {
        for step in 0..entries.len() {
            let i = (round + step) % entries.len();
            out[i].samples.push(measure(&mut entries[i], batch[i]));
        }
    }
    out
}

/// Runs `entry` for the warm-up time (in batches doubling from one iteration), and returns the batch
/// size whose samples together last `plan.measurement`.
fn batch_size(entry: &mut Entry<'_>, plan: Plan) -> u64 {
    let started = Instant::now();
    let mut warm = Samples::default();
    let mut iters = 1u64;
    while started.elapsed() < plan.warm_up {
        warm.samples.push(measure(entry, iters));
        iters = iters.saturating_mul(2);
    }
    // The batches' own wall time, without what `leave` waited for.
    let per_iter = warm.mean_iteration().as_secs_f64().max(1e-9);
    let per_sample = plan.measurement.as_secs_f64() / plan.samples.max(1) as f64;
    ((per_sample / per_iter).round() as u64).max(1)
}

/// One batch of `iters` iterations, then the entry's `leave`.
fn measure(entry: &mut Entry<'_>, iters: u64) -> Sample {
    let cpu = now(&entry.clock);
    let started = Instant::now();
    for _ in 0..iters {
        entry.workload.iteration();
    }
    let wall = started.elapsed();
    let cpu = now(&entry.clock).saturating_sub(cpu);
    entry.workload.leave();
    Sample { iters, wall, cpu }
}

fn now(clock: &CpuClock) -> Duration {
    clock.now().unwrap_or_else(|err| {
        panic!(
            "cannot read the CPU clock of process {} (did the server die?): {err}",
            clock.pid()
        )
    })
}

/// Spins for `d` (criterion's warm-up call, which must last as long as an iteration does so that
/// criterion plans about the batch size measured).
pub fn spin(d: Duration) {
    let started = Instant::now();
    while started.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    fn own_clock() -> CpuClock {
        CpuClock::of(std::process::id()).expect("own clock")
    }

    #[test]
    fn samples_every_entry_in_turns_with_its_own_batch() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut entries: Vec<Entry<'_>> = (0..3)
            .map(|i| {
                let log = log.clone();
                let work = move || {
                    log.borrow_mut().push(i);
                    // Entry 2 is about ten times as slow as the others. (Sleeping: other tests
                    // measure this process's CPU time.)
                    std::thread::sleep(Duration::from_micros(if i == 2 { 1000 } else { 50 }));
                };
                Entry {
                    workload: Box::new(work),
                    clock: own_clock(),
                }
            })
            .collect();
        let plan = Plan {
            warm_up: Duration::from_millis(20),
            measurement: Duration::from_millis(40),
            samples: 4,
        };
        let out = sample(&mut entries, plan);
        assert_eq!(out.len(), 3);
        for samples in &out {
            assert_eq!(samples.samples.len(), 4);
        }
        // Batch sizes: about 10 ms per sample, so several times as many fast iterations as slow.
        let (fast, slow) = (out[0].samples[0].iters, out[2].samples[0].iters);
        assert!(fast >= 3 * slow, "fast {fast}, slow {slow}");
        // The wall time covers the sleeps.
        let s = out[2].samples[1];
        assert!(s.wall_per_iter() >= 1e6, "{s:?}");
        // After the warm-ups, rounds visit 0 1 2, then 1 2 0, then 2 0 1, ...
        let log = log.borrow();
        let mut visits: Vec<usize> = Vec::new();
        let warm: usize = log.len()
            - out
                .iter()
                .map(|s| s.samples.iter().map(|x| x.iters as usize).sum::<usize>())
                .sum::<usize>();
        for &i in &log[warm..] {
            if visits.last() != Some(&i) {
                visits.push(i);
            }
        }
        assert_eq!(visits, [0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2]);
    }

    #[test]
    fn per_iteration_figures() {
        let s = Sample {
            iters: 10,
            wall: Duration::from_micros(100),
            cpu: Duration::from_micros(40),
        };
        assert!((s.cpu_per_iter() - 4000.0).abs() < 1e-9);
        assert!((s.wall_per_iter() - 10_000.0).abs() < 1e-9);
    }

    /// A workload that logs its iterations and batch ends.
    struct Logged(Rc<RefCell<Vec<&'static str>>>);

    impl Workload for Logged {
        fn iteration(&mut self) {
            self.0.borrow_mut().push("i");
            // Not spinning: other tests measure this process's CPU time.
            std::thread::sleep(Duration::from_micros(200));
        }
        fn leave(&mut self) {
            self.0.borrow_mut().push("leave");
        }
    }

    #[test]
    fn every_batch_is_left() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut entries = [Entry {
            workload: Box::new(Logged(log.clone())),
            clock: own_clock(),
        }];
        let plan = Plan {
            warm_up: Duration::from_millis(5),
            measurement: Duration::from_millis(5),
            samples: 3,
        };
        let out = sample(&mut entries, plan);
        // Every batch, warm-up ones included, is followed by `leave`, and the samples' batches
        // are the last three.
        let log = log.borrow();
        assert_eq!(log.last(), Some(&"leave"));
        let batches: Vec<usize> = log
            .split(|e| *e == "leave")
            .filter(|b| !b.is_empty())
            .map(<[_]>::len)
            .collect();
        let sampled: Vec<usize> = out[0].samples.iter().map(|s| s.iters as usize).collect();
        assert_eq!(batches[batches.len() - 3..], sampled[..]);
    }
}
