//! Coordinates the worker threads of one run, for every scenario alike:
//! spreads the connections, starts everybody at the same instant, brackets
//! the measured window with the cost probes, samples the time series and
//! merges the per-worker results.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use host_probe::{CoreSnapshot, ResourceUsage};

use super::protocol::{Protocol, Tally};
use super::worker::{self, WorkerEvent, WorkerResult};
use super::{Load, LoadSpec, Spec, WorkerPlan};
use crate::error::{Error, Result};
use crate::generator::progress::{Phase, Progress, ProgressInfo};
use crate::generator::sampler::{Mark, Sampler};
use crate::results::cost::{CoreUsage, Cost, GeneratorStats};
use crate::results::counts::{ConnectFailures, ConnectStats, ErrorCounts};
use crate::results::hist::{self, HistogramReport};
use crate::results::series::{Interval, TimeSeries};

/// Merged results of all workers.
#[derive(Debug)]
pub(crate) struct Outcome<T> {
    pub threads: usize,
    pub connect: ConnectStats,
    /// One-shot protocols (churn): from each connection's intended start to
    /// the end of its handshake (empty otherwise).
    pub round_trip: Histogram<u64>,
    /// Connections that finished their handshake (= established when the
    /// protocol has none).
    pub ready: usize,
    /// Seconds from the first connection attempt to the last connection
    /// ready.
    pub ready_s: f64,
    pub window_s: f64,
    /// Latency from the actual send, window messages.
    pub latency: Histogram<u64>,
    /// Latency from the intended send, window messages.
    pub corrected: Histogram<u64>,
    /// Window messages received (chat: deliveries).
    pub messages: u64,
    /// Messages (chat: deliveries) received inside the window by receipt
    /// time: the achieved rate, and what the cost bracket's CPU is divided by.
    pub received: u64,
    /// Window messages (chat: deliveries) never completed, in `corrected`
    /// as lower bounds (open loop).
    pub lower_bounds: u64,
    /// Open loop: actual − intended send time of the window's messages.
    pub send_lag: Histogram<u64>,
    pub sent: u64,
    pub sent_total: u64,
    pub unsent: u64,
    pub lost: u64,
    pub errors: ErrorCounts,
    pub first_error: Option<String>,
    pub conns_answered: usize,
    pub conns_clean: usize,
    pub cost: Cost,
    pub series: TimeSeries,
    pub tally: T,
}

/// The number of worker threads for a spec.
pub(crate) fn thread_count(spec: &Spec) -> usize {
    let default = if spec.cpus.is_empty() {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        spec.cpus.len()
    };
    spec.threads.unwrap_or(default).clamp(1, spec.conns.max(1))
}

struct Workers<T> {
    handles: Vec<JoinHandle<Option<WorkerResult<T>>>>,
    start_txs: Vec<mpsc::Sender<Instant>>,
    progress: Vec<Arc<AtomicU64>>,
}

impl<T> Workers<T> {
    fn messages(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum()
    }
}

/// Runs the spec with `proto` to completion.
pub(crate) fn run<P: Protocol>(
    spec: &Spec,
    proto: Arc<P>,
    progress: &mut dyn Progress,
) -> Result<Outcome<P::Tally>> {
    if spec.conns == 0 {
        return Err(Error::InvalidSettings("--conns must be at least 1".into()));
    }
    if spec.duration.is_zero() {
        return Err(Error::InvalidSettings("--duration must be positive".into()));
    }
    if spec.interval.is_zero() {
        return Err(Error::InvalidSettings("--interval must be positive".into()));
    }
    if let Some(r) = spec.connect_rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err(Error::InvalidSettings(format!(
                "--connect-rate must be positive, not {r}"
            )));
        }
    }
    crate::limits::ensure_capacity(spec.conns, spec.source_ips.len())?;
    let threads = thread_count(spec);
    let record_cost = if spec.record {
        hist::record_cost_ns(200_000)
    } else {
        0.0
    };
    let mut sampler = match spec.server_pid {
        Some(pid) => Some(Sampler::start(pid, spec.sample_interval)?),
        None => None,
    };

    // Spread the connections round-robin over the workers.
    let mut ids: Vec<Vec<usize>> = vec![Vec::new(); threads];
    for g in 0..spec.conns {
        ids[g % threads].push(g);
    }
    let total_senders = (0..spec.conns).filter(|&g| proto.sends(g)).count();
    let (ev_tx, ev_rx) = mpsc::channel();
    let drain = Arc::new(AtomicBool::new(false));
    let connect_start = Instant::now() + Duration::from_millis(2);
    let mut workers = Workers {
        handles: Vec::new(),
        start_txs: Vec::new(),
        progress: Vec::new(),
    };
    for (w, conn_ids) in ids.into_iter().enumerate() {
        let share = conn_ids.len() as f64 / spec.conns as f64;
        let senders = conn_ids.iter().filter(|&&g| proto.sends(g)).count();
        let load = match spec.load {
            LoadSpec::Closed { pipeline } => Load::Closed { pipeline },
            LoadSpec::Open { rate, max_inflight } => Load::Open {
                rate: rate * senders as f64 / total_senders.max(1) as f64,
                max_inflight,
                // Worker w starts w/R after the others: together they send
                // at evenly spaced instants rather than in bursts.
                offset_ns: (w as f64 * 1e9 / rate).round() as u64,
            },
        };
        let counter = Arc::new(AtomicU64::new(0));
        let plan = WorkerPlan {
            index: w,
            addr: spec.addr,
            conn_ids,
            source_ips: spec.source_ips.clone(),
            connect_start,
            connect_rate: spec.connect_rate.map(|r| r * share),
            connect_timeout: spec.connect_timeout,
            load,
            warmup: spec.warmup,
            duration: spec.duration,
            timeout: spec.timeout,
            drain_timeout: spec.drain_timeout,
            record: spec.record,
            interval: spec.interval,
            cpu: (!spec.cpus.is_empty()).then(|| spec.cpus[w % spec.cpus.len()]),
            progress: counter.clone(),
            drain: drain.clone(),
        };
        let (start_tx, start_rx) = mpsc::channel();
        let tx = ev_tx.clone();
        let proto = proto.clone();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-w{w}"))
            .spawn(move || worker::run(plan, proto, tx, start_rx))
            .map_err(|e| Error::io("spawning a worker thread", e))?;
        workers.handles.push(handle);
        workers.start_txs.push(start_tx);
        workers.progress.push(counter);
    }
    drop(ev_tx);

    // Connect phase: wait until every worker is ready.
    let mut ready_conns = 0usize;
    let mut ready = 0usize;
    let mut failure = None;
    while ready < threads {
        match ev_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(WorkerEvent::Ready { established: e }) => {
                ready += 1;
                ready_conns += e;
            }
            Ok(WorkerEvent::Failed(msg)) => {
                ready += 1;
                failure.get_or_insert(msg);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => progress.update(&ProgressInfo {
                phase: Phase::Connecting,
                elapsed: Duration::ZERO,
                total: spec.warmup + spec.duration,
                conns: spec.conns,
                messages: 0,
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                failure.get_or_insert("a worker thread died".to_string());
                break;
            }
        }
    }
    if failure.is_some() || ready_conns == 0 {
        drain.store(true, Ordering::Release);
        // Dropping the start senders makes the workers return.
        workers.start_txs.clear();
        let results = join(workers.handles);
        let failed = results
            .iter()
            .map(|r| r.connect_failures.total())
            .sum::<u64>();
        return Err(match failure {
            Some(msg) => Error::Worker(msg),
            None => Error::NoConnection {
                addr: spec.addr,
                failed: failed as usize,
            },
        });
    }

    // A trial scan tells how long the context-switch scan takes now that
    // the connections (and perhaps their threads) exist.
    let scan_estimate = match sampler.as_mut() {
        Some(s) => s.ctxt_start()?,
        None => Duration::ZERO,
    };

    // Load phase: a common start instant for every worker.
    let t0 = Instant::now() + Duration::from_millis(2);
    for tx in workers.start_txs.drain(..) {
        let _ = tx.send(t0);
    }
    let t_warm = t0 + spec.warmup;
    let t_end = t_warm + spec.duration;
    let total = spec.warmup + spec.duration;
    let mut clock = Clock {
        t0,
        total,
        interval: spec.interval,
        next_mark: 0,
        conns: spec.conns,
    };
    let mut sampler_error = None;
    // The context-switch scan goes just before the window (its length
    // estimated by the trial scan), so that it does not compete with the
    // load inside the window.
    let lead = (scan_estimate * 2 + Duration::from_millis(1)).min(spec.warmup / 2);
    clock.wait_until(
        t_warm - lead,
        Phase::Warmup,
        progress,
        &workers,
        &mut sampler,
    );
    if let (Some(s), false) = (sampler.as_mut(), lead.is_zero()) {
        if let Err(e) = s.ctxt_start() {
            sampler_error = Some(e);
        }
    }
    clock.wait_until(t_warm, Phase::Warmup, progress, &workers, &mut sampler);
    let w0 = Instant::now();
    let usage0 = ResourceUsage::process();
    let cpu0 = CoreSnapshot::read().ok();
    if let (Some(s), None) = (sampler.as_mut(), &sampler_error) {
        // Without a warm-up to hide it in, the scan follows the CPU snapshot.
        let r = s.window_start().and_then(|()| {
            if lead.is_zero() {
                s.ctxt_start().map(drop)
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            sampler_error = Some(e);
        }
    }
    clock.wait_until(t_end, Phase::Measuring, progress, &workers, &mut sampler);
    let window_s = w0.elapsed().as_secs_f64();
    let usage1 = ResourceUsage::process();
    let cores = CoreUsage::since(cpu0.as_ref());
    if let (Some(s), None) = (sampler.as_mut(), &sampler_error) {
        if let Err(e) = s.window_end().and_then(|()| s.ctxt_end()) {
            sampler_error = Some(e);
        }
    }
    // The last mark closes the last (perhaps partial) interval.
    if let Some(s) = sampler.as_mut() {
        s.mark();
    }
    // Only now may the workers drain (and the server's per-connection
    // threads start exiting).
    drain.store(true, Ordering::Release);
    while workers.handles.iter().any(|h| !h.is_finished()) {
        clock.tick(Phase::Draining, progress, &workers);
        std::thread::sleep(Duration::from_millis(20));
    }
    progress.finish();
    let results = join(workers.handles);
    if results.len() != threads {
        return Err(Error::Worker(format!(
            "{} of {threads} workers returned no result",
            threads - results.len()
        )));
    }
    if let Some(e) = sampler_error {
        return Err(e);
    }
    let marks: Vec<Mark> = sampler
        .as_ref()
        .map(|s| s.marks().to_vec())
        .unwrap_or_default();
    let mut out = merge(spec, threads, results, window_s, &usage0, &usage1)?;
    out.cores = cores;
    let series = series(spec, t0, &out.interval_parts, &marks)?;
    let g = &mut out.generator;
    g.record_cost_ns_per_msg = record_cost;
    if g.worker_cpu_us_per_msg > 0.0 {
        g.record_cost_pct = 100.0 * record_cost / (g.worker_cpu_us_per_msg * 1000.0);
    }
    let server = match sampler {
        Some(s) => Some(s.finish(out.ready, out.received)?),
        None => None,
    };
    Ok(Outcome {
        threads: out.threads,
        connect: out.connect,
        round_trip: out.round_trip,
        ready: out.ready,
        ready_s: out.ready_s,
        window_s,
        latency: out.latency,
        corrected: out.corrected,
        messages: out.messages,
        received: out.received,
        lower_bounds: out.lower_bounds,
        send_lag: out.send_lag,
        sent: out.sent,
        sent_total: out.sent_total,
        unsent: out.unsent,
        lost: out.lost,
        errors: out.errors,
        first_error: out.first_error,
        conns_answered: out.conns_answered,
        conns_clean: out.conns_clean,
        cost: Cost {
            server,
            generator: out.generator,
            cores: out.cores,
        },
        series,
        tally: out.tally,
    })
}

/// The coordinator's view of time during the load: progress ticks and the
/// time-series marks at every interval boundary.
struct Clock {
    t0: Instant,
    total: Duration,
    interval: Duration,
    next_mark: u32,
    conns: usize,
}

impl Clock {
    fn tick<T>(&self, phase: Phase, progress: &mut dyn Progress, workers: &Workers<T>) {
        progress.update(&ProgressInfo {
            phase,
            elapsed: Instant::now()
                .saturating_duration_since(self.t0)
                .min(self.total),
            total: self.total,
            conns: self.conns,
            messages: workers.messages(),
        });
    }

    fn mark_time(&self) -> Instant {
        self.t0 + self.interval * self.next_mark
    }

    /// Sleeps until `t`, ticking progress about ten times a second and
    /// marking the server at every interval boundary on the way.
    fn wait_until<T>(
        &mut self,
        t: Instant,
        phase: Phase,
        progress: &mut dyn Progress,
        workers: &Workers<T>,
        sampler: &mut Option<Sampler>,
    ) {
        loop {
            let now = Instant::now();
            if let Some(s) = sampler.as_mut() {
                while self.mark_time() <= now && self.mark_time() < self.t0 + self.total {
                    s.mark();
                    self.next_mark += 1;
                }
            }
            if now >= t {
                return;
            }
            self.tick(phase, progress, workers);
            let mut until = t.min(now + Duration::from_millis(100));
            if sampler.is_some() && self.mark_time() < self.t0 + self.total {
                until = until.min(self.mark_time());
            }
            std::thread::sleep(until.saturating_duration_since(now));
        }
    }
}

fn join<T>(handles: Vec<JoinHandle<Option<WorkerResult<T>>>>) -> Vec<WorkerResult<T>> {
    handles
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect()
}

/// The workers' results added up.
struct Merged<T> {
    threads: usize,
    connect: ConnectStats,
    round_trip: Histogram<u64>,
    ready: usize,
    ready_s: f64,
    latency: Histogram<u64>,
    corrected: Histogram<u64>,
    messages: u64,
    received: u64,
    lower_bounds: u64,
    send_lag: Histogram<u64>,
    sent: u64,
    sent_total: u64,
    unsent: u64,
    lost: u64,
    errors: ErrorCounts,
    first_error: Option<String>,
    conns_answered: usize,
    conns_clean: usize,
    generator: GeneratorStats,
    cores: Vec<CoreUsage>,
    /// Per interval: messages and merged histogram.
    interval_parts: Vec<(u64, Option<Histogram<u64>>)>,
    tally: T,
}

fn merge<T: Tally>(
    spec: &Spec,
    threads: usize,
    results: Vec<WorkerResult<T>>,
    window_s: f64,
    usage0: &ResourceUsage,
    usage1: &ResourceUsage,
) -> Result<Merged<T>> {
    let mut latency = hist::new_latency();
    let mut corrected = hist::new_latency();
    let mut connect = hist::new_latency();
    let mut failures = ConnectFailures::default();
    let mut errors = ErrorCounts::default();
    let (mut first, mut last, mut last_ready) = (None::<Instant>, None::<Instant>, None::<Instant>);
    let mut m = Merged {
        threads,
        connect: ConnectStats::default(),
        round_trip: hist::new_latency(),
        ready: 0,
        ready_s: 0.0,
        latency: hist::new_latency(),
        corrected: hist::new_latency(),
        messages: 0,
        received: 0,
        lower_bounds: 0,
        send_lag: hist::new_latency(),
        sent: 0,
        sent_total: 0,
        unsent: 0,
        lost: 0,
        errors: ErrorCounts::default(),
        first_error: None,
        conns_answered: 0,
        conns_clean: 0,
        generator: GeneratorStats::default(),
        cores: Vec::new(),
        interval_parts: Vec::new(),
        tally: T::default(),
    };
    let mut established = 0;
    let mut worker_cpu_s = 0.0;
    for r in results {
        hist::merge(&mut latency, &r.rec.latency)?;
        hist::merge(&mut corrected, &r.rec.corrected)?;
        hist::merge(&mut connect, &r.connect)?;
        hist::merge(&mut m.round_trip, &r.round_trip)?;
        failures.add(&r.connect_failures);
        errors.add(&r.errors);
        established += r.established;
        m.ready += r.ready;
        let earliest = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let latest = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        first = earliest(first, r.first_attempt);
        last = latest(last, r.last_established);
        last_ready = latest(last_ready, r.last_ready);
        m.messages += r.rec.messages;
        m.received += r.rec.received_in_window;
        m.lower_bounds += r.rec.lower_bounds;
        hist::merge(&mut m.send_lag, &r.rec.send_lag)?;
        m.sent += r.sent;
        m.sent_total += r.sent_total;
        m.unsent += r.unsent;
        m.lost += r.lost;
        m.conns_answered += r.conns_answered;
        m.conns_clean += r.conns_clean;
        if m.first_error.is_none() {
            m.first_error = r.first_error;
        }
        if let Some((a, b)) = r.cpu {
            worker_cpu_s += b.cpu_time().saturating_sub(a.cpu_time()).as_secs_f64();
        }
        m.tally.add(&r.tally);
        for (i, slot) in r.rec.intervals.into_iter().enumerate() {
            if m.interval_parts.len() <= i {
                m.interval_parts.push((0, None));
            }
            let part = &mut m.interval_parts[i];
            part.0 += slot.messages;
            if let Some(h) = slot.latency {
                match part.1.as_mut() {
                    Some(acc) => hist::merge(acc, &h)?,
                    None => part.1 = Some(h),
                }
            }
        }
    }
    let secs = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let elapsed_s = secs(first, last);
    m.ready_s = secs(first, last_ready);
    m.connect = ConnectStats {
        requested: spec.conns,
        established,
        failures,
        elapsed_s,
        rate_per_s: if elapsed_s > 0.0 {
            established as f64 / elapsed_s
        } else {
            0.0
        },
        target_rate_per_s: spec.connect_rate,
        latency: HistogramReport::of(&connect)?,
    };
    m.latency = latency;
    m.corrected = corrected;
    m.errors = errors;
    let mut g = GeneratorStats::between(usage0, usage1, window_s, m.received, worker_cpu_s);
    g.threads = threads;
    g.cpus = spec.cpus.clone();
    g.recording = spec.record;
    m.generator = g;
    Ok(m)
}

/// Builds the time series from the merged interval counts and the server
/// marks (taken at `t0 + i × interval`, the last at the end of the window).
fn series(
    spec: &Spec,
    t0: Instant,
    parts: &[(u64, Option<Histogram<u64>>)],
    marks: &[Mark],
) -> Result<TimeSeries> {
    let interval_s = spec.interval.as_secs_f64();
    let total_s = (spec.warmup + spec.duration).as_secs_f64();
    let warm_s = spec.warmup.as_secs_f64();
    let mut intervals = Vec::with_capacity(parts.len());
    for (i, (messages, h)) in parts.iter().enumerate() {
        let start = i as f64 * interval_s;
        let length_s = (total_s - start).min(interval_s).max(0.0);
        // Server figures between the marks bracketing this interval.
        let (a, b) = (
            marks.iter().find(|m| secs_after(t0, m.at) >= start - 1e-3),
            marks
                .iter()
                .find(|m| secs_after(t0, m.at) >= start + length_s - 1e-3),
        );
        let (cpu, rss) = match (a, b) {
            (Some(a), Some(b)) if b.at > a.at => (
                a.cpu
                    .zip(b.cpu)
                    .map(|(x, y)| y.saturating_sub(x).as_secs_f64() / (b.at - a.at).as_secs_f64()),
                b.rss_bytes,
            ),
            _ => (None, None),
        };
        let q = |q: f64| h.as_ref().map(|h| h.value_at_quantile(q));
        intervals.push(Interval {
            start_s: start - warm_s,
            length_s,
            measured: start + 1e-9 >= warm_s,
            messages: *messages,
            per_s: if length_s > 0.0 {
                *messages as f64 / length_s
            } else {
                0.0
            },
            p50_us: q(0.5),
            p99_us: q(0.99),
            max_us: h.as_ref().map(|h| h.max()),
            server_cpu_cores: cpu,
            server_rss_bytes: rss,
            histogram: h.as_ref().map(hist::to_base64).transpose()?,
        });
    }
    Ok(TimeSeries {
        interval_s,
        intervals,
    })
}

fn secs_after(t0: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64()
}
