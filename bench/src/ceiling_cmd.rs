//! `loadgen ceiling`: the connection ceiling of a server, and the limit that stopped it.

use anyhow::Context as _;
use clap::Args;
use loadgen::ceiling::CeilingReport;
use loadgen::machine::{Record, RunMeta};

use crate::cli::ConnsArgs;
use crate::commands::{Verdict, progress, save};

/// `loadgen ceiling`.
#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// The conns run that opens, probes and holds the connections (`--conns`: how many to try;
    /// `--server-pid` is required).
    #[command(flatten)]
    pub conns: ConnsArgs,
    /// The server's `--max-conns`, to name it when it is what stopped the run.
    #[arg(long)]
    pub max_conns: Option<usize>,
}

/// Runs `loadgen ceiling`. Refused and failed connections are what it looks for, so they are not
/// errors; the exit status is 0 once the run finished.
pub fn run(args: &CeilingArgs) -> anyhow::Result<Verdict> {
    let meta = RunMeta::collect();
    let report =
        loadgen::ceiling::run_with(&args.conns.settings(), args.max_conns, progress().as_mut())
            .context("ceiling run failed")?;
    if !args.conns.common.quiet {
        print!("{}", table(&report));
    }
    let series = report.conns.series.clone();
    let record = Record {
        kind: "ceiling".into(),
        meta,
        report,
    };
    save(&args.conns.common, &record, &series)?;
    Ok(Verdict::Done)
}

fn table(r: &CeilingReport) -> String {
    format!(
        "served {} of {} asked for ({} established, {} connect failures)\n\
         peaks: server {} threads, {} fds, {} mappings; {} threads machine-wide\n\
         limits: server fds {}, vm.max_map_count {}, pid_max {}, threads-max {}\n\
         stopped by: {}\nto go further: {}\n",
        r.served,
        r.conns.settings.conns,
        r.conns.connect.established,
        r.conns.connect.failures.total(),
        r.peaks.server_threads,
        r.peaks.server_fds,
        r.peaks.server_maps,
        r.peaks.system_threads,
        r.limits.server_open_files,
        r.limits.max_map_count,
        r.limits.pid_max,
        r.limits.threads_max,
        r.stopped_by,
        r.to_go_further,
    )
}
