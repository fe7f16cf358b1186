//! `loadgen report NEW --baseline OLD`: each verdict finding of the new run
//! beside the baseline's, whether it reproduced, and a bold warning when
//! the two runs were made on different machines.

use std::fmt::Write as _;

use super::Aggregate;
use super::verdict::{Finding, Statement, findings};
use crate::results::comparison::ResultsFile;

/// Whether a finding of the new run reproduced in the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reproduced {
    /// The same statement: the same groups in the same order, or
    /// indistinguishable both times.
    Yes,
    /// No order claimed by one run is reversed by the other, but the
    /// groups differ (one run separates what the other cannot).
    Partly,
    /// Some pair of variants is ordered one way in one run and the other
    /// way in the other.
    No(String),
    /// One of the runs cannot rank (single runs).
    CannotTell,
    /// The baseline has no such finding.
    Missing,
}

/// Pairs (better, worse) that a statement claims.
fn orders(s: &Statement) -> Vec<(String, String)> {
    let Statement::Ranked(groups) = s else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        for later in &groups[i + 1..] {
            for a in g {
                for b in later {
                    out.push((a.clone(), b.clone()));
                }
            }
        }
    }
    out
}

/// The rule: compares the new statement with the baseline's.
pub fn reproduced(new: &Statement, old: Option<&Statement>) -> Reproduced {
    let Some(old) = old else {
        return Reproduced::Missing;
    };
    if matches!(new, Statement::CannotRank) || matches!(old, Statement::CannotRank) {
        return Reproduced::CannotTell;
    }
    // Order within a group means nothing.
    let sorted = |s: &Statement| match s {
        Statement::Ranked(groups) => Statement::Ranked(
            groups
                .iter()
                .map(|g| {
                    let mut g = g.clone();
                    g.sort();
                    g
                })
                .collect(),
        ),
        other => other.clone(),
    };
    if sorted(new) == sorted(old) {
        return Reproduced::Yes;
    }
    let old_orders = orders(old);
    for (a, b) in orders(new) {
        if old_orders.iter().any(|(x, y)| *x == b && *y == a) {
            return Reproduced::No(format!(
                "{a} before {b} here, {b} before {a} in the baseline"
            ));
        }
    }
    Reproduced::Partly
}

fn key(f: &Finding) -> (String, String) {
    (f.topic.clone(), f.scope.clone())
}

/// What differs between the two runs' machines (CPU model, CPU count,
/// kernel), described; empty when nothing does.
pub fn machine_differences(new: &ResultsFile, old: &ResultsFile) -> Vec<String> {
    let (n, o) = (&new.meta.machine, &old.meta.machine);
    let mut d = Vec::new();
    if n.cpu_model != o.cpu_model {
        d.push(format!(
            "CPU `{}` here, `{}` in the baseline",
            n.cpu_model, o.cpu_model
        ));
    }
    if n.cpus_online != o.cpus_online {
        d.push(format!(
            "{} CPUs here, {} in the baseline",
            n.cpus_online, o.cpus_online
        ));
    }
    if n.kernel_release != o.kernel_release {
        d.push(format!(
            "kernel {} here, {} in the baseline",
            n.kernel_release, o.kernel_release
        ));
    }
    d
}

fn values(f: &Finding) -> String {
    f.values
        .iter()
        .map(|(v, s)| f.figure(v, s))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(f: &Finding) -> String {
    let sep = match f.better {
        super::verdict::Better::Lower => " < ",
        super::verdict::Better::Higher => " > ",
    };
    match f.statement() {
        Statement::CannotRank => "cannot rank (single runs)".into(),
        Statement::Indistinguishable => "indistinguishable".into(),
        Statement::Ranked(groups) => groups
            .iter()
            .map(|g| g.join(", "))
            .collect::<Vec<_>>()
            .join(sep),
    }
}

/// The section comparing the new run with the baseline.
pub fn section(new: &[ResultsFile], a: &Aggregate, old: &[ResultsFile], b: &Aggregate) -> String {
    let mut t = String::from("## Against the baseline\n\n");
    if let (Some(n), Some(o)) = (new.first(), old.first()) {
        let _ = writeln!(
            t,
            "Baseline: `{}` ({}, commit `{}`).\n",
            o.meta.command_line.join(" "),
            o.meta.machine.cpu_model,
            o.meta.git_commit.as_deref().unwrap_or("unknown")
        );
        let diff = machine_differences(n, o);
        if !diff.is_empty() {
            let _ = writeln!(
                t,
                "**Different machine: {}. Figures are not comparable across machines; only \
                 whether the same order holds is.**\n",
                diff.join("; ")
            );
        }
    }
    let old_findings = findings(b);
    t.push_str(
        "Only the variants both runs have are compared. Groups are separated by `<` or `>` (best \
         first; within a group, `,`, no order). Reproduced: *yes* the same statement; *partly* no order reversed, but one run separates variants the \
         other cannot; *no* some pair is ordered the other way; *cannot tell* a single-run \
         matrix on either side.\n\n",
    );
    t.push_str("| finding | here | baseline | reproduced |\n|---|---|---|---|\n");
    for f in findings(a) {
        let old = old_findings.iter().find(|o| key(o) == key(&f));
        // Only the variants both runs have are compared.
        let (f, old) = match old {
            Some(o) => {
                let common: Vec<String> = f
                    .values
                    .iter()
                    .map(|(v, _)| v.clone())
                    .filter(|v| o.values.iter().any(|(w, _)| w == v))
                    .collect();
                (f.restricted_to(&common), Some(o.restricted_to(&common)))
            }
            None => (f, None),
        };
        let r = reproduced(
            &f.statement(),
            old.as_ref().map(Finding::statement).as_ref(),
        );
        let verdict = match &r {
            Reproduced::Yes => "yes".to_string(),
            Reproduced::Partly => "partly".to_string(),
            Reproduced::No(why) => format!("**no**: {why}"),
            Reproduced::CannotTell => "cannot tell".to_string(),
            Reproduced::Missing => "not in the baseline".to_string(),
        };
        let _ = writeln!(
            t,
            "| {} ({}) | {}<br>{} | {} | {verdict} |",
            f.topic,
            f.scope,
            summary(&f),
            values(&f),
            old.as_ref()
                .map(|o| format!("{}<br>{}", summary(o), values(o)))
                .unwrap_or_else(|| "—".into()),
        );
    }
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(groups: &[&[&str]]) -> Statement {
        Statement::Ranked(
            groups
                .iter()
                .map(|g| g.iter().map(|v| v.to_string()).collect())
                .collect(),
        )
    }

    #[test]
    fn reproduction_rules() {
        let a = ranked(&[&["mio"], &["tokio", "threads"]]);
        assert_eq!(reproduced(&a, Some(&a)), Reproduced::Yes);
        let same = ranked(&[&["mio"], &["threads", "tokio"]]);
        assert_eq!(reproduced(&same, Some(&a)), Reproduced::Yes);
        let finer = ranked(&[&["mio"], &["tokio"], &["threads"]]);
        assert_eq!(reproduced(&finer, Some(&a)), Reproduced::Partly);
        let flipped = ranked(&[&["tokio"], &["mio"]]);
        assert!(matches!(
            reproduced(&flipped, Some(&a)),
            Reproduced::No(w) if w.contains("tokio before mio")
        ));
        assert_eq!(
            reproduced(&a, Some(&Statement::CannotRank)),
            Reproduced::CannotTell
        );
        assert_eq!(reproduced(&a, None), Reproduced::Missing);
        assert_eq!(
            reproduced(&a, Some(&Statement::Indistinguishable)),
            Reproduced::Partly
        );
    }

    #[test]
    fn a_different_machine_is_named() {
        let mut n = ResultsFile {
            format: crate::results::comparison::FORMAT.into(),
            meta: Default::default(),
            settings: crate::results::comparison::CompareSettings {
                variants: Vec::new(),
                matrix: crate::results::matrix::Matrix::tiny(),
                serve_bin: "serve".into(),
                server_cpus: Vec::new(),
                client_cpus: Vec::new(),
                pinning_note: None,
            },
            elapsed_s: 0.0,
            runs: Vec::new(),
            transports: Vec::new(),
        };
        let o = n.clone();
        assert!(machine_differences(&n, &o).is_empty());
        n.meta.machine.cpu_model = "Intel Xeon".into();
        n.meta.machine.cpus_online = 4;
        let d = machine_differences(&n, &o);
        assert_eq!(d.len(), 2, "{d:?}");
        let s = section(&[n], &Aggregate::default(), &[o], &Aggregate::default());
        assert!(s.contains("**Different machine: CPU `Intel Xeon`"), "{s}");
    }
}
