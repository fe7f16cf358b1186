//! Tabulates what criterion recorded for the variant benches: per run (a criterion baseline), the
//! median wall time and CPU time per iteration of every benchmark with the spread of each median (half
//! the width of criterion's 95 % confidence interval, in % of the median), and per row the order of the
//! variants, with `≈` between two whose intervals overlap (within noise: not ranked). Given several
//! runs, it adds how far each CPU-time median moved between them, which pairs of variants more than
//! 10 % apart swapped places, and how far the sans-IO benchmarks moved (the machine's own drift).
//!
//! ```sh
//! cargo run -p variant-benches --example table -- [--dir target/criterion] [--baseline NAME]...
//! ```
//!
//! Without `--baseline` it reads the latest run (criterion's `new`); `--save-baseline NAME` on a bench
//! run keeps a run under NAME.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use variant_benches::Impl;

/// How far a CPU-time median may move between runs.
const REPRO_LIMIT: f64 = 0.05;
/// Medians further apart than this must keep their order in every run.
const RANKED_GAP: f64 = 0.10;

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
        print_reproducibility(&baselines, &runs);
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

fn print_reproducibility(baselines: &[String], runs: &Runs) {
    println!("### Between runs ({}), CPU time\n", baselines.join(", "));
    println!(
        "Per benchmark, how far the CPU-time median moved between runs (max/min − 1; target ≤ {:.0} %), \
         and the pairs of variants more than {:.0} % apart in some run whose order was not the same in all.\n",
        REPRO_LIMIT * 100.0,
        RANKED_GAP * 100.0
    );
    let names = variants();
    println!("| benchmark | {} | order changes |", names.join(" | "));
    println!("|---|{}---|", "---:|".repeat(names.len()));
    let rows: BTreeSet<Row> = runs
        .values()
        .filter_map(|run| run.get("cpu"))
        .flat_map(|rows| rows.keys().cloned())
        .collect();
    let (mut within, mut total, mut flips_total) = (0, 0, 0);
    let mut no_variant = Vec::new();
    // How far the sans-IO benchmarks (one thread computing, no server, no I/O) moved: the machine's
    // own drift between the runs.
    let mut machine_moved = f64::NAN;
    for row in &rows {
        let per_run: Vec<Option<&BTreeMap<String, Estimate>>> = baselines
            .iter()
            .map(|b| {
                runs.get(b)
                    .and_then(|r| r.get("cpu"))
                    .and_then(|r| r.get(row))
            })
            .collect();
        let columns: BTreeSet<&String> = per_run.iter().flatten().flat_map(|c| c.keys()).collect();
        let medians = |col: &str| -> Option<Vec<f64>> {
            per_run
                .iter()
                .map(|c| c.and_then(|c| c.get(col)).map(|e| e.median))
                .collect()
        };
        let moved = |col: &str| -> Option<f64> {
            let m = medians(col)?;
            let max = m.iter().copied().fold(f64::MIN, f64::max);
            let min = m.iter().copied().fold(f64::MAX, f64::min);
            Some(max / min - 1.0)
        };
        let mut cells = Vec::new();
        let variant_row = columns.iter().all(|c| names.contains(&c.as_str()));
        let label_cols: Vec<&str> = if variant_row {
            names.clone()
        } else {
            columns.iter().map(|c| c.as_str()).collect()
        };
        for col in &label_cols {
            match moved(col) {
                Some(m) => {
                    total += 1;
                    if m <= REPRO_LIMIT {
                        within += 1;
                    }
                    let mark = if m <= REPRO_LIMIT { "" } else { " ✗" };
                    cells.push(format!("{:.1}%{mark}", m * 100.0));
                }
                None => cells.push("–".to_owned()),
            }
        }
        if !variant_row {
            machine_moved = label_cols
                .iter()
                .filter_map(|col| moved(col))
                .fold(machine_moved, f64::max);
            let (scenario, param) = row;
            for (col, c) in label_cols.iter().zip(&cells) {
                no_variant.push(format!("| `{scenario}/{col}/{param}` | {c} |"));
            }
            continue;
        }
        let mut flips = Vec::new();
        let cols: Vec<&String> = columns.iter().copied().collect();
        for (i, a) in cols.iter().enumerate() {
            for b in &cols[i + 1..] {
                let (Some(ma), Some(mb)) = (medians(a), medians(b)) else {
                    continue;
                };
                let apart = ma
                    .iter()
                    .zip(&mb)
                    .any(|(x, y)| x.max(*y) / x.min(*y) > 1.0 + RANKED_GAP);
                let signs: BTreeSet<bool> = ma.iter().zip(&mb).map(|(x, y)| x < y).collect();
                if apart && signs.len() > 1 {
                    flips.push(format!("{a}/{b}"));
                }
            }
        }
        flips_total += flips.len();
        let (scenario, param) = row;
        let flips = if flips.is_empty() {
            "none".to_owned()
        } else {
            flips.join(", ")
        };
        println!("| `{scenario}/{param}` | {} | {flips} |", cells.join(" | "));
    }
    if !no_variant.is_empty() {
        println!("\n| benchmark (no variant) | moved |\n|---|---:|");
        for line in &no_variant {
            println!("{line}");
        }
    }
    println!(
        "\n{within} of {total} CPU-time medians moved ≤ {:.0} % between runs; {flips_total} pair(s) more than {:.0} % apart changed order.\n",
        REPRO_LIMIT * 100.0,
        RANKED_GAP * 100.0
    );
    if machine_moved.is_finite() {
        let verdict = if machine_moved > REPRO_LIMIT {
            "the machine itself moved more than the target allows; read the ratios between variants within a run, not the medians across runs"
        } else {
            "the machine held still within the target"
        };
        println!(
            "The sans-IO benchmarks (one thread computing: no server, no I/O) moved by up to {:.1} % between these runs: {verdict}.\n",
            machine_moved * 100.0
        );
    }
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
