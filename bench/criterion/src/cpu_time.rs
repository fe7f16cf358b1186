//! A criterion [`Measurement`] of CPU time: nanoseconds of CPU (user plus kernel, every thread) that a
//! process consumed while a batch of iterations ran, read from a process CPU clock
//! (`clock_getcpuclockid`, the same clock as `CLOCK_PROCESS_CPUTIME_ID` when it is this process).
//!
//! Which process is measured can change between benchmarks: the harness points the shared
//! [`CpuTarget`] at the server under test (a child process) or at this process (in-process servers,
//! and benches without a server). Time spent by other processes on the machine is never counted.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};
use host_probe::CpuClock;

/// Which process's CPU clock [`CpuTime`] reads; shared between the measurement and the harness that
/// starts and stops servers. Cloning shares it.
#[derive(Debug, Clone)]
pub struct CpuTarget {
    clock: Arc<Mutex<CpuClock>>,
}

impl CpuTarget {
    /// A target pointing at this process.
    ///
    /// # Panics
    /// If this process's CPU clock cannot be read (not Linux, or forbidden).
    pub fn this_process() -> CpuTarget {
        CpuTarget {
            clock: Arc::new(Mutex::new(own_clock())),
        }
    }

    /// Points the target at `clock`.
    pub fn set(&self, clock: CpuClock) {
        *self.clock.lock().unwrap_or_else(PoisonError::into_inner) = clock;
    }

    /// Points the target back at this process.
    pub fn reset(&self) {
        self.set(own_clock());
    }

    /// The process measured now.
    pub fn pid(&self) -> u32 {
        self.clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pid()
    }

    /// The target's CPU time so far.
    ///
    /// # Panics
    /// If the clock cannot be read: the measured process is gone (a server that died in the middle of
    /// a benchmark must not produce a figure).
    pub fn now(&self) -> Duration {
        let clock = *self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        clock.now().unwrap_or_else(|err| {
            panic!(
                "cannot read the CPU clock of process {} (did the server die?): {err}",
                clock.pid()
            )
        })
    }
}

fn own_clock() -> CpuClock {
    CpuClock::of(std::process::id())
        .unwrap_or_else(|err| panic!("this process's CPU clock cannot be read: {err}"))
}

/// CPU time per iteration, in nanoseconds, of the process [`CpuTarget`] points at.
#[derive(Debug, Clone)]
pub struct CpuTime {
    target: CpuTarget,
}

impl CpuTime {
    /// A measurement reading `target`.
    pub fn new(target: CpuTarget) -> CpuTime {
        CpuTime { target }
    }
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        self.target.now()
    }

    fn end(&self, start: Duration) -> Duration {
        self.target.now().saturating_sub(start)
    }

    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats nanoseconds of CPU time as criterion formats wall time, with throughputs per CPU-second.
#[derive(Debug, Clone, Copy)]
pub struct CpuFormatter;

/// The unit criterion would print for `ns` nanoseconds and the factor that converts to it.
pub fn time_unit(ns: f64) -> (f64, &'static str) {
    if ns < 1.0 {
        (1e3, "ps")
    } else if ns < 1e3 {
        (1.0, "ns")
    } else if ns < 1e6 {
        (1e-3, "µs")
    } else if ns < 1e9 {
        (1e-6, "ms")
    } else {
        (1e-9, "s")
    }
}

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = time_unit(typical);
        values.iter_mut().for_each(|v| *v *= factor);
        match unit {
            "ps" => "ps cpu",
            "ns" => "ns cpu",
            "µs" => "µs cpu",
            "ms" => "ms cpu",
            _ => "s cpu",
        }
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per_iter, step, units) = match *throughput {
            Throughput::Bytes(n) => (
                n,
                1024.0,
                ["B/cpu-s", "KiB/cpu-s", "MiB/cpu-s", "GiB/cpu-s"],
            ),
            Throughput::BytesDecimal(n) => {
                (n, 1000.0, ["B/cpu-s", "KB/cpu-s", "MB/cpu-s", "GB/cpu-s"])
            }
            Throughput::Bits(n) => (n, 1000.0, ["b/cpu-s", "Kb/cpu-s", "Mb/cpu-s", "Gb/cpu-s"]),
            Throughput::Elements(n) => (
                n,
                1000.0,
                ["elem/cpu-s", "Kelem/cpu-s", "Melem/cpu-s", "Gelem/cpu-s"],
            ),
        };
        let per_iter = per_iter as f64;
        let typical_rate = per_iter * 1e9 / typical;
        let mut power = 0;
        while power < 3 && typical_rate >= f64::powi(step, power as i32 + 1) {
            power += 1;
        }
        let denominator = f64::powi(step, power as i32);
        for v in values.iter_mut() {
            *v = per_iter * 1e9 / *v / denominator;
        }
        units[power]
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burn(d: Duration) {
        let clock = own_clock();
        let start = clock.now().expect("reads");
        let mut x = 0u64;
        while clock.now().expect("reads") - start < d {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[test]
    fn counts_cpu_burnt_by_other_threads_of_the_target() {
        let m = CpuTime::new(CpuTarget::this_process());
        let start = m.start();
        std::thread::spawn(|| burn(Duration::from_millis(20)))
            .join()
            .expect("burner");
        let got = m.end(start);
        assert!(got >= Duration::from_millis(20), "{got:?}");
    }

    #[test]
    fn sleeping_costs_no_cpu() {
        let m = CpuTime::new(CpuTarget::this_process());
        let start = m.start();
        std::thread::sleep(Duration::from_millis(50));
        let got = m.end(start);
        assert!(got < Duration::from_millis(25), "{got:?}");
    }

    #[test]
    fn a_target_follows_another_process_and_back() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let target = CpuTarget::this_process();
        target.set(CpuClock::of(child.id()).expect("child clock"));
        assert_eq!(target.pid(), child.id());
        assert!(target.now() < Duration::from_millis(500));
        target.reset();
        assert_eq!(target.pid(), std::process::id());
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn formats_like_criterion_with_a_cpu_unit() {
        let f = CpuFormatter;
        let mut v = [1500.0, 2500.0];
        assert_eq!(f.scale_values(1500.0, &mut v), "µs cpu");
        assert_eq!(v, [1.5, 2.5]);
        let mut v = [1000.0];
        assert_eq!(
            f.scale_throughputs(1000.0, &Throughput::Elements(10), &mut v),
            "Melem/cpu-s"
        );
        assert!((v[0] - 10.0).abs() < 1e-9, "{v:?}");
        let mut v = [1e9];
        assert_eq!(
            f.scale_throughputs(1e9, &Throughput::Bytes(64), &mut v),
            "B/cpu-s"
        );
        assert!((v[0] - 64.0).abs() < 1e-9, "{v:?}");
    }
}
