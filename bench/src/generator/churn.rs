//! The `churn` scenario: new connections at an offered rate (open loop), each doing one round trip
//! and closing — the cost of a connection's whole life rather than of its messages.
//!
//! It is an ordinary scenario of the one engine: a [`Protocol`] whose connections are
//! [`ONE_SHOT`](Protocol::ONE_SHOT). The engine starts the attempts on its connect schedule
//! (`connect_rate` = the offered rate, spread over its workers and source addresses) over whatever
//! transport its connection layer opens, runs each connection's handshake — echo: one message and its
//! echo; chat: `HELLO`, `PING churn`, `PONG churn` — closes it, and records the connect latency and
//! the whole round trip from the attempt's scheduled start. The server's CPU time over the run gives
//! new connections per second per server core.

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::results::churn::{ChurnApp, ChurnReport, ChurnSettings};

use super::engine::protocol::{Fault, Outgoing, Protocol, Receipts};
use super::engine::{self, LoadSpec, Spec};
use super::pattern;
use super::progress::{NoProgress, Progress};
use crate::error::{Error, Result};
use crate::results::hist::HistogramReport;

/// The line a churned chat connection sends once greeted, and the answer it waits for.
const PING: &[u8] = b"PING churn\n";
const PONG: &[u8] = b"PONG churn";

impl ChurnSettings {
    pub(crate) fn spec(&self) -> Result<Spec> {
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err(Error::InvalidSettings(format!(
                "--rate must be a positive number of connections per second, not {}",
                self.rate
            )));
        }
        if self.size == 0 {
            return Err(Error::InvalidSettings("--size must be at least 1".into()));
        }
        Ok(Spec {
            addr: self.addr,
            conns: self.conns(),
            threads: self.threads,
            cpus: self.cpus.clone(),
            source_ips: self.source_ips.clone(),
            connect_rate: Some(self.rate),
            connect_timeout: self.connect_timeout,
            // No messages: every connection's life is its handshake, in the connect phase.
            load: LoadSpec::Closed { pipeline: 1 },
            warmup: Duration::ZERO,
            duration: Duration::from_millis(1),
            timeout: self.connect_timeout,
            drain_timeout: Duration::from_millis(100),
            record: false,
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            interval: Duration::from_secs(1),
        })
    }
}

/// The churn protocol: one round trip per connection, every byte checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChurnProtocol {
    app: ChurnApp,
    run_seed: u64,
    size: usize,
}

/// A churned connection's state.
#[derive(Debug)]
pub(crate) struct ChurnConn {
    seed: u64,
    /// Echo: bytes echoed so far.
    r_off: usize,
    /// Chat: the start of a line split across reads.
    partial: Vec<u8>,
    greeted: bool,
}

impl ChurnProtocol {
    fn chat_line(
        &self,
        c: &mut ChurnConn,
        line: &[u8],
        rx: &mut impl Receipts,
    ) -> Result<(), Fault> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = || String::from_utf8_lossy(line).into_owned();
        if line.starts_with(b"ERR ") {
            return Err(Fault::Refused(text()));
        }
        if !c.greeted {
            if !line.starts_with(b"HELLO ") {
                return Err(Fault::Mismatch(format!("expected HELLO, got {:?}", text())));
            }
            c.greeted = true;
            rx.reply(PING);
            return Ok(());
        }
        if line != PONG {
            return Err(Fault::Mismatch(format!(
                "expected PONG churn, got {:?}",
                text()
            )));
        }
        rx.ready();
        Ok(())
    }
}

impl Protocol for ChurnProtocol {
    type Conn = ChurnConn;
    type Tally = ();
    const REPLIES: bool = false;
    const HALF_CLOSE: bool = false;
    const ONE_SHOT: bool = true;

    fn sends(&self, _id: usize) -> bool {
        false
    }

    fn open(&self, id: usize) -> ChurnConn {
        ChurnConn {
            seed: pattern::conn_seed(self.run_seed, id),
            r_off: 0,
            partial: Vec::new(),
            greeted: false,
        }
    }

    fn ready_on_connect(&self) -> bool {
        false
    }

    fn greeting(&self, c: &ChurnConn, out: &mut Vec<u8>) {
        if self.app == ChurnApp::Echo {
            let start = out.len();
            out.resize(start + self.size, 0);
            pattern::fill(c.seed, 0, &mut out[start..]);
        }
    }

    fn message_len(&self, _c: &ChurnConn) -> usize {
        0
    }

    fn fill(&self, _c: &ChurnConn, _m: &Outgoing, _within: usize, _out: &mut [u8]) {}

    fn receive<R: Receipts>(
        &self,
        c: &mut ChurnConn,
        data: &[u8],
        rx: &mut R,
    ) -> Result<(), Fault> {
        match self.app {
            ChurnApp::Echo => {
                let end = c.r_off + data.len();
                if end > self.size {
                    return Err(Fault::Mismatch(format!(
                        "echoed {end} bytes but only {} were sent",
                        self.size
                    )));
                }
                if let Err(m) = pattern::check(c.seed, c.r_off as u64, data) {
                    return Err(Fault::Mismatch(m.to_string()));
                }
                c.r_off = end;
                if end == self.size {
                    rx.ready();
                }
                Ok(())
            }
            ChurnApp::Chat => {
                let mut rest = data;
                while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
                    if c.partial.is_empty() {
                        self.chat_line(c, &rest[..lf], rx)?;
                    } else {
                        let mut line = std::mem::take(&mut c.partial);
                        line.extend_from_slice(&rest[..lf]);
                        self.chat_line(c, &line, rx)?;
                    }
                    rest = &rest[lf + 1..];
                }
                if c.partial.len() + rest.len() > 4096 {
                    return Err(Fault::Mismatch("a line of more than 4096 bytes".into()));
                }
                c.partial.extend_from_slice(rest);
                Ok(())
            }
        }
    }

    fn complete(&self, _c: &ChurnConn, _written: u64) -> bool {
        true
    }

    fn tally(&self, _c: &ChurnConn, _alive: bool, _t: &mut ()) {}
}

/// Runs a churn scenario.
pub fn run(settings: &ChurnSettings) -> Result<ChurnReport> {
    run_with(settings, &mut NoProgress)
}

/// Runs a churn scenario, reporting progress.
pub fn run_with(settings: &ChurnSettings, progress: &mut dyn Progress) -> Result<ChurnReport> {
    let spec = settings.spec()?;
    let proto = Arc::new(ChurnProtocol {
        app: settings.app,
        run_seed: settings.seed,
        size: settings.size,
    });
    // The server's CPU clock (ns, from `clock_getcpuclockid`), not /proc's ticks: a churn run is short.
    let clock = settings
        .server_pid
        .map(host_probe::CpuClock::of)
        .transpose()
        .map_err(probe_error)?;
    let cpu_now = |c: &host_probe::CpuClock| c.now().map_err(probe_error);
    let cpu0 = clock.as_ref().map(cpu_now).transpose()?;
    let started = Instant::now();
    let o = engine::run(&spec, proto, progress)?;
    let cpu1 = clock.as_ref().map(cpu_now).transpose()?;
    let elapsed_s = if o.ready_s > 0.0 {
        o.ready_s
    } else {
        started.elapsed().as_secs_f64()
    };
    Ok(ChurnReport {
        settings: settings.clone(),
        threads: o.threads,
        connect: o.connect,
        completed: o.conns_clean,
        elapsed_s,
        achieved_rate: o.conns_clean as f64 / elapsed_s,
        round_trip: HistogramReport::of(&o.round_trip)?,
        errors: o.errors.total(),
        first_error: o.first_error,
        server_cpu_s: cpu0
            .zip(cpu1)
            .map(|(a, b)| b.saturating_sub(a).as_secs_f64()),
    })
}

fn probe_error(e: host_probe::ProbeError) -> Error {
    Error::Proc {
        path: "the server's CPU clock".into(),
        reason: e.to_string(),
    }
}
