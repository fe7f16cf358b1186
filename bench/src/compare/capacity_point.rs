//! A capacity point of the matrix: one capacity search against a running
//! server (the same search as `loadgen capacity`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::capacity::{SearchSettings, Target};
use crate::error::{Error, Result};
use crate::results::capacity::CapacityReport;
use crate::results::chat::ChatSettings;
use crate::results::echo::EchoSettings;
use crate::results::matrix::{CapacityTarget, Scenario};

/// Runs the search of `s` (a [`Scenario::Capacity`]) against the server at
/// `addr`.
pub fn run(s: &Scenario, addr: SocketAddr, pid: u32, cpus: &[usize]) -> Result<CapacityReport> {
    let Scenario::Capacity {
        target,
        p99_us,
        start_rate,
        max_rate,
        factor,
        precision,
        warmup,
        duration,
        ..
    } = s
    else {
        return Err(Error::InvalidSettings(format!(
            "{} is not a capacity point",
            s.id()
        )));
    };
    let target = match target {
        CapacityTarget::Echo { conns, size } => {
            let mut e = EchoSettings::new(addr);
            e.conns = *conns;
            e.size = *size;
            e.warmup = *warmup;
            e.duration = *duration;
            e.cpus = cpus.to_vec();
            e.server_pid = Some(pid);
            e.connect_timeout = Duration::from_secs(20);
            Target::Echo(Box::new(e))
        }
        CapacityTarget::Chat {
            rooms,
            members,
            senders,
            size,
        } => {
            let mut c = ChatSettings::new(addr);
            c.rooms = *rooms;
            c.members = *members;
            c.senders = *senders;
            c.size = *size;
            c.warmup = *warmup;
            c.duration = *duration;
            c.cpus = cpus.to_vec();
            c.server_pid = Some(pid);
            Target::Chat(Box::new(c))
        }
        CapacityTarget::Churn { size } => {
            let mut c = super::conn_cost::churn_settings(addr, pid, cpus);
            c.size = *size;
            c.duration = *duration;
            // Far beyond any objective: a connection this late fails the step either way, and
            // the step ends sooner.
            c.connect_timeout = Duration::from_secs(1);
            Target::Churn(Box::new(c))
        }
    };
    let search = SearchSettings {
        p99_us: *p99_us,
        p999_us: None,
        start_rate: *start_rate,
        min_rate: (start_rate / 64.0).min(*max_rate),
        max_rate: *max_rate,
        factor: *factor,
        precision: *precision,
    };
    crate::capacity::search(&target, &search, &mut |_| {})
}
