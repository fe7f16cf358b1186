//! The case registry: what a case is, what it runs against, and how cases are listed per app.

use std::fmt;
use std::net::SocketAddr;

use anyhow::{Context, Result};

use server_common::App;
use server_common::config::{DEFAULT_MAX_LINE, DEFAULT_QUEUE_BYTES};

use crate::client::IO_TIMEOUT;
use crate::transport::{Conn, Endpoint};

/// The server under test: where it listens and the limits it was started with.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where the server listens, over which transport.
    pub endpoint: Endpoint,
    /// Its `--max-conns`, when known. Cases that need it are skipped without it.
    pub max_conns: Option<usize>,
    /// Its `--max-line` (chat).
    pub max_line: usize,
    /// Its `--queue-bytes` (chat).
    pub queue_bytes: usize,
}

impl Target {
    /// A plain TCP target at `addr` with the protocol's default limits and an unknown connection
    /// limit.
    pub fn new(addr: SocketAddr) -> Target {
        Target::at(Endpoint::Tcp(addr))
    }

    /// A target at `endpoint` (any transport) with the protocol's default limits and an unknown
    /// connection limit.
    pub fn at(endpoint: Endpoint) -> Target {
        Target {
            endpoint,
            max_conns: None,
            max_line: DEFAULT_MAX_LINE,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }

    /// Connects to the server with [`IO_TIMEOUT`] on connect, reads and writes (TLS: handshake
    /// done).
    pub fn connect(&self) -> Result<Conn> {
        self.endpoint
            .connect(IO_TIMEOUT)
            .with_context(|| format!("cannot connect to {}", self.endpoint))
    }
}

/// One conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name (also its test name in `cargo test`).
    pub name: &'static str,
    /// The application it checks.
    pub app: App,
    /// Runs the case; an error whose root is [`Skipped`] means it could not run against this target.
    pub run: fn(&Target) -> anyhow::Result<()>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("app", &self.app)
            .finish()
    }
}

/// Returned by a case that cannot run against this target (e.g. it needs to know `--max-conns`).
#[derive(Debug)]
pub struct Skipped(pub &'static str);

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped: {}", self.0)
    }
}

impl std::error::Error for Skipped {}

/// Every case for `app`, in the order the binary runs them.
pub fn cases(app: App) -> &'static [Case] {
    match app {
        App::Echo => crate::echo::CASES,
        App::Chat => crate::chat::CASES,
        App::Work => crate::work::CASES,
    }
}
