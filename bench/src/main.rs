//! `loadgen`: drives echo servers and measures them. See `loadgen --help`.

mod bar;
mod cli;
mod cli_ext;
mod cmd_ext;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use loadgen::machine::{Record, RunMeta};
use loadgen::output;
use loadgen::progress::{NoProgress, Progress};

fn progress() -> Box<dyn Progress> {
    match bar::Bar::if_terminal() {
        Some(b) => Box::new(b),
        None => Box::new(NoProgress),
    }
}

fn save<T: serde::Serialize>(common: &cli::Common, record: &Record<T>) -> anyhow::Result<()> {
    if let Some(p) = &common.json {
        output::write_json(p, record).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &common.csv {
        output::write_csv(p, record).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Runs the command; returns the number of errors counted.
fn run(cli: cli::Cli) -> anyhow::Result<(u64, bool)> {
    let meta = RunMeta::collect();
    match cli.command {
        cli::Command::Echo(args) => {
            let report = loadgen::echo::run_with(&args.settings(), progress().as_mut())
                .context("echo run failed")?;
            if !args.common.quiet {
                print!("{}", output::echo_table(&report));
            }
            let errors = report.error_count();
            let record = Record {
                kind: "echo".into(),
                meta,
                report,
            };
            save(&args.common, &record)?;
            Ok((errors, args.common.allow_errors))
        }
        cli::Command::Conns(args) => {
            let report = loadgen::conns::run_with(&args.settings(), progress().as_mut())
                .context("conns run failed")?;
            if !args.common.quiet {
                print!("{}", output::conns_table(&report));
            }
            let errors = report.error_count();
            let record = Record {
                kind: "conns".into(),
                meta,
                report,
            };
            save(&args.common, &record)?;
            Ok((errors, args.common.allow_errors))
        }
        cli::Command::Chat(args) => cmd_ext::chat(&args),
        cli::Command::Compare(args) => cmd_ext::compare(&args),
        cli::Command::Report(args) => cmd_ext::report(&args),
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok((0, _)) | Ok((_, true)) => ExitCode::SUCCESS,
        Ok((n, false)) => {
            eprintln!("loadgen: {n} error(s) counted (use --allow-errors to exit 0 anyway)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}
