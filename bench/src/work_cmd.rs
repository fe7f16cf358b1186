//! `loadgen work`: fast and slow requests side by side, each class open
//! loop at its own rate; its options, run, table and exit status.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use loadgen::machine::{Record, RunMeta};
use loadgen::util::parse_duration;
use loadgen::work::{WorkClassSettings, WorkSettings};

use crate::cli::Common;
use crate::commands::{Verdict, save};

/// `loadgen work`.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// Options shared by every scenario (`--threads`: worker threads per
    /// class).
    #[command(flatten)]
    pub common: Common,
    /// Connections of the fast class.
    #[arg(long, default_value_t = 10)]
    pub fast_conns: usize,
    /// The fast class's request line: FIB <n>, SLEEP <ms> or PING [token].
    #[arg(long, default_value = "FIB 1")]
    pub fast_req: String,
    /// Fast requests per second over all fast connections (each sends
    /// rate / conns per second).
    #[arg(long, default_value_t = 1000.0)]
    pub fast_rate: f64,
    /// Connections of the slow class (0: the fast class alone).
    #[arg(long, default_value_t = 2)]
    pub slow_conns: usize,
    /// The slow class's request line (e.g. "FIB 27" or "SLEEP 5").
    #[arg(long, default_value = "FIB 27")]
    pub slow_req: String,
    /// Slow requests per second over all slow connections (each sends
    /// rate / conns per second).
    #[arg(long, default_value_t = 20.0)]
    pub slow_rate: f64,
    /// Measured duration.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Warm-up before measuring (load on, nothing recorded).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Most requests in flight per connection (the schedule keeps running,
    /// so a held-up connection shows in the corrected latency).
    #[arg(long, default_value_t = 64)]
    pub max_inflight: usize,
}

impl WorkArgs {
    /// The library settings.
    pub fn settings(&self) -> WorkSettings {
        let c = &self.common;
        let mut s = WorkSettings::new(c.socket_addr());
        s.transport = c.transport();
        s.fast = WorkClassSettings {
            conns: self.fast_conns,
            request: self.fast_req.clone(),
            rate: self.fast_rate,
        };
        s.slow = WorkClassSettings {
            conns: self.slow_conns,
            request: self.slow_req.clone(),
            rate: self.slow_rate,
        };
        s.duration = self.duration;
        s.warmup = self.warmup;
        s.max_inflight = self.max_inflight;
        s.threads = c.threads;
        s.cpus = c.cpus();
        s.source_ips = c.source_ips();
        s.connect_rate = c.connect_rate;
        s.connect_timeout = c.connect_timeout.unwrap_or(s.connect_timeout);
        s.timeout = c.timeout;
        s.drain_timeout = c.drain_timeout.unwrap_or(s.drain_timeout);
        s.server_pid = c.server_pid;
        s.sample_interval = c.sample_interval;
        s.interval = c.interval;
        s
    }
}

/// Runs `loadgen work`.
pub fn run(args: &WorkArgs) -> anyhow::Result<Verdict> {
    let meta = RunMeta::collect();
    let report = loadgen::work::run_with(&args.settings(), crate::commands::progress().as_mut())
        .context("work run failed")?;
    if !args.common.quiet {
        print!("{}", loadgen::report::work_table::work_table(&report));
    }
    let errors = report.error_count();
    let (unsent, lower_bounds) = report.behind_counts();
    let series = report.series.clone();
    let record = Record {
        kind: "work".into(),
        meta,
        report,
    };
    save(&args.common, &record, &series)?;
    Ok(Verdict::of_run(
        errors,
        args.common.allow_errors,
        unsent,
        lower_bounds,
    ))
}
