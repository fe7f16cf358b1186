//! The `conns` scenario: open many connections, hold them, prove they live.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::echo::EchoProtocol;
use crate::engine::{self, LoadSpec, Spec};
use crate::error::{Error, Result};
use crate::hist::HistogramReport;
use crate::proc_stats::{CoreUsage, GeneratorStats, ServerStats};
use crate::progress::{NoProgress, Progress};
use crate::stats::{ConnectStats, ErrorCounts};
use crate::util::serde_secs;

/// Settings of a conns run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnsSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// Connections to open.
    pub conns: usize,
    /// Connection attempts per second (`None`: all at once).
    pub connect_rate: Option<f64>,
    /// Give up on a connection attempt after this long.
    #[serde(with = "serde_secs")]
    pub connect_timeout: Duration,
    /// How long to hold the connections open.
    #[serde(with = "serde_secs")]
    pub hold: Duration,
    /// Echo probes per connection during the hold, spread evenly.
    pub probes_per_conn: u32,
    /// Probe size, bytes.
    pub probe_size: usize,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Local addresses to connect from, round-robin.
    pub source_ips: Vec<IpAddr>,
    /// A probe not echoed within this long is a timeout error.
    #[serde(with = "serde_secs")]
    pub timeout: Duration,
    /// How long to wait for the close after the half-close.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
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

impl ConnsSettings {
    /// Defaults: 1000 connections at once, held 5 s, probed twice each
    /// with 16 bytes.
    pub fn new(addr: SocketAddr) -> Self {
        ConnsSettings {
            addr,
            conns: 1000,
            connect_rate: None,
            connect_timeout: Duration::from_secs(10),
            hold: Duration::from_secs(5),
            probes_per_conn: 2,
            probe_size: 16,
            threads: None,
            cpus: Vec::new(),
            source_ips: Vec::new(),
            timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(5),
            server_pid: None,
            sample_interval: Duration::from_millis(100),
            seed: 0x00c0_22e5,
            interval: crate::series::default_interval(),
        }
    }

    fn spec(&self) -> Result<Spec> {
        if self.hold.is_zero() {
            return Err(Error::InvalidSettings("--hold must be positive".into()));
        }
        // Every connection is probed `probes_per_conn` times, evenly over
        // the hold (the open-loop schedule staggers the connections).
        let probes = (self.conns as f64) * f64::from(self.probes_per_conn.max(1));
        let rate = probes / self.hold.as_secs_f64();
        Ok(Spec {
            addr: self.addr,
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

/// Results of a conns run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnsReport {
    /// The settings used.
    pub settings: ConnsSettings,
    /// Worker threads used.
    pub threads: usize,
    /// Connection establishment: latency percentiles, rate, failures.
    pub connect: ConnectStats,
    /// Measured hold, seconds.
    pub hold_s: f64,
    /// Probes scheduled during the hold and sent.
    pub probes_sent: u64,
    /// Probes echoed back and verified.
    pub probes_ok: u64,
    /// Probes not sent (connection gone).
    pub probes_unsent: u64,
    /// Probes sent but never echoed.
    pub probes_lost: u64,
    /// Probe round-trip time.
    pub probe_latency: HistogramReport,
    /// Connections that answered at least one probe.
    pub conns_alive: usize,
    /// Connections whose echo was complete when the server closed them
    /// after the half-close.
    pub conns_closed_cleanly: usize,
    /// Failures after connection establishment.
    pub errors: ErrorCounts,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// The server's cost during the hold, with `server_pid`.
    pub server: Option<ServerStats>,
    /// The generator's own cost during the hold.
    pub generator: GeneratorStats,
    /// How busy each CPU of the machine was over the window (all
    /// processes, interrupts included): shows which core saturated.
    pub cores: Vec<CoreUsage>,
    /// Per-interval figures (absent from results saved before it existed).
    #[serde(default)]
    pub series: crate::series::TimeSeries,
}

impl ConnsReport {
    /// Connect failures plus per-connection errors.
    pub fn error_count(&self) -> u64 {
        self.connect.failures.total() + self.errors.total()
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
        server: o.server,
        generator: o.generator,
        cores: o.cores,
        series: o.series,
    })
}
