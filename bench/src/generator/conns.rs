//! The `conns` scenario: open many connections, hold them, prove they live
//! (echo probes on the open-loop schedule), close them.

use std::sync::Arc;
use std::time::Duration;

pub use crate::results::conns::{ConnsReport, ConnsSettings};

use super::echo::EchoProtocol;
use super::engine::{self, LoadSpec, Spec};
use super::progress::{NoProgress, Progress};
use crate::error::{Error, Result};
use crate::results::hist::HistogramReport;

impl ConnsSettings {
    pub(crate) fn spec(&self) -> Result<Spec> {
        if self.hold.is_zero() {
            return Err(Error::InvalidSettings("--hold must be positive".into()));
        }
        // Every connection is probed `probes_per_conn` times, evenly over
        // the hold (the open-loop schedule staggers the connections).
        let probes = (self.conns as f64) * f64::from(self.probes_per_conn.max(1));
        let rate = probes / self.hold.as_secs_f64();
        Ok(Spec {
            addr: self.addr,
            endpoint: super::transport::endpoint(&self.transport, self.addr)?,
            conns: self.conns,
            threads: self.threads,
            cpus: self.cpus.clone(),
            source_ips: self.source_ips.clone(),
            connect_rate: self.connect_rate,
            connect_timeout: self.connect_timeout,
            load: LoadSpec::Open {
                rate,
                max_inflight: 4,
            },
            warmup: Duration::ZERO,
            duration: self.hold,
            timeout: self.timeout,
            drain_timeout: self.drain_timeout,
            record: true,
            server_pid: self.server_pid,
            sample_interval: self.sample_interval,
            interval: self.interval,
        })
    }
}

/// Runs a conns scenario.
pub fn run(settings: &ConnsSettings) -> Result<ConnsReport> {
    run_with(settings, &mut NoProgress)
}

/// Runs a conns scenario, reporting progress.
pub fn run_with(settings: &ConnsSettings, progress: &mut dyn Progress) -> Result<ConnsReport> {
    let proto = Arc::new(EchoProtocol {
        run_seed: settings.seed,
        size: settings.probe_size.max(1),
    });
    let o = engine::run(&settings.spec()?, proto, progress)?;
    Ok(ConnsReport {
        settings: settings.clone(),
        threads: o.threads,
        connect: o.connect,
        hold_s: o.window_s,
        probes_sent: o.sent,
        probes_ok: o.messages,
        probes_unsent: o.unsent,
        probes_lost: o.lost,
        probe_latency: HistogramReport::of(&o.latency)?,
        conns_alive: o.conns_answered,
        conns_closed_cleanly: o.conns_clean,
        errors: o.errors,
        first_error: o.first_error,
        cost: o.cost,
        series: o.series,
    })
}
