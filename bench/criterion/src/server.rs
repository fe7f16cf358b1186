//! A variant under test, in this process or in a pinned child process ([`Placement`]).

use std::net::SocketAddr;

use conformance::tls::Trust;
use conformance::transport::Endpoint;
use host_probe::CpuClock;
use loadgen::compare::server::ServerProcess;
use loadgen::limits::{current_affinity, pin_current_thread};
use serve::{App, Impl, RunningServer};

use crate::child::ServeArgs;

/// Where the servers under test run (`BENCH_SERVER`): `child` (the default), `child-split` or
/// `in-process`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A fresh child process per variant (this bench executable re-run as a server, see
    /// [`crate::child`]) pinned to `server_cpu`, with the bench thread (the client) pinned to
    /// `client_cpu`; CPU time is the server process's own clock. `child` puts both on the last CPU this
    /// process may use (the measured default: least scheduler noise, see the README); `child-split` puts
    /// the server on the first and the client on the last. `None`: not pinned.
    Child {
        /// The CPU the server process runs on.
        server_cpu: Option<usize>,
        /// The CPU the bench thread (the client) runs on.
        client_cpu: Option<usize>,
    },
    /// A thread of this process ([`RunningServer`]), unpinned; CPU time is this process's, the
    /// client's included.
    InProcess,
}

impl Placement {
    /// The placement `BENCH_SERVER` asks for: `child` (or unset), `child-split` or `in-process`.
    ///
    /// # Panics
    /// On any other value of `BENCH_SERVER`.
    pub fn from_env() -> Placement {
        match std::env::var("BENCH_SERVER").as_deref() {
            Err(_) | Ok("" | "child") => Placement::child(),
            Ok("child-split") => Placement::child_split(),
            Ok("in-process") => Placement::InProcess,
            Ok(other) => panic!("BENCH_SERVER={other}: expected child, child-split or in-process"),
        }
    }

    /// Server and client on one CPU: the last this thread may run on.
    pub fn child() -> Placement {
        let cpu = current_affinity().unwrap_or_default().last().copied();
        Placement::Child {
            server_cpu: cpu,
            client_cpu: cpu,
        }
    }

    /// Server on the first CPU this thread may run on, client on the last (both unpinned with one
    /// CPU).
    pub fn child_split() -> Placement {
        let cpus = current_affinity().unwrap_or_default();
        match cpus[..] {
            [server, .., client] => Placement::Child {
                server_cpu: Some(server),
                client_cpu: Some(client),
            },
            _ => Placement::Child {
                server_cpu: None,
                client_cpu: None,
            },
        }
    }

    /// Pins the calling thread (the bench client) where this placement puts it.
    ///
    /// # Panics
    /// If pinning fails.
    pub fn pin_client(&self) {
        if let Placement::Child {
            client_cpu: Some(cpu),
            ..
        } = *self
        {
            pin_current_thread(&[cpu])
                .unwrap_or_else(|err| panic!("cannot pin the bench client to CPU {cpu}: {err}"));
        }
    }

    /// How the bench output names it.
    pub fn describe(&self) -> String {
        match *self {
            Placement::Child {
                server_cpu: Some(s),
                client_cpu: Some(c),
            } if s == c => format!("server in a child process and client both on CPU {s}"),
            Placement::Child {
                server_cpu: Some(s),
                client_cpu: Some(c),
            } => format!("server in a child process on CPU {s}, client on CPU {c}"),
            Placement::Child { .. } => "server in a child process, unpinned".to_owned(),
            Placement::InProcess => "server in the bench process, unpinned".to_owned(),
        }
    }
}

/// Replaced by the variant's name in a [`ServerSpec`]'s option values.
pub const VARIANT_PLACEHOLDER: &str = "{variant}";

/// What the servers of a group serve: the app, and `serve`-style options beyond the defaults
/// (`--flag value` pairs and valueless flags, as [`ServeArgs::parse`] reads them). An [`App`] alone
/// converts into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The application.
    pub app: App,
    /// Further options, as they are passed on the command line.
    pub options: Vec<String>,
}

impl ServerSpec {
    /// `app` with default options.
    pub fn new(app: App) -> ServerSpec {
        ServerSpec {
            app,
            options: Vec::new(),
        }
    }

    /// Adds the option `flag value` (it must be one [`ServeArgs::parse`] knows). In `value`,
    /// [`VARIANT_PLACEHOLDER`] stands for the variant's name: servers of several variants run at once,
    /// so a path (`--unix`, `--tls-cert-out`) must differ between them.
    pub fn option(mut self, flag: &str, value: impl ToString) -> ServerSpec {
        self.options.push(flag.to_owned());
        self.options.push(value.to_string());
        self
    }

    /// Adds a flag without a value (`--offload`, `--tls-self-signed`).
    pub fn flag(mut self, flag: &str) -> ServerSpec {
        self.options.push(flag.to_owned());
        self
    }
}

impl From<App> for ServerSpec {
    fn from(app: App) -> ServerSpec {
        ServerSpec::new(app)
    }
}

/// A running server under test, and where its clients reach it.
#[derive(Debug)]
pub struct BenchServer {
    running: Running,
    endpoint: Endpoint,
    imp: Impl,
    app: App,
}

#[derive(Debug)]
enum Running {
    /// On a thread of this process.
    InProcess(RunningServer),
    /// In a child process.
    Child(ServerProcess),
}

impl BenchServer {
    /// Starts `imp` serving `spec` (its options' [`VARIANT_PLACEHOLDER`] replaced by `imp`'s name),
    /// placed as `placement` says, with default limits (but for `spec`'s
    /// options) and a drain timeout of [`DRAIN_TIMEOUT`](crate::DRAIN_TIMEOUT): on 127.0.0.1 port 0,
    /// or where `spec`'s `--unix`, over TLS with `--tls-self-signed` (then `--tls-cert-out PATH` must
    /// say where the certificate goes: the client trusts that file). Both placements read the options
    /// with the one parser, [`ServeArgs::parse`], and set the listener up with `serve`'s own code.
    ///
    /// # Panics
    /// If the options are not understood or the server cannot be started.
    pub fn start(placement: Placement, imp: Impl, spec: &ServerSpec) -> BenchServer {
        let app = spec.app;
        let mut args = vec![
            "--impl".to_owned(),
            imp.name().to_owned(),
            "--app".to_owned(),
            app.name().to_owned(),
        ];
        let options: Vec<String> = spec
            .options
            .iter()
            .map(|option| option.replace(VARIANT_PLACEHOLDER, imp.name()))
            .collect();
        args.extend(options.iter().cloned());
        let parsed = ServeArgs::parse(&args)
            .unwrap_or_else(|err| panic!("{imp} {app} server options {args:?}: {err}"));
        let trust = match (&parsed.listen.tls_cert_out, parsed.listen.tls()) {
            (_, false) => None,
            (Some(cert), true) => Some(Trust::Ca(cert.clone())),
            (None, true) => panic!(
                "{imp} {app} server options {args:?}: TLS needs --tls-cert-out PATH for the client to trust"
            ),
        };
        let (running, listen) = match placement {
            Placement::InProcess => {
                let server =
                    RunningServer::start_listening(imp, app, parsed.config, &parsed.listen)
                        .unwrap_or_else(|err| panic!("cannot start the {imp} {app} server: {err}"));
                let listen = server.listen_addr().to_string();
                (Running::InProcess(server), listen)
            }
            Placement::Child { server_cpu, .. } => {
                let exe = std::env::current_exe()
                    .unwrap_or_else(|err| panic!("cannot find the bench executable: {err}"));
                let cpus: Vec<usize> = server_cpu.into_iter().collect();
                let process =
                    ServerProcess::start_serve(&exe, imp.name(), app.name(), &options, &cpus)
                        .unwrap_or_else(|err| {
                            panic!("cannot start the {imp} {app} server process: {err}")
                        });
                let listen = process.info.addr.clone();
                (Running::Child(process), listen)
            }
        };
        let endpoint = Endpoint::parse(&listen, trust.as_ref(), false).unwrap_or_else(|err| {
            panic!("the {imp} {app} server listens at {listen}, which the client cannot use: {err}")
        });
        BenchServer {
            running,
            endpoint,
            imp,
            app,
        }
    }

    /// Where it listens and how its clients connect (TCP, TLS trusting its certificate, or a unix
    /// socket).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The TCP address it listens on.
    ///
    /// # Panics
    /// If it listens on a unix socket.
    pub fn addr(&self) -> SocketAddr {
        self.endpoint.socket_addr().unwrap_or_else(|| {
            panic!(
                "the {} {} server listens at {}: no TCP address",
                self.imp, self.app, self.endpoint
            )
        })
    }

    /// The CPU clock that measures it: the child's own, or this process's.
    ///
    /// # Panics
    /// If the clock cannot be opened (the child died).
    pub fn cpu_clock(&self) -> CpuClock {
        let pid = match &self.running {
            Running::InProcess(_) => std::process::id(),
            Running::Child(process) => process.pid(),
        };
        CpuClock::of(pid).unwrap_or_else(|err| panic!("cannot open the CPU clock of {pid}: {err}"))
    }

    /// Stops it and checks that it shut down cleanly (in-process: `run` returned `Ok`; child: exit
    /// status 0 within the stop timeout after SIGTERM).
    ///
    /// # Panics
    /// If it did not.
    pub fn stop(self) {
        let (imp, app) = (self.imp, self.app);
        match self.running {
            Running::InProcess(server) => {
                if let Err(err) = server.stop() {
                    panic!("the {imp} {app} server did not stop cleanly: {err}");
                }
            }
            Running::Child(process) => {
                let run = process.stop();
                if run.died_early || !run.exited_in_time || run.exit_code != Some(0) {
                    panic!(
                        "the {imp} {app} server process did not stop cleanly (exit {:?}, in time: {}, died early: {}); stderr: {}",
                        run.exit_code, run.exited_in_time, run.died_early, run.stderr_tail
                    );
                }
            }
        }
    }
}
