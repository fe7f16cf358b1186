//! The `echo` scenario: sustained load on established connections.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::engine::protocol::{Fault, Outgoing, Protocol, Receipts};
use crate::engine::{self, LoadSpec, Spec};
use crate::error::{Error, Result};
use crate::hist::HistogramReport;
use crate::pattern;
use crate::proc_stats::{CoreUsage, GeneratorStats, ServerStats};
use crate::progress::{NoProgress, Progress};
use crate::series::TimeSeries;
use crate::stats::{ConnectStats, ErrorCounts};
use crate::util::serde_secs;

/// Settings of an echo run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// Connections.
    pub conns: usize,
    /// Message size, bytes.
    pub size: usize,
    /// Measured duration.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
    /// Warm-up before the measured window (load on, not recorded).
    #[serde(with = "serde_secs")]
    pub warmup: Duration,
    /// Closed loop: messages in flight per connection.
    pub pipeline: usize,
    /// Open loop: messages per second over all connections (`None`: closed
    /// loop).
    pub rate: Option<f64>,
    /// Open loop: at most this many messages in flight per connection; the
    /// schedule keeps running meanwhile, so the delay shows in the corrected
    /// latency.
    pub max_inflight: usize,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to, round-robin (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Local addresses to connect from, round-robin (empty: the kernel's
    /// choice).
    pub source_ips: Vec<IpAddr>,
    /// Connection attempts per second (`None`: all at once).
    pub connect_rate: Option<f64>,
    /// Give up on a connection attempt after this long.
    #[serde(with = "serde_secs")]
    pub connect_timeout: Duration,
    /// A message not echoed within this long is a timeout error.
    #[serde(with = "serde_secs")]
    pub timeout: Duration,
    /// After the window, how long to wait for the remaining echoes and the
    /// server's close following the half-close.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
    /// Timestamp messages and record latencies (off only to measure the
    /// cost of measuring).
    pub record_latency: bool,
    /// Server process to sample in /proc.
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and threads.
    #[serde(with = "serde_secs")]
    pub sample_interval: Duration,
    /// Seed of the per-connection byte patterns.
    pub seed: u64,
    /// Length of one interval of the time series.
    #[serde(with = "serde_secs", default = "crate::series::default_interval")]
    pub interval: Duration,
}

impl EchoSettings {
    /// Defaults: 10 connections, 64-byte messages, closed loop with one
    /// message in flight, 1 s warm-up, 5 s measured.
    pub fn new(addr: SocketAddr) -> Self {
        EchoSettings {
            addr,
            conns: 10,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            pipeline: 1,
            rate: None,
            max_inflight: 64,
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            connect_rate: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(2),
            record_latency: true,
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            seed: 0x010a_d6e4,
            interval: crate::series::default_interval(),
        }
    }

    fn spec(&self) -> Result<Spec> {
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
/// seed (see [`crate::pattern`]) in messages of `size` bytes; every byte that
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
        let size = self.size as u64;
        rx.completed(end / size - c.r_off / size);
        c.r_off = end;
        Ok(())
    }

    fn complete(&self, c: &EchoConn, written: u64) -> bool {
        c.r_off == written
    }

    fn tally(&self, _c: &EchoConn, _alive: bool, _t: &mut ()) {}
}

/// Results of an echo run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoReport {
    /// The settings used.
    pub settings: EchoSettings,
    /// `closed` or `open`.
    pub mode: String,
    /// Worker threads used.
    pub threads: usize,
    /// Connection establishment.
    pub connect: ConnectStats,
    /// Measured window, seconds.
    pub window_s: f64,
    /// Messages of the window that completed (sent or scheduled in the
    /// window, echoed completely and verified).
    pub messages: u64,
    /// Payload bytes of those messages, one direction.
    pub bytes: u64,
    /// Completed messages per second (the achieved rate).
    pub msgs_per_s: f64,
    /// Payload MiB per second, one direction.
    pub mib_per_s: f64,
    /// Open loop: the requested rate.
    pub target_rate: Option<f64>,
    /// Messages of the window that were sent.
    pub sent: u64,
    /// Open loop: messages scheduled in the window but never sent (the
    /// connection was gone or had `max_inflight` outstanding until the end).
    pub unsent: u64,
    /// Messages of the window sent but never echoed (connection lost).
    pub lost: u64,
    /// Latency from the actual send (closed loop: the only one).
    pub latency: HistogramReport,
    /// Open loop: latency from the intended send time (corrected for
    /// coordinated omission).
    pub latency_corrected: Option<HistogramReport>,
    /// Failures after connection establishment.
    pub errors: ErrorCounts,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// Connections that completed at least one message.
    pub conns_answered: usize,
    /// Connections whose echo was complete when the server closed them
    /// after the half-close.
    pub conns_clean: usize,
    /// The server's cost, with `server_pid`.
    pub server: Option<ServerStats>,
    /// The generator's own cost.
    pub generator: GeneratorStats,
    /// How busy each CPU of the machine was over the window (all
    /// processes, interrupts included): shows which core saturated.
    pub cores: Vec<CoreUsage>,
    /// Per-interval figures (absent from results saved before it existed).
    #[serde(default)]
    pub series: TimeSeries,
}

impl EchoReport {
    /// Connect failures plus per-connection errors.
    pub fn error_count(&self) -> u64 {
        self.connect.failures.total() + self.errors.total()
    }
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
        msgs_per_s: per_s(o.messages as f64),
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
        server: o.server,
        generator: o.generator,
        cores: o.cores,
        series: o.series,
    })
}
