//! Tabulates what criterion recorded for the variant benches: per run (a criterion baseline), the
//! median wall time and CPU time per iteration of every benchmark with the spread of each median (half
//! the width of criterion's 95 % confidence interval, in % of the median), and per row the order of the
//! variants, with `≈` between two whose intervals overlap (within noise: not ranked). Given several
//! runs, it adds how far each CPU-time median moved between them and how far its ratio to the other
//! variants of its row moved, which pairs of variants more than 10 % apart swapped places, which
//! benchmarks' servers idled through most of an iteration, and how far the sans-IO benchmarks moved
//! (the machine's own drift): see [`between`].
//!
//! ```sh
//! cargo run -p variant-benches --example table -- [--dir target/criterion] [--baseline NAME]...
//! ```
//!
//! Without `--baseline` it reads the latest run (criterion's `new`); `--save-baseline NAME` on a bench
//! run keeps a run under NAME.

mod between;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use variant_benches::Impl;

/// One benchmark's median in one run.
#[derive(Debug, Clone)]
struct Estimate {
    /// Median, nanoseconds per iteration.
    median: f64,
    /// Lower end of its 95 % confidence interval.
    lo: f64,
    /// Upper end.
    hi: f64,
}

impl Estimate {
    fn spread(&self) -> f64 {
        (self.hi - self.lo) / 2.0 / self.median
    }

    fn overlaps(&self, other: &Estimate) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
}

/// A row of a table: scenario (group without its measurement suffix) and parameter.
type Row = (String, String);
/// run → measure ("wall"/"cpu") → row → column (variant or benchmark function) → estimate.
type Runs = BTreeMap<String, BTreeMap<String, BTreeMap<Row, BTreeMap<String, Estimate>>>>;

fn main() {
    let mut dir = PathBuf::from("target/criterion");
    let mut baselines = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--dir", Some(v)) => dir = PathBuf::from(v),
            ("--baseline", Some(v)) => baselines.push(v),
            _ => {
                eprintln!("usage: table [--dir target/criterion] [--baseline NAME]...");
                std::process::exit(2);
            }
        }
    }
    if baselines.is_empty() {
        baselines.push("new".to_owned());
    }
    let mut runs: Runs = BTreeMap::new();
    for baseline in &baselines {
        let mut dirs = Vec::new();
        find(&dir, baseline, &mut dirs);
        for d in dirs {
            if let Some((group, function, param, estimate)) = read(&d) {
                let (scenario, measure) = split_group(&group);
                runs.entry(baseline.clone())
                    .or_default()
                    .entry(measure.to_owned())
                    .or_default()
                    .entry((scenario.to_owned(), param))
                    .or_default()
                    .insert(function, estimate);
            }
        }
    }
    if runs.is_empty() {
        eprintln!(
            "no criterion results under {} for {baselines:?}",
            dir.display()
        );
        std::process::exit(1);
    }
    for baseline in &baselines {
        if let Some(run) = runs.get(baseline) {
            print_run(baseline, run);
        }
    }
    if baselines.len() > 1 {
        between::print(&baselines, &runs);
    }
}

/// `echo_rtt.cpu` → (`echo_rtt`, `cpu`); a group without a suffix is wall time.
fn split_group(group: &str) -> (&str, &str) {
    match group.rsplit_once('.') {
        Some((scenario, m @ ("wall" | "cpu"))) => (scenario, m),
        _ => (group, "wall"),
    }
}

fn variants() -> Vec<&'static str> {
    Impl::ALL.iter().map(|imp| imp.name()).collect()
}

fn is_variant_row(cells: &BTreeMap<String, Estimate>) -> bool {
    let names = variants();
    cells.keys().all(|k| names.contains(&k.as_str()))
}

fn print_run(name: &str, run: &BTreeMap<String, BTreeMap<Row, BTreeMap<String, Estimate>>>) {
    println!("### Run `{name}`\n");
    let names = variants();
    for (measure, title) in [
        ("cpu", "CPU time per iteration"),
        ("wall", "Wall time per iteration"),
    ] {
        let Some(rows) = run.get(measure) else {
            continue;
        };
        let variant_rows: Vec<_> = rows.iter().filter(|(_, c)| is_variant_row(c)).collect();
        if !variant_rows.is_empty() {
            println!(
                "{title} (median ±spread), lower is better; order: `<` ranked, `≈` within noise\n"
            );
            println!("| benchmark | {} | order |", names.join(" | "));
            println!("|---|{}---|", "---:|".repeat(names.len()));
            for ((scenario, param), cells) in variant_rows {
                let shown: Vec<String> = names
                    .iter()
                    .map(|v| cells.get(*v).map_or_else(|| "–".to_owned(), cell))
                    .collect();
                println!(
                    "| `{scenario}/{param}` | {} | {} |",
                    shown.join(" | "),
                    order(cells)
                );
            }
            println!();
        }
        let others: Vec<_> = rows.iter().filter(|(_, c)| !is_variant_row(c)).collect();
        if !others.is_empty() {
            println!("{title}, no variant (the sans-IO core)\n");
            println!("| benchmark | median ±spread |");
            println!("|---|---:|");
            for ((scenario, param), cells) in others {
                for (function, e) in cells {
                    println!("| `{scenario}/{function}/{param}` | {} |", cell(e));
                }
            }
            println!();
        }
    }
}

fn cell(e: &Estimate) -> String {
    format!("{} ±{:.0}%", human(e.median), e.spread() * 100.0)
}

/// The variants from cheapest to dearest: `<` where their intervals are apart, `≈` where they overlap
/// with the previous one (within noise).
fn order(cells: &BTreeMap<String, Estimate>) -> String {
    let mut sorted: Vec<(&String, &Estimate)> = cells.iter().collect();
    sorted.sort_by(|a, b| a.1.median.total_cmp(&b.1.median));
    let mut out = String::new();
    for (i, (name, e)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push_str(if sorted[i - 1].1.overlaps(e) {
                " ≈ "
            } else {
                " < "
            });
        }
        out.push_str(name);
    }
    out
}

/// Every `<baseline>` directory holding a `benchmark.json` below `dir`.
fn find(dir: &Path, baseline: &str, out: &mut Vec<PathBuf>) {
    let Ok(read) = fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let path = entry.path();
        if !path.is_dir() || path.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == baseline) && path.join("benchmark.json").is_file()
        {
            out.push(path);
        } else {
            find(&path, baseline, out);
        }
    }
}

fn read(dir: &Path) -> Option<(String, String, String, Estimate)> {
    let load = |name: &str| -> Option<Value> {
        serde_json::from_str(&fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let bench = load("benchmark.json")?;
    let estimates = load("estimates.json")?;
    let text = |key: &str| {
        bench
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let median = estimates.get("median")?;
    let ci = median.get("confidence_interval")?;
    Some((
        text("group_id"),
        text("function_id"),
        text("value_str"),
        Estimate {
            median: median.get("point_estimate")?.as_f64()?,
            lo: ci.get("lower_bound")?.as_f64()?,
            hi: ci.get("upper_bound")?.as_f64()?,
        },
    ))
}

/// A duration in nanoseconds, in the unit criterion would print.
fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}
