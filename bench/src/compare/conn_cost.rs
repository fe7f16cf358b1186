//! The points of what a connection costs, run against a started server: idle chat clients (memory),
//! the connection ceiling and plain-TCP echo churn, each the library run of its `loadgen` command.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::error::Result;
use crate::generator::progress::NoProgress;
use crate::results::chat::ChatSettings;
use crate::results::churn::{ChurnApp, ChurnSettings};
use crate::results::comparison::RunResult;
use crate::results::conn_cost_matrix::CEILING_MAX_CONNS;
use crate::results::conns::ConnsSettings;

/// The source addresses the ceiling and churn connect from (127.0.0.2–5): four times the
/// ephemeral ports of one, so neither runs out of local ports (churn leaves its closed
/// connections in TIME_WAIT).
pub fn source_ips() -> Vec<IpAddr> {
    (2..=5)
        .map(|d| IpAddr::V4(Ipv4Addr::new(127, 0, 0, d)))
        .collect()
}

fn result<T>(r: Result<T>, wrap: fn(T) -> RunResult) -> RunResult {
    r.map(wrap).unwrap_or_else(|e| RunResult::Failed {
        error: e.to_string(),
    })
}

/// `clients` chat clients, each joined to a room of its own, held `hold`; one sends 1 msg/s to its
/// own room (the generator needs a sender; a room of one has no recipient).
pub fn chat_idle(
    clients: usize,
    hold: Duration,
    addr: SocketAddr,
    pid: u32,
    cpus: &[usize],
) -> RunResult {
    let mut c = ChatSettings::new(addr);
    c.rooms = clients;
    c.members = 1;
    c.senders = 1;
    c.rate = 1.0;
    c.warmup = Duration::ZERO;
    c.duration = hold;
    c.cpus = cpus.to_vec();
    c.source_ips = source_ips();
    c.server_pid = Some(pid);
    result(crate::generator::chat::run(&c), |r| {
        RunResult::Chat(Box::new(r))
    })
}

/// The ceiling: up to `conns` echo connections, paced, each probed once, held `hold`.
pub fn ceiling(
    conns: usize,
    hold: Duration,
    addr: SocketAddr,
    pid: u32,
    cpus: &[usize],
) -> RunResult {
    let mut c = ConnsSettings::new(addr);
    c.conns = conns;
    c.hold = hold;
    c.probes_per_conn = 1;
    c.connect_rate = Some(10_000.0);
    c.cpus = cpus.to_vec();
    c.source_ips = source_ips();
    c.server_pid = Some(pid);
    c.connect_timeout = Duration::from_secs(10);
    // 16 000 threads on one core answer their probes slowly: give them time, so that "served"
    // counts connections the server holds, not a probe's patience.
    c.timeout = Duration::from_secs(15);
    result(
        crate::generator::ceiling::run_with(&c, Some(CEILING_MAX_CONNS), &mut NoProgress),
        |r| RunResult::Ceiling(Box::new(r)),
    )
}

/// Churn settings against a started server: echo over plain TCP from [`source_ips`], the server's
/// CPU read.
pub fn churn_settings(addr: SocketAddr, pid: u32, cpus: &[usize]) -> ChurnSettings {
    let mut c = ChurnSettings::new(addr);
    c.app = ChurnApp::Echo;
    c.cpus = cpus.to_vec();
    c.source_ips = source_ips();
    c.server_pid = Some(pid);
    c.connect_timeout = Duration::from_secs(2);
    c
}

/// Echo churn at `rate` new connections per second for `duration`, `size` bytes each.
pub fn churn(
    rate: f64,
    size: usize,
    duration: Duration,
    addr: SocketAddr,
    pid: u32,
    cpus: &[usize],
) -> RunResult {
    let mut c = churn_settings(addr, pid, cpus);
    c.rate = rate;
    c.size = size;
    c.duration = duration;
    result(crate::generator::churn::run(&c), |r| {
        RunResult::Churn(Box::new(r))
    })
}
