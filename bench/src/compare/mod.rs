//! `compare`: starts every server variant itself, pins it and the generator
//! to separate cores, runs the scenario matrix in-process with the library
//! (variants interleaved per point), stops each server with SIGTERM and
//! collects everything into a [`ResultsFile`].

pub mod capacity_point;
pub mod conn_cost;
pub mod server;
pub mod transport;
pub mod work;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::results::chat::ChatSettings;
use crate::results::comparison::{CompareSettings, VariantKind};
use crate::results::comparison::{ResultsFile, RunRecord, RunResult};
use crate::results::conns::ConnsSettings;
use crate::results::echo::EchoSettings;
use crate::results::machine::RunMeta;
use crate::results::matrix::Scenario;
use server::ServerProcess;

/// The `serve` binary next to the running executable (same target dir).
pub fn default_serve_bin() -> Result<PathBuf> {
    sibling_bin("serve")
}

/// The `textbook` binary (the textbook echo servers) next to the running
/// executable.
pub fn default_textbook_bin() -> Result<PathBuf> {
    sibling_bin("textbook")
}

/// Binary `name` (of the workspace package of that name) next to the running
/// executable, or in the directory above (test binaries live in
/// `target/<profile>/deps`).
fn sibling_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| Error::io("locating loadgen", e))?;
    let dir = exe
        .parent()
        .ok_or_else(|| Error::InvalidSettings("loadgen has no parent directory".into()))?;
    for d in [Some(dir), dir.parent()].into_iter().flatten() {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::InvalidSettings(format!(
        "no {name} binary next to {} (build it with: cargo build --release -p {name})",
        exe.display()
    )))
}

/// Whether a point can run at all on this machine; the reason if not.
pub fn feasibility(s: &Scenario) -> Option<String> {
    let conns = s.conns();
    if let Err(e) = crate::limits::ensure_capacity(conns, 1) {
        return Some(format!("generator side: {e}"));
    }
    let (_, hard) = crate::limits::nofile().unwrap_or((0, 0));
    if (conns as u64) + 64 > hard {
        return Some(format!(
            "server side: {conns} connections need {conns} descriptors plus a few, over the \
             hard RLIMIT_NOFILE of {hard}"
        ));
    }
    None
}

fn run_point(s: &Scenario, addr: std::net::SocketAddr, pid: u32, cpus: &[usize]) -> RunResult {
    let r = match s.clone() {
        Scenario::EchoClosed {
            conns,
            size,
            warmup,
            duration,
        } => {
            let mut e = EchoSettings::new(addr);
            e.conns = conns;
            e.size = size;
            e.warmup = warmup;
            e.duration = duration;
            e.cpus = cpus.to_vec();
            e.server_pid = Some(pid);
            e.connect_timeout = Duration::from_secs(20);
            crate::generator::echo::run(&e).map(|r| RunResult::Echo(Box::new(r)))
        }
        Scenario::EchoOpen {
            conns,
            rate,
            size,
            warmup,
            duration,
        } => {
            let mut e = EchoSettings::new(addr);
            e.conns = conns;
            e.rate = Some(rate);
            e.size = size;
            e.warmup = warmup;
            e.duration = duration;
            e.cpus = cpus.to_vec();
            e.server_pid = Some(pid);
            crate::generator::echo::run(&e).map(|r| RunResult::Echo(Box::new(r)))
        }
        Scenario::Idle { conns, hold } => {
            let mut c = ConnsSettings::new(addr);
            c.conns = conns;
            c.hold = hold;
            c.probes_per_conn = 1;
            c.cpus = cpus.to_vec();
            c.server_pid = Some(pid);
            c.connect_timeout = Duration::from_secs(20);
            c.timeout = Duration::from_secs(10);
            crate::generator::conns::run(&c).map(|r| RunResult::Conns(Box::new(r)))
        }
        Scenario::Chat {
            rooms,
            members,
            senders,
            rate,
            size,
            warmup,
            duration,
        } => {
            let mut c = ChatSettings::new(addr);
            c.rooms = rooms;
            c.members = members;
            c.senders = senders;
            c.rate = rate;
            c.size = size;
            c.warmup = warmup;
            c.duration = duration;
            c.cpus = cpus.to_vec();
            c.server_pid = Some(pid);
            crate::generator::chat::run(&c).map(|r| RunResult::Chat(Box::new(r)))
        }
        Scenario::Capacity { .. } => {
            capacity_point::run(s, addr, pid, cpus).map(|r| RunResult::Capacity(Box::new(r)))
        }
        Scenario::Work(w) => work::run(&w, addr, pid, cpus),
        Scenario::ChatIdle { clients, hold } => {
            Ok(conn_cost::chat_idle(clients, hold, addr, pid, cpus))
        }
        Scenario::Ceiling { conns, hold, .. } => {
            Ok(conn_cost::ceiling(conns, hold, addr, pid, cpus))
        }
        Scenario::Churn {
            rate,
            size,
            duration,
        } => Ok(conn_cost::churn(rate, size, duration, addr, pid, cpus)),
    };
    r.unwrap_or_else(|e| RunResult::Failed {
        error: e.to_string(),
    })
}

/// Runs the whole comparison; `log` receives one line per run.
pub fn run(settings: &CompareSettings, log: &mut dyn FnMut(&str)) -> Result<ResultsFile> {
    let meta = RunMeta::collect();
    let started = Instant::now();
    crate::limits::pin_current_thread(&settings.client_cpus)
        .map_err(|e| Error::io("pinning the generator", e))?;
    let m = &settings.matrix;
    let total: usize = m
        .points
        .iter()
        .map(|p| {
            settings
                .variants
                .iter()
                .filter(|v| v.kind == VariantKind::Serve || p.group().is_echo())
                .count()
                * p.repeats(m.repeats) as usize
        })
        .sum();
    let mut runs = Vec::new();
    let mut n = 0;
    for point in &m.points {
        let infeasible = feasibility(point);
        for repeat in 0..point.repeats(m.repeats) {
            for v in &settings.variants {
                if v.kind == VariantKind::External && !point.group().is_echo() {
                    continue;
                }
                n += 1;
                let mut rec = RunRecord {
                    point: point.id(),
                    variant: v.name.clone(),
                    repeat,
                    server: None,
                    result: RunResult::Skipped {
                        reason: String::new(),
                    },
                };
                if let Some(reason) = &infeasible {
                    rec.result = RunResult::Skipped {
                        reason: reason.clone(),
                    };
                } else {
                    let proc = match v.kind {
                        VariantKind::Serve => ServerProcess::start_serve(
                            &settings.serve_bin,
                            &v.name,
                            point.app(),
                            &point.server_args(),
                            &settings.server_cpus,
                        ),
                        VariantKind::External => ServerProcess::start_external(
                            &v.name,
                            v.command.as_deref().unwrap_or_default(),
                            &settings.server_cpus,
                        ),
                    };
                    match proc {
                        Ok(p) => {
                            // Let the runtime settle (worker threads up).
                            std::thread::sleep(Duration::from_millis(100));
                            rec.result = run_point(point, p.addr, p.pid(), &settings.client_cpus);
                            rec.server = Some(p.stop());
                        }
                        Err(e) => {
                            rec.result = RunResult::Failed {
                                error: format!("server did not start: {e}"),
                            };
                        }
                    }
                }
                log(&format!(
                    "[{n}/{total}] {} {} #{}: {}",
                    rec.point,
                    rec.variant,
                    repeat + 1,
                    rec.result.one_line()
                ));
                runs.push(rec);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let transports = m
        .transports
        .as_ref()
        .map(|plan| transport::run(settings, plan, log))
        .unwrap_or_default();
    Ok(ResultsFile {
        format: crate::results::comparison::FORMAT.into(),
        meta,
        settings: settings.clone(),
        elapsed_s: started.elapsed().as_secs_f64(),
        runs,
        transports,
    })
}
