//! `loadgen`: drives echo and chat servers and measures them. See
//! `loadgen --help`.

mod bar;
mod capacity_cmd;
mod ceiling_cmd;
mod churn_cmd;
mod cli;
mod commands;
mod work_cmd;

use std::process::ExitCode;

use clap::Parser as _;

fn run(cli: cli::Cli) -> anyhow::Result<commands::Verdict> {
    if let Some(common) = cli.command.common() {
        common.check_transport()?;
    }
    match cli.command {
        cli::Command::Echo(args) => commands::echo(&args),
        cli::Command::Conns(args) => commands::conns(&args),
        cli::Command::Chat(args) => commands::chat(&args),
        cli::Command::Work(args) => work_cmd::run(&args),
        cli::Command::Capacity(args) => capacity_cmd::run(&args),
        cli::Command::Churn(args) => churn_cmd::run(&args),
        cli::Command::Ceiling(args) => ceiling_cmd::run(&args),
        cli::Command::Compare(args) => commands::compare(&args),
        cli::Command::Report(args) => commands::report(&args),
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(commands::Verdict::Done) | Ok(commands::Verdict::Errors { allowed: true, .. }) => {
            ExitCode::SUCCESS
        }
        Ok(commands::Verdict::Errors { count, .. }) => {
            eprintln!("loadgen: {count} error(s) counted (use --allow-errors to exit 0 anyway)");
            ExitCode::from(1)
        }
        Ok(commands::Verdict::Behind {
            unsent,
            lower_bounds,
        }) => {
            eprintln!(
                "loadgen: the open loop could not keep its schedule: {unsent} window messages unsent, \
                 {lower_bounds} never completed (latencies from the intended time are lower bounds; \
                 exit status 3; use --allow-errors to exit 0 anyway)"
            );
            ExitCode::from(3)
        }
        Ok(commands::Verdict::Failed(why)) => {
            eprintln!("loadgen: {why}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}
