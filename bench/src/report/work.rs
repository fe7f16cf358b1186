//! The work app's section of `report.md`: per mix, a table of every variant
//! with the fast class alone and beside the slow class, inline and
//! offloaded, and sentences generated from the same data saying what
//! happens to fast requests in each model and what offloading costs and
//! buys. A difference is stated only when the repeats' ranges do not
//! overlap; otherwise the figures are called indistinguishable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Figures, Spread};
use crate::results::comparison::{ResultsFile, RunResult};
use crate::results::hist::HistogramReport;
use crate::results::matrix::Scenario;
use crate::results::work::WorkReport;
use crate::results::work_matrix::WorkPoint;

/// The figures of a work run for the general report: the fast class's
/// (latency from the intended send time), the server's CPU per answered
/// request.
pub fn figures(w: &WorkReport) -> Figures {
    let mut kinds = Vec::new();
    for (name, c) in w.classes() {
        let e = &c.errors;
        for (n, what) in [
            (e.mismatches, "wrong replies"),
            (e.refused, "ERR answers other than busy"),
            (e.resets, "connections reset"),
            (e.unexpected_eof, "connections closed early"),
            (e.timeouts, "requests not answered within the timeout"),
            (e.drain_timeouts, "connections not drained in time"),
            (e.other_io, "other I/O errors"),
        ] {
            if n > 0 {
                kinds.push(format!("{name} class: {n} {what}"));
            }
        }
    }
    let (unsent, lower) = w.behind_counts();
    Figures {
        throughput: Some(w.fast.served_per_s),
        target_rate: Some(w.fast.settings.rate),
        latency: Some(w.fast.latency_corrected.clone()),
        cpu_us_per_msg: w.server_cpu_us_per_request,
        server_cores: w.cost.server.as_ref().map(|s| s.cpu_cores),
        rss_peak: w.cost.server.as_ref().map(|s| s.rss_peak_bytes),
        threads_peak: w.cost.server.as_ref().map(|s| s.threads_peak),
        requested: w.connect.requested,
        established: w.connect.established,
        errors: w.error_count(),
        first_error: w.first_error.clone(),
        error_kinds: (!kinds.is_empty()).then(|| kinds.join("; ")),
        cores: w.cost.cores.clone(),
        behind: (unsent > 0 || lower > 0).then(|| {
            format!(
                "could not keep the schedule: {unsent} window requests unsent, {lower} never \
                 answered (in the latency from the intended time as lower bounds)"
            )
        }),
        ..Figures::default()
    }
}

/// One run's figures for the work tables.
#[derive(Debug, Clone, Copy, Default)]
struct RunFigures {
    fast_p50: Option<f64>,
    fast_p99: Option<f64>,
    slow_p50: Option<f64>,
    slow_p99: Option<f64>,
    busy: u64,
    cpu_per_request: Option<f64>,
}

fn pct(h: &HistogramReport, q: fn(&crate::results::hist::LatencySummary) -> u64) -> Option<f64> {
    (h.summary.count > 0).then(|| q(&h.summary) as f64)
}

impl RunFigures {
    fn of(w: &WorkReport) -> RunFigures {
        let slow = w.slow.as_ref().map(|s| &s.latency_corrected);
        RunFigures {
            fast_p50: pct(&w.fast.latency_corrected, |s| s.p50_us),
            fast_p99: pct(&w.fast.latency_corrected, |s| s.p99_us),
            slow_p50: slow.and_then(|h| pct(h, |s| s.p50_us)),
            slow_p99: slow.and_then(|h| pct(h, |s| s.p99_us)),
            busy: w.classes().map(|(_, c)| c.busy).sum(),
            cpu_per_request: w.server_cpu_us_per_request,
        }
    }
}

/// Every run of one variant at one point.
#[derive(Debug, Default)]
struct Runs {
    figs: Vec<RunFigures>,
    /// Runs with errors, behind schedule, or no report.
    troubled: Vec<String>,
}

impl Runs {
    fn spread(&self, get: fn(&RunFigures) -> Option<f64>) -> Option<Spread> {
        Spread::of(self.figs.iter().filter_map(get).collect())
    }
}

/// A latency in µs: `850 µs`, `12.3 ms`.
fn time(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// `median (min–max)` over the repeats, `—` without runs.
fn cell(s: Option<Spread>, fmt: fn(f64) -> String) -> String {
    match s {
        None => "—".into(),
        Some(s) if s.n == 1 || s.min == s.max => fmt(s.median),
        Some(s) => format!("{} ({}–{})", fmt(s.median), fmt(s.min), fmt(s.max)),
    }
}

/// How `b` compares with `a` (called `than`): higher or lower only when
/// both have at least 2 runs and the repeats' ranges do not overlap.
fn compare(a: Option<Spread>, b: Option<Spread>, than: &str) -> Option<String> {
    let (a, b) = (a?, b?);
    let ratio = b.median / a.median.max(f64::MIN_POSITIVE);
    Some(if a.n < 2 || b.n < 2 {
        format!("not compared with {than}: fewer than 2 runs each")
    } else if b.min > a.max {
        format!("higher than {than}, {ratio:.1}×")
    } else if b.max < a.min {
        format!("lower than {than}, {ratio:.2}×")
    } else {
        format!("indistinguishable from {than}: the ranges overlap")
    })
}

/// The section (empty when no work point ran).
pub fn section(files: &[ResultsFile]) -> String {
    let mut points: Vec<WorkPoint> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    let mut runs: BTreeMap<(String, String), Runs> = BTreeMap::new();
    for f in files {
        for p in &f.settings.matrix.points {
            if let Scenario::Work(w) = p {
                if !points.iter().any(|q| q.id() == w.id()) {
                    points.push(w.clone());
                }
            }
        }
        for v in &f.settings.variants {
            if !variants.contains(&v.name) {
                variants.push(v.name.clone());
            }
        }
        for r in &f.runs {
            if !points.iter().any(|p| p.id() == r.point) {
                continue;
            }
            let e = runs
                .entry((r.point.clone(), r.variant.clone()))
                .or_default();
            let rep = r.repeat + 1;
            match &r.result {
                RunResult::Work(w) => {
                    e.figs.push(RunFigures::of(w));
                    if w.error_count() > 0 {
                        e.troubled.push(format!(
                            "run {rep}: {} error(s){}",
                            w.error_count(),
                            w.first_error
                                .as_ref()
                                .map(|x| format!(", first: {x}"))
                                .unwrap_or_default()
                        ));
                    }
                    if w.behind_schedule() {
                        let (u, l) = w.behind_counts();
                        e.troubled.push(format!(
                            "run {rep}: behind schedule ({u} unsent, {l} never answered: its \
                             latency percentiles are lower bounds)"
                        ));
                    }
                }
                RunResult::Failed { error } => {
                    e.troubled.push(format!("run {rep} failed: {error}"))
                }
                RunResult::Skipped { reason } => e.troubled.push(format!("not run: {reason}")),
                _ => {}
            }
        }
    }
    if points.is_empty() {
        return String::new();
    }
    let mut t = String::new();
    t.push_str("## Work: fast requests beside slow ones, inline and offloaded\n\n");
    for p in &points {
        let _ = writeln!(t, "- `{}`: {}", p.id(), p.describe());
    }
    t.push_str(
        "\nLatency is measured from each request's intended send time on its class's fixed \
         schedule (coordinated omission corrected), served requests only: `ERR busy` answers are \
         counted apart (column *ERR busy*, both classes, window requests), never in the latency. \
         Each cell is the median over the repeats with the range (min–max) of the per-run figures \
         in parentheses; a difference is stated below only when those ranges do not overlap. \
         Server CPU is per answered request (served or busy, both classes, received inside the \
         window).\n\n",
    );
    let find = |mix: &str, offload: bool| {
        points
            .iter()
            .find(|p| p.mix == mix && p.offload == offload)
            .map(WorkPoint::id)
    };
    let get =
        |id: &Option<String>, v: &str| -> Option<&Runs> { runs.get(&(id.clone()?, v.to_string())) };
    let alone = (find("alone", false), find("alone", true));
    let mut notes = Vec::new();
    let mixes: Vec<&WorkPoint> = {
        let mut seen: Vec<&WorkPoint> = Vec::new();
        for p in points.iter().filter(|p| p.slow.conns > 0) {
            if !seen.iter().any(|q| q.mix == p.mix) {
                seen.push(p);
            }
        }
        seen
    };
    for m in &mixes {
        let (inline, offloaded) = (find(&m.mix, false), find(&m.mix, true));
        let _ = writeln!(
            t,
            "### Mix `{}`: `{}` beside `{}`\n",
            m.mix, m.fast.request, m.slow.request
        );
        t.push_str(
            "| variant | run | fast p50 | fast p99 | slow p50 | slow p99 | ERR busy | server CPU-µs per request |\n\
             |---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for v in &variants {
            let rows = [
                ("fast alone, inline", &alone.0),
                ("fast alone, offloaded", &alone.1),
                ("with slow, inline", &inline),
                ("with slow, offloaded", &offloaded),
            ];
            for (label, id) in rows {
                let Some(r) = get(id, v) else { continue };
                let busy = Spread::of(r.figs.iter().map(|f| f.busy as f64).collect());
                let _ = writeln!(
                    t,
                    "| {v} | {label} | {} | {} | {} | {} | {} | {} |",
                    cell(r.spread(|f| f.fast_p50), time),
                    cell(r.spread(|f| f.fast_p99), time),
                    cell(r.spread(|f| f.slow_p50), time),
                    cell(r.spread(|f| f.slow_p99), time),
                    cell(busy, |x| format!("{x:.0}")),
                    cell(r.spread(|f| f.cpu_per_request), |x| format!("{x:.1}")),
                );
                for n in &r.troubled {
                    let n = format!(
                        "**{v}**, {label} (`{}`): {n}",
                        id.clone().unwrap_or_default()
                    );
                    if !notes.contains(&n) {
                        notes.push(n);
                    }
                }
            }
        }
        t.push('\n');
        for v in &variants {
            let p99 = |id: &Option<String>| get(id, v).and_then(|r| r.spread(|f| f.fast_p99));
            let (a, i, o) = (p99(&alone.0), p99(&inline), p99(&offloaded));
            if a.is_none() && i.is_none() && o.is_none() {
                continue;
            }
            let mut s = format!(
                "- **{v}**, `{}` beside `{}`: the fast class's p99 is {} alone",
                m.fast.request,
                m.slow.request,
                cell(a, time)
            );
            if let Some(i) = i {
                let _ = write!(s, "; {} with slow neighbours inline", cell(Some(i), time));
                if let Some(c) = compare(a, Some(i), "alone") {
                    let _ = write!(s, " ({c})");
                }
            }
            if let Some(o) = o {
                let _ = write!(s, "; {} with them offloaded", cell(Some(o), time));
                if let Some(c) = compare(i, Some(o), "inline") {
                    let _ = write!(s, " ({c})");
                }
            }
            s.push('.');
            t.push_str(&s);
            t.push('\n');
        }
        t.push('\n');
    }
    // What offloading costs on its own: the fast class alone, offloaded
    // against inline.
    if alone.0.is_some() && alone.1.is_some() {
        t.push_str(
            "### What the hand-off costs (the fast class alone, offloaded against inline)\n\n",
        );
        for v in &variants {
            let (Some(i), Some(o)) = (get(&alone.0, v), get(&alone.1, v)) else {
                continue;
            };
            let cpu = (
                i.spread(|f| f.cpu_per_request),
                o.spread(|f| f.cpu_per_request),
            );
            let p50 = (i.spread(|f| f.fast_p50), o.spread(|f| f.fast_p50));
            let mut s = format!(
                "- **{v}**: server CPU per request {} inline, {} offloaded",
                cell(cpu.0, |x| format!("{x:.1} µs")),
                cell(cpu.1, |x| format!("{x:.1} µs"))
            );
            if let Some(c) = compare(cpu.0, cpu.1, "inline") {
                let _ = write!(s, " ({c})");
            }
            let _ = write!(
                s,
                "; fast p50 {} inline, {} offloaded",
                cell(p50.0, time),
                cell(p50.1, time)
            );
            if let Some(c) = compare(p50.0, p50.1, "inline") {
                let _ = write!(s, " ({c})");
            }
            s.push_str(".\n");
            t.push_str(&s);
        }
        t.push('\n');
    }
    if !notes.is_empty() {
        t.push_str("Problems recorded in these runs:\n\n");
        for n in &notes {
            let _ = writeln!(t, "- {n}");
        }
        t.push('\n');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::{CompareSettings, FORMAT, RunRecord, Variant, VariantKind};
    use crate::results::counts::{ConnectStats, ErrorCounts};
    use crate::results::hist;
    use crate::results::machine::RunMeta;
    use crate::results::matrix::Matrix;
    use crate::results::work::{WorkClassReport, WorkClassSettings, WorkSettings};

    fn histogram(us: u64) -> HistogramReport {
        let mut h = hist::new_latency();
        for _ in 0..100 {
            h.record(us).unwrap();
        }
        HistogramReport::of(&h).unwrap()
    }

    fn class(s: &WorkClassSettings, us: u64, busy: u64) -> WorkClassReport {
        WorkClassReport {
            settings: s.clone(),
            expected_reply: String::new(),
            rate_per_conn: s.rate_per_conn(),
            threads: 1,
            ready: s.conns,
            sent: 100 + busy,
            unsent: 0,
            lost: 0,
            served: 100,
            busy,
            busy_total: busy,
            served_per_s: 100.0,
            busy_per_s: 0.0,
            latency: histogram(us),
            latency_corrected: histogram(us),
            latency_lower_bounds: 0,
            send_lag: histogram(1),
            errors: ErrorCounts::default(),
            first_error: None,
        }
    }

    fn run(p: &WorkPoint, variant: &str, repeat: u32, fast_us: u64) -> RunRecord {
        let mut s = WorkSettings::new("127.0.0.1:1".parse().unwrap());
        s.fast = p.fast.clone();
        s.slow = p.slow.clone();
        let report = WorkReport {
            fast: class(&s.fast, fast_us, 0),
            slow: (s.slow.conns > 0).then(|| class(&s.slow, 3000, 2)),
            settings: s,
            threads: 2,
            connect: ConnectStats::default(),
            window_s: 1.0,
            errors: ErrorCounts::default(),
            first_error: None,
            server_cpu_us_per_request: Some(if p.offload { 30.0 } else { 20.0 }),
            cost: Default::default(),
            series: Default::default(),
        };
        RunRecord {
            point: p.id(),
            variant: variant.into(),
            repeat,
            server: None,
            result: RunResult::Work(Box::new(report)),
        }
    }

    #[test]
    fn tables_and_sentences_come_from_the_runs() {
        let m = Matrix::work();
        let points: Vec<WorkPoint> = m
            .points
            .iter()
            .filter_map(|p| match p {
                Scenario::Work(w) => Some(w.clone()),
                _ => None,
            })
            .collect();
        let mut runs = Vec::new();
        for repeat in 0..3u32 {
            for p in &points {
                let r = u64::from(repeat);
                // "async": fast p99 blown up by inline neighbours, back with
                // offloading; "threads": the same everywhere, within noise.
                let async_us = match (p.slow.conns > 0, p.offload) {
                    (true, false) => 5000 + 100 * r,
                    _ => 100 + 10 * r,
                };
                runs.push(run(p, "async", repeat, async_us));
                runs.push(run(p, "threads", repeat, 100 + 20 * r));
            }
        }
        let variant = |name: &str| Variant {
            name: name.into(),
            kind: VariantKind::Serve,
            command: None,
        };
        let file = ResultsFile {
            format: FORMAT.into(),
            meta: RunMeta::default(),
            settings: CompareSettings {
                variants: vec![variant("async"), variant("threads")],
                matrix: m,
                serve_bin: "serve".into(),
                server_cpus: vec![0],
                client_cpus: vec![1],
                pinning_note: None,
            },
            elapsed_s: 1.0,
            runs,
            transports: Vec::new(),
        };
        let md = section(std::slice::from_ref(&file));
        assert!(
            md.contains("### Mix `cpu`: `FIB 1` beside `FIB 30`"),
            "{md}"
        );
        assert!(md.contains("### Mix `blocking`"), "{md}");
        assert!(
            md.contains("| async | with slow, inline | 5.10 ms (5.00 ms–5.20 ms) |"),
            "{md}"
        );
        assert!(
            md.contains(
                "5.10 ms (5.00 ms–5.20 ms) with slow neighbours inline (higher than alone, 46.4×)"
            ),
            "{md}"
        );
        assert!(md.contains("(lower than inline, 0.02×)"), "{md}");
        assert!(
            md.contains(
                "with slow neighbours inline (indistinguishable from alone: the ranges overlap)"
            ),
            "{md}"
        );
        assert!(
            md.contains("server CPU per request 20.0 µs inline, 30.0 µs offloaded"),
            "{md}"
        );
        // A general report holds the section too, and a report without work
        // points has none.
        let a = super::super::aggregate(std::slice::from_ref(&file)).unwrap();
        let full = super::super::text::report(std::slice::from_ref(&file), &a, &[]);
        assert!(
            full.contains("## Work: fast requests beside slow ones"),
            "{full}"
        );
        let mut echo = file.clone();
        echo.settings.matrix = Matrix::tiny();
        echo.runs.clear();
        assert_eq!(section(&[echo]), "");
    }
}
