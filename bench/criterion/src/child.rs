//! The child's side of [`Placement::Child`](crate::Placement): a bench executable started with
//! `--impl <variant> --app <app> ...` (the arguments `loadgen`'s `ServerProcess` gives `serve`) serves
//! instead of benchmarking, exactly as `serve` does — bind, SIGINT/SIGTERM handlers, the listening line,
//! [`Impl::run`] — and exits 0 once drained. Criterion never takes `--impl`, so a bench run is never
//! mistaken for a server.

use std::io;
use std::net::SocketAddr;

use serve::{App, Config, Impl, Shutdown};

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
    /// Where to listen.
    pub addr: SocketAddr,
    /// Limits and workers.
    pub config: Config,
}

impl ServeArgs {
    /// Parses `--flag value` pairs: `--impl`, `--app`, `--addr`, `--max-conns`, `--workers`.
    pub fn parse(args: &[String]) -> io::Result<ServeArgs> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let mut imp = None;
        let mut app = None;
        let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = Config {
            drain_timeout: DRAIN_TIMEOUT,
            ..Config::default()
        };
        let mut pairs = args.chunks(2);
        for pair in &mut pairs {
            let [flag, value] = pair else {
                return Err(bad(format!("{pair:?}: an option without a value")));
            };
            let number = || {
                value
                    .parse::<usize>()
                    .map_err(|_| bad(format!("{flag} {value}: not a number")))
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
                    addr = value
                        .parse()
                        .map_err(|_| bad(format!("--addr {value}: not an address")))?;
                }
                "--max-conns" => config.max_conns = number()?,
                "--workers" => config.workers = Some(number()?),
                other => return Err(bad(format!("unknown option {other}"))),
            }
        }
        Ok(ServeArgs {
            imp: imp.ok_or_else(|| bad("--impl is missing".to_owned()))?,
            app: app.ok_or_else(|| bad("--app is missing".to_owned()))?,
            addr,
            config,
        })
    }
}

fn serve(args: ServeArgs) -> io::Result<()> {
    if let Some(reason) = args.imp.unavailable_reason() {
        return Err(io::Error::other(format!("{}: {reason}", args.imp)));
    }
    let listener = server_common::bind(args.addr)?;
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new();
    server_common::signals::trigger_on_signals(shutdown.clone())?;
    server_common::announce(args.imp.name(), args.app, addr)?;
    args.imp
        .run(
            server_common::Listener::Tcp(listener),
            args.app,
            args.config,
            shutdown,
        )
        .map_err(|err| io::Error::other(format!("{} {} server failed: {err}", args.imp, args.app)))
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
    fn refuses_what_it_does_not_know() {
        for args in [
            &["--impl", "nope", "--app", "echo"][..],
            &["--impl", "tokio", "--app", "nope"],
            &["--impl", "tokio"],
            &["--impl", "tokio", "--app", "echo", "--colour", "blue"],
            &["--impl", "tokio", "--app"],
        ] {
            assert!(ServeArgs::parse(&strings(args)).is_err(), "{args:?}");
        }
    }
}
