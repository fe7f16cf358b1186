//! Runs any server variant by name: the dispatch behind the `serve` binary, the conformance tests and
//! the benchmarks, so that all of them start servers the same way.

mod running;
pub mod startup;

use std::fmt;

pub use running::RunningServer;
pub use server_common::tls::SelfSigned;
pub use server_common::{App, Config, ListenAddr, Listener, ServerError, Shutdown, Tls};
pub use startup::ListenOptions;

/// A concurrency model: which variant crate serves the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Impl {
    /// Blocking std::net, one OS thread per connection (crossbeam-channel for chat fan-out).
    Threads,
    /// The tokio multi-thread runtime, one task per connection.
    Tokio,
    /// async-std's global executor, one task per connection (deprecated upstream; kept for comparison).
    AsyncStd,
    /// One shared smol executor run by a pool of worker threads, one task per connection.
    Smol,
    /// A hand-rolled mio (epoll) event loop, no async: echo on one loop per core, chat on one loop.
    Mio,
    /// io_uring, thread-per-core: one ring per worker thread, multishot accept and receive into a
    /// provided buffer ring (Linux only; see [`Impl::unavailable_reason`]).
    Uring,
}

impl Impl {
    /// Every variant, in a stable order.
    pub const ALL: [Impl; 6] = [
        Impl::Threads,
        Impl::Tokio,
        Impl::AsyncStd,
        Impl::Smol,
        Impl::Mio,
        Impl::Uring,
    ];

    /// The variant's name on the command line and in the `listening` line.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Threads => server_threads::NAME,
            Impl::Tokio => server_tokio::NAME,
            Impl::AsyncStd => server_async_std::NAME,
            Impl::Smol => server_smol::NAME,
            Impl::Mio => server_mio::NAME,
            Impl::Uring => server_uring::NAME,
        }
    }

    /// Looks a variant up by its name.
    pub fn from_name(name: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|imp| imp.name() == name)
    }

    /// Serves `app` on `listener` with this variant until `shutdown` is triggered and connections have
    /// drained (or the drain timeout passed). Blocks the calling thread.
    pub fn run(
        self,
        listener: Listener,
        app: App,
        config: Config,
        shutdown: Shutdown,
    ) -> Result<(), ServerError> {
        match self {
            Impl::Threads => server_threads::run(listener, app, config, shutdown),
            Impl::Tokio => server_tokio::run(listener, app, config, shutdown),
            Impl::AsyncStd => server_async_std::run(listener, app, config, shutdown),
            Impl::Smol => server_smol::run(listener, app, config, shutdown),
            Impl::Mio => server_mio::run(listener, app, config, shutdown),
            Impl::Uring => server_uring::run(listener, app, config, shutdown),
        }
    }

    /// Why this variant cannot serve `app` over TLS (`None`: it can). Every variant serves every app
    /// over TLS now; `serve` and the tests still ask, so that a variant or app added without TLS is
    /// refused (status 2) and skipped rather than failing.
    pub fn tls_unsupported_reason(self, app: App) -> Option<&'static str> {
        match (self, app) {
            (
                Impl::Threads | Impl::Tokio | Impl::AsyncStd | Impl::Smol | Impl::Mio | Impl::Uring,
                App::Echo | App::Chat | App::Work,
            ) => None,
        }
    }

    /// Why this variant cannot run on this machine, in one line (`None`: it can). Only `uring` can be
    /// unavailable (io_uring missing, disabled by `kernel.io_uring_disabled`, or forbidden by seccomp);
    /// `serve` exits 2 with this line, the tests report the variant skipped, a comparison leaves it out.
    pub fn unavailable_reason(self) -> Option<String> {
        match self {
            Impl::Uring => server_uring::unavailable_reason(),
            _ => None,
        }
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
