//! Process cost from /proc (the server) and getrusage (the generator itself).
//!
//! * CPU time: `utime + stime` of `/proc/PID/stat`, which the kernel already
//!   sums over all threads of the process (including exited ones), so it is
//!   read once per snapshot and never summed over tasks.
//! * Context switches: `/proc/PID/status` only shows the leader thread's, so
//!   `voluntary_ctxt_switches + nonvoluntary_ctxt_switches` is summed over
//!   every `/proc/PID/task/TID/status`. This is done only at the start and the
//!   end of the measured window (never periodically), with one reused read
//!   buffer, and per thread id: a thread alive at both ends contributes its
//!   difference, a thread born inside the window all of its count. Threads
//!   that exit inside the window are lost (the kernel folds their counts
//!   into the process's signal struct, which /proc does not show).
//! * Threads and RSS: `/proc/PID/stat` (fields 20 and 24), sampled
//!   periodically by a background thread for the peak.
//! * Open fds: the number of entries of `/proc/PID/fd`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Clock ticks per second of the CPU times in /proc (`sysconf(_SC_CLK_TCK)`).
pub fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as u64 } else { 100 }
}

/// Bytes per memory page (`sysconf(_SC_PAGESIZE)`).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 { v as u64 } else { 4096 }
}

fn proc_err(path: &str, reason: impl ToString) -> Error {
    Error::Proc {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// The fields of `/proc/PID/stat` that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// User CPU time of all threads, in clock ticks.
    pub utime_ticks: u64,
    /// System CPU time of all threads, in clock ticks.
    pub stime_ticks: u64,
    /// Number of threads.
    pub num_threads: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// Parses the contents of a `/proc/PID/stat` file.
    ///
    /// The command name (field 2) is in parentheses and may itself contain
    /// spaces and parentheses, so the fields are counted from the last `)`.
    pub fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        // After ')' comes field 3 (state); field n is at index n - 3.
        let mut it = rest.split_ascii_whitespace();
        let mut field = |skip: usize| -> Option<u64> { it.nth(skip)?.parse().ok() };
        let utime_ticks = field(11)?; // field 14
        let stime_ticks = field(0)?; // 15
        let num_threads = field(4)?; // 20
        let rss_pages = field(3)?; // 24
        Some(Stat {
            utime_ticks,
            stime_ticks,
            num_threads,
            rss_pages,
        })
    }

    /// Reads `/proc/PID/stat` (`pid` `None` = this process).
    pub fn read(pid: Option<u32>) -> Result<Stat> {
        let path = match pid {
            Some(p) => format!("/proc/{p}/stat"),
            None => "/proc/self/stat".to_string(),
        };
        let text = fs::read_to_string(&path).map_err(|e| proc_err(&path, e))?;
        Stat::parse(&text).ok_or_else(|| proc_err(&path, "unexpected format"))
    }

    /// User plus system CPU time, in ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime_ticks + self.stime_ticks
    }
}

/// Voluntary and non-voluntary context switches from a `status` file.
pub fn parse_ctxt(status: &str) -> Option<(u64, u64)> {
    let mut vol = None;
    let mut nonvol = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
            vol = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
            nonvol = v.trim().parse().ok();
        }
    }
    Some((vol?, nonvol?))
}

/// A value in kB of a `status` file line such as `VmHWM:`, in bytes.
pub fn parse_status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let v = line[key.len()..].trim().trim_end_matches("kB").trim();
    v.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// Number of open file descriptors of a process (entries of /proc/PID/fd).
pub fn count_fds(pid: Option<u32>) -> Result<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/fd"),
        None => "/proc/self/fd".to_string(),
    };
    let dir = fs::read_dir(&path).map_err(|e| proc_err(&path, e))?;
    Ok(dir.filter(|e| e.is_ok()).count() as u64)
}

/// Per-thread context-switch counts of a process at one moment.
#[derive(Debug, Clone, Default)]
pub struct CtxtSnapshot {
    /// Thread id to (voluntary, non-voluntary) switches.
    pub per_tid: HashMap<u32, (u64, u64)>,
    /// Wall time the scan took.
    pub scan_time: Duration,
}

impl CtxtSnapshot {
    /// Scans `/proc/PID/task/*/status` (`None` = this process).
    ///
    /// One read buffer is reused for every thread; threads that exit during
    /// the scan are skipped.
    pub fn scan(pid: Option<u32>) -> Result<CtxtSnapshot> {
        let started = Instant::now();
        let base = match pid {
            Some(p) => format!("/proc/{p}/task"),
            None => "/proc/self/task".to_string(),
        };
        let dir = fs::read_dir(&base).map_err(|e| proc_err(&base, e))?;
        let mut per_tid = HashMap::new();
        let mut buf = String::with_capacity(4096);
        let mut path = String::with_capacity(base.len() + 24);
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(tid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            path.clear();
            path.push_str(&base);
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
            if let Some(c) = parse_ctxt(&buf) {
                per_tid.insert(tid, c);
            }
        }
        Ok(CtxtSnapshot {
            per_tid,
            scan_time: started.elapsed(),
        })
    }

    /// Total (voluntary, non-voluntary) switches of the threads present.
    pub fn total(&self) -> (u64, u64) {
        self.per_tid
            .values()
            .fold((0, 0), |(a, b), &(v, n)| (a + v, b + n))
    }

    /// Switches between `self` (start) and `end`, per thread id.
    pub fn delta_to(&self, end: &CtxtSnapshot) -> (u64, u64) {
        end.per_tid.iter().fold((0, 0), |(a, b), (tid, &(v, n))| {
            let (v0, n0) = self.per_tid.get(tid).copied().unwrap_or((0, 0));
            (a + v.saturating_sub(v0), b + n.saturating_sub(n0))
        })
    }
}

/// A cheap snapshot of a process: CPU, threads, RSS, fds.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// When it was taken.
    pub at: Instant,
    /// The stat fields.
    pub stat: Stat,
    /// Open fds.
    pub fds: u64,
}

impl Snapshot {
    /// Takes a snapshot of process `pid` (`None` = this process).
    pub fn take(pid: Option<u32>) -> Result<Snapshot> {
        let at = Instant::now();
        Ok(Snapshot {
            at,
            stat: Stat::read(pid)?,
            fds: count_fds(pid)?,
        })
    }

    /// RSS in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.stat.rss_pages * page_size()
    }
}

/// The server's cost over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// The sampled process.
    pub pid: u32,
    /// Length of the measured window, seconds.
    pub window_s: f64,
    /// CPU time (user + system, all threads) used in the window, seconds.
    pub cpu_s: f64,
    /// User CPU seconds in the window.
    pub user_s: f64,
    /// System CPU seconds in the window.
    pub system_s: f64,
    /// Average number of cores busy (`cpu_s / window_s`).
    pub cpu_cores: f64,
    /// CPU microseconds per completed message.
    pub cpu_us_per_msg: f64,
    /// CPU time resolution: ticks per second.
    pub clk_tck: u64,
    /// Voluntary context switches in the window, all threads.
    pub ctxt_voluntary: u64,
    /// Non-voluntary context switches in the window, all threads.
    pub ctxt_nonvoluntary: u64,
    /// Context switches (both kinds) per message, scaled from the scans'
    /// interval to the window.
    pub ctxt_per_msg: f64,
    /// Seconds between the two context-switch scans (which bracket the
    /// window; the counts above are over this interval).
    pub ctxt_interval_s: f64,
    /// Threads whose status files were read at the end of the window.
    pub ctxt_threads_scanned: u64,
    /// Milliseconds the slower of the two context-switch scans took.
    pub ctxt_scan_ms: f64,
    /// Threads before the connections were opened.
    pub threads_baseline: u64,
    /// Threads at the start of the window.
    pub threads_start: u64,
    /// Most threads seen by any sample.
    pub threads_peak: u64,
    /// Threads at the end of the window.
    pub threads_end: u64,
    /// Open fds before the connections were opened.
    pub fds_baseline: u64,
    /// Open fds at the start of the window.
    pub fds_start: u64,
    /// Open fds at the end of the window.
    pub fds_end: u64,
    /// RSS before the connections were opened, bytes.
    pub rss_baseline_bytes: u64,
    /// RSS at the start of the window, bytes.
    pub rss_start_bytes: u64,
    /// Highest RSS seen by any sample, bytes.
    pub rss_peak_bytes: u64,
    /// RSS at the end of the window, bytes.
    pub rss_end_bytes: u64,
    /// `(rss_peak - rss_baseline) / connections`, bytes.
    pub rss_per_conn_bytes: f64,
    /// The kernel's high-water mark of RSS since the process started, bytes.
    pub rss_hwm_bytes: u64,
    /// Number of periodic samples taken.
    pub samples: u64,
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
    pid: u32,
    baseline: Snapshot,
    start: Option<Snapshot>,
    end: Option<Snapshot>,
    ctxt_start: Option<(Instant, CtxtSnapshot)>,
    ctxt_end: Option<(Instant, CtxtSnapshot)>,
    peaks: Arc<Mutex<Peaks>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Takes the baseline snapshot and starts periodic sampling.
    pub fn start(pid: u32, interval: Duration) -> Result<Sampler> {
        let baseline = Snapshot::take(Some(pid))?;
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
                    let path = format!("/proc/{pid}/stat");
                    let mut buf = String::with_capacity(512);
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(interval);
                        buf.clear();
                        let read = File::open(&path).and_then(|mut f| f.read_to_string(&mut buf));
                        let Some(s) = read.ok().and_then(|_| Stat::parse(&buf)) else {
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
            pid,
            baseline,
            start: None,
            end: None,
            ctxt_start: None,
            ctxt_end: None,
            peaks,
            stop,
            thread: Some(thread),
        })
    }

    /// The sampled process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn snap(&self) -> Result<Snapshot> {
        let snap = Snapshot::take(Some(self.pid))?;
        if let Ok(mut p) = self.peaks.lock() {
            p.add(&snap.stat);
        }
        Ok(snap)
    }

    fn scan(&self) -> Result<(Instant, CtxtSnapshot)> {
        let t = Instant::now();
        let c = CtxtSnapshot::scan(Some(self.pid))?;
        // Attribute the scan to its midpoint.
        Ok((t + c.scan_time / 2, c))
    }

    /// Marks the start of the measured window (CPU, threads, fds, RSS).
    pub fn window_start(&mut self) -> Result<()> {
        self.start = Some(self.snap()?);
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
        let tck = clk_tck();
        let window_s = s1.at.duration_since(s0.at).as_secs_f64();
        let ticks = |a: u64, b: u64| b.saturating_sub(a) as f64 / tck as f64;
        let user_s = ticks(s0.stat.utime_ticks, s1.stat.utime_ticks);
        let system_s = ticks(s0.stat.stime_ticks, s1.stat.stime_ticks);
        let cpu_s = user_s + system_s;
        let (vol, nonvol) = c0.delta_to(&c1);
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
        let ps = page_size();
        let rss_peak = (peak_pages * ps).max(s1.rss_bytes());
        let hwm = fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| parse_status_kb(&s, "VmHWM:"))
            .unwrap_or(0);
        Ok(ServerStats {
            pid: self.pid,
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
            ctxt_threads_scanned: c1.per_tid.len() as u64,
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

/// Per-CPU time counters of `/proc/stat` (clock ticks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// CPU number.
    pub cpu: usize,
    /// user + nice.
    pub user: u64,
    /// system.
    pub system: u64,
    /// idle + iowait.
    pub idle: u64,
    /// hardware interrupts.
    pub irq: u64,
    /// software interrupts (on loopback, much of the TCP receive path).
    pub softirq: u64,
    /// stolen by the hypervisor.
    pub steal: u64,
}

impl CpuTimes {
    /// Parses the `cpuN` lines of /proc/stat.
    pub fn parse_all(text: &str) -> Vec<CpuTimes> {
        text.lines()
            .filter_map(|l| {
                let mut it = l.split_ascii_whitespace();
                let cpu = it.next()?.strip_prefix("cpu")?.parse().ok()?;
                let v: Vec<u64> = it.take(8).map(|x| x.parse().unwrap_or(0)).collect();
                let g = |i: usize| v.get(i).copied().unwrap_or(0);
                Some(CpuTimes {
                    cpu,
                    user: g(0) + g(1),
                    system: g(2),
                    idle: g(3) + g(4),
                    irq: g(5),
                    softirq: g(6),
                    steal: g(7),
                })
            })
            .collect()
    }

    /// Reads /proc/stat.
    pub fn read_all() -> Vec<CpuTimes> {
        fs::read_to_string("/proc/stat")
            .map(|t| CpuTimes::parse_all(&t))
            .unwrap_or_default()
    }

    fn total(&self) -> u64 {
        self.user + self.system + self.idle + self.irq + self.softirq + self.steal
    }
}

/// How busy one CPU was over the window, machine-wide (all processes,
/// plus interrupt time that no process is charged for).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreUsage {
    /// CPU number.
    pub cpu: usize,
    /// Fraction not idle (0..1).
    pub busy: f64,
    /// Fraction in user mode.
    pub user: f64,
    /// Fraction in kernel mode (syscalls).
    pub system: f64,
    /// Fraction in hard and soft interrupts.
    pub irq: f64,
    /// Fraction stolen by the hypervisor.
    pub steal: f64,
}

impl CoreUsage {
    /// Usage of each CPU between two readings of /proc/stat.
    pub fn between(a: &[CpuTimes], b: &[CpuTimes]) -> Vec<CoreUsage> {
        b.iter()
            .filter_map(|y| {
                let x = a.iter().find(|x| x.cpu == y.cpu)?;
                let t = y.total().saturating_sub(x.total()) as f64;
                if t <= 0.0 {
                    return None;
                }
                let f = |p: u64, q: u64| q.saturating_sub(p) as f64 / t;
                Some(CoreUsage {
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

/// This process's resource usage (`getrusage(RUSAGE_SELF)`: all threads).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfUsage {
    /// User CPU time, seconds.
    pub user_s: f64,
    /// System CPU time, seconds.
    pub system_s: f64,
    /// Voluntary context switches.
    pub nvcsw: u64,
    /// Involuntary context switches.
    pub nivcsw: u64,
    /// Peak RSS, bytes.
    pub max_rss_bytes: u64,
}

impl SelfUsage {
    /// Reads the usage of the whole process.
    pub fn now() -> SelfUsage {
        Self::get(libc::RUSAGE_SELF)
    }

    /// Reads the usage of the calling thread only.
    pub fn thread() -> SelfUsage {
        Self::get(libc::RUSAGE_THREAD)
    }

    fn get(who: libc::c_int) -> SelfUsage {
        // SAFETY: rusage is plain data; getrusage fills it and only fails
        // for an invalid `who`, in which case it stays zeroed.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut ru);
            ru
        };
        let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        SelfUsage {
            user_s: secs(ru.ru_utime),
            system_s: secs(ru.ru_stime),
            nvcsw: ru.ru_nvcsw as u64,
            nivcsw: ru.ru_nivcsw as u64,
            max_rss_bytes: ru.ru_maxrss as u64 * 1024,
        }
    }

    /// User plus system CPU seconds.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.system_s
    }
}

/// The generator's own cost over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorStats {
    /// Worker (event-loop) threads.
    pub threads: usize,
    /// CPUs the workers were pinned to (empty: not pinned).
    pub cpus: Vec<usize>,
    /// Whether latencies were timestamped and recorded.
    pub recording: bool,
    /// CPU seconds of the whole process in the window (workers, the
    /// coordinator and the /proc sampler).
    pub cpu_s: f64,
    /// User CPU seconds of the whole process in the window.
    pub user_s: f64,
    /// System CPU seconds of the whole process in the window.
    pub system_s: f64,
    /// Average number of cores busy (whole process).
    pub cpu_cores: f64,
    /// Whole-process CPU microseconds per completed message.
    pub cpu_us_per_msg: f64,
    /// CPU seconds of the worker threads alone in the window.
    pub worker_cpu_s: f64,
    /// Worker-thread CPU microseconds per completed message.
    pub worker_cpu_us_per_msg: f64,
    /// Voluntary context switches in the window (whole process).
    pub ctxt_voluntary: u64,
    /// Involuntary context switches in the window (whole process).
    pub ctxt_nonvoluntary: u64,
    /// Peak RSS of the generator, bytes.
    pub max_rss_bytes: u64,
    /// Cost of measuring one message (two clock reads and a histogram
    /// record), from a calibration loop before the run, in ns.
    pub record_cost_ns_per_msg: f64,
    /// That cost as a percentage of the workers' CPU per message.
    pub record_cost_pct: f64,
}

impl GeneratorStats {
    /// Computes the figures between two whole-process usages, given the
    /// worker threads' own CPU seconds.
    pub fn between(
        a: &SelfUsage,
        b: &SelfUsage,
        window_s: f64,
        messages: u64,
        worker_cpu_s: f64,
    ) -> GeneratorStats {
        let user_s = (b.user_s - a.user_s).max(0.0);
        let system_s = (b.system_s - a.system_s).max(0.0);
        let cpu_s = user_s + system_s;
        let per_msg = |x: f64| {
            if messages > 0 {
                x * 1e6 / messages as f64
            } else {
                0.0
            }
        };
        GeneratorStats {
            cpu_s,
            user_s,
            system_s,
            cpu_cores: if window_s > 0.0 {
                cpu_s / window_s
            } else {
                0.0
            },
            cpu_us_per_msg: per_msg(cpu_s),
            worker_cpu_s,
            worker_cpu_us_per_msg: per_msg(worker_cpu_s),
            ctxt_voluntary: b.nvcsw.saturating_sub(a.nvcsw),
            ctxt_nonvoluntary: b.nivcsw.saturating_sub(a.nivcsw),
            max_rss_bytes: b.max_rss_bytes,
            ..GeneratorStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_name() {
        let line = "1234 (we ird) (name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 7 0 555 123456789 321 18446744073709551615 \
                    1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = Stat::parse(line).expect("parses");
        assert_eq!(s.utime_ticks, 250);
        assert_eq!(s.stime_ticks, 75);
        assert_eq!(s.num_threads, 7);
        assert_eq!(s.rss_pages, 321);
        assert_eq!(s.cpu_ticks(), 325);
        assert_eq!(Stat::parse("garbage"), None);
    }

    #[test]
    fn reads_self_stat_consistently_with_getrusage() {
        // Burn some CPU so both counters are well above their resolution.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(150) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let s = Stat::read(None).unwrap();
        let ru = SelfUsage::now();
        let stat_cpu = s.cpu_ticks() as f64 / clk_tck() as f64;
        assert!(stat_cpu > 0.05, "{stat_cpu}");
        // Both count the whole process; allow for tick granularity.
        assert!(
            (stat_cpu - ru.cpu_s()).abs() < 0.1,
            "{stat_cpu} vs {}",
            ru.cpu_s()
        );
        assert!(s.num_threads >= 1);
        let statm_rss = fs::read_to_string("/proc/self/statm").unwrap();
        let statm_rss: u64 = statm_rss
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        // RSS moves a little between the two reads.
        assert!(
            s.rss_pages.abs_diff(statm_rss) < 256,
            "{} {}",
            s.rss_pages,
            statm_rss
        );
    }

    #[test]
    fn counts_self_threads_fds_and_context_switches() {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        let c0 = CtxtSnapshot::scan(None).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let c1 = CtxtSnapshot::scan(None).unwrap();
        // Each sleeping thread switches voluntarily about 50 times.
        let (vol, _) = c0.delta_to(&c1);
        assert!(vol >= 3 * 5, "vol = {vol}");
        assert!(c1.per_tid.len() >= 4);
        let (tv, _) = c1.total();
        assert!(tv >= vol);
        let s = Stat::read(None).unwrap();
        assert!(s.num_threads >= 4);
        // Other tests of this process open files concurrently: retry until a
        // quiet moment shows the exact difference.
        let exact = (0..50).any(|_| {
            let fds0 = count_fds(None).unwrap();
            let files: Vec<_> = (0..5)
                .map(|_| File::open("/proc/self/stat").unwrap())
                .collect();
            let fds1 = count_fds(None).unwrap();
            drop(files);
            fds1 == fds0 + 5
        });
        assert!(exact);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn scan_sees_every_thread() {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..300)
            .map(|_| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    })
                    .unwrap()
            })
            .collect();
        let listed = fs::read_dir("/proc/self/task").unwrap().count();
        let scan = CtxtSnapshot::scan(None).unwrap();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
        // Other tests start and end threads meanwhile: allow a little slack.
        assert!(listed >= 301);
        assert!(
            scan.per_tid.len() + 8 >= listed,
            "{} of {listed}",
            scan.per_tid.len()
        );
    }

    #[test]
    fn per_cpu_usage_from_proc_stat() {
        let a = CpuTimes::parse_all(
            "cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 100 0 50 800 0 0 50 0 0 0\ncpu1 10 0 10 10 0 0 0 0 0 0\nintr 5\n",
        );
        assert_eq!(a.len(), 2);
        let b = CpuTimes::parse_all("cpu0 150 0 100 850 0 0 100 0 0 0\ncpu1 10 0 10 110 0 0 0 0\n");
        let u = CoreUsage::between(&a, &b);
        assert_eq!(u.len(), 2);
        assert!((u[0].busy - 0.75).abs() < 1e-9);
        assert!((u[0].irq - 0.25).abs() < 1e-9);
        assert!((u[1].busy - 0.0).abs() < 1e-9);
        assert!(!CpuTimes::read_all().is_empty());
    }

    #[test]
    fn ctxt_delta_per_thread() {
        let mut a = CtxtSnapshot::default();
        a.per_tid.insert(1, (10, 1));
        a.per_tid.insert(2, (5, 5)); // exits before the end
        let mut b = CtxtSnapshot::default();
        b.per_tid.insert(1, (15, 3));
        b.per_tid.insert(3, (7, 0)); // born in the window
        assert_eq!(a.delta_to(&b), (12, 2));
        assert_eq!(b.total(), (22, 3));
    }

    #[test]
    fn parses_status_fields() {
        let st = fs::read_to_string("/proc/self/status").unwrap();
        assert!(parse_ctxt(&st).is_some());
        assert!(parse_status_kb(&st, "VmHWM:").unwrap() > 0);
        assert!(parse_status_kb(&st, "VmRSS:").unwrap() > 0);
    }

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
