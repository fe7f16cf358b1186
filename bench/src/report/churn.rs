//! The report's churn part: what a connection's whole life (open, one echo round trip, close)
//! costs each model — new connections per second per server core at a fixed offered rate and at a
//! latency objective (the churn capacity search), connect latency, the round trip's p99, server
//! CPU per connection — and its verdict findings.

use std::fmt::Write as _;

use super::text::{Metric, lat, num, p99 as p99_metric, table, throughput};
use super::verdict::{Better, Finding, Statement};
use super::verdict_core::{at_point, cpu_us};
use super::{Aggregate, Cell, Figures, Spread};
use crate::results::churn::ChurnReport;
use crate::results::matrix::{CapacityTarget, Group, Scenario};

/// Fills the figures of a churn run: the rate is completed connections per second, the latency
/// the whole round trip from each attempt's scheduled start, CPU per connection.
pub fn figures(r: &ChurnReport, f: &mut Figures) {
    f.throughput = Some(r.achieved_rate);
    f.target_rate = Some(r.settings.rate);
    f.latency = Some(r.round_trip.clone());
    f.connect_latency = Some(r.connect.latency.clone());
    f.cpu_us_per_msg = r.server_us_per_conn();
    f.conns_per_core = r.conns_per_server_core_s();
    f.server_cores = r
        .server_cpu_s
        .filter(|_| r.elapsed_s > 0.0)
        .map(|c| c / r.elapsed_s);
    f.requested = r.connect.requested;
    f.established = r.completed;
    f.errors = r.error_count();
    f.connect_failures = super::failures_text(&r.connect.failures);
    f.first_error = r.first_error.clone();
}

fn per_core(c: &Cell) -> Option<Spread> {
    c.conns_per_core
}

fn cpu(c: &Cell) -> Option<Spread> {
    c.cpu_us_per_msg
}

fn capacity(c: &Cell) -> Option<Spread> {
    c.capacity
}

fn capacity_per_core(c: &Cell) -> Option<Spread> {
    c.capacity_per_core
}

fn rate(v: f64) -> String {
    num(v) + " conns/s"
}

/// A cost or a rate in plain numbers, with its runs' range and ratios to the row's best.
fn ranged(
    name: &'static str,
    get: fn(&Cell) -> Option<f64>,
    spread: fn(&Cell) -> Option<Spread>,
    higher_better: bool,
) -> Metric {
    super::text::ranged(name, get, spread, higher_better, num)
}

fn metrics() -> Vec<Metric> {
    vec![
        ranged(
            "new conns/s per server core (completed ÷ server CPU-s; runs' range)",
            |c| c.conns_per_core.map(|s| s.median),
            per_core,
            true,
        ),
        ranged(
            "server CPU-µs per connection",
            |c| c.cpu_us_per_msg.map(|s| s.median),
            cpu,
            false,
        ),
        lat("connect p50", |c| {
            c.connect_latency.as_ref().map(|l| l.p50_us as f64)
        }),
        lat("connect p99", |c| {
            c.connect_latency.as_ref().map(|l| l.p99_us as f64)
        }),
        Metric {
            name: "round trip p99 from the scheduled start (runs' range)",
            ..p99_metric()
        },
        Metric {
            name: "completed conns/s",
            ratio: false,
            ..throughput()
        },
    ]
}

fn capacity_metrics() -> Vec<Metric> {
    vec![
        Metric {
            name: "capacity: new conns/s offered at the objective, one server core (runs' range)",
            ..super::capacity::metric()
        },
        ranged(
            "at that rate: completed conns/s per server CPU-s (runs' range)",
            |c| c.capacity_per_core.map(|s| s.median),
            capacity_per_core,
            true,
        ),
    ]
}

/// Whether `p` is a capacity search over churn.
pub fn is_churn_capacity(p: &Scenario) -> bool {
    matches!(
        p,
        Scenario::Capacity {
            target: CapacityTarget::Churn { .. },
            ..
        }
    )
}

/// The churn capacity points.
fn capacity_points(a: &Aggregate) -> Vec<&Scenario> {
    a.group(Group::Capacity)
        .into_iter()
        .filter(|p| is_churn_capacity(p))
        .collect()
}

/// What churn shows, in words: the same for every run, since it is about the models.
const MEANING: &str = "What it means: a thread per connection pays a thread's creation and exit \
(`clone`, the stack's `mmap`, `munmap`, `exit`) with every connection, on top of the socket work \
every model does (accept, register, one round trip, close); a task pays an allocation and a \
registration with the reactor, the event loop and the ring a slab entry. Creating and ending \
threads also takes the process's memory-map lock, which every page fault of every other thread \
needs, so the thread model's cost per connection grows with the rate it is offered. A pool of \
pre-spawned threads would take the spawn and exit out of each connection, but its size becomes \
the limit on concurrent connections.";

/// The churn part (empty without churn points).
pub fn section(a: &Aggregate) -> String {
    let fixed = a.group(Group::Churn);
    let caps = capacity_points(a);
    if fixed.is_empty() && caps.is_empty() {
        return String::new();
    }
    let mut t = String::from("\n### Churn: new connections per second per server core\n\n");
    for p in fixed.iter().chain(&caps) {
        let _ = writeln!(t, "- `{}`: {}", p.id(), p.describe());
    }
    t.push_str(
        "\nEach connection is opened, does one echo round trip and is closed; attempts start on \
         schedule whatever the server does (open loop). New connections per second per server core \
         = completed connections ÷ the server's CPU seconds over the run (its CPU clock, \
         `/proc/PID`): what one fully busy core would sustain at this load. Connect latency runs \
         from `connect()` to writable; the round trip from the attempt's scheduled start to the \
         echo's last byte, so a server or listen backlog that falls behind shows as latency.\n\n",
    );
    if !fixed.is_empty() {
        for m in metrics() {
            t.push_str(&table(a, &fixed, &m));
            t.push('\n');
        }
    }
    if !caps.is_empty() {
        t.push_str(
            "The capacity search raises the offered rate until the round trip's p99 misses the \
             objective, a connection fails or the completed rate falls 1 % behind, then bisects; \
             the server has one core, so the capacity is per server core too.\n\n",
        );
        for m in capacity_metrics() {
            t.push_str(&table(a, &caps, &m));
            t.push('\n');
        }
    }
    t.push_str(MEANING);
    t.push_str("\n\n");
    for p in &fixed {
        if let Some(s) = threads_sentence(a, p) {
            let _ = writeln!(t, "- {s}");
        }
    }
    t
}

/// What a thread per connection costs beyond the cheapest other variant at churn point `p`, by the
/// verdict rule: stated only where every repeat of threads is above every repeat of that variant.
fn threads_sentence(a: &Aggregate, p: &Scenario) -> Option<String> {
    let f = at_point(a, p, "", Better::Lower, cpu_us, cpu)?;
    let (_, t) = f.values.iter().find(|(v, _)| v == "threads")?;
    let (best, b) = f
        .values
        .iter()
        .filter(|(v, _)| v != "threads")
        .min_by(|x, y| x.1.median.total_cmp(&y.1.median))?;
    let scope = super::verdict_core::scope(p);
    Some(match f.statement() {
        Statement::Ranked(groups) if !groups[0].iter().any(|v| v == "threads") && t.min > b.max => {
            format!(
                "At {scope}: a connection cost the threads server {} of CPU against {} for {best}, \
                 {} more in every repeat — its thread's spawn and exit, on this machine.",
                cpu_us(t.median),
                cpu_us(b.median),
                cpu_us(t.median - b.median)
            )
        }
        Statement::CannotRank => format!(
            "At {scope}: threads {} of CPU per connection, {best} {} (one run each: no ranking).",
            cpu_us(t.median),
            cpu_us(b.median)
        ),
        _ => format!(
            "At {scope}: the CPU per connection of threads ({}) cannot be told from {best}'s ({}) \
             over the repeats: here the spawn and exit do not show against the socket work.",
            cpu_us(t.median),
            cpu_us(b.median)
        ),
    })
}

/// The churn findings: new connections per second per server core and the CPU per connection at
/// the fixed rate; the capacity at the objective and the rate per server core there.
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in a.group(Group::Churn) {
        out.extend(at_point(
            a,
            p,
            "New connections per second per server core (churn)",
            Better::Higher,
            rate,
            per_core,
        ));
        out.extend(at_point(
            a,
            p,
            "Server CPU per connection (churn: open, one round trip, close)",
            Better::Lower,
            cpu_us,
            cpu,
        ));
    }
    for p in capacity_points(a) {
        out.extend(at_point(
            a,
            p,
            "Churn capacity at the latency objective (new connections/s, one server core)",
            Better::Higher,
            rate,
            capacity,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spread(median: f64, min: f64, max: f64) -> Option<Spread> {
        Some(Spread {
            median,
            min,
            max,
            n: 3,
        })
    }

    fn agg(cells: &[(&str, Option<Spread>, Option<Spread>)]) -> Aggregate {
        let p = Scenario::Churn {
            rate: 1000.0,
            size: 16,
            duration: Duration::from_secs(2),
        };
        let mut a = Aggregate {
            points: vec![p.clone()],
            ..Aggregate::default()
        };
        for (v, per_core, cpu) in cells {
            a.variants.push(v.to_string());
            a.cells.insert(
                (p.id(), v.to_string()),
                Cell {
                    runs: 3,
                    ok: 3,
                    conns_per_core: *per_core,
                    cpu_us_per_msg: *cpu,
                    ..Cell::default()
                },
            );
        }
        a
    }

    #[test]
    fn threads_behind_in_every_repeat_is_ranked_last() {
        let a = agg(&[
            (
                "threads",
                spread(8000.0, 7500.0, 9000.0),
                spread(120.0, 110.0, 130.0),
            ),
            (
                "tokio",
                spread(20000.0, 18000.0, 23000.0),
                spread(50.0, 45.0, 55.0),
            ),
            (
                "mio",
                spread(30000.0, 17000.0, 35000.0),
                spread(30.0, 28.0, 60.0),
            ),
        ]);
        let f = findings(&a);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].statement(),
            Statement::Ranked(vec![
                vec!["mio".to_string(), "tokio".to_string()],
                vec!["threads".to_string()]
            ])
        );
        let s = section(&a);
        assert!(s.contains("new conns/s per server core"), "{s}");
        assert!(s.contains("What it means"), "{s}");
        assert!(
            s.contains("120.0 µs of CPU against 30.0 µs for mio, 90.0 µs more in every repeat"),
            "{s}"
        );
    }

    #[test]
    fn overlapping_ranges_are_indistinguishable() {
        let a = agg(&[
            ("threads", spread(8000.0, 5000.0, 21000.0), None),
            ("tokio", spread(20000.0, 18000.0, 23000.0), None),
        ]);
        let f = findings(&a);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].statement(), Statement::Indistinguishable);
    }

    #[test]
    fn nothing_without_churn_points() {
        let a = Aggregate::default();
        assert!(section(&a).is_empty() && findings(&a).is_empty());
    }
}
