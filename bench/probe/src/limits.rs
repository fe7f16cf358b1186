//! The kernel limits that cap how many connections (and threads) a server can have, and how close
//! the machine is to them: `vm.max_map_count`, `kernel.pid_max`, `kernel.threads-max` and the
//! number of threads alive machine-wide.

use std::fs;

use crate::error::{ProbeError, Result};

const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";
const PID_MAX: &str = "/proc/sys/kernel/pid_max";
const THREADS_MAX: &str = "/proc/sys/kernel/threads-max";
const LOADAVG: &str = "/proc/loadavg";

/// The machine-wide limits and the threads alive now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemLimits {
    /// `vm.max_map_count`: memory mappings one process may have (a thread's stack and its guard
    /// page are mappings).
    pub max_map_count: u64,
    /// `kernel.pid_max`: every thread takes an id below it, machine-wide.
    pub pid_max: u64,
    /// `kernel.threads-max`: threads machine-wide.
    pub threads_max: u64,
    /// Threads alive machine-wide now (`/proc/loadavg`'s fourth field).
    pub threads_now: u64,
}

impl SystemLimits {
    /// Reads them now.
    pub fn read() -> Result<SystemLimits> {
        let loadavg = read(LOADAVG)?;
        Ok(SystemLimits {
            max_map_count: number(MAX_MAP_COUNT, &read(MAX_MAP_COUNT)?)?,
            pid_max: number(PID_MAX, &read(PID_MAX)?)?,
            threads_max: number(THREADS_MAX, &read(THREADS_MAX)?)?,
            threads_now: threads_in_loadavg(&loadavg)
                .ok_or_else(|| ProbeError::format(LOADAVG, "no running/total field"))?,
        })
    }
}

fn read(path: &str) -> Result<String> {
    fs::read_to_string(path).map_err(|e| ProbeError::read(path, e))
}

fn number(path: &str, text: &str) -> Result<u64> {
    text.trim()
        .parse()
        .map_err(|_| ProbeError::format(path, format!("not a number: {:?}", text.trim())))
}

/// `12/2197` in `0.10 0.20 0.30 12/2197 10674`: 2197 scheduling entities (threads) exist.
fn threads_in_loadavg(text: &str) -> Option<u64> {
    text.split_whitespace()
        .nth(3)?
        .split_once('/')?
        .1
        .parse()
        .ok()
}

/// A process's `Max open files` soft limit from the text of `/proc/PID/limits`.
pub(crate) fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loadavg_and_limits() {
        assert_eq!(
            threads_in_loadavg("155.49 48.77 32.83 12/2197 10674\n"),
            Some(2197)
        );
        assert_eq!(threads_in_loadavg("garbage"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 20000                files     \n";
        assert_eq!(open_files_limit(limits), Some(1024));
        assert_eq!(open_files_limit("Max processes 5 5\n"), None);
    }

    #[test]
    fn reads_this_machine() {
        let l = SystemLimits::read().unwrap();
        assert!(l.max_map_count > 0 && l.pid_max > 0 && l.threads_max > 0);
        assert!(l.threads_now >= 1);
    }
}
