//! Samples a server process over a run with [`host_probe`]: its cost over
//! the measured window and its CPU time and RSS at every interval boundary.
//!
//! * CPU time: the process's CPU clock (`clock_getcpuclockid`, nanosecond
//!   resolution, all threads including exited ones); the user/system split
//!   from `/proc/PID/stat` (clock-tick resolution).
//! * Context switches: summed over every `/proc/PID/task/TID/status`, only
//!   at the start and the end of the measured window (never periodically),
//!   per thread id: a thread alive at both ends contributes its difference,
//!   a thread born inside the window all of its count. Threads that exit
//!   inside the window are lost (the kernel folds their counts into the
//!   process's signal struct, which /proc does not show).
//! * Threads and RSS: `/proc/PID/stat`, sampled periodically by a
//!   background thread for the peak.
//! * Open fds: the number of entries of `/proc/PID/fd`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use host_probe::{CpuClock, KernelMemory, Process, Stat, ThreadSwitches};

use crate::error::{Error, Result};
use crate::results::conn_memory::ConnMemory;
use crate::results::cost::ServerStats;
/// The kernel's memory and `process`'s page tables now (`None` if either is unreadable).
fn kernel_reading(process: Process) -> Option<(KernelMemory, u64)> {
    Some((KernelMemory::read().ok()?, process.page_table_bytes().ok()?))
}

fn probe_err(e: host_probe::ProbeError) -> Error {
    Error::Proc {
        path: String::new(),
        reason: e.to_string(),
    }
}

/// A cheap snapshot of a process: CPU, threads, RSS, fds.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// When it was taken.
    pub at: Instant,
    /// The stat fields.
    pub stat: Stat,
    /// CPU time from the process's CPU clock (`None`: not readable).
    pub cpu: Option<Duration>,
    /// Open fds.
    pub fds: u64,
}

impl Snapshot {
    /// Takes a snapshot of `process`, reading `clock` if given.
    pub fn take(process: Process, clock: Option<&CpuClock>) -> Result<Snapshot> {
        let at = Instant::now();
        Ok(Snapshot {
            at,
            cpu: clock.and_then(|c| c.now().ok()),
            stat: process.stat().map_err(probe_err)?,
            fds: process.fd_count().map_err(probe_err)?,
        })
    }

    /// RSS in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.stat.rss_bytes()
    }
}

#[derive(Debug, Default)]
struct Peaks {
    rss_pages: u64,
    threads: u64,
    samples: u64,
}

impl Peaks {
    fn add(&mut self, s: &Stat) {
        self.rss_pages = self.rss_pages.max(s.rss_pages);
        self.threads = self.threads.max(s.num_threads);
        self.samples += 1;
    }
}

/// Samples a server process over a run.
///
/// Create it before opening connections (baseline), call
/// [`Sampler::window_start`] and [`Sampler::window_end`] around the measured
/// window, then [`Sampler::finish`]. A background thread samples RSS and
/// threads every `interval` for the peaks.
pub struct Sampler {
    process: Process,
    clock: Option<CpuClock>,
    baseline: Snapshot,
    /// The kernel's memory and the server's page tables at the baseline and at the window's start.
    kernel_baseline: Option<(KernelMemory, u64)>,
    kernel_start: Option<(KernelMemory, u64)>,
    start: Option<Snapshot>,
    end: Option<Snapshot>,
    ctxt_start: Option<(Instant, ThreadSwitches)>,
    ctxt_end: Option<(Instant, ThreadSwitches)>,
    peaks: Arc<Mutex<Peaks>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    marks: Vec<Mark>,
}

/// A reading of the server's CPU time and RSS at one instant (the time
/// series' interval boundaries).
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    /// When it was taken.
    pub at: Instant,
    /// CPU time so far (`None`: not readable).
    pub cpu: Option<Duration>,
    /// RSS, bytes (`None`: not readable).
    pub rss_bytes: Option<u64>,
}

impl Sampler {
    /// Takes the baseline snapshot and starts periodic sampling.
    pub fn start(pid: u32, interval: Duration) -> Result<Sampler> {
        let process = Process::new(pid);
        let clock = process.cpu_clock().ok();
        let baseline = Snapshot::take(process, clock.as_ref())?;
        let kernel_baseline = kernel_reading(process);
        let peaks = Arc::new(Mutex::new(Peaks::default()));
        if let Ok(mut p) = peaks.lock() {
            p.add(&baseline.stat);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peaks, stop) = (peaks.clone(), stop.clone());
            std::thread::Builder::new()
                .name("proc-sampler".into())
                .spawn(move || {
                    let mut buf = String::with_capacity(512);
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(interval);
                        let Ok(s) = process.stat_with(&mut buf) else {
                            break; // the process is gone
                        };
                        if let Ok(mut p) = peaks.lock() {
                            p.add(&s);
                        }
                    }
                })
                .map_err(|e| Error::io("spawning the /proc sampler", e))?
        };
        Ok(Sampler {
            process,
            clock,
            baseline,
            kernel_baseline,
            kernel_start: None,
            start: None,
            end: None,
            ctxt_start: None,
            ctxt_end: None,
            peaks,
            stop,
            thread: Some(thread),
            marks: Vec::new(),
        })
    }

    /// The sampled process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn snap(&self) -> Result<Snapshot> {
        let snap = Snapshot::take(self.process, self.clock.as_ref())?;
        if let Ok(mut p) = self.peaks.lock() {
            p.add(&snap.stat);
        }
        Ok(snap)
    }

    fn scan(&self) -> Result<(Instant, ThreadSwitches)> {
        let t = Instant::now();
        let c = self.process.thread_switches().map_err(probe_err)?;
        // Attribute the scan to its midpoint.
        Ok((t + c.scan_time / 2, c))
    }

    /// Reads CPU time and RSS now, for the time series.
    pub fn mark(&mut self) {
        let at = Instant::now();
        let cpu = match &self.clock {
            Some(c) => c.now().ok(),
            None => self.process.cpu_time().ok(),
        };
        let rss_bytes = self.process.rss_bytes().ok();
        self.marks.push(Mark { at, cpu, rss_bytes });
    }

    /// The readings taken by [`Sampler::mark`], in order.
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// Marks the start of the measured window (CPU, threads, fds, RSS).
    pub fn window_start(&mut self) -> Result<()> {
        self.start = Some(self.snap()?);
        self.kernel_start = kernel_reading(self.process);
        Ok(())
    }

    /// Marks the end of the measured window.
    pub fn window_end(&mut self) -> Result<()> {
        self.end = Some(self.snap()?);
        Ok(())
    }

    /// Scans the per-thread context switches at the start. With many
    /// threads this takes a while, so the caller does it just *before* the
    /// window (the switch count is normalised to the window afterwards) to
    /// keep the scan from competing with the load. Returns how long it took.
    pub fn ctxt_start(&mut self) -> Result<Duration> {
        let (t, c) = self.scan()?;
        let d = c.scan_time;
        self.ctxt_start = Some((t, c));
        Ok(d)
    }

    /// Scans the per-thread context switches at the end (just after the
    /// window, before connections are closed).
    pub fn ctxt_end(&mut self) -> Result<()> {
        self.ctxt_end = Some(self.scan()?);
        Ok(())
    }

    /// Stops sampling and computes the figures for `conns` connections and
    /// `messages` completed messages in the window.
    pub fn finish(mut self, conns: usize, messages: u64) -> Result<ServerStats> {
        self.stop_thread();
        let (Some(s0), Some(s1), Some((t0, c0)), Some((t1, c1))) = (
            self.start.take(),
            self.end.take(),
            self.ctxt_start.take(),
            self.ctxt_end.take(),
        ) else {
            return Err(Error::InvalidSettings(
                "sampler finished without a complete window".into(),
            ));
        };
        let ctxt_interval_s = t1.duration_since(t0).as_secs_f64();
        let tck = host_probe::clk_tck();
        let window_s = s1.at.duration_since(s0.at).as_secs_f64();
        let ticks = |a: u64, b: u64| b.saturating_sub(a) as f64 / tck as f64;
        let user_s = ticks(s0.stat.utime_ticks, s1.stat.utime_ticks);
        let system_s = ticks(s0.stat.stime_ticks, s1.stat.stime_ticks);
        // The CPU clock has nanosecond resolution; the tick counts only split it.
        let cpu_s = match (s0.cpu, s1.cpu) {
            (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
            _ => user_s + system_s,
        };
        let switches = c0.delta_to(&c1);
        let (vol, nonvol) = (switches.voluntary, switches.involuntary);
        // The scans bracket the window; scale the counts to its length.
        let scale = if ctxt_interval_s > 0.0 {
            (window_s / ctxt_interval_s).min(1.0)
        } else {
            1.0
        };
        let per_msg = |x: f64| {
            if messages > 0 {
                x / messages as f64
            } else {
                0.0
            }
        };
        let peaks = self
            .peaks
            .lock()
            .map(|p| (p.rss_pages, p.threads, p.samples));
        let (peak_pages, peak_threads, samples) = peaks.unwrap_or((0, 0, 0));
        let ps = host_probe::page_size();
        let rss_peak = (peak_pages * ps).max(s1.rss_bytes());
        let hwm = self.process.peak_rss_bytes().unwrap_or(0);
        Ok(ServerStats {
            pid: self.process.pid(),
            window_s,
            cpu_s,
            user_s,
            system_s,
            cpu_cores: if window_s > 0.0 {
                cpu_s / window_s
            } else {
                0.0
            },
            cpu_us_per_msg: per_msg(cpu_s * 1e6),
            clk_tck: tck,
            ctxt_voluntary: vol,
            ctxt_nonvoluntary: nonvol,
            ctxt_per_msg: per_msg((vol + nonvol) as f64 * scale),
            ctxt_interval_s,
            ctxt_threads_scanned: c1.per_thread.len() as u64,
            ctxt_scan_ms: c0.scan_time.max(c1.scan_time).as_secs_f64() * 1e3,
            threads_baseline: self.baseline.stat.num_threads,
            threads_start: s0.stat.num_threads,
            threads_peak: peak_threads.max(s1.stat.num_threads),
            threads_end: s1.stat.num_threads,
            fds_baseline: self.baseline.fds,
            fds_start: s0.fds,
            fds_end: s1.fds,
            rss_baseline_bytes: self.baseline.rss_bytes(),
            rss_start_bytes: s0.rss_bytes(),
            rss_peak_bytes: rss_peak,
            rss_end_bytes: s1.rss_bytes(),
            rss_per_conn_bytes: if conns > 0 {
                rss_peak.saturating_sub(self.baseline.rss_bytes()) as f64 / conns as f64
            } else {
                0.0
            },
            rss_hwm_bytes: hwm,
            samples,
            memory: self
                .kernel_baseline
                .zip(self.kernel_start)
                .map(|((k0, p0), (k1, p1))| {
                    ConnMemory::between(
                        conns,
                        (self.baseline.rss_bytes(), s0.rss_bytes()),
                        (p0, p1),
                        &k0,
                        &k1,
                    )
                }),
        })
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_on_self() {
        let pid = std::process::id();
        let mut s = Sampler::start(pid, Duration::from_millis(10)).unwrap();
        s.ctxt_start().unwrap();
        s.window_start().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.window_end().unwrap();
        s.ctxt_end().unwrap();
        let st = s.finish(10, 1000).unwrap();
        assert_eq!(st.pid, pid);
        assert!(st.window_s > 0.04);
        assert!(st.threads_end >= 2); // this thread and the sampler
        assert!(st.rss_peak_bytes >= st.rss_start_bytes);
        assert!(st.fds_end > 0);
        assert!(st.samples >= 3);
        assert!(st.ctxt_threads_scanned >= 1);
    }
}
