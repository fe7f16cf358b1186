//! Command-line definitions (clap).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use loadgen::util::{parse_cpus, parse_duration, parse_ips};

/// Load generator for echo servers: latency, throughput and server cost.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sustained echo load: closed loop (default) or open loop with --rate.
    Echo(EchoArgs),
    /// Open many connections, hold them while probing each, then close them.
    Conns(ConnsArgs),
    /// Chat fan-out: rooms of members, senders on a schedule, every
    /// receipt checked for order and completeness.
    Chat(crate::cli_ext::ChatArgs),
    /// Start every server variant, run the scenario matrix against each
    /// (interleaved), write results.json, results.csv, report.md and charts.
    Compare(crate::cli_ext::CompareArgs),
    /// Regenerate report.md and the charts from results.json (several
    /// directories are merged).
    Report(crate::cli_ext::ReportArgs),
}

/// A parsed `--cpus` list (a newtype so clap takes it as one value).
#[derive(Debug, Clone)]
pub struct CpuList(pub Vec<usize>);

/// A parsed `--source-ips` list.
#[derive(Debug, Clone)]
pub struct IpList(pub Vec<IpAddr>);

fn cpus(s: &str) -> Result<CpuList, String> {
    parse_cpus(s).map(CpuList)
}

fn ips(s: &str) -> Result<IpList, String> {
    parse_ips(s).map(IpList)
}

/// Options shared by every scenario.
#[derive(Debug, Args)]
pub struct Common {
    /// Server address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// Worker threads (event loops); default: one per --cpus entry, else one
    /// per core.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Pin the worker threads to these CPUs, round-robin (e.g. 1 or 0-3).
    #[arg(long, value_parser = cpus)]
    pub cpus: Option<CpuList>,
    /// Connect from these local addresses, round-robin (e.g.
    /// 127.0.0.1,127.0.0.2).
    #[arg(long, value_parser = ips)]
    pub source_ips: Option<IpList>,
    /// Connection attempts per second over all workers (default: all at
    /// once).
    #[arg(long)]
    pub connect_rate: Option<f64>,
    /// Give up on a connection attempt after this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// A message not echoed within this long counts as a timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// After the load, how long to wait for the last echoes and the
    /// server's close following the half-close.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Sample this server process in /proc (CPU, context switches, threads,
    /// fds, RSS).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and thread count.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub sample_interval: Duration,
    /// Seed of the per-connection byte patterns.
    #[arg(long, default_value_t = 0x010a_d6e4)]
    pub seed: u64,
    /// Write every figure, the settings, the machine and the histograms as
    /// JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write every figure as a one-row CSV to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Exit 0 even if verification, connection or I/O errors were counted.
    #[arg(long)]
    pub allow_errors: bool,
    /// Print no table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `loadgen echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// Connections.
    #[arg(long, default_value_t = 10)]
    pub conns: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Measured duration.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up before measuring (load on, nothing recorded).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Closed loop: messages in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Open loop: messages per second over all connections, on a fixed
    /// schedule; latency is also measured from the intended send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: most messages in flight per connection.
    #[arg(long, default_value_t = 64)]
    pub max_inflight: usize,
    /// Do not timestamp messages or record latencies (to measure the cost
    /// of measuring; throughput and verification stay on).
    #[arg(long)]
    pub no_record: bool,
}

/// `loadgen conns`.
#[derive(Debug, Args)]
pub struct ConnsArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// Connections to open.
    #[arg(long, default_value_t = 1000)]
    pub conns: usize,
    /// How long to hold them open.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Echo probes per connection during the hold.
    #[arg(long, default_value_t = 2)]
    pub probes_per_conn: u32,
    /// Probe size in bytes.
    #[arg(long, default_value_t = 16)]
    pub probe_size: usize,
}

impl EchoArgs {
    /// The library settings.
    pub fn settings(&self) -> loadgen::echo::EchoSettings {
        let c = &self.common;
        loadgen::echo::EchoSettings {
            addr: c.addr,
            conns: self.conns,
            size: self.size,
            duration: self.duration,
            warmup: self.warmup,
            pipeline: self.pipeline,
            rate: self.rate,
            max_inflight: self.max_inflight,
            threads: c.threads,
            cpus: c.cpus.clone().map(|l| l.0).unwrap_or_default(),
            source_ips: c.source_ips.clone().map(|l| l.0).unwrap_or_default(),
            connect_rate: c.connect_rate,
            connect_timeout: c.connect_timeout,
            timeout: c.timeout,
            drain_timeout: c.drain_timeout,
            record_latency: !self.no_record,
            server_pid: c.server_pid,
            sample_interval: c.sample_interval,
            seed: c.seed,
        }
    }
}

impl ConnsArgs {
    /// The library settings.
    pub fn settings(&self) -> loadgen::conns::ConnsSettings {
        let c = &self.common;
        loadgen::conns::ConnsSettings {
            addr: c.addr,
            conns: self.conns,
            connect_rate: c.connect_rate,
            connect_timeout: c.connect_timeout,
            hold: self.hold,
            probes_per_conn: self.probes_per_conn,
            probe_size: self.probe_size,
            threads: c.threads,
            cpus: c.cpus.clone().map(|l| l.0).unwrap_or_default(),
            source_ips: c.source_ips.clone().map(|l| l.0).unwrap_or_default(),
            timeout: c.timeout,
            drain_timeout: c.drain_timeout,
            server_pid: c.server_pid,
            sample_interval: c.sample_interval,
            seed: c.seed,
        }
    }
}
