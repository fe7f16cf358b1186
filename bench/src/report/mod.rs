//! Comparison results: the `results.json` model, aggregation over repeats
//! and result sets (histograms merged, not averaged), and the generated
//! `results.csv`, `report.md` and SVG charts.

pub mod baseline;
pub mod capacity;
pub mod ceiling;
pub mod charts;
pub mod churn;
pub mod connection_cost;
pub mod csv;
pub mod fairness;
pub mod output;
pub mod text;
pub mod transport;
pub mod verdict;
pub mod verdict_core;
pub mod work;
pub mod work_table;

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::results::comparison::{FORMAT, ResultsFile, RunRecord, RunResult};
use crate::results::hist::{self, HistogramReport, LatencySummary};
use crate::results::matrix::{Group, Scenario};

impl RunResult {
    /// A one-line summary for progress output.
    pub fn one_line(&self) -> String {
        match Figures::of(self) {
            Some(f) => {
                let mut s = String::new();
                if let Some(t) = f.throughput {
                    s += &format!("{t:.0}/s ");
                }
                if let Some(l) = &f.latency {
                    s += &format!("p99 {} us ", l.summary.p99_us);
                }
                if let Some(r) = f.rss_per_conn {
                    s += &format!("rss/conn {:.1} KiB ", r / 1024.0);
                }
                if let Some(t) = f.threads_peak {
                    s += &format!("threads {t} ");
                }
                if let Some(c) = f.conns_per_core {
                    s += &format!("{c:.0} new conns/s per server core ");
                }
                if let Some(c) = &f.ceiling {
                    s += &format!("served {} of {}: {} ", c.served, c.asked, c.stopped_by);
                }
                if let Some(c) = f.capacity {
                    s += &format!("capacity {c:.0}/s ");
                } else if !f.capacity_steps.is_empty() {
                    s += "no capacity ";
                }
                s += &format!("errors {}", f.errors);
                s
            }
            None => match self {
                RunResult::Skipped { reason } => format!("skipped: {reason}"),
                RunResult::Failed { error } => format!("FAILED: {error}"),
                _ => String::new(),
            },
        }
    }
}

/// The comparable figures of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Echo: messages/s; chat: deliveries/s; idle: none.
    pub throughput: Option<f64>,
    /// Open loop: the target rate.
    pub target_rate: Option<f64>,
    /// Echo: latency (open loop: corrected); idle: probe round trip; chat:
    /// fan-out latency.
    pub latency: Option<HistogramReport>,
    /// Chat: fan-out latency from each message's intended send time on the
    /// senders' schedule (coordinated omission corrected).
    pub latency_intended: Option<HistogramReport>,
    /// Server CPU-µs per message (chat: per delivery).
    pub cpu_us_per_msg: Option<f64>,
    /// Server cores busy.
    pub server_cores: Option<f64>,
    /// Server RSS growth per connection, bytes.
    pub rss_per_conn: Option<f64>,
    /// Server peak RSS, bytes.
    pub rss_peak: Option<u64>,
    /// Server peak thread count.
    pub threads_peak: Option<u64>,
    /// Connections requested.
    pub requested: usize,
    /// Connections established (chat: joined).
    pub established: usize,
    /// Errors counted (connect failures, verification, loss, ...).
    pub errors: u64,
    /// Connect failures by cause, described.
    pub connect_failures: Option<String>,
    /// Chat: slow-consumer cut-offs.
    pub cutoffs: u64,
    /// The first error.
    pub first_error: Option<String>,
    /// Errors by kind, described.
    pub error_kinds: Option<String>,
    /// Every CPU's busy share over the window.
    pub cores: Vec<crate::results::cost::CoreUsage>,
    /// Open loop behind its schedule: window messages unsent and latency
    /// samples that are lower bounds, described.
    pub behind: Option<String>,
    /// Spread across connections (echo and chat).
    pub fairness: Option<crate::results::fairness::Fairness>,
    /// The measured window lasted well under the time asked (the cost
    /// bracket started late on a busy machine), described: rates and CPU
    /// per message, which divide by it, are left out of the aggregate.
    pub short_window: Option<String>,
    /// Capacity search: the highest passing rate (msg/s).
    pub capacity: Option<f64>,
    /// Capacity search: every step (offered rate, latency).
    pub capacity_steps: Vec<crate::results::capacity::Step>,
    /// Capacity search: the achieved rate per second of server CPU at the highest passing step
    /// (churn: new connections per second per server core at the objective).
    pub capacity_per_core: Option<f64>,
    /// Memory per connection measured whole (user and kernel), where the run read it.
    pub memory: Option<crate::results::conn_memory::ConnMemory>,
    /// Churn: completed connections per second of server CPU.
    pub conns_per_core: Option<f64>,
    /// Churn: connect latency (from `connect()` to writable).
    pub connect_latency: Option<HistogramReport>,
    /// Ceiling: what was served and what stopped it.
    pub ceiling: Option<ceiling::Outcome>,
}

/// The note for a window much shorter than asked (`None` when it is at
/// least 90 % of it).
fn short_window_text(window_s: f64, asked: std::time::Duration) -> Option<String> {
    let asked = asked.as_secs_f64();
    (asked > 0.0 && window_s < 0.9 * asked).then(|| {
        format!(
            "the measured window lasted {window_s:.3} s of the {asked:.3} s asked (the cost \
             bracket started late: a busy machine); its rate and CPU per message are left out"
        )
    })
}

/// The note for an open loop that could not keep its schedule.
fn behind_text(unsent: u64, lower_bounds: u64) -> Option<String> {
    (unsent > 0 || lower_bounds > 0).then(|| {
        format!(
            "could not keep the schedule: {unsent} window messages unsent; {lower_bounds} latency \
             samples are lower bounds (never completed: t_stop − intended), so the latency shown \
             is a lower bound"
        )
    })
}

fn errors_text(e: &crate::results::counts::ErrorCounts) -> Option<String> {
    let mut parts = Vec::new();
    for (n, what) in [
        (e.mismatches, "echoed bytes differed from those sent"),
        (e.resets, "connections reset by the server"),
        (e.unexpected_eof, "connections closed early by the server"),
        (e.timeouts, "messages not echoed within the timeout"),
        (e.incomplete, "connections closed with bytes missing"),
        (
            e.drain_timeouts,
            "connections the server had not finished and closed within the drain timeout after \
             the generator's half-close",
        ),
        (e.other_io, "other I/O errors"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Busy share of the busiest of `cpus` in `cores` (`None` if unknown).
pub fn busy_of(cores: &[crate::results::cost::CoreUsage], cpus: &[usize]) -> Option<f64> {
    cores
        .iter()
        .filter(|c| cpus.contains(&c.cpu))
        .map(|c| c.busy)
        .reduce(f64::max)
}

fn failures_text(f: &crate::results::counts::ConnectFailures) -> Option<String> {
    if f.total() == 0 {
        return None;
    }
    let mut parts = Vec::new();
    for (n, what) in [
        (f.refused, "refused"),
        (f.timed_out, "timed out"),
        (f.addr_unavailable, "out of local ports (EADDRNOTAVAIL)"),
        (f.fd_limit, "out of file descriptors (EMFILE/ENFILE)"),
        (f.other, "other"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    Some(parts.join(", "))
}

impl Figures {
    /// Extracts the figures (`None` for skipped and failed runs).
    pub fn of(r: &RunResult) -> Option<Figures> {
        let server = |s: &Option<crate::results::cost::ServerStats>, f: &mut Figures| {
            if let Some(s) = s {
                f.cpu_us_per_msg = Some(s.cpu_us_per_msg);
                f.server_cores = Some(s.cpu_cores);
                f.rss_per_conn = Some(s.rss_per_conn_bytes);
                f.rss_peak = Some(s.rss_peak_bytes);
                f.threads_peak = Some(s.threads_peak);
            }
        };
        let mut f = Figures::default();
        let memory = |s: &Option<crate::results::cost::ServerStats>| {
            s.as_ref().and_then(|s| s.memory.clone())
        };
        match r {
            RunResult::Echo(e) => {
                f.throughput = Some(e.msgs_per_s);
                f.target_rate = e.target_rate;
                f.latency = Some(e.latency_corrected.clone().unwrap_or(e.latency.clone()));
                server(&e.cost.server, &mut f);
                f.requested = e.connect.requested;
                f.established = e.connect.established;
                f.errors = e.error_count();
                f.connect_failures = failures_text(&e.connect.failures);
                f.first_error = e.first_error.clone();
                f.error_kinds = errors_text(&e.errors);
                f.cores = e.cost.cores.clone();
                f.behind = behind_text(e.unsent, e.latency_lower_bounds);
                f.fairness = e.fairness.clone();
                f.short_window = short_window_text(e.window_s, e.settings.duration);
                f.memory = memory(&e.cost.server);
            }
            RunResult::Conns(c) => {
                f.memory = memory(&c.cost.server);
                f.latency = Some(c.probe_latency.clone());
                server(&c.cost.server, &mut f);
                f.cpu_us_per_msg = None;
                f.requested = c.connect.requested;
                f.established = c.connect.established;
                f.errors = c.error_count();
                f.connect_failures = failures_text(&c.connect.failures);
                f.first_error = c.first_error.clone();
                f.error_kinds = errors_text(&c.errors);
                f.cores = c.cost.cores.clone();
            }
            RunResult::Chat(c) => {
                f.throughput = Some(c.deliveries_per_s);
                f.latency = Some(c.latency.clone());
                f.latency_intended = Some(c.latency_corrected.clone());
                server(&c.cost.server, &mut f);
                f.rss_per_conn = None;
                f.requested = c.clients;
                f.established = c.joined;
                f.errors = c.error_count();
                f.cutoffs = c.slow_consumer_cutoffs;
                f.first_error = c.first_error.clone();
                f.cores = c.cost.cores.clone();
                f.behind = behind_text(c.unsent, c.latency_lower_bounds);
                f.fairness = c.fairness.clone();
                f.short_window = short_window_text(c.window_s, c.settings.duration);
                f.memory = memory(&c.cost.server);
                let mut kinds = Vec::new();
                for (n, what) in [
                    (c.lost, "deliveries lost"),
                    (c.duplicated, "duplicated"),
                    (c.reordered, "reordered"),
                    (c.corrupt, "corrupt lines"),
                    (c.join_failures as u64, "clients could not join"),
                    (c.disconnects, "clients disconnected"),
                ] {
                    if n > 0 {
                        kinds.push(format!("{n} {what}"));
                    }
                }
                f.error_kinds = (!kinds.is_empty()).then(|| kinds.join("; "));
            }
            RunResult::Capacity(c) => capacity::figures(c, &mut f),
            RunResult::Work(w) => return Some(work::figures(w)),
            RunResult::Churn(c) => churn::figures(c, &mut f),
            RunResult::Ceiling(c) => {
                server(&c.conns.cost.server, &mut f);
                f.cpu_us_per_msg = None;
                f.memory = memory(&c.conns.cost.server);
                ceiling::figures(c, &mut f);
            }
            RunResult::Skipped { .. } | RunResult::Failed { .. } => return None,
        }
        Some(f)
    }
}

/// A median with its spread over repeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Values.
    pub n: usize,
}

impl Spread {
    /// Of some values (`None` if there are none).
    pub fn of(mut v: Vec<f64>) -> Option<Spread> {
        v.retain(|x| x.is_finite());
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// Half the range as a share of the median, in percent.
    pub fn pct(&self) -> f64 {
        if self.median.abs() > 0.0 {
            50.0 * (self.max - self.min) / self.median.abs()
        } else {
            0.0
        }
    }
}

/// One variant at one point, over all its runs.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Runs recorded.
    pub runs: usize,
    /// Runs that produced a report.
    pub ok: usize,
    /// Throughput over repeats.
    pub throughput: Option<Spread>,
    /// Open loop: the target rate.
    pub target_rate: Option<f64>,
    /// Latency of all repeats, histograms merged.
    pub latency: Option<LatencySummary>,
    /// The merged histogram.
    pub histogram: Option<Histogram<u64>>,
    /// Chat: latency from the intended send time, all repeats merged.
    pub latency_intended: Option<LatencySummary>,
    /// Server CPU-µs per message.
    pub cpu_us_per_msg: Option<Spread>,
    /// Server cores busy.
    pub server_cores: Option<Spread>,
    /// RSS per connection, bytes.
    pub rss_per_conn: Option<Spread>,
    /// Peak RSS, bytes (largest).
    pub rss_peak: Option<u64>,
    /// Peak threads (largest).
    pub threads_peak: Option<u64>,
    /// Connections requested.
    pub requested: usize,
    /// Fewest connections established in a run.
    pub established_min: Option<usize>,
    /// Errors over all runs.
    pub errors: u64,
    /// Slow-consumer cut-offs over all runs.
    pub cutoffs: u64,
    /// Per-run p99 latency over repeats (µs), to show run-to-run noise.
    pub p99_runs: Option<Spread>,
    /// Busy share of the server's core(s) (all processes and interrupts,
    /// from /proc/stat), median.
    pub server_core_busy: Option<Spread>,
    /// Busy share of the generator's core(s), median.
    pub client_core_busy: Option<Spread>,
    /// Spread across connections, one per run that counted it.
    pub fairness: Vec<crate::results::fairness::Fairness>,
    /// Capacity over the repeats (msg/s).
    pub capacity: Option<Spread>,
    /// The capacity search steps of each repeat.
    pub capacity_steps: Vec<Vec<crate::results::capacity::Step>>,
    /// Capacity: the achieved rate per second of server CPU at the highest passing step.
    pub capacity_per_core: Option<Spread>,
    /// Server user memory per connection (RSS, from before connecting to the window), bytes.
    pub memory_user: Option<Spread>,
    /// Server kernel memory per connection, estimated ([`crate::results::conn_memory::ConnMemory::server_kernel_per_conn_bytes`]).
    pub memory_kernel: Option<Spread>,
    /// Every run's memory per connection.
    pub memory: Vec<crate::results::conn_memory::ConnMemory>,
    /// Churn: new connections per second per server core.
    pub conns_per_core: Option<Spread>,
    /// Churn: connect latency, all repeats merged.
    pub connect_latency: Option<LatencySummary>,
    /// Ceiling: connections served over the repeats.
    pub served: Option<Spread>,
    /// Ceiling: each run's outcome.
    pub ceilings: Vec<ceiling::Outcome>,
    /// Problems, described (skips, failures, first errors, stop trouble).
    pub notes: Vec<String>,
}

/// The aggregated view: points in order, variants in order, cells.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    /// Points, in matrix order.
    pub points: Vec<Scenario>,
    /// Variant names, in order.
    pub variants: Vec<String>,
    /// (point id, variant) → cell.
    pub cells: BTreeMap<(String, String), Cell>,
    /// How many result sets were merged.
    pub sources: usize,
}

impl Aggregate {
    /// The cell of a point and variant.
    pub fn cell(&self, point: &str, variant: &str) -> Option<&Cell> {
        self.cells.get(&(point.to_string(), variant.to_string()))
    }

    /// Points of a group, in order.
    pub fn group(&self, g: Group) -> Vec<&Scenario> {
        self.points.iter().filter(|p| p.group() == g).collect()
    }
}

/// Aggregates one or more result sets of the same matrix.
pub fn aggregate(files: &[ResultsFile]) -> Result<Aggregate> {
    let mut a = Aggregate {
        sources: files.len(),
        ..Aggregate::default()
    };
    for f in files {
        for p in &f.settings.matrix.points {
            if !a.points.iter().any(|q| q.id() == p.id()) {
                a.points.push(p.clone());
            }
        }
        for v in &f.settings.variants {
            if !a.variants.contains(&v.name) {
                a.variants.push(v.name.clone());
            }
        }
    }
    type Runs<'a> = Vec<(&'a RunRecord, Option<Figures>)>;
    let mut raw: BTreeMap<(String, String), Runs<'_>> = BTreeMap::new();
    let mut busy: BTreeMap<(String, String), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for f in files {
        for r in &f.runs {
            if let (Some(fg), Some(sv)) = (Figures::of(&r.result), &r.server) {
                let e = busy
                    .entry((r.point.clone(), r.variant.clone()))
                    .or_default();
                if !sv.cpus.is_empty() {
                    e.0.extend(busy_of(&fg.cores, &sv.cpus));
                }
                if !f.settings.client_cpus.is_empty() {
                    e.1.extend(busy_of(&fg.cores, &f.settings.client_cpus));
                }
            }
        }
    }
    for f in files {
        for r in &f.runs {
            raw.entry((r.point.clone(), r.variant.clone()))
                .or_default()
                .push((r, Figures::of(&r.result)));
        }
    }
    for (key, runs) in raw {
        let mut c = Cell {
            runs: runs.len(),
            ..Cell::default()
        };
        let figs: Vec<&Figures> = runs.iter().filter_map(|(_, f)| f.as_ref()).collect();
        c.ok = figs.len();
        // Rates and CPU per message divide by the window: not from a run
        // whose window was cut short.
        let whole = || figs.iter().filter(|f| f.short_window.is_none());
        c.throughput = Spread::of(whole().filter_map(|f| f.throughput).collect());
        c.target_rate = figs.iter().find_map(|f| f.target_rate);
        c.cpu_us_per_msg = Spread::of(whole().filter_map(|f| f.cpu_us_per_msg).collect());
        c.server_cores = Spread::of(figs.iter().filter_map(|f| f.server_cores).collect());
        c.rss_per_conn = Spread::of(figs.iter().filter_map(|f| f.rss_per_conn).collect());
        c.rss_peak = figs.iter().filter_map(|f| f.rss_peak).max();
        c.threads_peak = figs.iter().filter_map(|f| f.threads_peak).max();
        c.requested = figs.iter().map(|f| f.requested).max().unwrap_or(0);
        c.established_min = figs.iter().map(|f| f.established).min();
        c.errors = figs.iter().map(|f| f.errors).sum();
        c.cutoffs = figs.iter().map(|f| f.cutoffs).sum();
        c.fairness = figs.iter().filter_map(|f| f.fairness.clone()).collect();
        c.capacity = Spread::of(figs.iter().filter_map(|f| f.capacity).collect());
        c.capacity_steps = figs
            .iter()
            .filter(|f| !f.capacity_steps.is_empty())
            .map(|f| f.capacity_steps.clone())
            .collect();
        c.capacity_per_core = Spread::of(figs.iter().filter_map(|f| f.capacity_per_core).collect());
        c.memory = figs.iter().filter_map(|f| f.memory.clone()).collect();
        c.memory_user = Spread::of(c.memory.iter().map(|m| m.user_rss_per_conn_bytes).collect());
        c.memory_kernel = Spread::of(
            c.memory
                .iter()
                .map(crate::results::conn_memory::ConnMemory::server_kernel_per_conn_bytes)
                .collect(),
        );
        c.conns_per_core = Spread::of(whole().filter_map(|f| f.conns_per_core).collect());
        c.connect_latency = merge_all(figs.iter().filter_map(|f| f.connect_latency.as_ref()))?
            .filter(|h| !h.is_empty())
            .map(|h| LatencySummary::of(&h));
        c.ceilings = figs.iter().filter_map(|f| f.ceiling.clone()).collect();
        c.served = Spread::of(c.ceilings.iter().map(|o| o.served as f64).collect());
        c.p99_runs = Spread::of(
            figs.iter()
                .filter_map(|f| f.latency.as_ref())
                .filter(|l| l.summary.count > 0)
                .map(|l| l.summary.p99_us as f64)
                .collect(),
        );
        if let Some((sb, cb)) = busy.remove(&key) {
            c.server_core_busy = Spread::of(sb);
            c.client_core_busy = Spread::of(cb);
        }
        let merged = merge_all(figs.iter().filter_map(|f| f.latency.as_ref()))?;
        c.latency = merged
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(LatencySummary::of);
        c.histogram = merged;
        c.latency_intended = merge_all(figs.iter().filter_map(|f| f.latency_intended.as_ref()))?
            .filter(|h| !h.is_empty())
            .map(|h| LatencySummary::of(&h));
        for (r, f) in &runs {
            let rep = r.repeat + 1;
            match &r.result {
                RunResult::Skipped { reason } => {
                    push_note(&mut c.notes, format!("not run: {reason}"))
                }
                RunResult::Failed { error } => {
                    push_note(&mut c.notes, format!("run {rep} failed: {error}"))
                }
                _ => {}
            }
            if let Some(f) = f {
                if f.established < f.requested {
                    push_note(
                        &mut c.notes,
                        format!(
                            "run {rep}: {} of {} connections established{}",
                            f.established,
                            f.requested,
                            f.connect_failures
                                .as_ref()
                                .map(|s| format!(" ({s})"))
                                .unwrap_or_default()
                        ),
                    );
                }
                if let Some(k) = &f.error_kinds {
                    push_note(&mut c.notes, format!("run {rep}: {k}"));
                }
                if let Some(b) = &f.behind {
                    push_note(&mut c.notes, format!("run {rep}: {b}"));
                }
                if let Some(w) = &f.short_window {
                    push_note(&mut c.notes, format!("run {rep}: {w}"));
                }
                if f.errors > 0 {
                    if let Some(e) = &f.first_error {
                        push_note(
                            &mut c.notes,
                            format!("run {rep}: {} error(s), first: {e}", f.errors),
                        );
                    } else {
                        push_note(&mut c.notes, format!("run {rep}: {} error(s)", f.errors));
                    }
                }
                if f.cutoffs > 0 {
                    push_note(
                        &mut c.notes,
                        format!(
                            "run {rep}: {} client(s) cut off as slow consumers",
                            f.cutoffs
                        ),
                    );
                }
            }
            if let Some(s) = &r.server {
                if s.died_early {
                    push_note(
                        &mut c.notes,
                        format!(
                            "run {rep}: the server had exited before SIGTERM (status {:?}); stderr: {}",
                            s.exit_code, s.stderr_tail
                        ),
                    );
                } else if !s.exited_in_time {
                    push_note(
                        &mut c.notes,
                        format!(
                            "run {rep}: the server did not exit within the stop timeout after SIGTERM (killed)"
                        ),
                    );
                } else if s.exit_code != Some(0) {
                    push_note(
                        &mut c.notes,
                        format!(
                            "run {rep}: the server exited with {:?} after SIGTERM",
                            s.exit_code
                        ),
                    );
                }
            }
        }
        a.cells.insert(key, c);
    }
    Ok(a)
}

/// Merges the histograms of `reports` (`None` when there are none).
fn merge_all<'a>(
    reports: impl Iterator<Item = &'a HistogramReport>,
) -> Result<Option<Histogram<u64>>> {
    let mut merged: Option<Histogram<u64>> = None;
    for l in reports {
        let h = l.histogram()?;
        match merged.as_mut() {
            Some(m) => hist::merge(m, &h)?,
            None => merged = Some(h),
        }
    }
    Ok(merged)
}

fn push_note(notes: &mut Vec<String>, n: String) {
    if notes.len() < 6 && !notes.contains(&n) {
        notes.push(n);
    }
}

/// Reads a `results.json`.
pub fn read_results(path: &Path) -> Result<ResultsFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let f: ResultsFile = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidSettings(format!("{}: {e}", path.display())))?;
    if f.format != FORMAT {
        return Err(Error::InvalidSettings(format!(
            "{}: format {:?}, expected {FORMAT:?}",
            path.display(),
            f.format
        )));
    }
    Ok(f)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// One CSV row per run.
pub fn to_csv(files: &[ResultsFile]) -> String {
    let mut out = csv::row([
        "point",
        "group",
        "variant",
        "repeat",
        "x",
        "status",
        "throughput_per_s",
        "target_rate",
        "p50_us",
        "p99_us",
        "p999_us",
        "max_us",
        "server_cpu_us_per_msg",
        "server_cores",
        "rss_per_conn_bytes",
        "rss_peak_bytes",
        "threads_peak",
        "requested",
        "established",
        "errors",
        "slow_consumer_cutoffs",
        "server_exit_code",
        "server_exited_in_time",
        "capacity_per_s",
        "capacity_per_server_core_s",
        "user_bytes_per_conn",
        "server_kernel_bytes_per_conn",
        "conns_per_server_core_s",
        "connect_p99_us",
        "ceiling_served",
        "ceiling_stopped_by",
    ]);
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    for f in files {
        for r in &f.runs {
            let p = f.settings.matrix.points.iter().find(|p| p.id() == r.point);
            let group = p
                .and_then(|p| serde_json::to_value(p.group()).ok())
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let x = p.map(|p| p.x().to_string()).unwrap_or_default();
            let status = match &r.result {
                RunResult::Skipped { .. } => "skipped",
                RunResult::Failed { .. } => "failed",
                _ => "ok",
            };
            let fg = Figures::of(&r.result).unwrap_or_default();
            let l = fg.latency.as_ref().map(|l| l.summary.clone());
            let lat = |g: fn(&LatencySummary) -> u64| {
                l.as_ref().map(|s| g(s).to_string()).unwrap_or_default()
            };
            out += &csv::row([
                r.point.clone(),
                group,
                r.variant.clone(),
                r.repeat.to_string(),
                x,
                status.to_string(),
                opt(fg.throughput),
                opt(fg.target_rate),
                lat(|s| s.p50_us),
                lat(|s| s.p99_us),
                lat(|s| s.p999_us),
                lat(|s| s.max_us),
                opt(fg.cpu_us_per_msg),
                opt(fg.server_cores),
                opt(fg.rss_per_conn),
                fg.rss_peak.map(|v| v.to_string()).unwrap_or_default(),
                fg.threads_peak.map(|v| v.to_string()).unwrap_or_default(),
                fg.requested.to_string(),
                fg.established.to_string(),
                fg.errors.to_string(),
                fg.cutoffs.to_string(),
                r.server
                    .as_ref()
                    .and_then(|s| s.exit_code)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                r.server
                    .as_ref()
                    .map(|s| s.exited_in_time.to_string())
                    .unwrap_or_default(),
                opt(fg.capacity),
                opt(fg.capacity_per_core),
                opt(fg.memory.as_ref().map(|m| m.user_rss_per_conn_bytes)),
                opt(fg.memory.as_ref().map(|m| m.server_kernel_per_conn_bytes())),
                opt(fg.conns_per_core),
                fg.connect_latency
                    .as_ref()
                    .map(|l| l.summary.p99_us.to_string())
                    .unwrap_or_default(),
                fg.ceiling
                    .as_ref()
                    .map(|c| c.served.to_string())
                    .unwrap_or_default(),
                fg.ceiling
                    .as_ref()
                    .map(|c| c.stopped_by.clone())
                    .unwrap_or_default(),
            ]);
        }
    }
    out
}

/// Writes `results.json` (first file only), `results.csv`, `report.md`
/// and the charts into `dir`.
pub fn write_all(dir: &Path, files: &[ResultsFile], write_json: bool) -> Result<()> {
    write_with_baseline(dir, files, write_json, &[])
}

/// [`write_all`], and with a non-empty `baseline` the report compares its
/// findings with the baseline's (after the verdict).
pub fn write_with_baseline(
    dir: &Path,
    files: &[ResultsFile],
    write_json: bool,
    baseline: &[ResultsFile],
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    if write_json {
        if let Some(f) = files.first() {
            let json = serde_json::to_string_pretty(f)
                .map_err(|e| Error::InvalidSettings(format!("encoding results: {e}")))?;
            write(&dir.join("results.json"), &json)?;
        }
    }
    write(&dir.join("results.csv"), &to_csv(files))?;
    let agg = aggregate(files)?;
    let charts = charts::write_charts(dir, &agg)?;
    let mut md = text::report(files, &agg, &charts)
        + &transport::section(files)
        + &connection_cost::section(&agg);
    if !baseline.is_empty() {
        let old = aggregate(baseline)?;
        let section = baseline::section(files, &agg, baseline, &old);
        let at = md.find("## Set-up").unwrap_or(md.len());
        md.insert_str(at, &section);
    }
    write(&dir.join("report.md"), &md)?;
    Ok(())
}

fn read_dirs(dirs: &[&Path]) -> Result<Vec<ResultsFile>> {
    dirs.iter()
        .map(|d| read_results(&d.join("results.json")))
        .collect()
}

/// Regenerates the report of one or more result directories into `out`.
pub fn regenerate(dirs: &[&Path], out: &Path) -> Result<()> {
    regenerate_against(dirs, out, &[])
}

/// [`regenerate`], compared with the result directories `baseline` (none:
/// no comparison).
pub fn regenerate_against(dirs: &[&Path], out: &Path, baseline: &[&Path]) -> Result<()> {
    write_with_baseline(out, &read_dirs(dirs)?, false, &read_dirs(baseline)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::{CompareSettings, ServerRun, Variant, VariantKind};
    use crate::results::machine::RunMeta;
    use crate::results::matrix::Matrix;

    fn file(runs: Vec<RunRecord>) -> ResultsFile {
        ResultsFile {
            format: FORMAT.into(),
            meta: RunMeta::default(),
            settings: CompareSettings {
                variants: vec![Variant {
                    name: "x".into(),
                    kind: VariantKind::Serve,
                    command: None,
                }],
                matrix: Matrix::tiny(),
                serve_bin: "serve".into(),
                server_cpus: vec![0],
                client_cpus: vec![1],
                pinning_note: None,
            },
            elapsed_s: 1.0,
            runs,
            transports: Vec::new(),
        }
    }

    #[test]
    fn a_window_cut_short_is_named_and_left_out() {
        use std::time::Duration;
        assert!(short_window_text(1.95, Duration::from_secs(2)).is_none());
        let n = short_window_text(0.037, Duration::from_secs(2)).unwrap();
        assert!(n.contains("0.037 s of the 2.000 s"), "{n}");
    }

    #[test]
    fn skipped_and_failed_runs_become_notes_and_csv_rows() {
        let id = Matrix::tiny().points[0].id();
        let runs = vec![
            RunRecord {
                point: id.clone(),
                variant: "x".into(),
                repeat: 0,
                server: Some(ServerRun {
                    exit_code: Some(1),
                    exited_in_time: true,
                    ..ServerRun::default()
                }),
                result: RunResult::Failed {
                    error: "boom".into(),
                },
            },
            RunRecord {
                point: id.clone(),
                variant: "x".into(),
                repeat: 1,
                server: None,
                result: RunResult::Skipped {
                    reason: "fd limit".into(),
                },
            },
        ];
        let f = file(runs);
        let a = aggregate(std::slice::from_ref(&f)).unwrap();
        let c = a.cell(&id, "x").unwrap();
        assert_eq!((c.runs, c.ok), (2, 0));
        assert!(c.notes.iter().any(|n| n.contains("boom")), "{:?}", c.notes);
        assert!(
            c.notes.iter().any(|n| n.contains("fd limit")),
            "{:?}",
            c.notes
        );
        assert!(
            c.notes.iter().any(|n| n.contains("exited with Some(1)")),
            "{:?}",
            c.notes
        );
        let csv = to_csv(std::slice::from_ref(&f));
        assert_eq!(csv.lines().count(), 3);
        assert!(
            csv.contains(",failed,") && csv.contains(",skipped,"),
            "{csv}"
        );
        // JSON round trip.
        let json = serde_json::to_string(&f).unwrap();
        let back: ResultsFile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        let md = text::report(&[f], &a, &[]);
        assert!(md.contains("boom"), "{md}");
    }
}
