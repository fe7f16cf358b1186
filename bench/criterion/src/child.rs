//! The child's side of [`Placement::Child`](crate::Placement): a bench executable started with
//! `--impl <variant> --app <app> ...` (the arguments `loadgen`'s `ServerProcess` gives `serve`) serves
//! instead of benchmarking, exactly as `serve` does — bind, SIGINT/SIGTERM handlers, the listening line,
//! [`Impl::run`] — and exits 0 once drained. Its listener (TCP, `--unix`, TLS) is set up by `serve`'s
//! own start-up code ([`serve::startup`]). Criterion never takes `--impl`, so a bench run is never
//! mistaken for a server.

use std::io;
use std::path::PathBuf;

use serve::startup::{self, Started};
use serve::{App, Config, Impl, ListenOptions, Shutdown};

use crate::DRAIN_TIMEOUT;

/// The first argument that makes a bench executable a server.
pub const SERVE_FLAG: &str = "--impl";

/// If this process was started as a bench server, serves until SIGTERM and exits (0 when it stopped
/// cleanly, 1 with the reason on stderr otherwise); if not, returns at once.
pub fn serve_if_asked() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(SERVE_FLAG) {
        return;
    }
    let code = match ServeArgs::parse(&args).and_then(serve) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("bench server: {err}");
            1
        }
    };
    std::process::exit(code);
}

/// What the child serves (the subset of `serve`'s options the benches pass).
#[derive(Debug, Clone)]
pub struct ServeArgs {
    /// The variant.
    pub imp: Impl,
    /// The application.
    pub app: App,
    /// Where and how to listen (TCP, unix socket, TLS), set up by `serve`'s own start-up code
    /// ([`serve::startup::start`]).
    pub listen: ListenOptions,
    /// Limits, workers and the work app's offloading.
    pub config: Config,
}

/// The options [`ServeArgs::parse`] knows that take no value.
const FLAGS: [&str; 2] = ["--offload", "--tls-self-signed"];

impl ServeArgs {
    /// Parses `serve`-style options: `--impl`, `--app`, `--addr`, `--unix PATH`, `--max-conns`,
    /// `--workers`, `--offload-threads`, `--offload-queue`, `--tls-cert-out PATH` (each with a value)
    /// and the flags `--offload` and `--tls-self-signed`. As `serve` does, it refuses `--unix` with
    /// `--addr` or with TLS, `--tls-cert-out` without `--tls-self-signed`, and zero workers or
    /// offload threads or queue.
    pub fn parse(args: &[String]) -> io::Result<ServeArgs> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let mut imp = None;
        let mut app = None;
        let mut addr = None;
        let mut listen = ListenOptions::default();
        let mut config = Config {
            drain_timeout: DRAIN_TIMEOUT,
            ..Config::default()
        };
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            if FLAGS.contains(&flag.as_str()) {
                match flag.as_str() {
                    "--offload" => config.offload = true,
                    _ => listen.tls_self_signed = true,
                }
                continue;
            }
            let Some(value) = rest.next() else {
                return Err(bad(format!("{flag}: an option without a value")));
            };
            let number = || {
                value
                    .parse::<usize>()
                    .map_err(|_| bad(format!("{flag} {value}: not a number")))
            };
            let positive = || {
                number().and_then(|n| {
                    if n == 0 {
                        Err(bad(format!("{flag} must be at least 1")))
                    } else {
                        Ok(n)
                    }
                })
            };
            match flag.as_str() {
                "--impl" => {
                    imp = Some(
                        Impl::from_name(value).ok_or_else(|| bad(format!("no variant {value}")))?,
                    );
                }
                "--app" => {
                    app = Some(
                        <App as clap::ValueEnum>::from_str(value, false)
                            .map_err(|_| bad(format!("no app {value}")))?,
                    );
                }
                "--addr" => {
                    addr = Some(
                        value
                            .parse()
                            .map_err(|_| bad(format!("--addr {value}: not an address")))?,
                    );
                }
                "--unix" => listen.unix = Some(PathBuf::from(value)),
                "--tls-cert-out" => listen.tls_cert_out = Some(PathBuf::from(value)),
                "--max-conns" => config.max_conns = number()?,
                "--workers" => config.workers = Some(positive()?),
                "--offload-threads" => config.offload_threads = positive()?,
                "--offload-queue" => config.offload_queue = positive()?,
                other => return Err(bad(format!("unknown option {other}"))),
            }
        }
        if let Some(addr) = addr {
            if listen.unix.is_some() {
                return Err(bad("--addr and --unix: one or the other".to_owned()));
            }
            listen.addr = addr;
        }
        if let Some(refusal) = listen.refusal() {
            return Err(bad(refusal));
        }
        Ok(ServeArgs {
            imp: imp.ok_or_else(|| bad("--impl is missing".to_owned()))?,
            app: app.ok_or_else(|| bad("--app is missing".to_owned()))?,
            listen,
            config,
        })
    }
}

fn serve(args: ServeArgs) -> io::Result<()> {
    if let Some(reason) = args.imp.unavailable_reason() {
        return Err(io::Error::other(format!("{}: {reason}", args.imp)));
    }
    let Started {
        listener,
        addr,
        tls,
        socket_file,
    } = startup::start(&args.listen).map_err(io::Error::other)?;
    let shutdown = Shutdown::new();
    server_common::signals::trigger_on_signals(shutdown.clone())?;
    server_common::announce(args.imp.name(), args.app, &addr)?;
    let config = Config { tls, ..args.config };
    let served = args
        .imp
        .run(listener, args.app, config, shutdown)
        .map_err(|err| io::Error::other(format!("{} {} server failed: {err}", args.imp, args.app)));
    // The socket file goes once the server has stopped.
    drop(socket_file);
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_what_server_process_passes() {
        let args = ServeArgs::parse(&strings(&[
            "--impl",
            "tokio",
            "--app",
            "chat",
            "--addr",
            "127.0.0.1:0",
            "--max-conns",
            "15000",
        ]))
        .expect("parses");
        assert_eq!(args.imp, Impl::Tokio);
        assert_eq!(args.app, App::Chat);
        assert_eq!(args.config.max_conns, 15000);
        assert_eq!(args.config.drain_timeout, DRAIN_TIMEOUT);
    }

    #[test]
    fn parses_the_work_and_transport_options() {
        let args = ServeArgs::parse(&strings(&[
            "--impl",
            "mio",
            "--app",
            "work",
            "--offload",
            "--offload-threads",
            "3",
            "--offload-queue",
            "7",
            "--addr",
            "127.0.0.1:0",
            "--tls-self-signed",
            "--tls-cert-out",
            "/tmp/cert.pem",
        ]))
        .expect("parses");
        assert_eq!(args.imp, Impl::Mio);
        assert_eq!(args.app, App::Work);
        assert!(args.config.offload);
        assert_eq!(args.config.offload_threads, 3);
        assert_eq!(args.config.offload_queue, 7);
        assert!(args.listen.tls_self_signed);
        assert!(args.listen.tls());
        assert_eq!(
            args.listen.tls_cert_out.as_deref(),
            Some(std::path::Path::new("/tmp/cert.pem"))
        );
        assert_eq!(args.listen.unix, None);

        // A flag without a value may come last, and --unix takes the place of --addr.
        let args = ServeArgs::parse(&strings(&[
            "--impl",
            "smol",
            "--app",
            "echo",
            "--unix",
            "/tmp/bench.sock",
            "--offload",
        ]))
        .expect("parses");
        assert!(args.config.offload);
        assert!(!args.listen.tls());
        assert_eq!(
            args.listen.unix.as_deref(),
            Some(std::path::Path::new("/tmp/bench.sock"))
        );

        // The defaults: inline, plain TCP on loopback.
        let args =
            ServeArgs::parse(&strings(&["--impl", "threads", "--app", "work"])).expect("parses");
        assert!(!args.config.offload);
        assert_eq!(args.listen, ListenOptions::default());
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for args in [
            &["--impl", "nope", "--app", "echo"][..],
            &["--impl", "tokio", "--app", "nope"],
            &["--impl", "tokio"],
            &["--impl", "tokio", "--app", "echo", "--colour", "blue"],
            &["--impl", "tokio", "--app"],
            &["--impl", "tokio", "--app", "work", "--offload-threads"],
            &["--impl", "tokio", "--app", "work", "--offload-threads", "0"],
            &["--impl", "tokio", "--app", "work", "--offload-queue", "0"],
            &["--impl", "tokio", "--app", "work", "--offload", "1"],
            &[
                "--impl",
                "tokio",
                "--app",
                "echo",
                "--tls-cert-out",
                "/tmp/c",
            ],
            &[
                "--impl",
                "tokio",
                "--app",
                "echo",
                "--tls-self-signed",
                "--unix",
                "/tmp/s",
            ],
            &[
                "--impl",
                "tokio",
                "--app",
                "echo",
                "--addr",
                "127.0.0.1:0",
                "--unix",
                "/tmp/s",
            ],
        ] {
            assert!(ServeArgs::parse(&strings(args)).is_err(), "{args:?}");
        }
    }
}
