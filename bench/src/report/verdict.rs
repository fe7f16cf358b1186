//! The verdict at the top of a report: a few plain sentences, each a
//! [`Finding`] (a figure per variant with its spread over repeats, and its
//! scope) put into words by one rule, [`Finding::statement`]:
//!
//! * fewer than two runs for some variant: the matrix **cannot rank** (a
//!   single run has no spread to tell a difference from noise);
//! * otherwise the variants are ordered by median and cut into groups: a new
//!   group starts only at a variant whose whole min–max range over the
//!   repeats lies on the worse side of every range before it, so each group
//!   is worse than every group before it **in every repeat**; within a
//!   group the report says nothing about order;
//! * one group only: the variants are **indistinguishable** there.
//!
//! Sections add findings through [`FindingSource`]: a function from the
//! aggregated results to findings, listed in [`SOURCES`]. The rules are
//! written down for readers in `docs/REPORT.md`.

use std::fmt::Write as _;

use super::{Aggregate, Spread};

/// Which direction is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Less is better (costs, latency).
    Lower,
    /// More is better (throughput, capacity, fairness).
    Higher,
}

/// One figure compared across variants at one scope.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What is compared, e.g. `memory per idle connection`; with
    /// [`Finding::scope`] it identifies the finding across runs.
    pub topic: String,
    /// Where it was measured: connections, message size, load.
    pub scope: String,
    /// Which direction is better.
    pub better: Better,
    /// Formats one value with its unit.
    pub fmt: fn(f64) -> String,
    /// Per variant (in report order), the figure over the repeats.
    pub values: Vec<(String, Spread)>,
    /// A caveat that belongs with the figure (e.g. a saturated generator).
    pub note: Option<String>,
}

/// A function that contributes findings to the verdict from the
/// aggregated results (empty when its points were not run).
pub type FindingSource = fn(&Aggregate) -> Vec<Finding>;

/// Every source of findings, in the order the verdict states them. A
/// section adds its own by appending one entry here.
pub const SOURCES: &[FindingSource] = &[
    super::verdict_core::findings,
    super::fairness::findings,
    super::connection_cost::findings,
    super::ceiling::findings,
    super::churn::findings,
];

/// What the rule allows the report to say about a finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// Some variant has fewer than two runs: no ranking.
    CannotRank,
    /// Every variant's range overlaps another's: no difference shown.
    Indistinguishable,
    /// Groups of variants, best first; each group is worse than every
    /// earlier one in every repeat.
    Ranked(Vec<Vec<String>>),
}

impl Finding {
    /// The same finding over only `variants` (those both runs have, when
    /// comparing runs).
    pub fn restricted_to(&self, variants: &[String]) -> Finding {
        Finding {
            values: self
                .values
                .iter()
                .filter(|(v, _)| variants.contains(v))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// The figures ordered best first by median.
    fn ordered(&self) -> Vec<&(String, Spread)> {
        let mut v: Vec<&(String, Spread)> = self.values.iter().collect();
        v.sort_by(|a, b| {
            let o = a.1.median.total_cmp(&b.1.median);
            match self.better {
                Better::Lower => o,
                Better::Higher => o.reverse(),
            }
        });
        v
    }

    /// The rule: what may be said about this finding (see the module doc).
    pub fn statement(&self) -> Statement {
        if self.values.len() < 2 || self.values.iter().any(|(_, s)| s.n < 2) {
            return Statement::CannotRank;
        }
        let mut groups: Vec<Vec<String>> = Vec::new();
        // The worst end of every range so far.
        let mut worst_so_far: Option<f64> = None;
        for (v, s) in self.ordered() {
            let (best_end, worst_end) = match self.better {
                Better::Lower => (s.min, s.max),
                Better::Higher => (s.max, s.min),
            };
            let separated = worst_so_far.is_some_and(|w| match self.better {
                Better::Lower => best_end > w,
                Better::Higher => best_end < w,
            });
            match groups.last_mut() {
                Some(g) if !separated => g.push(v.clone()),
                _ => groups.push(vec![v.clone()]),
            }
            worst_so_far = Some(match (worst_so_far, self.better) {
                (None, _) => worst_end,
                (Some(w), Better::Lower) => w.max(worst_end),
                (Some(w), Better::Higher) => w.min(worst_end),
            });
        }
        if groups.len() < 2 {
            Statement::Indistinguishable
        } else {
            Statement::Ranked(groups)
        }
    }

    /// One variant's figure with its range, e.g. `tokio 8.1 µs (7.9–8.8 µs)`.
    pub fn figure(&self, variant: &str, s: &Spread) -> String {
        let (lo, hi) = ((self.fmt)(s.min), (self.fmt)(s.max));
        if s.n < 2 || lo == hi {
            return format!("{variant} {}", (self.fmt)(s.median));
        }
        // `5.1–5.2 µs` rather than `5.1 µs–5.2 µs` when the units agree.
        let range = match (lo.rsplit_once(' '), hi.rsplit_once(' ')) {
            (Some((a, ua)), Some((b, ub))) if ua == ub => format!("{a}–{b} {ua}"),
            _ => format!("{lo}–{hi}"),
        };
        format!("{variant} {} ({range})", (self.fmt)(s.median))
    }

    fn spread_of(&self, variant: &str) -> Option<&Spread> {
        self.values
            .iter()
            .find(|(v, _)| v == variant)
            .map(|(_, s)| s)
    }

    /// The sentence the report prints for this finding.
    pub fn sentence(&self) -> String {
        let runs = self.values.iter().map(|(_, s)| s.n).min().unwrap_or(0);
        let mut s = format!("**{}** ({}): ", self.topic, self.scope);
        match self.statement() {
            Statement::CannotRank => {
                let figs: Vec<String> = self
                    .ordered()
                    .iter()
                    .map(|(v, sp)| self.figure(v, sp))
                    .collect();
                let _ = write!(
                    s,
                    "{}; one run per variant, so this matrix cannot rank them.",
                    figs.join(", ")
                );
            }
            Statement::Indistinguishable => {
                let figs: Vec<String> = self
                    .ordered()
                    .iter()
                    .map(|(v, sp)| self.figure(v, sp))
                    .collect();
                let _ = write!(
                    s,
                    "indistinguishable — every variant's range over {runs} runs overlaps another's \
                     ({}).",
                    figs.join(", ")
                );
            }
            Statement::Ranked(groups) => {
                let parts: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .filter_map(|v| Some(self.figure(v, self.spread_of(v)?)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect();
                let sep = match self.better {
                    Better::Lower => " < ",
                    Better::Higher => " > ",
                };
                let _ = write!(
                    s,
                    "{} — each `{}` holds in every one of the {runs} runs",
                    parts.join(sep),
                    sep.trim()
                );
                let med = |g: &Vec<String>| {
                    Spread::of(
                        g.iter()
                            .filter_map(|v| self.spread_of(v).map(|s| s.median))
                            .collect(),
                    )
                    .map(|s| s.median)
                };
                if let (Some(first), Some(last)) =
                    (groups.first().and_then(med), groups.last().and_then(med))
                {
                    let (hi, lo) = match self.better {
                        Better::Lower => (last, first),
                        Better::Higher => (first, last),
                    };
                    if lo > 0.0 && hi / lo >= 1.05 {
                        let _ = match self.better {
                            Better::Lower => write!(
                                s,
                                "; the last group costs {:.1}× the first (medians)",
                                hi / lo
                            ),
                            Better::Higher => {
                                write!(s, "; the first group is {:.1}× the last (medians)", hi / lo)
                            }
                        };
                    }
                }
                if groups.iter().any(|g| g.len() > 1) {
                    s.push_str("; within a group (`,`) the variants are indistinguishable");
                }
                s.push('.');
                if let Some(w) = threads_place(&groups) {
                    let _ = write!(s, " {w}");
                }
            }
        }
        if let Some(n) = &self.note {
            let _ = write!(s, " {n}");
        }
        s
    }
}

/// Where the blocking variant stands among the groups, in words (`None`
/// without a `threads` variant).
fn threads_place(groups: &[Vec<String>]) -> Option<String> {
    let i = groups
        .iter()
        .position(|g| g.iter().any(|v| v == "threads"))?;
    let alone = groups[i].len() == 1;
    Some(if i == 0 && alone {
        "Threads beat every async variant here.".into()
    } else if i == 0 {
        "Threads are among the best here.".into()
    } else if i == groups.len() - 1 && alone {
        "Threads are behind every other variant here.".into()
    } else if i == groups.len() - 1 {
        "Threads are in the last group here.".into()
    } else {
        format!("Threads are in group {} of {} here.", i + 1, groups.len())
    })
}

/// Every finding of every source, in order.
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    SOURCES.iter().flat_map(|f| f(a)).collect()
}

/// The verdict section: its title, its scope line and one bullet per
/// finding.
pub fn section(a: &Aggregate, scope: &str) -> String {
    let fs = findings(a);
    let mut t = String::from("## Verdict: threads or async, for what?\n\n");
    let _ = writeln!(t, "{scope}\n");
    if fs.is_empty() {
        t.push_str("No point of this matrix gives a finding.\n\n");
        return t;
    }
    if fs.iter().all(|f| f.statement() == Statement::CannotRank) {
        t.push_str(
            "**This matrix ran each point once: it cannot rank the variants.** The figures below \
             are single runs; run `--matrix full` (repeats) before drawing a conclusion.\n\n",
        );
    }
    for f in &fs {
        let _ = writeln!(t, "- {}", f.sentence());
    }
    t.push_str(
        "\nHow these sentences are made: a variant is put after another only if its whole range \
         over the repeats (min–max) is worse than the other's whole range, i.e. in every repeat; \
         otherwise they share a group and the report does not order them (`docs/REPORT.md`).\n\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(min: f64, median: f64, max: f64, n: usize) -> Spread {
        Spread {
            median,
            min,
            max,
            n,
        }
    }

    fn finding(better: Better, values: &[(&str, Spread)]) -> Finding {
        Finding {
            topic: "cost".into(),
            scope: "100 conns".into(),
            better,
            fmt: |v| format!("{v:.1}"),
            values: values.iter().map(|(v, s)| (v.to_string(), *s)).collect(),
            note: None,
        }
    }

    #[test]
    fn a_difference_within_noise_is_not_stated() {
        let f = finding(
            Better::Lower,
            &[
                ("threads", spread(9.0, 10.0, 12.0, 3)),
                ("tokio", spread(8.0, 9.0, 9.5, 3)),
            ],
        );
        assert_eq!(f.statement(), Statement::Indistinguishable);
        let s = f.sentence();
        assert!(s.contains("indistinguishable"), "{s}");
        assert!(!s.contains(" < "), "{s}");
    }

    #[test]
    fn a_single_run_matrix_does_not_rank() {
        let f = finding(
            Better::Lower,
            &[
                ("threads", spread(20.0, 20.0, 20.0, 1)),
                ("tokio", spread(5.0, 5.0, 5.0, 1)),
            ],
        );
        assert_eq!(f.statement(), Statement::CannotRank);
        assert!(f.sentence().contains("cannot rank"), "{}", f.sentence());
        let a = Aggregate {
            variants: vec!["threads".into(), "tokio".into()],
            ..Aggregate::default()
        };
        let t = section(&a, "scope");
        assert!(t.contains("No point"), "{t}");
    }

    #[test]
    fn separated_in_every_repeat_is_stated_in_groups() {
        let f = finding(
            Better::Lower,
            &[
                ("threads", spread(16.0, 17.0, 18.0, 3)),
                ("tokio", spread(8.0, 8.5, 9.0, 3)),
                ("mio", spread(8.8, 9.2, 9.6, 3)),
                ("uring", spread(5.0, 5.5, 6.0, 3)),
            ],
        );
        assert_eq!(
            f.statement(),
            Statement::Ranked(vec![
                vec!["uring".into()],
                vec!["tokio".into(), "mio".into()],
                vec!["threads".into()],
            ])
        );
        let s = f.sentence();
        assert!(s.contains("uring 5.5 (5.0–6.0) < tokio"), "{s}");
        assert!(s.contains("within a group"), "{s}");
        assert!(s.contains("behind every other variant"), "{s}");
    }

    #[test]
    fn a_wide_range_keeps_a_later_variant_in_its_group() {
        // b overlaps a; c overlaps a's long range but not b's: c may not be
        // put after a group containing a.
        let f = finding(
            Better::Lower,
            &[
                ("a", spread(1.0, 2.0, 10.0, 3)),
                ("b", spread(2.5, 3.0, 3.5, 3)),
                ("c", spread(4.0, 5.0, 6.0, 3)),
            ],
        );
        assert_eq!(f.statement(), Statement::Indistinguishable);
    }

    #[test]
    fn higher_is_better_orders_the_other_way() {
        let f = finding(
            Better::Higher,
            &[
                ("threads", spread(50.0, 60.0, 65.0, 3)),
                ("tokio", spread(100.0, 110.0, 120.0, 3)),
            ],
        );
        assert_eq!(
            f.statement(),
            Statement::Ranked(vec![vec!["tokio".into()], vec!["threads".into()]])
        );
        assert!(f.sentence().contains(" > "), "{}", f.sentence());
    }
}
