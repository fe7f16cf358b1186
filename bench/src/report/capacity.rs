//! Capacity at the latency objective in the report: the figures of a
//! search, its table, and its verdict finding.

use std::fmt::Write as _;

use super::text::{Metric, label, num, table};
use super::verdict::{Better, Finding};
use super::verdict_core::at_point;
use super::{Aggregate, Cell, Figures, Spread};
use crate::results::capacity::{CapacityReport, Outcome};
use crate::results::matrix::Group;

/// Fills the figures of a capacity search: the capacity only when the
/// search found one within its precision (a search that hit its maximum
/// rate, never met the objective or broke gives a note instead).
pub fn figures(r: &CapacityReport, f: &mut Figures) {
    f.capacity_steps = r.steps.clone();
    f.errors = r.steps.iter().map(|s| s.errors).sum();
    f.capacity_per_core = r.capacity.and_then(|c| {
        r.steps
            .iter()
            .find(|s| s.passed && s.rate == c)
            .and_then(|s| {
                s.server_cpu_cores
                    .filter(|&k| k > 0.0)
                    .map(|k| s.achieved / k)
            })
    });
    match (r.outcome, r.capacity) {
        (Outcome::Found, Some(c)) => f.capacity = Some(c),
        (Outcome::AboveMax, Some(c)) => {
            f.capacity = Some(c);
            f.error_kinds = Some(format!(
                "every step up to the search's maximum rate ({c:.0}/s) passed: the capacity is at \
                 least that"
            ));
        }
        (Outcome::NeverMet, _) => {
            f.error_kinds = Some(format!(
                "not even the lowest rate tried ({:.0}/s) met the objective",
                r.steps.iter().map(|s| s.rate).fold(f64::INFINITY, f64::min)
            ));
        }
        (Outcome::Broke, c) => {
            f.capacity = c;
            f.error_kinds = Some(format!(
                "the server broke during the search: {}",
                r.steps
                    .last()
                    .and_then(|s| s.broke.clone())
                    .unwrap_or_default()
            ));
        }
        (Outcome::Found, None) | (Outcome::AboveMax, None) => {}
    }
}

fn capacity(c: &Cell) -> Option<Spread> {
    c.capacity
}

/// Capacity with the runs' range, higher better.
pub fn metric() -> Metric {
    Metric {
        name: "capacity (msg/s offered; runs' range)",
        get: |c| c.capacity.map(|s| s.median),
        spread: capacity,
        higher_better: true,
        show_range: true,
        ratio: true,
        fmt: num,
    }
}

/// The capacity section (empty without capacity points).
pub fn section(a: &Aggregate) -> String {
    // Churn searches are in the churn part of "What a connection costs" (`report/churn.rs`).
    let points: Vec<_> = a
        .group(Group::Capacity)
        .into_iter()
        .filter(|p| !super::churn::is_churn_capacity(p))
        .collect();
    if points.is_empty() {
        return String::new();
    }
    let mut t = format!("## {}\n\n", Group::Capacity.title());
    for p in &points {
        let _ = writeln!(t, "- `{}`: {}", p.id(), p.describe());
    }
    t.push_str(
        "\nEach cell is the highest offered rate at which the server met the objective with \
         nothing lost, nothing unsent and the achieved rate within 1 % of the offered one (the \
         search's resolution is its precision); the range is over the repeats. The steps of every \
         search are the points of the latency-vs-offered-load charts below: where each model's \
         latency turns up (its knee).\n\n",
    );
    t.push_str(&table(a, &points, &metric()));
    t.push('\n');
    for p in &points {
        for v in &a.variants {
            if let Some(c) = a.cell(&p.id(), v) {
                let steps: usize = c.capacity_steps.iter().map(Vec::len).sum();
                if steps > 0 {
                    let _ = writeln!(
                        t,
                        "- {v} at {}: {steps} search steps in {} run(s)",
                        label(p),
                        c.ok
                    );
                }
            }
        }
    }
    t.push('\n');
    t
}

/// The verdict's capacity findings, one per capacity point.
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    a.group(Group::Capacity)
        .into_iter()
        .filter_map(|p| {
            at_point(
                a,
                p,
                "Capacity at the latency objective (highest offered msg/s)",
                Better::Higher,
                |v| num(v) + " msg/s",
                capacity,
            )
        })
        .collect()
}
