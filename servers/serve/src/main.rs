//! `serve`: runs one server variant until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
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
        None
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(refusal) = args.refusal() {
        eprintln!("serve: {refusal}");
        return std::process::ExitCode::from(REFUSED);
    }
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Binds, prints the listening line and serves until a signal.
fn run(args: Args) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let listener = server_common::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let shutdown = Shutdown::new();
    server_common::signals::trigger_on_signals(shutdown.clone())
        .context("cannot install SIGINT/SIGTERM handlers")?;
    server_common::announce(args.imp.name(), args.app, addr)
        .context("cannot print the listening line")?;
    args.imp
        .run(listener, args.app, args.config(), shutdown)
        .with_context(|| format!("{} {} server failed", args.imp, args.app))?;
    tracing::info!("stopped");
    Ok(())
}
