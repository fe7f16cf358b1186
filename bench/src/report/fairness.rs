//! Fairness across connections in the report: Jain's index and the
//! per-connection rate and mean latency per variant, a verdict finding, and
//! the explanation of a median far below the mean.

use std::fmt::Write as _;

use super::verdict::{Better, Finding};
use super::verdict_core::{at_point, latency};
use super::{Aggregate, Cell, Spread};
use crate::results::fairness::Fairness;
use crate::results::matrix::{Group, Scenario};

/// Jain's index over the runs of a cell.
pub fn jain(c: &Cell) -> Option<Spread> {
    Spread::of(c.fairness.iter().map(|f| f.jain).collect())
}

/// The median over runs of one per-connection figure.
fn median(c: &Cell, get: fn(&Fairness) -> f64) -> Option<f64> {
    Spread::of(c.fairness.iter().map(get).collect()).map(|s| s.median)
}

/// The fairness tables of some points (empty when no run counted it).
pub fn tables(a: &Aggregate, points: &[&Scenario]) -> String {
    let any = points.iter().any(|p| {
        a.variants
            .iter()
            .any(|v| a.cell(&p.id(), v).is_some_and(|c| !c.fairness.is_empty()))
    });
    if !any {
        return String::new();
    }
    let mut t = String::new();
    let header = |t: &mut String, name: &str| {
        let _ = write!(t, "| {name} |");
        for v in &a.variants {
            let _ = write!(t, " {v} |");
        }
        let _ = writeln!(t, "\n|---|{}", "---:|".repeat(a.variants.len()));
    };
    header(
        &mut t,
        "Jain's index of per-connection rates (1 = all served alike; runs' range)",
    );
    for p in points {
        let _ = write!(t, "| {} |", super::text::label(p));
        for v in &a.variants {
            let cell = a.cell(&p.id(), v);
            match cell.and_then(jain) {
                Some(s) if s.n > 1 => {
                    let _ = write!(t, " {:.3} [{:.3}–{:.3}] |", s.median, s.min, s.max);
                }
                Some(s) => {
                    let _ = write!(t, " {:.3} |", s.median);
                }
                None => t.push_str(" — |"),
            }
        }
        t.push('\n');
    }
    t.push('\n');
    let rate: [fn(&Fairness) -> f64; 3] = [|f| f.min_per_s, |f| f.median_per_s, |f| f.max_per_s];
    let mean: [fn(&Fairness) -> f64; 3] = [
        |f| f.latency_mean_min_us,
        |f| f.latency_mean_median_us,
        |f| f.latency_mean_max_us,
    ];
    for (name, get, fmt) in [
        (
            "per-connection rate, min / median / max (msg/s; median of runs)",
            rate,
            super::text::num as fn(f64) -> String,
        ),
        (
            "per-connection mean latency, min / median / max (median of runs)",
            mean,
            latency,
        ),
    ] {
        header(&mut t, name);
        for p in points {
            let _ = write!(t, "| {} |", super::text::label(p));
            for v in &a.variants {
                let c = a.cell(&p.id(), v);
                let [lo, mid, hi] = get.map(|g| c.and_then(|c| median(c, g)));
                match (lo, mid, hi) {
                    (Some(lo), Some(mid), Some(hi)) => {
                        let _ = write!(t, " {} / {} / {} |", fmt(lo), fmt(mid), fmt(hi));
                    }
                    _ => t.push_str(" — |"),
                }
            }
            t.push('\n');
        }
        t.push('\n');
    }
    t
}

/// Where a variant's mean latency is at least twice its median (echo
/// closed loop), the explanation, told apart by the per-connection figures:
/// in a closed loop the mean is connections ÷ throughput (Little's law), so
/// a median far below it means some messages wait far longer than most —
/// either some connections are starved (uneven per-connection rates or mean
/// latencies) or all of them stall at times (even per-connection figures).
/// `None` when no variant shows such a gap.
pub fn mean_gap(a: &Aggregate, points: &[&Scenario]) -> Option<String> {
    let mut gaps = Vec::new();
    for p in points.iter().filter(|p| p.group() == Group::EchoClosed) {
        for v in &a.variants {
            let Some(c) = a.cell(&p.id(), v) else {
                continue;
            };
            let Some(l) = &c.latency else { continue };
            if l.p50_us == 0 || l.mean_us < 2.0 * l.p50_us as f64 {
                continue;
            }
            let mut s = format!(
                "{v} at {}: median {}, mean {}",
                super::text::label(p),
                latency(l.p50_us as f64),
                latency(l.mean_us)
            );
            let lo = median(c, |f| f.latency_mean_min_us);
            let hi = median(c, |f| f.latency_mean_max_us);
            if let (Some(lo), Some(hi), Some(j)) = (lo, hi, jain(c)) {
                let uneven = j.median < 0.95 || (lo > 0.0 && hi / lo > 2.0);
                let _ = write!(
                    s,
                    " — per-connection mean latency {} to {}, Jain's index {:.2}: {}",
                    latency(lo),
                    latency(hi),
                    j.median,
                    if uneven {
                        "some connections were served much less than others"
                    } else {
                        "every connection was served alike, so the slow messages come from \
                         stalls that hit all connections at times"
                    }
                );
            }
            gaps.push(s);
        }
    }
    (!gaps.is_empty()).then(|| {
        format!(
            "**Median far below the mean.** In a closed loop every connection has one message in \
             flight, so the mean latency is connections ÷ throughput (Little's law) whatever the \
             order of service; a median well below it means most messages come back quickly while \
             some wait much longer. The per-connection figures tell which: {}.",
            gaps.join("; ")
        )
    })
}

/// The verdict's fairness findings: Jain's index at echo closed loop 1 000
/// connections and at the largest point counted.
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    let has = |p: &&Scenario| {
        a.variants
            .iter()
            .filter(|v| a.cell(&p.id(), v).and_then(jain).is_some())
            .count()
            >= 2
    };
    let echo: Vec<&Scenario> = a.group(Group::EchoClosed).into_iter().filter(has).collect();
    let mut points: Vec<&Scenario> = echo.iter().filter(|p| p.conns() == 1000).copied().collect();
    if let Some(last) = echo.last() {
        if !points.iter().any(|p| p.id() == last.id()) {
            points.push(last);
        }
    }
    points
        .into_iter()
        .filter_map(|p| {
            at_point(
                a,
                p,
                "Fairness across connections (Jain's index of per-connection rates, 1 = even)",
                Better::Higher,
                |v| format!("{v:.2}"),
                jain,
            )
        })
        .collect()
}
