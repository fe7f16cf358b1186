//! A process by pid.

use std::fs::{self, File};
use std::io::Read;
use std::time::Duration;

use crate::clock::CpuClock;
use crate::error::{ProbeError, Result};
use crate::stat::Stat;
use crate::status::status_value;
use crate::switches::{ContextSwitches, ThreadSwitches};

/// A process whose cost is read from `/proc/PID/...`.
///
/// The handle is only a pid: every method reads afresh, and fails with an
/// error for which [`ProbeError::is_gone`] holds once the process has exited
/// and been reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Process {
    pid: u32,
}

impl Process {
    /// The process `pid`.
    pub fn new(pid: u32) -> Process {
        Process { pid }
    }

    /// This process.
    pub fn current() -> Process {
        Process::new(std::process::id())
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn path(&self, file: &str) -> String {
        format!("/proc/{}/{file}", self.pid)
    }

    /// Reads `/proc/PID/stat`.
    pub fn stat(&self) -> Result<Stat> {
        let mut buf = String::with_capacity(512);
        self.stat_with(&mut buf)
    }

    /// Reads `/proc/PID/stat` into `buf` (cleared first), for samplers that
    /// read often and want no allocation per reading.
    pub fn stat_with(&self, buf: &mut String) -> Result<Stat> {
        let path = self.path("stat");
        buf.clear();
        File::open(&path)
            .and_then(|mut f| f.read_to_string(buf))
            .map_err(|e| ProbeError::read(&path, e))?;
        Stat::parse(buf).ok_or_else(|| ProbeError::format(&path, "too few fields"))
    }

    /// User plus system CPU time of all its threads, exited ones included,
    /// from `/proc/PID/stat` (resolution: one clock tick). For nanosecond
    /// resolution use [`Process::cpu_clock`].
    pub fn cpu_time(&self) -> Result<Duration> {
        Ok(self.stat()?.cpu_time())
    }

    /// The process's CPU-time clock (nanosecond resolution).
    pub fn cpu_clock(&self) -> Result<CpuClock> {
        CpuClock::of(self.pid)
    }

    /// Resident set size, bytes (from `/proc/PID/stat`).
    pub fn rss_bytes(&self) -> Result<u64> {
        Ok(self.stat()?.rss_bytes())
    }

    /// Number of threads.
    pub fn thread_count(&self) -> Result<u64> {
        Ok(self.stat()?.num_threads)
    }

    /// Number of open file descriptors (entries of `/proc/PID/fd`).
    pub fn fd_count(&self) -> Result<u64> {
        let path = self.path("fd");
        let dir = fs::read_dir(&path).map_err(|e| ProbeError::read(&path, e))?;
        Ok(dir.filter(|e| e.is_ok()).count() as u64)
    }

    /// The text of `/proc/PID/status`.
    pub fn status(&self) -> Result<String> {
        let path = self.path("status");
        fs::read_to_string(&path).map_err(|e| ProbeError::read(&path, e))
    }

    /// A numeric field of `/proc/PID/status` (`key` without the colon, e.g.
    /// `VmHWM`, `Threads`); values in kB are returned in bytes.
    pub fn status_field(&self, key: &str) -> Result<u64> {
        let text = self.status()?;
        status_value(&text, key)
            .ok_or_else(|| ProbeError::format(&self.path("status"), format!("no {key}")))
    }

    /// The process's page tables (`VmPTE`), bytes: what its mappings cost the kernel (a thread's
    /// stack is mapped, so a thread per connection shows here).
    pub fn page_table_bytes(&self) -> Result<u64> {
        self.status_field("VmPTE")
    }

    /// Its memory mappings (lines of `/proc/PID/maps`), against `vm.max_map_count`.
    pub fn map_count(&self) -> Result<u64> {
        let path = self.path("maps");
        let text = fs::read_to_string(&path).map_err(|e| ProbeError::read(&path, e))?;
        Ok(text.lines().count() as u64)
    }

    /// Its soft `RLIMIT_NOFILE` (`Max open files` in `/proc/PID/limits`).
    pub fn open_files_limit(&self) -> Result<u64> {
        let path = self.path("limits");
        let text = fs::read_to_string(&path).map_err(|e| ProbeError::read(&path, e))?;
        crate::limits::open_files_limit(&text)
            .ok_or_else(|| ProbeError::format(&path, "no Max open files"))
    }

    /// The kernel's high-water mark of RSS since the process started, bytes.
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        self.status_field("VmHWM")
    }

    /// Context switches of the threads alive now, summed.
    pub fn context_switches(&self) -> Result<ContextSwitches> {
        Ok(self.thread_switches()?.total())
    }

    /// Context switches of each thread alive now (see [`ThreadSwitches::delta_to`]).
    pub fn thread_switches(&self) -> Result<ThreadSwitches> {
        ThreadSwitches::scan(&self.path("task"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceUsage;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn own_cpu_time_agrees_with_getrusage() {
        crate::testing::burn_cpu(Duration::from_millis(150));
        let me = Process::current();
        let stat_cpu = me.cpu_time().expect("stat");
        let ru = ResourceUsage::process().cpu_time();
        assert!(stat_cpu > Duration::from_millis(50), "{stat_cpu:?}");
        // Both count the whole process; allow for tick granularity.
        assert!(stat_cpu.abs_diff(ru) < Duration::from_millis(100));
        assert!(me.thread_count().expect("threads") >= 1);
        assert!(me.rss_bytes().expect("rss") > 0);
        assert!(me.peak_rss_bytes().expect("hwm") > 0);
        assert!(me.status_field("VmRSS").expect("rss") > 0);
    }

    #[test]
    fn counts_threads_fds_and_switches() {
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
        let me = Process::current();
        let c0 = me.thread_switches().expect("scan");
        std::thread::sleep(Duration::from_millis(50));
        let c1 = me.thread_switches().expect("scan");
        // Each sleeping thread switches voluntarily about 50 times.
        let d = c0.delta_to(&c1);
        assert!(d.voluntary >= 3 * 5, "{d:?}");
        assert!(c1.per_thread.len() >= 4);
        assert!(me.context_switches().expect("sum").voluntary >= d.voluntary);
        assert!(me.thread_count().expect("threads") >= 4);
        // Other tests of this process open files concurrently: retry until a
        // quiet moment shows the exact difference.
        let exact = (0..50).any(|_| {
            let fds0 = me.fd_count().expect("fds");
            let files: Vec<_> = (0..5)
                .filter_map(|_| File::open("/proc/self/stat").ok())
                .collect();
            let fds1 = me.fd_count().expect("fds");
            drop(files);
            fds1 == fds0 + 5
        });
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().expect("thread");
        }
        assert!(exact);
    }

    #[test]
    fn gone_process_reads_as_gone() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        let err = Process::new(pid).stat().expect_err("reaped");
        assert!(err.is_gone(), "{err}");
        assert!(Process::new(pid).fd_count().expect_err("reaped").is_gone());
    }
}
