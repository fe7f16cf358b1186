//! Running `chat`, `compare` and `report` from the command line.

use anyhow::Context as _;
use loadgen::machine::{Record, RunMeta};
use loadgen::output;

use crate::cli_ext::ChatArgs;

/// Runs `loadgen chat`; returns (errors counted, whether they are allowed).
pub fn chat(args: &ChatArgs) -> anyhow::Result<(u64, bool)> {
    let meta = RunMeta::collect();
    let report = loadgen::chat::run(&args.settings()).context("chat run failed")?;
    if !args.quiet {
        print!("{}", loadgen::chat::table(&report));
    }
    let errors = report.error_count();
    let record = Record {
        kind: "chat".into(),
        meta,
        report,
    };
    if let Some(p) = &args.json {
        output::write_json(p, &record).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.csv {
        output::write_csv(p, &record).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok((errors, args.allow_errors))
}
