//! Running each subcommand: settings from the command line, the run, the
//! printed table, the saved JSON/CSV, and the exit status.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use loadgen::generator::progress::{NoProgress, Progress};
use loadgen::machine::{Record, RunMeta};
use loadgen::report::output;
use loadgen::results::series::TimeSeries;

use crate::cli::{ChatArgs, Common, CompareArgs, ConnsArgs, EchoArgs, ReportArgs};

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to complain about.
    Done,
    /// A run counted errors; `allowed`: exit 0 anyway (`--allow-errors`).
    Errors {
        /// Errors counted.
        count: u64,
        /// Whether they are allowed.
        allowed: bool,
    },
    /// The command did not reach its goal (exit 1).
    Failed(String),
    /// An open loop could not keep its schedule: window messages unsent or
    /// never completed (exit 3 unless `--allow-errors`; the latency from the
    /// intended time holds them as lower bounds).
    Behind {
        /// Window messages scheduled but never sent.
        unsent: u64,
        /// Window messages (chat: deliveries) never completed.
        lower_bounds: u64,
    },
}

impl Verdict {
    /// `Done` without errors, else `Errors`.
    pub fn errors(count: u64, allowed: bool) -> Verdict {
        if count == 0 {
            Verdict::Done
        } else {
            Verdict::Errors { count, allowed }
        }
    }

    /// As [`Verdict::errors`], then `Behind` when there are no errors but
    /// the schedule was not kept (and that is not allowed).
    pub fn of_run(count: u64, allowed: bool, unsent: u64, lower_bounds: u64) -> Verdict {
        match Verdict::errors(count, allowed) {
            Verdict::Done if !allowed && (unsent > 0 || lower_bounds > 0) => Verdict::Behind {
                unsent,
                lower_bounds,
            },
            v => v,
        }
    }
}

/// A progress bar on a terminal, else nothing.
pub fn progress() -> Box<dyn Progress> {
    match crate::bar::Bar::if_terminal() {
        Some(b) => Box::new(b),
        None => Box::new(NoProgress),
    }
}

/// Writes the record as JSON and CSV, and the interval log, as asked.
pub fn save<T: serde::Serialize>(
    common: &Common,
    record: &Record<T>,
    series: &TimeSeries,
) -> anyhow::Result<()> {
    if let Some(p) = &common.json {
        output::write_json(p, record).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &common.csv {
        output::write_csv(p, record).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &common.hdr_log {
        output::write_interval_log(p, series, record.meta.unix_time)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// `loadgen echo`.
pub fn echo(args: &EchoArgs) -> anyhow::Result<Verdict> {
    let meta = RunMeta::collect();
    let report = loadgen::echo::run_with(&args.settings(), progress().as_mut())
        .context("echo run failed")?;
    if !args.common.quiet {
        print!("{}", output::echo_table(&report));
    }
    let errors = report.error_count();
    let behind = (report.unsent, report.latency_lower_bounds);
    let series = report.series.clone();
    let record = Record {
        kind: "echo".into(),
        meta,
        report,
    };
    save(&args.common, &record, &series)?;
    Ok(Verdict::of_run(
        errors,
        args.common.allow_errors,
        behind.0,
        behind.1,
    ))
}

/// `loadgen conns`.
pub fn conns(args: &ConnsArgs) -> anyhow::Result<Verdict> {
    let meta = RunMeta::collect();
    let report = loadgen::conns::run_with(&args.settings(), progress().as_mut())
        .context("conns run failed")?;
    if !args.common.quiet {
        print!("{}", output::conns_table(&report));
    }
    let errors = report.error_count();
    let series = report.series.clone();
    let record = Record {
        kind: "conns".into(),
        meta,
        report,
    };
    save(&args.common, &record, &series)?;
    Ok(Verdict::errors(errors, args.common.allow_errors))
}

/// `loadgen chat`.
pub fn chat(args: &ChatArgs) -> anyhow::Result<Verdict> {
    let meta = RunMeta::collect();
    let report = loadgen::chat::run_with(&args.settings(), progress().as_mut())
        .context("chat run failed")?;
    if !args.common.quiet {
        print!("{}", output::chat_table(&report));
    }
    let errors = report.error_count();
    let behind = (report.unsent, report.latency_lower_bounds);
    let series = report.series.clone();
    let record = Record {
        kind: "chat".into(),
        meta,
        report,
    };
    save(&args.common, &record, &series)?;
    Ok(Verdict::of_run(
        errors,
        args.common.allow_errors,
        behind.0,
        behind.1,
    ))
}

/// `base`, or `base-2`, `base-3`, ... if it already holds results: the default
/// output directory never overwrites an earlier run (an explicit `--out` does).
fn unused_dir(base: &Path) -> PathBuf {
    let taken = |d: &Path| d.join("results.json").exists();
    if !taken(base) {
        return base.to_path_buf();
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}-{n}", base.display())))
        .find(|d| !taken(d))
        .unwrap_or_else(|| base.to_path_buf())
}

/// The names of our server variants: those of `serve --impl`.
pub fn our_impls() -> Vec<String> {
    serve::Impl::ALL
        .iter()
        .map(|i| i.name().to_string())
        .collect()
}

/// Why the variant called `name` cannot run on this machine (`None`: it can, or it is not ours).
fn unavailable_reason(name: &str) -> Option<String> {
    serve::Impl::from_name(name).and_then(serve::Impl::unavailable_reason)
}

/// `loadgen compare`; returns the number of runs with problems.
pub fn compare(args: &CompareArgs) -> anyhow::Result<Verdict> {
    use loadgen::compare;
    use loadgen::results::comparison::CompareSettings;
    use loadgen::results::matrix::Matrix;
    let matrix = Matrix::load(&args.matrix)?;
    let ours = our_impls();
    let impls = if args.impls.is_empty() {
        // A variant this machine cannot run (io_uring unavailable) is left out, saying why.
        ours.iter()
            .filter(|name| match unavailable_reason(name) {
                Some(reason) => {
                    eprintln!("loadgen compare: leaving out {name}: {reason}");
                    false
                }
                None => true,
            })
            .cloned()
            .collect()
    } else {
        args.impls.clone()
    };
    if let Some(bad) = impls.iter().find(|i| !ours.contains(i)) {
        anyhow::bail!(
            "unknown --impls entry {bad:?}: ours are {}",
            ours.join(", ")
        );
    }
    let (mut server_cpus, mut client_cpus) =
        (args.server_cpus.0.clone(), args.client_cpus.0.clone());
    let avail = loadgen::limits::current_affinity().unwrap_or_default();
    let mut pinning_note = None;
    if avail.len() < 2 {
        pinning_note = Some(format!(
            "only {} CPU(s) available: server and generator not pinned apart",
            avail.len()
        ));
        server_cpus.clear();
        client_cpus.clear();
    } else if let Some(c) = server_cpus
        .iter()
        .chain(client_cpus.iter())
        .find(|c| !avail.contains(c))
    {
        anyhow::bail!("CPU {c} is not available (this process may use {avail:?})");
    }
    let mut externals = Vec::new();
    for e in &args.external {
        let (n, c) = e.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--external wants NAME='COMMAND {{addr}}', got {e:?}")
        })?;
        if !c.contains("{addr}") {
            anyhow::bail!("--external {n}: the command must contain {{addr}}");
        }
        externals.push((n.to_string(), c.to_string()));
    }
    if args.textbook {
        let bin = compare::default_textbook_bin()?;
        let bin = bin.display().to_string().replace('\'', r"'\''");
        for imp in &impls {
            externals.push((format!("textbook-{imp}"), format!("'{bin}' {imp} {{addr}}")));
        }
    }
    let serve_bin = match &args.serve_bin {
        Some(p) => p.clone(),
        None => compare::default_serve_bin()?,
    };
    let settings = CompareSettings {
        variants: CompareSettings::variants(&impls, &externals),
        matrix,
        serve_bin,
        server_cpus,
        client_cpus,
        pinning_note,
    };
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            let meta = RunMeta::collect();
            unused_dir(&PathBuf::from("results").join(format!(
                "{}-{}",
                loadgen::report::text::day(meta.unix_time),
                meta.machine.hostname
            )))
        }
    };
    let estimate = loadgen::results::estimate::seconds(&settings.matrix, settings.variants.len());
    let about = if estimate < 120.0 {
        format!("{estimate:.0} s")
    } else {
        format!("{:.0} min", estimate / 60.0)
    };
    eprintln!(
        "loadgen compare: matrix {} with {} variant(s), about {about} (a rough estimate{})",
        settings.matrix.name,
        settings.variants.len(),
        if settings.matrix.transports.is_some() {
            "; the transport points come on top"
        } else {
            ""
        }
    );
    let results = compare::run(&settings, &mut |line| eprintln!("{line}"))?;
    loadgen::report::write_all(&out, std::slice::from_ref(&results), true)
        .with_context(|| format!("writing {}", out.display()))?;
    let problems = results
        .runs
        .iter()
        .filter(|r| loadgen::report::Figures::of(&r.result).is_none_or(|f| f.errors > 0))
        .count() as u64;
    eprintln!("wrote {}", out.join("report.md").display());
    // Limits hit by a variant are results, not failures of the comparison.
    if problems > 0 {
        eprintln!("{problems} run(s) with errors or failures (see the report)");
    }
    Ok(Verdict::Done)
}

/// `loadgen report`.
pub fn report(args: &ReportArgs) -> anyhow::Result<Verdict> {
    let dirs: Vec<&Path> = args.dirs.iter().map(|d| d.as_path()).collect();
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    let baseline: Vec<&Path> = args.baseline.iter().map(|d| d.as_path()).collect();
    loadgen::report::regenerate_against(&dirs, &out, &baseline)?;
    eprintln!("wrote {}", out.join("report.md").display());
    Ok(Verdict::Done)
}

#[cfg(test)]
mod tests {
    use super::unused_dir;

    #[test]
    fn default_output_never_overwrites_a_run() {
        let base = std::env::temp_dir().join(format!("loadgen-unused-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        assert_eq!(unused_dir(&base), base);
        std::fs::create_dir_all(&base).unwrap();
        // An empty directory (or one without results) is fine to use.
        assert_eq!(unused_dir(&base), base);
        std::fs::write(base.join("results.json"), "{}").unwrap();
        let second = unused_dir(&base);
        assert_eq!(
            second.display().to_string(),
            format!("{}-2", base.display())
        );
        std::fs::create_dir_all(&second).unwrap();
        std::fs::write(second.join("results.json"), "{}").unwrap();
        assert_eq!(
            unused_dir(&base).display().to_string(),
            format!("{}-3", base.display())
        );
        std::fs::remove_dir_all(&base).unwrap();
        std::fs::remove_dir_all(&second).unwrap();
    }

    #[test]
    fn our_impls_come_from_serve() {
        let names = super::our_impls();
        assert_eq!(names.len(), serve::Impl::ALL.len());
        for name in &names {
            let imp = serve::Impl::from_name(name).expect("every listed variant parses back");
            assert_eq!(imp.name(), name);
        }
        for known in ["threads", "tokio", "async-std"] {
            assert!(
                names.iter().any(|n| n == known),
                "{known} missing: {names:?}"
            );
        }
    }
}
