//! Coordinates the worker threads of one run: spreads the connections,
//! starts everybody at the same instant, samples costs over the window and
//! merges the per-worker results.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::engine::{self, Load, WorkerEvent, WorkerPlan, WorkerResult};
use crate::error::{Error, Result};
use crate::hist::{self, HistogramReport};
use crate::proc_stats::{CoreUsage, GeneratorStats, Sampler, ServerStats};
use crate::progress::{Phase, Progress, ProgressInfo};
use crate::stats::{ConnectFailures, ConnectStats, ErrorCounts};
use host_probe::{CoreSnapshot, ResourceUsage};

/// How the load is offered, for the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LoadSpec {
    Closed { pipeline: usize },
    Open { rate: f64, max_inflight: usize },
}

/// Everything the driver needs.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub addr: SocketAddr,
    pub conns: usize,
    pub threads: Option<usize>,
    pub cpus: Vec<usize>,
    pub source_ips: Vec<IpAddr>,
    pub seed: u64,
    pub connect_rate: Option<f64>,
    pub connect_timeout: Duration,
    pub size: usize,
    pub load: LoadSpec,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub drain_timeout: Duration,
    pub record: bool,
    pub server_pid: Option<u32>,
    pub sample_interval: Duration,
}

/// Merged results of all workers.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub threads: usize,
    pub connect: ConnectStats,
    pub window_s: f64,
    pub latency: Histogram<u64>,
    pub corrected: Histogram<u64>,
    pub messages: u64,
    pub sent: u64,
    pub unsent: u64,
    pub lost: u64,
    pub errors: ErrorCounts,
    pub first_error: Option<String>,
    pub conns_answered: usize,
    pub conns_clean: usize,
    pub server: Option<ServerStats>,
    pub generator: GeneratorStats,
    pub cores: Vec<CoreUsage>,
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

struct Workers {
    handles: Vec<JoinHandle<Option<WorkerResult>>>,
    start_txs: Vec<mpsc::Sender<Instant>>,
    progress: Vec<Arc<AtomicU64>>,
}

impl Workers {
    fn messages(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum()
    }
}

/// Runs the spec to completion.
pub(crate) fn run(spec: &Spec, progress: &mut dyn Progress) -> Result<Outcome> {
    if spec.conns == 0 {
        return Err(Error::InvalidSettings("--conns must be at least 1".into()));
    }
    if spec.size == 0 {
        return Err(Error::InvalidSettings("--size must be at least 1".into()));
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
        let load = match spec.load {
            LoadSpec::Closed { pipeline } => Load::Closed { pipeline },
            LoadSpec::Open { rate, max_inflight } => Load::Open {
                rate: rate * share,
                max_inflight,
            },
        };
        let counter = Arc::new(AtomicU64::new(0));
        let plan = WorkerPlan {
            index: w,
            addr: spec.addr,
            conn_ids,
            source_ips: spec.source_ips.clone(),
            run_seed: spec.seed,
            connect_start,
            connect_rate: spec.connect_rate.map(|r| r * share),
            connect_timeout: spec.connect_timeout,
            size: spec.size,
            load,
            warmup: spec.warmup,
            duration: spec.duration,
            timeout: spec.timeout,
            drain_timeout: spec.drain_timeout,
            record: spec.record,
            cpu: (!spec.cpus.is_empty()).then(|| spec.cpus[w % spec.cpus.len()]),
            progress: counter.clone(),
            drain: drain.clone(),
        };
        let (start_tx, start_rx) = mpsc::channel();
        let tx = ev_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-w{w}"))
            .spawn(move || engine::run(plan, tx, start_rx))
            .map_err(|e| Error::io("spawning a worker thread", e))?;
        workers.handles.push(handle);
        workers.start_txs.push(start_tx);
        workers.progress.push(counter);
    }
    drop(ev_tx);

    // Connect phase: wait until every worker is ready.
    let mut established = 0usize;
    let mut ready = 0usize;
    let mut failure = None;
    while ready < threads {
        match ev_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(WorkerEvent::Ready { established: e }) => {
                ready += 1;
                established += e;
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
    if failure.is_some() || established == 0 {
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
    let tick = |progress: &mut dyn Progress, phase, workers: &Workers| {
        progress.update(&ProgressInfo {
            phase,
            elapsed: Instant::now().saturating_duration_since(t0).min(total),
            total,
            conns: spec.conns,
            messages: workers.messages(),
        })
    };
    let mut sampler_error = None;
    // The context-switch scan goes just before the window (its length
    // estimated by the trial scan), so that it does not compete with the
    // load inside the window.
    let lead = (scan_estimate * 2 + Duration::from_millis(1)).min(spec.warmup / 2);
    sleep_until(
        t_warm - lead,
        |p| tick(progress, p, &workers),
        Phase::Warmup,
    );
    if let (Some(s), false) = (sampler.as_mut(), lead.is_zero()) {
        if let Err(e) = s.ctxt_start() {
            sampler_error = Some(e);
        }
    }
    sleep_until(t_warm, |p| tick(progress, p, &workers), Phase::Warmup);
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
    sleep_until(t_end, |p| tick(progress, p, &workers), Phase::Measuring);
    let window_s = w0.elapsed().as_secs_f64();
    let usage1 = ResourceUsage::process();
    let cores = CoreUsage::since(cpu0.as_ref());
    if let (Some(s), None) = (sampler.as_mut(), &sampler_error) {
        if let Err(e) = s.window_end().and_then(|()| s.ctxt_end()) {
            sampler_error = Some(e);
        }
    }
    // Only now may the workers half-close (and the server's per-connection
    // threads start exiting).
    drain.store(true, Ordering::Release);
    while workers.handles.iter().any(|h| !h.is_finished()) {
        tick(progress, Phase::Draining, &workers);
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
    let mut out = merge(spec, threads, results, window_s, &usage0, &usage1)?;
    out.cores = cores;
    let g = &mut out.generator;
    g.record_cost_ns_per_msg = record_cost;
    if g.worker_cpu_us_per_msg > 0.0 {
        g.record_cost_pct = 100.0 * record_cost / (g.worker_cpu_us_per_msg * 1000.0);
    }
    let server = match sampler {
        Some(s) => Some(s.finish(out.connect.established, out.messages)?),
        None => None,
    };
    Ok(Outcome { server, ..out })
}

fn sleep_until(t: Instant, mut tick: impl FnMut(Phase), phase: Phase) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        tick(phase);
        std::thread::sleep((t - now).min(Duration::from_millis(100)));
    }
}

fn join(handles: Vec<JoinHandle<Option<WorkerResult>>>) -> Vec<WorkerResult> {
    handles
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect()
}

fn merge(
    spec: &Spec,
    threads: usize,
    results: Vec<WorkerResult>,
    window_s: f64,
    usage0: &ResourceUsage,
    usage1: &ResourceUsage,
) -> Result<Outcome> {
    let mut latency = hist::new_latency();
    let mut corrected = hist::new_latency();
    let mut connect = hist::new_latency();
    let mut failures = ConnectFailures::default();
    let mut errors = ErrorCounts::default();
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    let mut o = Outcome {
        threads,
        connect: ConnectStats::default(),
        window_s,
        latency: hist::new_latency(),
        corrected: hist::new_latency(),
        messages: 0,
        sent: 0,
        unsent: 0,
        lost: 0,
        errors: ErrorCounts::default(),
        first_error: None,
        conns_answered: 0,
        conns_clean: 0,
        server: None,
        generator: GeneratorStats::default(),
        cores: Vec::new(),
    };
    let mut established = 0;
    let mut worker_cpu_s = 0.0;
    for r in results {
        hist::merge(&mut latency, &r.latency)?;
        hist::merge(&mut corrected, &r.corrected)?;
        hist::merge(&mut connect, &r.connect)?;
        failures.add(&r.connect_failures);
        errors.add(&r.errors);
        established += r.established;
        first = match (first, r.first_attempt) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last = match (last, r.last_established) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        o.messages += r.messages;
        o.sent += r.sent;
        o.unsent += r.unsent;
        o.lost += r.lost;
        o.conns_answered += r.conns_answered;
        o.conns_clean += r.conns_clean;
        if o.first_error.is_none() {
            o.first_error = r.first_error;
        }
        if let Some((a, b)) = r.cpu {
            worker_cpu_s += b.cpu_time().saturating_sub(a.cpu_time()).as_secs_f64();
        }
    }
    let elapsed_s = match (first, last) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    o.connect = ConnectStats {
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
    o.latency = latency;
    o.corrected = corrected;
    o.errors = errors;
    let mut g = GeneratorStats::between(usage0, usage1, window_s, o.messages, worker_cpu_s);
    g.threads = threads;
    g.cpus = spec.cpus.clone();
    g.recording = spec.record;
    o.generator = g;
    Ok(o)
}
