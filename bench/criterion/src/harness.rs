//! The bench harness: every scenario measured in wall time and in CPU time, one benchmark per variant.
//!
//! A bench file writes each scenario once, generic over criterion's measurement, and names its
//! targets in [`bench_main!`](crate::bench_main); the harness runs each target once per [`Measure`]
//! (group `<scenario>.wall`, then `<scenario>.cpu`). A scenario against the servers is one
//! [`Bench::variants`] call: the group, the app, the parameters and how to set up one iteration's work
//! against a server address. When criterion measures, the scenario's benchmarks are sampled in turns
//! ([`interleave`]) with every server up at once, once for both measurements, and
//! criterion analyses those samples; a benchmark the command line filters out never starts a server.
//! Servers are placed as [`Placement`] says and stopped cleanly after sampling.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use conformance::transport::Endpoint;
use criterion::measurement::{Measurement, WallTime};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use serve::Impl;

use crate::cpu_time::{CpuTarget, CpuTime};
use crate::interleave::{self, Entry, Plan, Samples, Workload};
use crate::server::{BenchServer, Placement, ServerSpec};
use crate::settings::RunSettings;
use crate::{available, criterion_config};

/// What a group measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Wall-clock time per iteration (criterion's default).
    Wall,
    /// CPU time per iteration of the measured process ([`CpuTime`]).
    Cpu,
}

impl Measure {
    /// The suffix of its group names: `wall` or `cpu`.
    pub fn suffix(self) -> &'static str {
        match self {
            Measure::Wall => "wall",
            Measure::Cpu => "cpu",
        }
    }

    /// The measurements `BENCH_MEASURE` asks for: `both` (the default), `wall` or `cpu`.
    ///
    /// # Panics
    /// On any other value.
    pub fn from_env() -> Vec<Measure> {
        match std::env::var("BENCH_MEASURE").as_deref() {
            Err(_) | Ok("" | "both") => vec![Measure::Wall, Measure::Cpu],
            Ok("wall") => vec![Measure::Wall],
            Ok("cpu") => vec![Measure::Cpu],
            Ok(other) => panic!("BENCH_MEASURE={other}: expected both, wall or cpu"),
        }
    }
}

/// One bench executable's settings: placement, measurements, the command line's settings, the shared
/// CPU target, and the samples each scenario's interleaved sampling took (kept for the measurement
/// that comes second).
#[derive(Debug)]
pub struct Suite {
    placement: Placement,
    measures: Vec<Measure>,
    settings: RunSettings,
    target: CpuTarget,
    recorded: Recorded,
}

/// Per scenario, its benchmarks and their samples, in the order they were set up.
type Recorded = Rc<RefCell<HashMap<String, Vec<Benchmark>>>>;

/// One benchmark's samples, from [`interleave::sample`].
#[derive(Debug, Clone)]
struct Benchmark {
    variant: Impl,
    label: String,
    throughput: Throughput,
    samples: Samples,
}

impl Suite {
    /// The settings from `BENCH_SERVER` and `BENCH_MEASURE`; pins this thread (the client) where the
    /// placement says and prints the placement on stderr.
    pub fn from_env() -> Suite {
        let placement = Placement::from_env();
        placement.pin_client();
        eprintln!("variant-benches: {}", placement.describe());
        let settings = RunSettings::from_args();
        if settings.measuring {
            eprintln!(
                "variant-benches: each scenario's benchmarks sampled in turns, {} rounds",
                settings.sample_size
            );
        }
        Suite {
            placement,
            measures: Measure::from_env(),
            settings,
            target: CpuTarget::this_process(),
            recorded: Recorded::default(),
        }
    }

    /// Runs `target` in wall time, if asked for.
    pub fn run_wall(&self, target: impl FnOnce(&mut Bench<WallTime>)) {
        if self.measures.contains(&Measure::Wall) {
            target(&mut self.bench(criterion_config(), Measure::Wall));
        }
    }

    /// Runs `target` in CPU time, if asked for.
    pub fn run_cpu(&self, target: impl FnOnce(&mut Bench<CpuTime>)) {
        if self.measures.contains(&Measure::Cpu) {
            let c = criterion_config().with_measurement(CpuTime::new(self.target.clone()));
            target(&mut self.bench(c, Measure::Cpu));
        }
    }

    fn bench<M: Measurement>(&self, c: Criterion<M>, measure: Measure) -> Bench<M> {
        Bench {
            criterion: c.configure_from_args(),
            measure,
            measures: self.measures.clone(),
            settings: self.settings.clone(),
            placement: self.placement,
            target: self.target.clone(),
            recorded: self.recorded.clone(),
        }
    }

    /// Criterion's closing summary (what `criterion_main!` ends with).
    pub fn final_summary(&self) {
        Criterion::default().configure_from_args().final_summary();
    }
}

/// One parameter of a scenario: its label in the benchmark id, its throughput per iteration, the
/// value the set-up receives, and the servers it needs if not the group's.
#[derive(Debug, Clone)]
pub struct Param<P> {
    /// The benchmark id's parameter (`64B`, `100`, ...).
    pub label: String,
    /// Work done by one iteration.
    pub throughput: Throughput,
    /// What the set-up is given.
    pub value: P,
    /// What the servers serve for this parameter, when not what the group's do (`inline` and
    /// `offload`, `tcp` and `tls`).
    pub server: Option<ServerSpec>,
}

impl<P> Param<P> {
    /// A parameter.
    pub fn new(label: impl Into<String>, throughput: Throughput, value: P) -> Param<P> {
        Param {
            label: label.into(),
            throughput,
            value,
            server: None,
        }
    }

    /// The same parameter measured against servers serving `spec` instead of the group's.
    pub fn serving(mut self, spec: impl Into<ServerSpec>) -> Param<P> {
        self.server = Some(spec.into());
        self
    }
}

/// A criterion instance for one measurement, with what starting servers needs.
pub struct Bench<M: Measurement> {
    criterion: Criterion<M>,
    measure: Measure,
    measures: Vec<Measure>,
    settings: RunSettings,
    placement: Placement,
    target: CpuTarget,
    recorded: Recorded,
}

impl<M: Measurement> Bench<M> {
    /// What this instance measures.
    pub fn measure(&self) -> Measure {
        self.measure
    }

    /// The group name of `scenario` in this measurement: `<scenario>.wall` or `<scenario>.cpu`.
    pub fn group_name(&self, scenario: &str) -> String {
        format!("{scenario}.{}", self.measure.suffix())
    }

    /// A group for a scenario without servers (the sans-IO core): CPU time is this process's.
    pub fn group(&mut self, scenario: &str) -> BenchmarkGroup<'_, M> {
        self.target.reset();
        let name = self.group_name(scenario);
        self.criterion.benchmark_group(name)
    }

    /// The group `scenario` with one benchmark per available variant and parameter
    /// (`BenchmarkId::new(variant, param.label)`), each variant serving `server` (an [`App`](serve::App),
    /// or a [`ServerSpec`] with options) over plain TCP. For each parameter,
    /// `setup(server address, &param.value)` runs once (outside the measurement) and returns the
    /// [`Workload`] of one iteration (any `FnMut()`), which must verify what it receives. CPU time is
    /// the server's process when it runs in a child, this process's otherwise. See
    /// [`variants_on`](Self::variants_on) for servers on other transports and for how the benchmarks
    /// are sampled.
    ///
    /// # Panics
    /// If a server does not listen on plain TCP (a unix socket, TLS).
    pub fn variants<P, S, W>(
        &mut self,
        scenario: &str,
        server: impl Into<ServerSpec>,
        params: &[Param<P>],
        mut setup: S,
    ) where
        M: Measurement<Value = Duration>,
        S: FnMut(SocketAddr, &P) -> W,
        W: Workload,
    {
        self.variants_on(scenario, server, params, |endpoint, value| {
            let addr = match endpoint {
                Endpoint::Tcp(addr) => *addr,
                other => panic!("{scenario}: a plain TCP client cannot talk to {other}"),
            };
            setup(addr, value)
        });
    }

    /// As [`variants`](Self::variants), but `setup` is given the server's [`Endpoint`] (TCP, TLS
    /// trusting the server's certificate, or a unix socket), and a parameter may name servers of its
    /// own ([`Param::serving`]).
    ///
    /// When criterion measures (a plain `cargo bench`), the scenario's benchmarks are sampled in turns
    /// ([`interleave`]): every server and every parameter's clients are up at once, one server per
    /// variant and spec; sample `k` of every benchmark is taken in round `k`; wall time and CPU time
    /// come from the same batches, so the scenario is sampled once, in whichever measurement runs first,
    /// and the other one is given the same samples. Criterion then analyses each benchmark's samples
    /// (flat sampling: one batch size per benchmark; its single warm-up call lasts one iteration's
    /// mean wall time, so that criterion plans about the batch size that was measured). Otherwise
    /// (`--test`, `--list`, `--profile-time`, `--quick`) criterion runs each benchmark itself, one after
    /// another, as [`sequentially`](Self::sequentially) does.
    pub fn variants_on<P, S, W>(
        &mut self,
        scenario: &str,
        server: impl Into<ServerSpec>,
        params: &[Param<P>],
        setup: S,
    ) where
        M: Measurement<Value = Duration>,
        S: FnMut(&Endpoint, &P) -> W,
        W: Workload,
    {
        if !self.settings.measuring {
            self.sequentially(scenario, server, params, setup);
            return;
        }
        let known = self.recorded.borrow().contains_key(scenario);
        if !known {
            let benchmarks = self.sample(scenario, server.into(), params, setup);
            self.recorded
                .borrow_mut()
                .insert(scenario.to_owned(), benchmarks);
        }
        let benchmarks = self.recorded.borrow()[scenario].clone();
        self.replay(scenario, &benchmarks);
    }

    /// Whether criterion runs `variant`'s benchmark `label` of `scenario` in any measurement of this
    /// run.
    fn wanted(&self, scenario: &str, variant: Impl, label: &str) -> bool {
        self.measures.iter().any(|m| {
            let group = format!("{scenario}.{}", m.suffix());
            self.settings.filter.matches(&group, variant.name(), label)
        })
    }

    /// Starts every wanted benchmark's server and clients, samples them in turns, stops them, and
    /// returns their samples.
    fn sample<P, S, W>(
        &self,
        scenario: &str,
        group_spec: ServerSpec,
        params: &[Param<P>],
        mut setup: S,
    ) -> Vec<Benchmark>
    where
        S: FnMut(&Endpoint, &P) -> W,
        W: Workload,
    {
        let mut servers: Vec<(Impl, ServerSpec, BenchServer)> = Vec::new();
        let mut benchmarks = Vec::new();
        let mut entries = Vec::new();
        for param in params {
            let spec = param.server.clone().unwrap_or_else(|| group_spec.clone());
            for imp in available() {
                if !self.wanted(scenario, imp, &param.label) {
                    continue;
                }
                let server = match servers.iter().position(|(i, s, _)| *i == imp && *s == spec) {
                    Some(at) => &servers[at].2,
                    None => {
                        let server = BenchServer::start(self.placement, imp, &spec);
                        servers.push((imp, spec.clone(), server));
                        &servers[servers.len() - 1].2
                    }
                };
                let workload = setup(server.endpoint(), &param.value);
                entries.push(Entry {
                    workload: Box::new(workload),
                    clock: server.cpu_clock(),
                });
                benchmarks.push(Benchmark {
                    variant: imp,
                    label: param.label.clone(),
                    throughput: param.throughput.clone(),
                    samples: Samples::default(),
                });
            }
        }
        if entries.is_empty() {
            return benchmarks;
        }
        let plan = Plan {
            warm_up: self.settings.warm_up,
            measurement: self.settings.measurement,
            samples: self.settings.sample_size,
        };
        let started = Instant::now();
        eprintln!(
            "{scenario}: sampling {} benchmarks in turns ({} servers up)",
            entries.len(),
            servers.len()
        );
        let sampled = interleave::sample(&mut entries, plan);
        eprintln!(
            "{scenario}: {} rounds in {:.1} s",
            plan.samples,
            started.elapsed().as_secs_f64()
        );
        // The clients go before the servers do.
        drop(entries);
        for (_, _, server) in servers {
            server.stop();
        }
        for (benchmark, samples) in benchmarks.iter_mut().zip(sampled) {
            benchmark.samples = samples;
        }
        benchmarks
    }

    /// Hands each benchmark's samples to criterion in this instance's measurement.
    fn replay(&mut self, scenario: &str, benchmarks: &[Benchmark])
    where
        M: Measurement<Value = Duration>,
    {
        let name = self.group_name(scenario);
        let measure = self.measure;
        let settings = self.settings.clone();
        let mut group = self.criterion.benchmark_group(name);
        group
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_nanos(1))
            .sample_size(settings.sample_size)
            .measurement_time(settings.measurement);
        for benchmark in benchmarks {
            let per_iter: Vec<f64> = benchmark
                .samples
                .samples
                .iter()
                .map(|s| match measure {
                    Measure::Wall => s.wall_per_iter(),
                    Measure::Cpu => s.cpu_per_iter(),
                })
                .collect();
            let iteration = benchmark.samples.mean_iteration();
            let id = BenchmarkId::new(benchmark.variant.name(), &benchmark.label);
            group.throughput(benchmark.throughput.clone());
            let mut calls = 0usize;
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let call = calls;
                    calls += 1;
                    let value = if call == 0 {
                        // Criterion's warm-up (one call: it lasts more than 1 ns): as long as an
                        // iteration, so that criterion's plan is about the batches measured.
                        interleave::spin(iteration);
                        per_iter.iter().sum::<f64>() / per_iter.len().max(1) as f64
                    } else {
                        *per_iter.get(call - 1).unwrap_or_else(|| {
                            panic!(
                                "{scenario}/{}/{}: criterion asked for sample {call} of {}",
                                benchmark.variant,
                                benchmark.label,
                                per_iter.len()
                            )
                        })
                    };
                    Duration::from_nanos((value * iters as f64).round() as u64)
                });
            });
        }
        group.finish();
    }

    /// Criterion runs each variant's benchmarks itself, one variant after another: per variant, one
    /// server runs for consecutive parameters with the same spec; it is stopped (its clients first)
    /// before one with another spec starts. Used when criterion does not measure (`--test`, `--list`,
    /// `--profile-time`, `--quick`).
    pub fn sequentially<P, S, W>(
        &mut self,
        scenario: &str,
        server: impl Into<ServerSpec>,
        params: &[Param<P>],
        mut setup: S,
    ) where
        S: FnMut(&Endpoint, &P) -> W,
        W: Workload,
    {
        let name = self.group_name(scenario);
        let group_spec = server.into();
        let spec_of = |param: &Param<P>| param.server.clone().unwrap_or_else(|| group_spec.clone());
        let Bench {
            criterion,
            placement,
            target,
            ..
        } = self;
        let mut group = criterion.benchmark_group(name);
        for imp in available() {
            // Started lazily, so that a filtered-out variant never starts a server.
            let mut server: Option<BenchServer> = None;
            for (i, param) in params.iter().enumerate() {
                let spec = spec_of(param);
                group.throughput(param.throughput.clone());
                let mut work: Option<W> = None;
                group.bench_function(BenchmarkId::new(imp.name(), &param.label), |b| {
                    let server = server.get_or_insert_with(|| {
                        let server = BenchServer::start(*placement, imp, &spec);
                        target.set(server.cpu_clock());
                        server
                    });
                    let work = work.get_or_insert_with(|| setup(server.endpoint(), &param.value));
                    b.iter(|| work.iteration());
                    work.leave();
                });
                // The clients go before the server does.
                drop(work);
                if params.get(i + 1).map(spec_of).as_ref() != Some(&spec)
                    && let Some(server) = server.take()
                {
                    target.reset();
                    server.stop();
                }
            }
        }
        group.finish();
    }
}

/// The `main` of a bench: serves instead when started as a child server ([`crate::child`]), and
/// otherwise runs each target (a function generic over criterion's measurement taking
/// `&mut Bench<M>`) in wall time and then in CPU time, as `BENCH_MEASURE` asks (a scenario against
/// the servers is sampled in the first and its samples reused in the second).
#[macro_export]
macro_rules! bench_main {
    ($($target:path),+ $(,)?) => {
        fn main() {
            $crate::child::serve_if_asked();
            let suite = $crate::Suite::from_env();
            $(
                suite.run_wall(|b| $target(b));
                suite.run_cpu(|b| $target(b));
            )+
            suite.final_summary();
        }
    };
}
