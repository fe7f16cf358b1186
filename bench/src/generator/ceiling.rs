//! The connection ceiling: open connections until the server or the machine refuses (or the count
//! asked for is reached), probe each once with an echo round trip, and name the limit that stopped
//! it — the server's fd limit, `vm.max_map_count`, `pid_max` / `threads-max`, `--max-conns`, the
//! ports, or the generator's own fds — from the peaks read while the connections were held.
//!
//! It is the conns scenario (the one engine; spread it over source addresses with `source_ips`)
//! with a watcher thread that reads the server's threads, fds and mappings and the machine's threads
//! every 50 ms, and the limits once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use host_probe::{Process, SystemLimits};

pub use crate::results::ceiling::{CeilingLimits, CeilingPeaks, CeilingReport};

use super::conns::{self, ConnsSettings};
use super::progress::Progress;
use crate::error::{Error, Result};

/// How close to a limit counts as having reached it.
const FD_MARGIN: u64 = 16;
/// The threads variant stops accepting 1 024 mappings short of `vm.max_map_count` (its reserve),
/// four mappings per thread.
const MAP_MARGIN: u64 = 2048;
const THREAD_MARGIN: u64 = 256;

/// Runs a ceiling scenario; `max_conns` is the server's `--max-conns` if known. Needs the server's
/// pid in `settings`.
pub fn run_with(
    settings: &ConnsSettings,
    max_conns: Option<usize>,
    progress: &mut dyn Progress,
) -> Result<CeilingReport> {
    let pid = settings.server_pid.ok_or_else(|| {
        Error::InvalidSettings("the ceiling needs the server's pid (--server-pid)".into())
    })?;
    let server = Process::new(pid);
    let system = SystemLimits::read().map_err(|e| proc_error("/proc/sys", e))?;
    let limits = CeilingLimits {
        server_open_files: server
            .open_files_limit()
            .map_err(|e| proc_error("the server's limits", e))?,
        max_map_count: system.max_map_count,
        pid_max: system.pid_max,
        threads_max: system.threads_max,
        max_conns,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("ceiling-watch".into())
            .spawn(move || watch(server, &stop))
            .map_err(|e| Error::io("spawning the ceiling watcher", e))?
    };
    let run = conns::run_with(settings, progress);
    stop.store(true, Ordering::Relaxed);
    let peaks = watcher
        .join()
        .map_err(|_| Error::Worker("the ceiling watcher panicked".into()))?;
    let conns = run?;
    let served = conns.conns_alive;
    let (stopped_by, to_go_further) = verdict(&conns, served, &peaks, &limits);
    Ok(CeilingReport {
        conns,
        served,
        peaks,
        limits,
        stopped_by,
        to_go_further,
    })
}

fn proc_error(what: &str, e: host_probe::ProbeError) -> Error {
    Error::Proc {
        path: what.into(),
        reason: e.to_string(),
    }
}

/// Reads the peaks until `stop`.
fn watch(server: Process, stop: &AtomicBool) -> CeilingPeaks {
    let mut p = CeilingPeaks::default();
    while !stop.load(Ordering::Relaxed) {
        let threads = server.thread_count();
        if threads.is_err() {
            break; // the server is gone
        }
        p.server_threads = p.server_threads.max(threads.unwrap_or(0));
        p.server_fds = p.server_fds.max(server.fd_count().unwrap_or(0));
        p.server_maps = p.server_maps.max(server.map_count().unwrap_or(0));
        if let Ok(l) = SystemLimits::read() {
            p.system_threads = p.system_threads.max(l.threads_now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}

/// Names the limit that stopped the run, and what to raise.
fn verdict(
    r: &conns::ConnsReport,
    served: usize,
    p: &CeilingPeaks,
    l: &CeilingLimits,
) -> (String, String) {
    let asked = r.settings.conns;
    let f = &r.connect.failures;
    let named = |a: String, b: &str| (a, b.to_string());
    if served >= asked {
        return named(
            format!("none: all {asked} asked for were served"),
            "ask for more (the fd limits of server and generator cap one process each)",
        );
    }
    if p.server_fds + FD_MARGIN >= l.server_open_files {
        return named(
            format!(
                "the server's fd limit (RLIMIT_NOFILE {}; {} fds in use at the peak)",
                l.server_open_files, p.server_fds
            ),
            "the server's RLIMIT_NOFILE (ulimit -n, systemd LimitNOFILE), up to fs.nr_open",
        );
    }
    if p.server_maps + MAP_MARGIN >= l.max_map_count {
        return named(
            format!(
                "vm.max_map_count ({}; the server had {} mappings, {} threads)",
                l.max_map_count, p.server_maps, p.server_threads
            ),
            "sysctl vm.max_map_count (a thread costs its process four mappings: stack, guard page, \
             signal stack and its guard page); next kernel.pid_max",
        );
    }
    if p.system_threads + THREAD_MARGIN >= l.pid_max.min(l.threads_max) {
        let which = if l.pid_max <= l.threads_max {
            "kernel.pid_max"
        } else {
            "kernel.threads-max"
        };
        return named(
            format!(
                "{which} ({}; {} threads machine-wide at the peak, {} of them the server's)",
                l.pid_max.min(l.threads_max),
                p.system_threads,
                p.server_threads
            ),
            "sysctl kernel.pid_max (up to 4194304) and kernel.threads-max",
        );
    }
    if let Some(m) = l.max_conns {
        if served >= m || f.rejected > 0 {
            return named(format!("--max-conns {m}"), "serve --max-conns");
        }
    }
    if f.addr_unavailable > 0 {
        return named(
            format!(
                "ports: {} connects found no free local port",
                f.addr_unavailable
            ),
            "more source addresses (--source-ips) or net.ipv4.ip_local_port_range",
        );
    }
    if f.fd_limit > 0 {
        return named(
            format!(
                "the generator's fd limit: {} connects failed with EMFILE/ENFILE",
                f.fd_limit
            ),
            "spread the generator over processes, or raise its RLIMIT_NOFILE",
        );
    }
    named(
        format!(
            "not named by the probes; first error: {}",
            r.first_error.as_deref().unwrap_or("-")
        ),
        "-",
    )
}
