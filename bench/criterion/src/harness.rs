//! The bench harness: every scenario measured in wall time and in CPU time, one benchmark per variant.
//!
//! A bench file writes each scenario once, generic over criterion's measurement, and names its
//! targets in [`bench_main!`](crate::bench_main); the harness runs each target once per [`Measure`]
//! (group `<scenario>.wall`, then `<scenario>.cpu`). A scenario against the servers is one
//! [`Bench::variants`] call: the group, the app, the parameters and how to set up one iteration's work
//! against a server address. Servers are started lazily (a variant filtered out on the command line
//! never starts one), placed as [`Placement`] says, and stopped cleanly after their last parameter.

use std::net::SocketAddr;

use conformance::transport::Endpoint;
use criterion::measurement::{Measurement, WallTime};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};

use crate::cpu_time::{CpuTarget, CpuTime};
use crate::server::{BenchServer, Placement, ServerSpec};
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

/// One bench executable's settings: placement, measurements and the shared CPU target.
#[derive(Debug)]
pub struct Suite {
    placement: Placement,
    measures: Vec<Measure>,
    target: CpuTarget,
}

impl Suite {
    /// The settings from `BENCH_SERVER` and `BENCH_MEASURE`; pins this thread (the client) where the
    /// placement says and prints the placement on stderr.
    pub fn from_env() -> Suite {
        let placement = Placement::from_env();
        placement.pin_client();
        eprintln!("variant-benches: {}", placement.describe());
        Suite {
            placement,
            measures: Measure::from_env(),
            target: CpuTarget::this_process(),
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
            placement: self.placement,
            target: self.target.clone(),
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
    placement: Placement,
    target: CpuTarget,
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
    /// `setup(server address, &param.value)` runs once (outside the measurement) and returns the work
    /// of one iteration, which must verify what it receives. CPU time is the server's process when it
    /// runs in a child, this process's otherwise. See [`variants_on`](Self::variants_on) for servers
    /// on other transports.
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
        S: FnMut(SocketAddr, &P) -> W,
        W: FnMut(),
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
    /// own ([`Param::serving`]). Per variant, one server runs for consecutive parameters with the same
    /// spec; it is stopped (its clients first) before one with another spec starts.
    pub fn variants_on<P, S, W>(
        &mut self,
        scenario: &str,
        server: impl Into<ServerSpec>,
        params: &[Param<P>],
        mut setup: S,
    ) where
        S: FnMut(&Endpoint, &P) -> W,
        W: FnMut(),
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
                    b.iter(&mut *work);
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
/// `&mut Bench<M>`) in wall time and then in CPU time, as `BENCH_MEASURE` asks.
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
