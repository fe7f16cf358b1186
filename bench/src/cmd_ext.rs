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

/// `base`, or `base-2`, `base-3`, ... if it already holds results: the default
/// output directory never overwrites an earlier run (an explicit `--out` does).
fn unused_dir(base: &std::path::Path) -> std::path::PathBuf {
    let taken = |d: &std::path::Path| d.join("results.json").exists();
    if !taken(base) {
        return base.to_path_buf();
    }
    (2..)
        .map(|n| std::path::PathBuf::from(format!("{}-{n}", base.display())))
        .find(|d| !taken(d))
        .unwrap_or_else(|| base.to_path_buf())
}

/// Runs `loadgen compare`; returns the number of runs with problems.
pub fn compare(args: &crate::cli_ext::CompareArgs) -> anyhow::Result<(u64, bool)> {
    use loadgen::compare::{self, CompareSettings, matrix::Matrix};
    let matrix = Matrix::load(&args.matrix)?;
    const OURS: [&str; 3] = ["threads", "tokio", "async-std"];
    if let Some(bad) = args.impls.iter().find(|i| !OURS.contains(&i.as_str())) {
        anyhow::bail!(
            "unknown --impls entry {bad:?}: ours are {}",
            OURS.join(", ")
        );
    }
    let parse = |s: &str| loadgen::util::parse_cpus(s).map_err(anyhow::Error::msg);
    let (mut server_cpus, mut client_cpus) = (parse(&args.server_cpus)?, parse(&args.client_cpus)?);
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
        for imp in &args.impls {
            externals.push((format!("textbook-{imp}"), format!("'{bin}' {imp} {{addr}}")));
        }
    }
    let serve_bin = match &args.serve_bin {
        Some(p) => p.clone(),
        None => compare::default_serve_bin()?,
    };
    let settings = CompareSettings {
        variants: CompareSettings::variants(&args.impls, &externals),
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
            unused_dir(&std::path::PathBuf::from("results").join(format!(
                "{}-{}",
                loadgen::report::text::day(meta.unix_time),
                meta.machine.hostname
            )))
        }
    };
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
    Ok((problems, true))
}

/// Runs `loadgen report`.
pub fn report(args: &crate::cli_ext::ReportArgs) -> anyhow::Result<(u64, bool)> {
    let dirs: Vec<&std::path::Path> = args.dirs.iter().map(|d| d.as_path()).collect();
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    loadgen::report::regenerate(&dirs, &out)?;
    eprintln!("wrote {}", out.join("report.md").display());
    Ok((0, true))
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
}
