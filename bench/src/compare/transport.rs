//! The transport points of `compare`: echo closed loop at one connection count over plain TCP, over
//! TLS (`serve --tls-self-signed`, the client trusting the certificate it wrote) and over a unix
//! socket (`serve --unix`), so that each transport's point has the TCP point of the same variant and
//! repeat beside it; and TLS connection churn (one round trip per connection, open loop) with full
//! and with resumed handshakes, for handshakes per second per server core. Every variant, the
//! variants interleaved per point, servers pinned as in the rest of the comparison.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::server::ServerProcess;
use crate::results::churn::ChurnSettings;
use crate::results::comparison::{CompareSettings, VariantKind};
use crate::results::echo::EchoSettings;
use crate::results::transport::{Transport, TransportOutcome, TransportPlan, TransportRun};

/// One transport point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Echo closed loop over plain TCP (the baseline of the ratios).
    EchoTcp,
    /// Echo closed loop over TLS.
    EchoTls,
    /// Echo closed loop over a unix-domain socket.
    EchoUnix,
    /// TLS churn, every handshake a full one.
    ChurnFull,
    /// TLS churn, connections resuming earlier sessions (`--tls-resume`).
    ChurnResumed,
}

impl Point {
    /// Every point, in the order they run.
    pub const ALL: [Point; 5] = [
        Point::EchoTcp,
        Point::EchoTls,
        Point::EchoUnix,
        Point::ChurnFull,
        Point::ChurnResumed,
    ];

    /// The point's id in `results.json` (`conns`: the echo points' connections).
    pub fn id(self, conns: usize) -> String {
        match self {
            Point::EchoTcp => format!("transport-echo-tcp-{conns}"),
            Point::EchoTls => format!("transport-echo-tls-{conns}"),
            Point::EchoUnix => format!("transport-echo-unix-{conns}"),
            Point::ChurnFull => "transport-churn-tls-full".into(),
            Point::ChurnResumed => "transport-churn-tls-resumed".into(),
        }
    }

    fn is_tls(self) -> bool {
        !matches!(self, Point::EchoTcp | Point::EchoUnix)
    }
}

/// Where a server of one run listens, and what the client trusts.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(tag: &str) -> std::io::Result<Files> {
        let dir = std::env::temp_dir().join(format!(
            "loadgen-transport-{}-{}",
            std::process::id(),
            tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Files { dir })
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("serve.sock")
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn server_args(point: Point, files: &Files) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    match point {
        Point::EchoTcp => Vec::new(),
        Point::EchoUnix => vec!["--unix".into(), path(&files.socket())],
        _ => vec![
            "--tls-self-signed".into(),
            "--tls-cert-out".into(),
            path(&files.cert()),
        ],
    }
}

fn tls(files: &Files, resume: bool) -> Transport {
    Transport::Tls {
        ca: Some(files.cert()),
        server_name: "localhost".into(),
        resume,
    }
}

fn run_point(
    point: Point,
    plan: &TransportPlan,
    files: &Files,
    server: &ServerProcess,
    cpus: &[usize],
) -> TransportOutcome {
    let echo = |transport: Transport| {
        let mut e = EchoSettings::new(server.addr);
        e.transport = transport;
        e.conns = plan.conns;
        e.size = plan.size;
        e.warmup = plan.warmup;
        e.duration = plan.duration;
        e.cpus = cpus.to_vec();
        e.server_pid = Some(server.pid());
        e.connect_timeout = Duration::from_secs(20);
        match crate::generator::echo::run(&e) {
            Ok(r) => TransportOutcome::Echo(Box::new(r)),
            Err(e) => TransportOutcome::Failed {
                error: e.to_string(),
            },
        }
    };
    let churn = |resume: bool| {
        let mut c = ChurnSettings::new(server.addr);
        c.transport = tls(files, resume);
        c.rate = plan.churn_rate;
        c.duration = plan.churn_duration;
        c.cpus = cpus.to_vec();
        c.server_pid = Some(server.pid());
        match crate::generator::churn::run(&c) {
            Ok(r) => TransportOutcome::Churn(Box::new(r)),
            Err(e) => TransportOutcome::Failed {
                error: e.to_string(),
            },
        }
    };
    match point {
        Point::EchoTcp => echo(Transport::Tcp),
        Point::EchoTls => echo(tls(files, false)),
        Point::EchoUnix => echo(Transport::Unix {
            path: files.socket(),
        }),
        Point::ChurnFull => churn(false),
        Point::ChurnResumed => churn(true),
    }
}

/// Runs the transport points of `plan` for every `serve` variant of `settings`; `log` receives one
/// line per run.
pub fn run(
    settings: &CompareSettings,
    plan: &TransportPlan,
    log: &mut dyn FnMut(&str),
) -> Vec<TransportRun> {
    let variants: Vec<&str> = settings
        .variants
        .iter()
        .filter(|v| v.kind == VariantKind::Serve)
        .map(|v| v.name.as_str())
        .collect();
    let total = Point::ALL.len() * plan.repeats as usize * variants.len();
    let mut runs = Vec::new();
    for point in Point::ALL {
        for repeat in 0..plan.repeats {
            for &variant in &variants {
                let mut run = TransportRun {
                    point: point.id(plan.conns),
                    variant: variant.to_owned(),
                    repeat,
                    server: None,
                    outcome: TransportOutcome::Skipped {
                        reason: String::new(),
                    },
                };
                let tls_reason = serve::Impl::from_name(variant)
                    .and_then(|imp| imp.tls_unsupported_reason(serve::App::Echo))
                    .filter(|_| point.is_tls());
                if let Some(reason) = tls_reason {
                    run.outcome = TransportOutcome::Skipped {
                        reason: reason.to_owned(),
                    };
                } else {
                    run.outcome = match Files::new(&format!("{variant}-{repeat}")) {
                        Err(e) => TransportOutcome::Failed {
                            error: format!("temporary directory: {e}"),
                        },
                        Ok(files) => {
                            let app = "echo";
                            match ServerProcess::start_serve(
                                &settings.serve_bin,
                                variant,
                                app,
                                &server_args(point, &files),
                                &settings.server_cpus,
                            ) {
                                Ok(p) => {
                                    std::thread::sleep(Duration::from_millis(100));
                                    let outcome =
                                        run_point(point, plan, &files, &p, &settings.client_cpus);
                                    run.server = Some(p.stop());
                                    outcome
                                }
                                Err(e) => TransportOutcome::Failed {
                                    error: format!("server did not start: {e}"),
                                },
                            }
                        }
                    };
                }
                log(&format!(
                    "[transport {}/{total}] {} {} #{}: {}",
                    runs.len() + 1,
                    run.point,
                    run.variant,
                    repeat + 1,
                    one_line(&run.outcome)
                ));
                runs.push(run);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    runs
}

fn one_line(o: &TransportOutcome) -> String {
    match o {
        TransportOutcome::Echo(r) => format!(
            "{:.0} msg/s, {} errors{}",
            r.msgs_per_s,
            r.errors.total(),
            r.connect
                .tls
                .map(|t| format!(", TLS {} full {} resumed", t.full, t.resumed))
                .unwrap_or_default()
        ),
        TransportOutcome::Churn(r) => format!(
            "{} of {} connections, {} errors, {} new conns/s per server core{}",
            r.completed,
            r.connect.requested,
            r.error_count(),
            r.conns_per_server_core_s()
                .map_or("-".into(), |v| format!("{v:.0}")),
            r.connect
                .tls
                .map(|t| format!(", TLS {} full {} resumed", t.full, t.resumed))
                .unwrap_or_default()
        ),
        TransportOutcome::Skipped { reason } => format!("skipped: {reason}"),
        TransportOutcome::Failed { error } => format!("failed: {error}"),
    }
}
