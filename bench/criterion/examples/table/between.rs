//! Between runs (criterion baselines) of the same benches: how far each CPU-time median moved, how far
//! its ratio to the other variants of its row moved, which pairs of variants swapped places, which
//! benchmarks' servers idled through most of an iteration, and how far the sans-IO benchmarks (one
//! thread computing: no server, no I/O) moved — the machine's own drift.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Estimate, Row, Runs, variants};

/// How far a CPU-time median may move between runs.
const REPRO_LIMIT: f64 = 0.05;
/// Medians further apart than this must keep their order in every run.
const RANKED_GAP: f64 = 0.10;
/// A server busy for less than this share of an iteration's wall time idled through most of it: its
/// CPU time then includes waking an idle core, whose cost the host decides.
const IDLE_SHARE: f64 = 0.10;

/// One benchmark's medians, one per run, in nanoseconds per iteration.
struct Series {
    cpu: Vec<f64>,
    /// Wall time, where every run has it.
    wall: Option<Vec<f64>>,
}

impl Series {
    /// Whether the server was busy less than [`IDLE_SHARE`] of the wall time in every run.
    fn idle(&self) -> bool {
        self.wall.as_ref().is_some_and(|wall| {
            self.cpu
                .iter()
                .zip(wall)
                .all(|(cpu, wall)| cpu / wall < IDLE_SHARE)
        })
    }
}

/// max/min − 1.
fn moved(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    max / min - 1.0
}

/// Each run's values divided by that run's geometric mean over `row`.
fn relative<'a>(row: &BTreeMap<&'a str, Series>, runs: usize) -> BTreeMap<&'a str, Vec<f64>> {
    let means: Vec<f64> = (0..runs)
        .map(|i| {
            let logs: f64 = row.values().map(|s| s.cpu[i].ln()).sum();
            (logs / row.len() as f64).exp()
        })
        .collect();
    row.iter()
        .map(|(col, s)| (*col, s.cpu.iter().zip(&means).map(|(v, m)| v / m).collect()))
        .collect()
}

/// The medians of `row` in `measure`, per column, where every run has that column.
fn series<'r>(baselines: &[String], runs: &'r Runs, row: &Row) -> BTreeMap<&'r str, Series> {
    let per_run = |measure: &str| -> Vec<Option<&'r BTreeMap<String, Estimate>>> {
        baselines
            .iter()
            .map(|b| {
                runs.get(b)
                    .and_then(|r| r.get(measure))
                    .and_then(|r| r.get(row))
            })
            .collect()
    };
    let (cpu, wall) = (per_run("cpu"), per_run("wall"));
    let columns: BTreeSet<&'r str> = cpu
        .iter()
        .flatten()
        .flat_map(|c| c.keys().map(String::as_str))
        .collect();
    let medians = |cells: &[Option<&BTreeMap<String, Estimate>>], col: &str| -> Option<Vec<f64>> {
        cells
            .iter()
            .map(|c| c.and_then(|c| c.get(col)).map(|e| e.median))
            .collect()
    };
    columns
        .into_iter()
        .filter_map(|col| {
            Some((
                col,
                Series {
                    cpu: medians(&cpu, col)?,
                    wall: medians(&wall, col),
                },
            ))
        })
        .collect()
}

/// The pairs of `row` more than [`RANKED_GAP`] apart in some run whose order was not the same in all.
fn flips(row: &BTreeMap<&str, Series>) -> Vec<String> {
    let cols: Vec<(&&str, &Series)> = row.iter().collect();
    let mut out = Vec::new();
    for (i, (a, sa)) in cols.iter().enumerate() {
        for (b, sb) in &cols[i + 1..] {
            let pairs = || sa.cpu.iter().zip(&sb.cpu);
            let apart = pairs().any(|(x, y)| x.max(*y) / x.min(*y) > 1.0 + RANKED_GAP);
            let signs: BTreeSet<bool> = pairs().map(|(x, y)| x < y).collect();
            if apart && signs.len() > 1 {
                out.push(format!("{a}/{b}"));
            }
        }
    }
    out
}

/// A count of figures within [`REPRO_LIMIT`].
#[derive(Default)]
struct Tally {
    within: usize,
    total: usize,
}

impl Tally {
    /// Counts `m` and returns its cell: the percentage, `✗` beyond the limit.
    fn cell(&mut self, m: f64) -> String {
        self.total += 1;
        if m <= REPRO_LIMIT {
            self.within += 1;
            format!("{:.1}%", m * 100.0)
        } else {
            format!("{:.1}% ✗", m * 100.0)
        }
    }
}

/// Prints the between-runs tables and their summary.
pub fn print(baselines: &[String], runs: &Runs) {
    let names = variants();
    let rows: BTreeSet<&Row> = runs
        .values()
        .filter_map(|run| run.get("cpu"))
        .flat_map(|rows| rows.keys())
        .collect();
    let all: Vec<(&Row, BTreeMap<&str, Series>)> = rows
        .into_iter()
        .map(|row| (row, series(baselines, runs, row)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    let (variant_rows, sans_io): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|(_, s)| s.keys().all(|c| names.contains(c)));
    let header = |last: &str| {
        println!("| benchmark | {} |{last}", names.join(" | "));
        println!(
            "|---|{}{}",
            "---:|".repeat(names.len()),
            if last.is_empty() { "" } else { "---|" }
        );
    };

    println!("### Between runs ({}), CPU time\n", baselines.join(", "));
    println!(
        "Per benchmark, how far the CPU-time median moved between runs (max/min − 1; target ≤ {:.0} %; \
         `idle`: the server was busy less than {:.0} % of an iteration's wall time in every run), and the \
         pairs of variants more than {:.0} % apart in some run whose order was not the same in all.\n",
        REPRO_LIMIT * 100.0,
        IDLE_SHARE * 100.0,
        RANKED_GAP * 100.0
    );
    header(" order changes |");
    let (mut tally, mut flips_total, mut idle_missed) = (Tally::default(), 0, 0);
    for ((scenario, param), row) in &variant_rows {
        let cells: Vec<String> = names
            .iter()
            .map(|v| match row.get(v) {
                Some(s) => {
                    let m = moved(&s.cpu);
                    let idle = s.idle();
                    if idle && m > REPRO_LIMIT {
                        idle_missed += 1;
                    }
                    let cell = tally.cell(m);
                    if idle { format!("{cell} idle") } else { cell }
                }
                None => "–".to_owned(),
            })
            .collect();
        let flips = flips(row);
        flips_total += flips.len();
        let flips = if flips.is_empty() {
            "none".to_owned()
        } else {
            flips.join(", ")
        };
        println!("| `{scenario}/{param}` | {} | {flips} |", cells.join(" | "));
    }

    let mut machine = f64::NAN;
    if !sans_io.is_empty() {
        println!("\n| benchmark (no variant) | moved |\n|---|---:|");
        for ((scenario, param), row) in &sans_io {
            for (col, s) in row {
                let m = moved(&s.cpu);
                machine = machine.max(m);
                println!("| `{scenario}/{col}/{param}` | {} |", tally.cell(m));
            }
        }
    }

    println!(
        "\nRelative to its row: how far each variant's CPU-time median divided by the geometric mean of \
         its row's medians (same run) moved between runs — whether the ratios between variants repeat \
         when the machine moves all of them.\n"
    );
    header("");
    let mut relative_tally = Tally::default();
    for ((scenario, param), row) in &variant_rows {
        let rel = relative(row, baselines.len());
        let cells: Vec<String> = names
            .iter()
            .map(|v| {
                rel.get(v)
                    .map_or_else(|| "–".to_owned(), |r| relative_tally.cell(moved(r)))
            })
            .collect();
        println!("| `{scenario}/{param}` | {} |", cells.join(" | "));
    }

    let limit = REPRO_LIMIT * 100.0;
    println!(
        "\n{} of {} CPU-time medians moved ≤ {limit:.0} % between runs; {flips_total} pair(s) more than \
         {:.0} % apart changed order.",
        tally.within,
        tally.total,
        RANKED_GAP * 100.0
    );
    let missed = tally.total - tally.within;
    if idle_missed > 0 {
        println!(
            "Of the {missed} that moved more, {idle_missed} are `idle`: their CPU time is mostly spent \
             around blocking sleeps on an otherwise idle core, and moves with the host more than with \
             the server."
        );
    }
    println!(
        "Relative to their rows, {} of {} moved ≤ {limit:.0} %.\n",
        relative_tally.within, relative_tally.total
    );
    if machine.is_finite() {
        let verdict = if machine > REPRO_LIMIT {
            "the machine itself moved more than the target allows; read the ratios between variants \
             within a run (and their movement above), not the medians across runs"
        } else {
            "the machine held still within the target"
        };
        println!(
            "The sans-IO benchmarks (one thread computing: no server, no I/O) moved by up to {:.1} % \
             between these runs: {verdict}.\n",
            machine * 100.0
        );
    }
}
