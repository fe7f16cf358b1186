//! A process's CPU-time clock (`clock_getcpuclockid`), nanosecond resolution.

use std::io;
use std::time::Duration;

use crate::error::{ProbeError, Result};

/// The kernel's upper bound on pids (`PID_MAX_LIMIT` on 64-bit Linux).
const PID_MAX_LIMIT: libc::pid_t = 1 << 22;

/// The CPU-time clock of a process: user plus system time of all its threads,
/// exited ones included, read with `clock_gettime` at nanosecond resolution
/// (where `/proc/PID/stat` has one clock tick, typically 10 ms).
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    pid: u32,
    id: libc::clockid_t,
}

impl CpuClock {
    /// The clock of process `pid` (the caller needs permission to see it:
    /// the same user, as for `/proc/PID/stat`).
    pub fn of(pid: u32) -> Result<CpuClock> {
        let mut id: libc::clockid_t = 0;
        // Pid 0 would name the caller, and pids above the kernel's limit
        // (2^22) do not exist but would alias another clock id.
        let pid_t = libc::pid_t::try_from(pid)
            .ok()
            .filter(|&p| p > 0 && p <= PID_MAX_LIMIT)
            .ok_or_else(|| ProbeError::Sys {
                call: format!("clock_getcpuclockid({pid})"),
                source: io::Error::from_raw_os_error(libc::ESRCH),
            })?;
        // SAFETY: `id` is a valid out-pointer for the duration of the call.
        let rc = unsafe { libc::clock_getcpuclockid(pid_t, &mut id) };
        if rc != 0 {
            // It returns the error number rather than setting errno.
            return Err(ProbeError::Sys {
                call: format!("clock_getcpuclockid({pid})"),
                source: io::Error::from_raw_os_error(rc),
            });
        }
        let clock = CpuClock { pid, id };
        clock.now()?; // fail here, not at the first reading, if it cannot be read
        Ok(clock)
    }

    /// The process whose clock this is.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// CPU time used so far.
    pub fn now(&self) -> Result<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer for the duration of the call.
        let rc = unsafe { libc::clock_gettime(self.id, &mut ts) };
        if rc != 0 {
            return Err(ProbeError::Sys {
                call: format!("clock_gettime(cpu clock of {})", self.pid),
                source: io::Error::last_os_error(),
            });
        }
        Ok(Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceUsage;

    #[test]
    fn own_clock_agrees_with_getrusage_and_counts_exited_threads() {
        let clock = CpuClock::of(std::process::id()).expect("own clock");
        let before = clock.now().expect("reads");
        // A thread that uses 30 ms of CPU (its own clock says so, however
        // busy the machine) and exits.
        std::thread::spawn(|| crate::testing::burn_cpu(Duration::from_millis(30)))
            .join()
            .expect("burner");
        let after = clock.now().expect("reads");
        assert!(
            after - before >= Duration::from_millis(30),
            "{after:?} {before:?}"
        );
        let ru = ResourceUsage::process().cpu_time();
        let diff = ru.abs_diff(clock.now().expect("reads"));
        assert!(diff < Duration::from_millis(50), "{diff:?}");
    }

    #[test]
    fn missing_process_is_an_error() {
        for pid in [0, u32::MAX / 2] {
            let err = CpuClock::of(pid).expect_err("no such process");
            assert!(err.is_gone(), "{err}");
        }
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        let err = CpuClock::of(pid).expect_err("reaped");
        assert!(err.is_gone(), "{err}");
    }
}
