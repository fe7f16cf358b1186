//! `loadgen churn`: new connections at an offered rate, one round trip each, and what a connection's
//! whole life costs the server.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use loadgen::churn::{ChurnApp, ChurnReport, ChurnSettings};
use loadgen::machine::{Record, RunMeta};
use loadgen::results::series::TimeSeries;
use loadgen::util::parse_duration;

use crate::cli::Common;
use crate::commands::{Verdict, save};

/// `loadgen churn`.
#[derive(Debug, Args)]
pub struct ChurnArgs {
    /// Options shared by every scenario (`--connect-rate` is ignored: `--rate` is the schedule).
    #[command(flatten)]
    pub common: Common,
    /// What each connection does: echo (one round trip of --size bytes) or chat (HELLO, PING, PONG).
    #[arg(long, default_value = "echo", value_parser = ["echo", "chat"])]
    pub app: String,
    /// Offered new connections per second (open loop).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// How long to offer them.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Echo: bytes of the one round trip.
    #[arg(long, default_value_t = 16)]
    pub size: usize,
}

impl ChurnArgs {
    /// The library settings.
    pub fn settings(&self) -> ChurnSettings {
        let mut s = settings(&self.common, &self.app, self.size);
        s.rate = self.rate;
        s.duration = self.duration;
        s
    }
}

/// Churn settings from the shared options, the app (`echo` or `chat`) and the echo size; the rate
/// and duration are the defaults.
pub fn settings(c: &Common, app: &str, size: usize) -> ChurnSettings {
    let mut s = ChurnSettings::new(c.socket_addr());
    s.transport = c.transport();
    s.app = if app == "chat" {
        ChurnApp::Chat
    } else {
        ChurnApp::Echo
    };
    s.size = size;
    s.connect_timeout = c.connect_timeout.unwrap_or(s.connect_timeout);
    s.threads = c.threads;
    s.cpus = c.cpus();
    s.source_ips = c.source_ips();
    s.server_pid = c.server_pid;
    s.seed = c.seed;
    s
}

/// Runs `loadgen churn`.
pub fn run(args: &ChurnArgs) -> anyhow::Result<Verdict> {
    let meta = RunMeta::collect();
    let report = loadgen::churn::run(&args.settings()).context("churn run failed")?;
    if !args.common.quiet {
        print!("{}", table(&report));
    }
    let errors = report.error_count();
    let record = Record {
        kind: "churn".into(),
        meta,
        report,
    };
    save(&args.common, &record, &TimeSeries::default())?;
    Ok(Verdict::errors(errors, args.common.allow_errors))
}

fn table(r: &ChurnReport) -> String {
    let opt =
        |x: Option<f64>, digits: usize| x.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let l = &r.connect.latency.summary;
    let t = &r.round_trip.summary;
    format!(
        "offered {:.0} conns/s, completed {} of {} in {:.2} s ({:.0}/s), {} failed (first: {})\n\
         connect p50 {} µs p99 {} µs; round trip from schedule p50 {} µs p99 {} µs max {} µs\n\
         server CPU {} s: {} µs per connection, {} new conns/s per server core\n",
        r.settings.rate,
        r.completed,
        r.connect.requested,
        r.elapsed_s,
        r.achieved_rate,
        r.error_count(),
        r.first_error.as_deref().unwrap_or("-"),
        l.p50_us,
        l.p99_us,
        t.p50_us,
        t.p99_us,
        t.max_us,
        opt(r.server_cpu_s, 3),
        opt(r.server_us_per_conn(), 1),
        opt(r.conns_per_server_core_s(), 0),
    ) + &r
        .connect
        .tls
        .map(|t| format!("TLS handshakes {} full, {} resumed\n", t.full, t.resumed))
        .unwrap_or_default()
}
