//! The report's ceiling part: per variant how many connections it served of those asked for, the
//! peaks of its threads, fds and mappings, the limit that stopped it and what an operator would
//! raise; and the verdict's finding on connections served.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::verdict::{Better, Finding};
use super::verdict_core::{at_point, count};
use super::{Aggregate, Cell, Figures, Spread};
use crate::results::ceiling::{CeilingPeaks, CeilingReport};
use crate::results::matrix::Group;

/// What one ceiling run came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Connections asked for.
    pub asked: usize,
    /// Established by the kernel (the listen backlog completes them even when the server then
    /// closes them).
    pub established: usize,
    /// Answered their echo probe and were held.
    pub served: usize,
    /// The peaks read while they were held.
    pub peaks: CeilingPeaks,
    /// The limit that stopped it, named.
    pub stopped_by: String,
    /// What an operator would raise to go further.
    pub to_go_further: String,
}

/// Fills the figures of a ceiling run. Refused connections are what it looks for: a note, not
/// errors.
pub fn figures(r: &CeilingReport, f: &mut Figures) {
    let o = Outcome {
        asked: r.conns.settings.conns,
        established: r.conns.connect.established,
        served: r.served,
        peaks: r.peaks,
        stopped_by: r.stopped_by.clone(),
        to_go_further: r.to_go_further.clone(),
    };
    f.latency = Some(r.conns.probe_latency.clone());
    f.requested = o.asked;
    f.established = o.asked;
    if o.served < o.asked {
        f.error_kinds = Some(format!(
            "served {} of {}: stopped by {}",
            o.served, o.asked, o.stopped_by
        ));
    }
    f.ceiling = Some(o);
}

fn served(c: &Cell) -> Option<Spread> {
    c.served
}

/// The ceiling part (empty without ceiling points).
pub fn section(a: &Aggregate) -> String {
    let points = a.group(Group::Ceiling);
    if points.is_empty() {
        return String::new();
    }
    let mut t = String::from("\n### The connection ceiling\n\n");
    for p in &points {
        let _ = writeln!(t, "- `{}`: {}", p.id(), p.describe());
    }
    t.push_str(
        "\nServed: connections that answered their echo probe and were held (median [range] over \
         the runs). The peaks are read every 50 ms from `/proc/PID` (threads, fds, mappings) and \
         the machine's thread count; the limit is named from them and the connect \
         failures (`bench/src/generator/ceiling.rs`). Per run where the runs differ.\n\n\
         | point | variant | served of asked | server threads (peak) | fds (peak) | mappings (peak) | stopped by | what to raise |\n\
         |---|---|---:|---:|---:|---:|---|---|\n",
    );
    for p in &points {
        for v in &a.variants {
            let Some(c) = a.cell(&p.id(), v) else {
                continue;
            };
            let Some(first) = c.ceilings.first() else {
                let _ = writeln!(t, "| {} | {v} | not run | | | | | |", p.id());
                continue;
            };
            let max = |f: fn(&CeilingPeaks) -> u64| {
                count(c.ceilings.iter().map(|o| f(&o.peaks)).max().unwrap_or(0) as usize)
            };
            let mut stopped: Vec<&str> = Vec::new();
            for o in &c.ceilings {
                if !stopped.contains(&o.stopped_by.as_str()) {
                    stopped.push(&o.stopped_by);
                }
            }
            let _ = writeln!(
                t,
                "| {} | {v} | {} of {} | {} | {} | {} | {} | {} |",
                p.id(),
                served_text(c.served),
                count(first.asked),
                max(|p| p.server_threads),
                max(|p| p.server_fds),
                max(|p| p.server_maps),
                stopped.join("; "),
                first.to_go_further,
            );
        }
    }
    t
}

fn served_text(s: Option<Spread>) -> String {
    match s {
        Some(s) if s.n > 1 && s.min != s.max => format!(
            "{} [{}–{}]",
            count(s.median as usize),
            count(s.min as usize),
            count(s.max as usize)
        ),
        Some(s) => count(s.median as usize),
        None => "—".into(),
    }
}

/// The ceiling finding: connections served, one per ceiling point.
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    a.group(Group::Ceiling)
        .into_iter()
        .filter_map(|p| {
            at_point(
                a,
                p,
                "Connections served before a limit (the ceiling)",
                Better::Higher,
                |v| count(v as usize),
                served,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::verdict::Statement;
    use crate::results::matrix::Scenario;
    use std::time::Duration;

    fn outcome(served: usize, stopped_by: &str) -> Outcome {
        Outcome {
            asked: 19_000,
            established: 19_000,
            served,
            peaks: CeilingPeaks {
                server_threads: if served < 19_000 { 16_129 } else { 3 },
                server_fds: served as u64 + 10,
                server_maps: 64_579,
                system_threads: 16_500,
            },
            stopped_by: stopped_by.into(),
            to_go_further: "sysctl vm.max_map_count".into(),
        }
    }

    fn agg(runs: &[(&str, Vec<Outcome>)]) -> Aggregate {
        let p = Scenario::Ceiling {
            conns: 19_000,
            hold: Duration::from_secs(1),
            repeats: Some(2),
        };
        let mut a = Aggregate {
            points: vec![p.clone()],
            ..Aggregate::default()
        };
        for (v, os) in runs {
            a.variants.push(v.to_string());
            a.cells.insert(
                (p.id(), v.to_string()),
                Cell {
                    runs: os.len(),
                    ok: os.len(),
                    served: Spread::of(os.iter().map(|o| o.served as f64).collect()),
                    ceilings: os.clone(),
                    ..Cell::default()
                },
            );
        }
        a
    }

    #[test]
    fn the_limit_is_named_and_threads_ranked_below() {
        let map = "vm.max_map_count (65530; the server had 64579 mappings, 16129 threads)";
        let all = "none: all 19000 asked for were served";
        let a = agg(&[
            ("threads", vec![outcome(16_126, map), outcome(16_126, map)]),
            ("tokio", vec![outcome(19_000, all), outcome(19_000, all)]),
        ]);
        let s = section(&a);
        assert!(
            s.contains("| threads | 16\u{202f}126 of 19\u{202f}000 |"),
            "{s}"
        );
        assert!(
            s.contains(map) && s.contains("sysctl vm.max_map_count"),
            "{s}"
        );
        let f = findings(&a);
        assert_eq!(
            f[0].statement(),
            Statement::Ranked(vec![vec!["tokio".to_string()], vec!["threads".to_string()]])
        );
    }

    #[test]
    fn all_served_everywhere_is_indistinguishable() {
        let all = "none: all 19000 asked for were served";
        let a = agg(&[
            ("mio", vec![outcome(19_000, all), outcome(19_000, all)]),
            ("tokio", vec![outcome(19_000, all), outcome(19_000, all)]),
        ]);
        assert_eq!(findings(&a)[0].statement(), Statement::Indistinguishable);
    }
}
