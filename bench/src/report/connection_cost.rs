//! The report's "what a connection costs" section: memory per connection measured whole — the
//! server's user memory and the kernel's (page tables, kernel stacks, socket objects and buffers) —
//! idle and under load, for every point whose runs carry it ([`ConnMemory`]); then the ceiling
//! ([`super::ceiling`]) and churn ([`super::churn`]) parts; and the memory findings.

use std::fmt::Write as _;

use super::text::{Metric, kib, table_with};
use super::verdict::{Better, Finding};
use super::verdict_core::{at_point, scope};
use super::{Aggregate, Cell, Spread};
use crate::results::conn_memory::ConnMemory;
use crate::results::matrix::{Group, Scenario};

/// How each figure is read and attributed (docs/CONNECTION_COST.md says the same).
const SOURCES: &str = "Bytes per connection from before the connections were opened to the start \
of the measured window (idle points: connections open and idle; echo and chat points: under load). \
**User**: the server's RSS (`/proc/PID/stat`), its own. **Kernel** (estimated, the server's share): \
its page tables (`VmPTE` in `/proc/PID/status`, exact) + kernel stacks (`KernelStack` in \
`/proc/meminfo`, machine-wide: the server's new threads, 16 KiB each) + half of the slab (`Slab` in \
`/proc/meminfo`: socket, file, dentry and epoll objects and threads' task structures) and of the TCP \
buffers (`TCP mem` pages in `/proc/net/sockstat`). Slab and TCP buffers are machine-wide, so on \
loopback they hold **both ends** (the generator's sockets too), whose socket objects are alike: \
about half is the server's. For a thread per connection the half undercounts (its task structures \
are all the server's). Machine-wide figures move with whatever else runs: medians of the repeats, \
ranges in brackets; at a point of a few hundred connections they are mostly other processes' noise \
(a negative figure is that noise), so read the kernel column at 1 000 connections and more.";

fn user(c: &Cell) -> Option<Spread> {
    c.memory_user
}

fn kernel(c: &Cell) -> Option<Spread> {
    c.memory_kernel
}

fn bytes(v: f64) -> String {
    if v.abs() < 1024.0 {
        format!("{v:.0} B")
    } else {
        kib(v)
    }
}

/// A memory metric; `ratio`: whether ratios to the row's best mean anything (not for the kernel
/// estimate, whose machine-wide parts put noise of a few hundred bytes around small figures).
fn metric(
    name: &'static str,
    get: fn(&Cell) -> Option<f64>,
    spread: fn(&Cell) -> Option<Spread>,
    ratio: bool,
) -> Metric {
    Metric {
        ratio,
        ..super::text::ranged(name, get, spread, false, bytes)
    }
}

/// The points of the memory tables: idle, the largest idle echo and chat points; under load, echo
/// closed loop at 100 and 1 000 connections and one-room chat at 1 000 members.
fn memory_points(a: &Aggregate) -> Vec<&Scenario> {
    let has = |p: &&Scenario| {
        a.variants
            .iter()
            .any(|v| a.cell(&p.id(), v).is_some_and(|c| c.memory_user.is_some()))
    };
    let mut out: Vec<&Scenario> = Vec::new();
    for g in [Group::Idle, Group::ChatIdle] {
        out.extend(a.group(g).into_iter().rev().find(has));
    }
    out.extend(a.points.iter().filter(has).filter(|p| {
        matches!(
            p,
            Scenario::EchoClosed {
                conns: 100 | 1000,
                ..
            } | Scenario::Chat {
                rooms: 1,
                members: 1000,
                ..
            }
        )
    }));
    out
}

fn row(p: &Scenario) -> String {
    scope(p)
}

/// The breakdown of every figure, one row per point and variant.
fn breakdown(a: &Aggregate, points: &[&Scenario]) -> String {
    let mut t = String::from(
        "| point | variant | user | page tables | kernel stacks | slab (both ends) | TCP buffers (both ends) | server kernel (est.) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for p in points {
        for v in &a.variants {
            let Some(ms) = a
                .cell(&p.id(), v)
                .map(|c| &c.memory)
                .filter(|m| !m.is_empty())
            else {
                continue;
            };
            let cell =
                |f: fn(&ConnMemory) -> f64| spread_bytes(Spread::of(ms.iter().map(f).collect()));
            let _ = writeln!(
                t,
                "| {} | {v} | {} | {} | {} | {} | {} | {} |",
                p.id(),
                cell(|m| m.user_rss_per_conn_bytes),
                cell(|m| m.page_tables_per_conn_bytes),
                cell(|m| m.kernel_stack_per_conn_bytes),
                cell(|m| m.slab_both_ends_per_conn_bytes),
                cell(|m| m.tcp_buffers_both_ends_per_conn_bytes),
                cell(ConnMemory::server_kernel_per_conn_bytes),
            );
        }
    }
    t
}

/// `1 625 B [1 600–1 700]`, or `-`.
fn spread_bytes(s: Option<Spread>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n > 1 => format!("{:.0} B [{:.0}–{:.0}]", s.median, s.min, s.max),
        Some(s) => format!("{:.0} B", s.median),
    }
}

/// The section's markdown, or nothing when no run measured memory and there is no ceiling or churn
/// point.
pub fn section(a: &Aggregate) -> String {
    let points = memory_points(a);
    let rest = super::ceiling::section(a) + &super::churn::section(a);
    if points.is_empty() && rest.is_empty() {
        return String::new();
    }
    let mut t = String::from("\n## What a connection costs\n");
    if !points.is_empty() {
        let _ = write!(
            t,
            "\n### Memory per connection, user and kernel\n\n{SOURCES}\n\n"
        );
        t.push_str(&table_with(
            a,
            &points,
            &metric(
                "user bytes per connection (server RSS)",
                |c| c.memory_user.map(|s| s.median),
                user,
                true,
            ),
            row,
        ));
        t.push('\n');
        t.push_str(&table_with(
            a,
            &points,
            &metric(
                "kernel bytes per connection (server's share, est.)",
                |c| c.memory_kernel.map(|s| s.median),
                kernel,
                false,
            ),
            row,
        ));
        t.push_str("\nEvery figure of these points, per variant:\n\n");
        t.push_str(&breakdown(a, &points));
    }
    t + &rest
}

/// The memory findings: kernel bytes per connection at the largest idle echo and chat points, and
/// user bytes at the chat one (the echo one has its finding already: the server's RSS growth,
/// `verdict_core`).
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in [Group::Idle, Group::ChatIdle] {
        let Some(p) = a.group(g).into_iter().rev().find(|p| {
            a.variants
                .iter()
                .filter(|v| a.cell(&p.id(), v).is_some_and(|c| c.memory_user.is_some()))
                .count()
                >= 2
        }) else {
            continue;
        };
        if g == Group::ChatIdle {
            out.extend(at_point(
                a,
                p,
                "User memory per connection (server RSS, measured whole)",
                Better::Lower,
                bytes,
                user,
            ));
        }
        if let Some(mut f) = at_point(
            a,
            p,
            "Kernel memory per connection (server's share, est.)",
            Better::Lower,
            bytes,
            kernel,
        ) {
            f.note = Some(
                "Kernel stacks are machine-wide and slab and TCP buffers both ends of loopback, \
                 halved: other processes move them."
                    .into(),
            );
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::verdict::Statement;
    use std::time::Duration;

    fn mem(user: f64, stack: f64, slab: f64) -> ConnMemory {
        ConnMemory {
            conns: 10_000,
            user_rss_per_conn_bytes: user,
            page_tables_per_conn_bytes: 0.0,
            kernel_stack_per_conn_bytes: stack,
            slab_both_ends_per_conn_bytes: slab,
            tcp_buffers_both_ends_per_conn_bytes: 0.0,
            tcp_sockets_opened: 20_000,
        }
    }

    fn agg(runs: &[(&str, Vec<ConnMemory>)]) -> Aggregate {
        let p = Scenario::ChatIdle {
            clients: 10_000,
            hold: Duration::from_secs(1),
        };
        let mut a = Aggregate {
            points: vec![p.clone()],
            ..Aggregate::default()
        };
        for (v, ms) in runs {
            a.variants.push(v.to_string());
            a.cells.insert(
                (p.id(), v.to_string()),
                Cell {
                    runs: ms.len(),
                    ok: ms.len(),
                    memory_user: Spread::of(ms.iter().map(|m| m.user_rss_per_conn_bytes).collect()),
                    memory_kernel: Spread::of(
                        ms.iter()
                            .map(ConnMemory::server_kernel_per_conn_bytes)
                            .collect(),
                    ),
                    memory: ms.clone(),
                    ..Cell::default()
                },
            );
        }
        a
    }

    #[test]
    fn user_and_kernel_per_variant_with_sources() {
        let a = agg(&[
            ("threads", vec![mem(18_700.0, 16_384.0, 18_000.0); 3]),
            (
                "tokio",
                vec![
                    mem(11_500.0, 0.0, 9_000.0),
                    mem(11_600.0, 10.0, 9_500.0),
                    mem(11_550.0, 0.0, 8_500.0),
                ],
            ),
        ]);
        let s = section(&a);
        assert!(s.contains("user bytes per connection"), "{s}");
        assert!(s.contains("kernel bytes per connection"), "{s}");
        assert!(
            s.contains("`/proc/net/sockstat`") && s.contains("KernelStack"),
            "{s}"
        );
        assert!(s.contains("| chat-idle-10000 | threads | 18700 B"), "{s}");
        let f = findings(&a);
        assert_eq!(f.len(), 2);
        let ranked =
            Statement::Ranked(vec![vec!["tokio".to_string()], vec!["threads".to_string()]]);
        assert_eq!(f[0].statement(), ranked);
        assert_eq!(f[1].statement(), ranked);
    }

    #[test]
    fn overlapping_kernel_figures_are_indistinguishable() {
        let a = agg(&[
            (
                "mio",
                vec![mem(105.0, 0.0, 9_000.0), mem(106.0, 0.0, 7_000.0)],
            ),
            (
                "uring",
                vec![mem(118.0, 0.0, 8_000.0), mem(120.0, 0.0, 9_500.0)],
            ),
        ]);
        let f = findings(&a);
        assert_eq!(
            f[0].statement(),
            Statement::Ranked(vec![vec!["mio".to_string()], vec!["uring".to_string()]])
        );
        assert_eq!(f[1].statement(), Statement::Indistinguishable);
    }
}
