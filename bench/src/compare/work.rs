//! Running one work point of the matrix against a started server.

use std::net::SocketAddr;

use crate::error::Result;
use crate::results::comparison::RunResult;
use crate::results::work::WorkSettings;
use crate::results::work_matrix::WorkPoint;

/// The generator's settings for a work point.
pub fn settings(w: &WorkPoint, addr: SocketAddr, pid: u32, cpus: &[usize]) -> WorkSettings {
    let mut s = WorkSettings::new(addr);
    s.fast = w.fast.clone();
    s.slow = w.slow.clone();
    s.warmup = w.warmup;
    s.duration = w.duration;
    s.cpus = cpus.to_vec();
    s.server_pid = Some(pid);
    s
}

/// Runs a work point against the server at `addr` (process `pid`).
pub fn run(w: &WorkPoint, addr: SocketAddr, pid: u32, cpus: &[usize]) -> Result<RunResult> {
    crate::generator::work::run(&settings(w, addr, pid, cpus)).map(|r| RunResult::Work(Box::new(r)))
}
