//! The `echo` scenario: sustained load on established connections, closed
//! or open loop, every byte verified.

use std::sync::Arc;

pub use crate::results::echo::{EchoReport, EchoSettings};

use super::engine::protocol::{Fault, Outgoing, Protocol, Receipts};
use super::engine::{self, LoadSpec, Spec};
use super::pattern;
use super::progress::{NoProgress, Progress};
use crate::error::{Error, Result};
use crate::results::hist::HistogramReport;

impl EchoSettings {
    pub(crate) fn spec(&self) -> Result<Spec> {
        if self.pipeline == 0 {
            return Err(Error::InvalidSettings(
                "--pipeline must be at least 1".into(),
            ));
        }
        if self.size == 0 {
            return Err(Error::InvalidSettings("--size must be at least 1".into()));
        }
        let load = match self.rate {
            None => LoadSpec::Closed {
                pipeline: self.pipeline,
            },
            Some(r) if r > 0.0 && r.is_finite() => LoadSpec::Open {
                rate: r,
                max_inflight: self.max_inflight.max(1),
            },
            Some(r) => {
                return Err(Error::InvalidSettings(format!(
                    "--rate must be a positive number of messages per second, not {r}"
                )));
            }
        };
        Ok(Spec {
            addr: self.addr,
            endpoint: super::transport::endpoint(&self.transport, self.addr)?,
            conns: self.conns,
            threads: self.threads,
            cpus: self.cpus.clone(),
            source_ips: self.source_ips.clone(),
            connect_rate: self.connect_rate,
            connect_timeout: self.connect_timeout,
            load,
            warmup: self.warmup,
            duration: self.duration,
            timeout: self.timeout,
            drain_timeout: self.drain_timeout,
            record: self.record_latency,
            server_pid: self.server_pid,
            sample_interval: self.sample_interval,
            interval: self.interval,
        })
    }
}

/// The echo protocol: each connection sends a byte stream derived from its
/// seed (see [`crate::generator::pattern`]) in messages of `size` bytes; every byte that
/// comes back is checked at its stream offset, and a message is complete when
/// its last byte is back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EchoProtocol {
    /// Seed of the run (each connection derives its own).
    pub run_seed: u64,
    /// Message size, bytes (at least 1).
    pub size: usize,
}

/// An echo connection's state.
#[derive(Debug)]
pub(crate) struct EchoConn {
    seed: u64,
    r_off: u64,
    /// Stream offset at which the next message is complete.
    next_end: u64,
}

impl Protocol for EchoProtocol {
    type Conn = EchoConn;
    type Tally = ();
    const REPLIES: bool = true;
    const HALF_CLOSE: bool = true;

    fn sends(&self, _id: usize) -> bool {
        true
    }

    fn open(&self, id: usize) -> EchoConn {
        EchoConn {
            seed: pattern::conn_seed(self.run_seed, id),
            r_off: 0,
            next_end: self.size as u64,
        }
    }

    fn ready_on_connect(&self) -> bool {
        true
    }

    fn message_len(&self, _c: &EchoConn) -> usize {
        self.size
    }

    #[inline]
    fn fill(&self, c: &EchoConn, m: &Outgoing, within: usize, out: &mut [u8]) {
        pattern::fill(c.seed, m.index * self.size as u64 + within as u64, out);
    }

    #[inline]
    fn receive<R: Receipts>(&self, c: &mut EchoConn, data: &[u8], rx: &mut R) -> Result<(), Fault> {
        let end = c.r_off + data.len() as u64;
        if end > rx.written() {
            return Err(Fault::Mismatch(format!(
                "echoed {end} bytes but only {} were sent",
                rx.written()
            )));
        }
        if let Err(m) = pattern::check(c.seed, c.r_off, data) {
            return Err(Fault::Mismatch(m.to_string()));
        }
        // Count the message ends passed (no division on the hot path).
        let mut done = 0;
        while c.next_end <= end {
            done += 1;
            c.next_end += self.size as u64;
        }
        rx.completed(done);
        c.r_off = end;
        Ok(())
    }

    fn complete(&self, c: &EchoConn, written: u64) -> bool {
        c.r_off == written
    }

    fn tally(&self, _c: &EchoConn, _alive: bool, _t: &mut ()) {}
}

/// Runs an echo scenario.
pub fn run(settings: &EchoSettings) -> Result<EchoReport> {
    run_with(settings, &mut NoProgress)
}

/// Runs an echo scenario, reporting progress.
pub fn run_with(settings: &EchoSettings, progress: &mut dyn Progress) -> Result<EchoReport> {
    let spec = settings.spec()?;
    let proto = Arc::new(EchoProtocol {
        run_seed: settings.seed,
        size: settings.size,
    });
    let o = engine::run(&spec, proto, progress)?;
    let bytes = o.messages * settings.size as u64;
    let per_s = |x: f64| {
        if o.window_s > 0.0 {
            x / o.window_s
        } else {
            0.0
        }
    };
    let open = settings.rate.is_some();
    Ok(EchoReport {
        settings: settings.clone(),
        mode: if open { "open" } else { "closed" }.to_string(),
        threads: o.threads,
        connect: o.connect,
        window_s: o.window_s,
        messages: o.messages,
        bytes,
        msgs_per_s: per_s(o.received as f64),
        latency_lower_bounds: o.lower_bounds,
        send_lag: if open {
            Some(HistogramReport::of(&o.send_lag)?)
        } else {
            None
        },
        mib_per_s: per_s(bytes as f64) / (1024.0 * 1024.0),
        target_rate: settings.rate,
        sent: o.sent,
        unsent: o.unsent,
        lost: o.lost,
        latency: HistogramReport::of(&o.latency)?,
        latency_corrected: if open {
            Some(HistogramReport::of(&o.corrected)?)
        } else {
            None
        },
        errors: o.errors,
        first_error: o.first_error,
        conns_answered: o.conns_answered,
        conns_clean: o.conns_clean,
        fairness: crate::results::fairness::Fairness::of(&o.per_conn, o.window_s),
        cost: o.cost,
        series: o.series,
    })
}
