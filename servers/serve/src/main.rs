//! `serve`: runs one server variant until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use serve::startup::{self, ListenOptions, Started};
use serve::{App, Config, Impl, Shutdown};
use server_common::config::{
    DEFAULT_MAX_CONNS, DEFAULT_MAX_LINE, DEFAULT_OFFLOAD_QUEUE, DEFAULT_OFFLOAD_THREADS,
    DEFAULT_QUEUE_BYTES, DEFAULT_STACK_SIZE,
};

/// Run an echo, chat or work server with the chosen concurrency model.
///
/// Prints `listening <impl> <app> <addr>` on stdout once accepting connections; logs go to stderr
/// (set RUST_LOG, e.g. RUST_LOG=debug). SIGINT or SIGTERM stops accepting, closes connections and exits 0
/// within the drain timeout.
#[derive(Debug, Parser)]
#[command(name = "serve", version)]
struct Args {
    /// Concurrency model: one OS thread per connection, tasks on an async runtime, an event loop, or
    /// io_uring rings.
    #[arg(long = "impl", value_enum)]
    imp: Impl,

    /// Application protocol (see docs/PROTOCOL.md).
    #[arg(long, value_enum)]
    app: App,

    /// Address to listen on. Port 0 lets the kernel choose; the listening line shows the port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,

    /// Listen on a unix-domain stream socket at this path instead of TCP (listening address
    /// `unix:PATH`). A stale socket file nothing answers on is replaced; any other existing file is
    /// refused. The file is removed at exit.
    #[arg(long, value_name = "PATH", conflicts_with = "addr")]
    unix: Option<PathBuf>,

    /// TLS: the certificate chain (PEM). Needs --tls-key. The listening address becomes
    /// `tls://IP:PORT`.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// TLS: the private key (PEM: PKCS#8, PKCS#1 or SEC1). Needs --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// TLS with a certificate for localhost, 127.0.0.1 and ::1 made at start-up and signed by itself.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,

    /// With --tls-self-signed: write the certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "PATH", requires = "tls_self_signed")]
    tls_cert_out: Option<PathBuf>,

    /// TLS: seconds a client gets to complete its handshake before the connection is closed.
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds, value_name = "SECS")]
    tls_handshake_timeout: f64,

    /// Allow listening on a non-loopback address (reachable from other machines).
    #[arg(long)]
    expose: bool,

    /// Most client connections at once; more are accepted and closed at once (chat: `ERR server-full`).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNS)]
    max_conns: usize,

    /// Seconds to let connections finish after SIGINT/SIGTERM before exiting anyway.
    #[arg(long, default_value_t = 5.0, value_parser = parse_seconds)]
    drain_timeout: f64,

    /// chat, work: longest line accepted, in bytes, line terminator excluded.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE)]
    max_line: usize,

    /// chat: bound on each client's outbound queue, in bytes; a client whose queue overflows is
    /// disconnected as a slow consumer.
    #[arg(long, default_value_t = DEFAULT_QUEUE_BYTES)]
    queue_bytes: usize,

    /// Close a connection that has sent nothing for this many seconds (chat: its rooms are told it
    /// left). Off by default. Also what reclaims peers that vanished without a FIN or RST.
    #[arg(long, value_parser = parse_seconds)]
    idle_timeout: Option<f64>,

    /// threads: stack size of each connection thread, in bytes.
    #[arg(long, default_value_t = DEFAULT_STACK_SIZE)]
    stack_size: usize,

    /// tokio / async-std / smol: number of worker threads; mio: echo event loops; uring: rings (echo;
    /// chat runs on one loop or ring) [default: one per core].
    #[arg(long)]
    workers: Option<usize>,

    /// work: run FIB and SLEEP on the variant's bounded blocking pool instead of where the request was
    /// read (the default, inline).
    #[arg(long)]
    offload: bool,

    /// work, with --offload: threads of the blocking pool.
    #[arg(long, default_value_t = DEFAULT_OFFLOAD_THREADS)]
    offload_threads: usize,

    /// work, with --offload: requests that may wait for a pool thread; beyond threads + queue a request
    /// gets `ERR busy` at once.
    #[arg(long, default_value_t = DEFAULT_OFFLOAD_QUEUE)]
    offload_queue: usize,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a non-negative number of seconds")),
    }
}

impl Args {
    fn config(&self) -> Config {
        Config {
            max_conns: self.max_conns,
            drain_timeout: Duration::from_secs_f64(self.drain_timeout),
            max_line: self.max_line,
            queue_bytes: self.queue_bytes,
            idle_timeout: self
                .idle_timeout
                .filter(|&s| s > 0.0)
                .map(Duration::from_secs_f64),
            stack_size: self.stack_size,
            workers: self.workers,
            offload: self.offload,
            offload_threads: self.offload_threads,
            offload_queue: self.offload_queue,
            tls: None,
        }
    }

    fn listen_options(&self) -> ListenOptions {
        ListenOptions {
            addr: self.addr,
            unix: self.unix.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_self_signed: self.tls_self_signed,
            tls_cert_out: self.tls_cert_out.clone(),
            tls_handshake_timeout: Duration::from_secs_f64(self.tls_handshake_timeout),
        }
    }
}

/// The exit status of a configuration the server refuses (docs/PROTOCOL.md: status 2, one line on
/// stderr naming what and why).
const REFUSED: u8 = 2;

impl Args {
    /// Why these arguments cannot be used, if they cannot.
    fn refusal(&self) -> Option<String> {
        if !self.addr.ip().is_loopback() && !self.expose {
            return Some(format!(
                "{} is not a loopback address; pass --expose to listen where other machines can reach",
                self.addr
            ));
        }
        if self.workers == Some(0) || self.max_line == 0 || self.queue_bytes == 0 {
            return Some("--workers, --max-line and --queue-bytes must be at least 1".to_owned());
        }
        if self.offload_threads == 0 || self.offload_queue == 0 {
            return Some(
                "--offload-threads and --offload-queue must be at least 1 (a pool needs a thread; \
                 a zero queue would refuse every request that finds the threads busy)"
                    .to_owned(),
            );
        }
        if let Some(reason) = self.imp.unavailable_reason() {
            return Some(format!("--impl {}: {reason}", self.imp));
        }
        let listen = self.listen_options();
        if let Some(refusal) = listen.refusal() {
            return Some(refusal);
        }
        if listen.tls()
            && let Some(reason) = self.imp.tls_unsupported_reason(self.app)
        {
            return Some(format!(
                "--impl {} --app {} with TLS: {reason}",
                self.imp, self.app
            ));
        }
        None
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(refusal) = args.refusal() {
        eprintln!("serve: {refusal}");
        return std::process::ExitCode::from(REFUSED);
    }
    init_logging();
    // What the user asked for cannot be set up: one line, status 2 (no backtrace: not a bug).
    let started = match startup::start(&args.listen_options()) {
        Ok(started) => started,
        Err(refusal) => {
            eprintln!("serve: {refusal}");
            return std::process::ExitCode::from(REFUSED);
        }
    };
    match run(&args, started) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line with the causes; a failure after start-up is a bug or the machine's limit.
            eprintln!("serve: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// Prints the listening line and serves until a signal; the socket file (if any) is removed at the
/// end, after a signal too.
fn run(args: &Args, started: Started) -> Result<()> {
    let Started {
        listener,
        addr,
        tls,
        socket_file,
    } = started;
    let shutdown = Shutdown::new();
    server_common::signals::trigger_on_signals(shutdown.clone())
        .context("cannot install SIGINT/SIGTERM handlers")?;
    server_common::announce(args.imp.name(), args.app, &addr)
        .context("cannot print the listening line")?;
    let config = Config {
        tls,
        ..args.config()
    };
    let served = args
        .imp
        .run(listener, args.app, config, shutdown)
        .with_context(|| format!("{} {} server failed", args.imp, args.app));
    drop(socket_file);
    served?;
    tracing::info!("stopped");
    Ok(())
}
