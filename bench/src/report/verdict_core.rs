//! The verdict's findings from the standard matrix: memory per connection,
//! CPU per echo message and per chat delivery, throughput, tail latency.

use super::verdict::{Better, Finding};
use super::{Aggregate, Cell, Spread};
use crate::results::matrix::{CapacityTarget, Group, Scenario};

/// A number with a thousands separator: 10000 → `10 000`.
pub fn count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    out
}

/// `1 connection`, `10 000 connections`.
pub fn connections(n: usize) -> String {
    if n == 1 {
        "1 connection".into()
    } else {
        format!("{} connections", count(n))
    }
}

/// Where a point was measured, in words (no timing).
pub fn scope(p: &Scenario) -> String {
    match p {
        Scenario::Work(w) => format!("work: {}", w.label()),
        Scenario::Capacity { target, p99_us, .. } => {
            let objective = latency(*p99_us as f64);
            match target {
                CapacityTarget::Echo { conns, size } => format!(
                    "echo open loop, {} × {size} B, p99 ≤ {objective}",
                    connections(*conns)
                ),
                CapacityTarget::Chat {
                    rooms,
                    members,
                    senders,
                    size,
                } => format!(
                    "chat, {rooms} room{} × {} members, {senders} senders, {size} B, p99 ≤ \
                     {objective}; the rate is messages/s over all senders, each delivered to {} \
                     members",
                    if *rooms == 1 { "" } else { "s" },
                    count(*members),
                    count(members.saturating_sub(1))
                ),
                CapacityTarget::Churn { size } => format!(
                    "echo churn over TCP, one round trip of {size} B per new connection, p99 of \
                     the round trip ≤ {objective}; the rate is new connections/s"
                ),
            }
        }
        Scenario::ChatIdle { clients, .. } => {
            format!("chat, {} held idle, a room each", count(*clients))
        }
        Scenario::Ceiling { conns, .. } => {
            format!("echo, up to {} opened and held", connections(*conns))
        }
        Scenario::Churn { rate, size, .. } => format!(
            "echo churn over TCP at {} new connections/s offered, one round trip of {size} B each",
            count(*rate as usize)
        ),
        Scenario::EchoClosed { conns, size, .. } => {
            format!("echo, {} × {size} B, closed loop", connections(*conns))
        }
        Scenario::EchoOpen {
            conns, rate, size, ..
        } => format!(
            "echo, {} × {size} B, open loop at {} msg/s in total",
            connections(*conns),
            count(*rate as usize)
        ),
        Scenario::Idle { conns, .. } => format!("{} held idle", connections(*conns)),
        Scenario::Chat {
            rooms,
            members,
            senders,
            rate,
            size,
            ..
        } => {
            let per_sender = rate / (*senders).max(1) as f64;
            format!(
                "chat, {rooms} room{} × {} members, {senders} senders × {} msg/s = {} msg/s, \
                 {} deliveries/s offered, {size} B",
                if *rooms == 1 { "" } else { "s" },
                count(*members),
                trim(per_sender),
                count(*rate as usize),
                count((rate * (*members as f64 - 1.0).max(0.0)) as usize)
            )
        }
    }
}

fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Formats µs of latency: `850 µs`, `12.3 ms`.
pub fn latency(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

/// Formats server CPU µs: `8.1 µs`.
pub fn cpu_us(v: f64) -> String {
    format!("{v:.1} µs")
}

fn kib(v: f64) -> String {
    if v < 1024.0 {
        format!("{v:.0} B")
    } else {
        format!("{:.1} KiB", v / 1024.0)
    }
}

fn rate(v: f64) -> String {
    super::text::num(v) + " msg/s"
}

/// The finding of `get` at point `p`, every variant with a figure.
pub fn at_point(
    a: &Aggregate,
    p: &Scenario,
    topic: &str,
    better: Better,
    fmt: fn(f64) -> String,
    get: fn(&Cell) -> Option<Spread>,
) -> Option<Finding> {
    let values: Vec<(String, Spread)> = a
        .variants
        .iter()
        .filter_map(|v| Some((v.clone(), get(a.cell(&p.id(), v)?)?)))
        .collect();
    (values.len() >= 2).then(|| Finding {
        topic: topic.into(),
        scope: scope(p),
        better,
        fmt,
        values,
        note: None,
    })
}

/// The largest point of a group where at least two variants have `get`.
fn largest(a: &Aggregate, g: Group, get: fn(&Cell) -> Option<Spread>) -> Option<&Scenario> {
    a.points.iter().rev().filter(|p| p.group() == g).find(|p| {
        a.variants
            .iter()
            .filter(|v| a.cell(&p.id(), v).and_then(get).is_some())
            .count()
            >= 2
    })
}

/// The point of a group with exactly `conns` connections.
fn with_conns(a: &Aggregate, g: Group, conns: usize) -> Option<&Scenario> {
    a.points
        .iter()
        .find(|p| p.group() == g && p.conns() == conns)
}

fn rss(c: &Cell) -> Option<Spread> {
    c.rss_per_conn
}

fn cpu(c: &Cell) -> Option<Spread> {
    c.cpu_us_per_msg
}

fn p99(c: &Cell) -> Option<Spread> {
    c.p99_runs
}

fn throughput(c: &Cell) -> Option<Spread> {
    c.throughput
}

/// A note when the generator's core was saturated at a point for some
/// variant: the throughput there is a lower bound for the server.
fn generator_note(a: &Aggregate, p: &Scenario) -> Option<String> {
    let sat: Vec<&str> = a
        .variants
        .iter()
        .filter(|v| {
            a.cell(&p.id(), v)
                .and_then(|c| c.client_core_busy)
                .is_some_and(|b| b.median > 0.9)
        })
        .map(String::as_str)
        .collect();
    (!sat.is_empty()).then(|| {
        format!(
            "The generator's core was over 90 % busy with {}: there the figure is a lower bound \
             for the server.",
            sat.join(", ")
        )
    })
}

/// The points given, without `None` and repeats.
fn distinct<const N: usize>(points: [Option<&Scenario>; N]) -> Vec<&Scenario> {
    let mut out: Vec<&Scenario> = Vec::new();
    for p in points.into_iter().flatten() {
        if !out.iter().any(|q| q.id() == p.id()) {
            out.push(p);
        }
    }
    out
}

/// The core findings, in the order the verdict states them.
pub fn findings(a: &Aggregate) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(p) = largest(a, Group::Idle, rss) {
        out.extend(at_point(
            a,
            p,
            "Memory per connection (server RSS growth ÷ idle connections)",
            Better::Lower,
            kib,
            rss,
        ));
    }
    let echo_big = largest(a, Group::EchoClosed, cpu);
    let echo_100 = with_conns(a, Group::EchoClosed, 100);
    for p in distinct([echo_100, echo_big]) {
        out.extend(at_point(
            a,
            p,
            "Server CPU per echo message",
            Better::Lower,
            cpu_us,
            cpu,
        ));
    }
    if let Some(p) = largest(a, Group::ChatFanout, cpu) {
        out.extend(at_point(
            a,
            p,
            "Server CPU per chat delivery",
            Better::Lower,
            cpu_us,
            cpu,
        ));
    }
    if let Some(p) = echo_100.or(echo_big) {
        if let Some(mut f) = at_point(
            a,
            p,
            "Echo throughput, closed loop",
            Better::Higher,
            rate,
            throughput,
        ) {
            f.note = generator_note(a, p);
            out.push(f);
        }
    }
    let echo_1000 = with_conns(a, Group::EchoClosed, 1000);
    for p in distinct([echo_1000, largest(a, Group::EchoClosed, p99)]) {
        out.extend(at_point(
            a,
            p,
            "Tail latency (p99 of each run)",
            Better::Lower,
            latency,
            p99,
        ));
    }
    for g in [Group::ChatFanout, Group::ChatRooms] {
        if let Some(p) = largest(a, g, p99) {
            out.extend(at_point(
                a,
                p,
                "Tail latency (p99 of each run)",
                Better::Lower,
                latency,
                p99,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_say_per_sender_and_total() {
        let p = Scenario::Chat {
            rooms: 1,
            members: 1000,
            senders: 10,
            rate: 40.0,
            size: 64,
            warmup: std::time::Duration::ZERO,
            duration: std::time::Duration::ZERO,
        };
        let s = scope(&p);
        assert!(s.contains("10 senders × 4 msg/s = 40 msg/s"), "{s}");
        assert!(s.contains("39\u{202f}960 deliveries/s offered"), "{s}");
        assert_eq!(count(10_000), "10\u{202f}000");
        assert_eq!(count(100), "100");
    }
}
