//! Command-line definitions of `chat`, `compare` and `report`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use loadgen::util::parse_duration;

/// A parsed CPU list (a newtype so clap takes it as one value).
#[derive(Debug, Clone)]
pub struct Cpus(pub Vec<usize>);

fn cpus(s: &str) -> Result<Cpus, String> {
    loadgen::util::parse_cpus(s).map(Cpus)
}

/// `loadgen chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Server address.
    #[arg(long)]
    pub addr: SocketAddr,
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
    /// After the last send, how long to wait for the remaining deliveries.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Worker threads (event loops).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Pin the worker threads to these CPUs (e.g. 1 or 0-3).
    #[arg(long, value_parser = cpus)]
    pub cpus: Option<Cpus>,
    /// Sample this server process in /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report as a one-row CSV to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Exit 0 even if loss, duplicates or reordering were counted.
    #[arg(long)]
    pub allow_errors: bool,
    /// Print no table.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ChatArgs {
    /// The library settings.
    pub fn settings(&self) -> loadgen::chat::ChatSettings {
        let mut s = loadgen::chat::ChatSettings::new(self.addr);
        s.rooms = self.rooms;
        s.members = self.members;
        s.senders = self.senders;
        s.rate = self.rate;
        s.size = self.size;
        s.duration = self.duration;
        s.warmup = self.warmup;
        s.drain_timeout = self.drain_timeout;
        s.threads = self.threads;
        s.cpus = self.cpus.clone().map(|c| c.0).unwrap_or_default();
        s.server_pid = self.server_pid;
        s
    }
}

/// `loadgen compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Our variants to compare, in the order they run at each point.
    #[arg(long, value_delimiter = ',', default_value = "threads,tokio,async-std")]
    pub impls: Vec<String>,
    /// The scenario matrix: quick (about 3 minutes), full (3 repeats), tiny
    /// (seconds, for tests) or a JSON file.
    #[arg(long, default_value = "quick")]
    pub matrix: String,
    /// Output directory [default: results/<date>-<host>, or with -2, -3, ...
    /// appended if that already holds results].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// CPUs of the servers (empty string: no pinning).
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// CPUs of the generator.
    #[arg(long, default_value = "1")]
    pub client_cpus: String,
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
}
