//! The command line (clap): every subcommand's options, with the options
//! every scenario shares in one [`Common`] set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use conformance::transport::Address;
use loadgen::results::transport::Transport;
use loadgen::util::{CpuList, IpList, parse_duration};

/// Load generator for echo and chat servers: latency, throughput and server cost.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sustained echo load: closed loop (default) or open loop with --rate.
    Echo(EchoArgs),
    /// Open many connections, hold them while probing each, then close them.
    Conns(ConnsArgs),
    /// Chat fan-out: rooms of members, senders on a schedule, every
    /// receipt checked for order and completeness.
    Chat(ChatArgs),
    /// Fast and slow requests side by side (the work app), each class open
    /// loop at its own rate, every reply verified, latency per class.
    Work(crate::work_cmd::WorkArgs),
    /// Find the highest open-loop rate at which the server still meets a
    /// latency objective with no errors and no loss.
    Capacity(CapacityArgs),
    /// New connections at an offered rate, each one round trip, then closed:
    /// connect latency, round trip, server CPU per connection.
    Churn(crate::churn_cmd::ChurnArgs),
    /// Open connections until the server or the machine refuses (or
    /// --conns is reached), probe each, and name the limit that stopped it.
    Ceiling(crate::ceiling_cmd::CeilingArgs),
    /// Start every server variant, run the scenario matrix against each
    /// (interleaved), write results.json, results.csv, report.md and charts.
    Compare(CompareArgs),
    /// Regenerate report.md and the charts from results.json (several
    /// directories are merged).
    Report(ReportArgs),
}

/// Options shared by every scenario.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Server address: HOST:PORT (TCP), tls://HOST:PORT (TLS, with --ca or --insecure; the handshake
    /// counts in the connect latency) or unix:PATH (a unix-domain socket).
    #[arg(long)]
    pub addr: Address,
    /// tls:// only: trust the certificates in this PEM file (e.g. what `serve --tls-self-signed
    /// --tls-cert-out PATH` wrote).
    #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// tls:// only: accept any server certificate. NO VERIFICATION: for measuring a server you
    /// started yourself.
    #[arg(long)]
    pub insecure: bool,
    /// tls:// only: connections share a session cache and resume earlier sessions (the report counts
    /// full and resumed handshakes); without it every handshake is a full one.
    #[arg(long)]
    pub tls_resume: bool,
    /// Worker threads (event loops); default: one per --cpus entry, else one
    /// per core.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Pin the worker threads to these CPUs, round-robin (e.g. 1 or 0-3).
    #[arg(long)]
    pub cpus: Option<CpuList>,
    /// Connect from these local addresses, round-robin (e.g.
    /// 127.0.0.1,127.0.0.2).
    #[arg(long)]
    pub source_ips: Option<IpList>,
    /// Connection attempts per second over all workers (default: all at
    /// once).
    #[arg(long)]
    pub connect_rate: Option<f64>,
    /// Give up on a connection attempt (chat: connect and join) after this
    /// long [default: 10s; chat 30s].
    #[arg(long, value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// A message not echoed within this long counts as a timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// After the load, how long to wait for the last replies (echo: and the
    /// server's close following the half-close) [default: 2s; chat 5s].
    #[arg(long, value_parser = parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// Sample this server process in /proc (CPU, context switches, threads,
    /// fds, RSS).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and thread count.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub sample_interval: Duration,
    /// Length of one interval of the time series (JSON `series`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Also write the interval histograms as an HdrHistogram interval log
    /// (the format of `HistogramLogWriter`) to this file.
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
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

impl Common {
    /// The TCP address (a placeholder for a unix socket, whose settings do not use it).
    pub fn socket_addr(&self) -> SocketAddr {
        match &self.addr {
            Address::Tcp(addr) | Address::Tls { addr, .. } => *addr,
            Address::Unix(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// The transport to record in the settings (after [`Common::check_transport`]).
    pub fn transport(&self) -> Transport {
        match &self.addr {
            Address::Tcp(_) => Transport::Tcp,
            Address::Tls { host, .. } => Transport::Tls {
                ca: self.ca.clone(),
                server_name: host.clone(),
                resume: self.tls_resume,
            },
            Address::Unix(path) => Transport::Unix { path: path.clone() },
        }
    }

    /// The TLS options fit the address: `tls://` needs `--ca` or `--insecure` (said loudly), and they
    /// (and `--tls-resume`) mean nothing otherwise.
    pub fn check_transport(&self) -> anyhow::Result<()> {
        let tls_options = self.ca.is_some() || self.insecure || self.tls_resume;
        match &self.addr {
            Address::Tls { .. } if self.ca.is_none() && !self.insecure => anyhow::bail!(
                "a tls:// address needs --ca PEM (the certificate to trust) or --insecure"
            ),
            Address::Tls { .. } => {
                if self.insecure {
                    eprintln!(
                        "loadgen: WARNING: --insecure: the server's certificate is NOT verified"
                    );
                }
                Ok(())
            }
            _ if tls_options => {
                anyhow::bail!("--ca, --insecure and --tls-resume apply to tls:// addresses only")
            }
            _ => Ok(()),
        }
    }

    /// The CPUs to pin to (empty: none).
    pub fn cpus(&self) -> Vec<usize> {
        self.cpus.clone().map(|l| l.0).unwrap_or_default()
    }

    /// The source addresses (empty: the kernel's choice).
    pub fn source_ips(&self) -> Vec<std::net::IpAddr> {
        self.source_ips.clone().map(|l| l.0).unwrap_or_default()
    }
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

/// `loadgen chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// Rooms.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Members per room (clients = rooms × members).
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Clients that send, spread evenly over the rooms.
    #[arg(long, default_value_t = 2)]
    pub senders: usize,
    /// Messages per second over all senders.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Message text size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Measured duration.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up before measuring.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
}

/// Echo settings from the common options (scenario fields at their
/// defaults).
pub fn echo_settings(c: &Common) -> loadgen::echo::EchoSettings {
    let mut s = loadgen::echo::EchoSettings::new(c.socket_addr());
    s.transport = c.transport();
    s.threads = c.threads;
    s.cpus = c.cpus();
    s.source_ips = c.source_ips();
    s.connect_rate = c.connect_rate;
    s.connect_timeout = c.connect_timeout.unwrap_or(s.connect_timeout);
    s.timeout = c.timeout;
    s.drain_timeout = c.drain_timeout.unwrap_or(s.drain_timeout);
    s.server_pid = c.server_pid;
    s.sample_interval = c.sample_interval;
    s.seed = c.seed;
    s.interval = c.interval;
    s
}

/// Chat settings from the common options (scenario fields at their
/// defaults).
pub fn chat_settings(c: &Common) -> loadgen::chat::ChatSettings {
    let mut s = loadgen::chat::ChatSettings::new(c.socket_addr());
    s.transport = c.transport();
    s.drain_timeout = c.drain_timeout.unwrap_or(s.drain_timeout);
    s.join_timeout = c.connect_timeout.unwrap_or(s.join_timeout);
    s.threads = c.threads;
    s.cpus = c.cpus();
    s.source_ips = c.source_ips();
    s.connect_rate = c.connect_rate;
    s.server_pid = c.server_pid;
    s.sample_interval = c.sample_interval;
    s.interval = c.interval;
    s
}

impl EchoArgs {
    /// The library settings.
    pub fn settings(&self) -> loadgen::echo::EchoSettings {
        let mut s = echo_settings(&self.common);
        s.conns = self.conns;
        s.size = self.size;
        s.duration = self.duration;
        s.warmup = self.warmup;
        s.pipeline = self.pipeline;
        s.rate = self.rate;
        s.max_inflight = self.max_inflight;
        s.record_latency = !self.no_record;
        s
    }
}

impl ConnsArgs {
    /// The library settings.
    pub fn settings(&self) -> loadgen::conns::ConnsSettings {
        let c = &self.common;
        let mut s = loadgen::conns::ConnsSettings::new(c.socket_addr());
        s.transport = c.transport();
        s.conns = self.conns;
        s.connect_rate = c.connect_rate;
        s.connect_timeout = c.connect_timeout.unwrap_or(s.connect_timeout);
        s.hold = self.hold;
        s.probes_per_conn = self.probes_per_conn;
        s.probe_size = self.probe_size;
        s.threads = c.threads;
        s.cpus = c.cpus();
        s.source_ips = c.source_ips();
        s.timeout = c.timeout;
        s.drain_timeout = c.drain_timeout.unwrap_or(Duration::from_secs(2));
        s.server_pid = c.server_pid;
        s.sample_interval = c.sample_interval;
        s.seed = c.seed;
        s.interval = c.interval;
        s
    }
}

impl ChatArgs {
    /// The library settings.
    pub fn settings(&self) -> loadgen::chat::ChatSettings {
        let mut s = chat_settings(&self.common);
        s.rooms = self.rooms;
        s.members = self.members;
        s.senders = self.senders;
        s.rate = self.rate;
        s.size = self.size;
        s.duration = self.duration;
        s.warmup = self.warmup;
        s
    }
}

/// `loadgen capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The scenario to search.
    #[command(subcommand)]
    pub scenario: CapacityScenario,
}

/// The scenarios a capacity search can run.
#[derive(Debug, Subcommand)]
pub enum CapacityScenario {
    /// Open-loop echo (rate = messages per second over all connections).
    Echo(CapacityEchoArgs),
    /// Chat fan-out (rate = messages per second over all senders; the
    /// objective applies to deliveries).
    Chat(CapacityChatArgs),
    /// Connection churn (rate = new connections per second; the objective
    /// applies to the whole round trip from each attempt's scheduled start).
    Churn(CapacityChurnArgs),
}

/// The search's own options.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Objective: 99th percentile latency from the intended send time at
    /// most this [default: 1ms for echo, 50ms for chat].
    #[arg(long, value_parser = parse_duration)]
    pub p99: Option<Duration>,
    /// Objective: 99.9th percentile at most this (in addition to --p99).
    #[arg(long, value_parser = parse_duration)]
    pub p999: Option<Duration>,
    /// First rate tried [default: 1000/s for echo, 100/s for chat].
    #[arg(long)]
    pub start_rate: Option<f64>,
    /// Highest rate tried.
    #[arg(long, default_value_t = 10_000_000.0)]
    pub max_rate: f64,
    /// Factor between ramp steps.
    #[arg(long, default_value_t = 2.0)]
    pub factor: f64,
    /// Stop bisecting when the bracket is this close (fraction).
    #[arg(long, default_value_t = 0.05)]
    pub precision: f64,
    /// Measured duration of each step.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up of each step.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
}

/// `loadgen capacity echo`.
#[derive(Debug, Args)]
pub struct CapacityEchoArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// The search.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Connections.
    #[arg(long, default_value_t = 10)]
    pub conns: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Most messages in flight per connection.
    #[arg(long, default_value_t = 64)]
    pub max_inflight: usize,
}

/// `loadgen capacity chat`.
#[derive(Debug, Args)]
pub struct CapacityChatArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// The search.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Rooms.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Members per room (clients = rooms × members).
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Clients that send, spread evenly over the rooms.
    #[arg(long, default_value_t = 2)]
    pub senders: usize,
    /// Message text size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
}

/// `loadgen capacity churn`.
#[derive(Debug, Args)]
pub struct CapacityChurnArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// The search (`--warmup` is not used: every connection is measured).
    #[command(flatten)]
    pub search: SearchArgs,
    /// What each connection does: echo (one round trip of --size bytes) or chat (HELLO, PING, PONG).
    #[arg(long, default_value = "echo", value_parser = ["echo", "chat"])]
    pub app: String,
    /// Echo: bytes of the one round trip.
    #[arg(long, default_value_t = 16)]
    pub size: usize,
}

/// `loadgen compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Our variants to compare, in the order they run at each point
    /// [default: every variant of `serve --impl`].
    #[arg(long, value_delimiter = ',')]
    pub impls: Vec<String>,
    /// The scenario matrix: quick (about 3 minutes), full (3 repeats), work
    /// (the work app, 3 repeats, about 6 minutes), conn-cost (what a
    /// connection costs: memory idle and under load, the ceiling, churn;
    /// about 13 minutes), tiny (seconds, for tests) or a JSON file.
    #[arg(long, default_value = "quick")]
    pub matrix: String,
    /// Output directory [default: results/<date>-<host>, or with -2, -3, ...
    /// appended if that already holds results].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// CPUs of the servers (empty string: no pinning).
    #[arg(long, default_value = "0")]
    pub server_cpus: CpuList,
    /// CPUs of the generator.
    #[arg(long, default_value = "1")]
    pub client_cpus: CpuList,
    /// Another server to run on the echo scenarios: NAME='COMMAND {addr}'
    /// ({addr} becomes a free 127.0.0.1 port). Repeatable.
    #[arg(long)]
    pub external: Vec<String>,
    /// Also run the textbook echo server of each compared model
    /// (`textbook-threads`, ...: the `textbook` binary next to loadgen) on
    /// the echo scenarios, as the yardstick of each variant's cost.
    #[arg(long)]
    pub textbook: bool,
    /// The serve binary [default: the one next to loadgen].
    #[arg(long)]
    pub serve_bin: Option<PathBuf>,
}

/// `loadgen report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Result directories (each with a results.json); several are merged.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write report.md, results.csv and the charts [default: the
    /// first directory].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Another run's result directory: the report says, per finding, its
    /// value there and whether the finding reproduced (repeatable: merged).
    #[arg(long)]
    pub baseline: Vec<PathBuf>,
}

impl Command {
    /// The scenario options of the command, if it runs one scenario.
    pub fn common(&self) -> Option<&Common> {
        match self {
            Command::Echo(a) => Some(&a.common),
            Command::Conns(a) => Some(&a.common),
            Command::Chat(a) => Some(&a.common),
            Command::Churn(a) => Some(&a.common),
            Command::Ceiling(a) => Some(&a.conns.common),
            Command::Work(a) => Some(&a.common),
            Command::Capacity(a) => match &a.scenario {
                CapacityScenario::Echo(a) => Some(&a.common),
                CapacityScenario::Chat(a) => Some(&a.common),
                CapacityScenario::Churn(a) => Some(&a.common),
            },
            Command::Compare(_) | Command::Report(_) => None,
        }
    }
}
