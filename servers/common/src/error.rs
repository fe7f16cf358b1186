//! The typed error a variant's `run` returns.

use std::io;

/// Why a server could not start or keep running. Per-connection errors are not here: a connection that
/// fails is closed and logged, and the server goes on.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The runtime (thread pool, reactor) could not be built.
    #[error("cannot start the {runtime} runtime")]
    Runtime {
        /// Which runtime.
        runtime: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The listening socket could not be prepared for this runtime.
    #[error("cannot prepare the listening socket")]
    Listener(#[source] io::Error),
    /// An event loop's poll failed (mio: `epoll_wait` returned an error other than EINTR).
    #[error("the event loop failed")]
    EventLoop(#[source] io::Error),
    /// A thread could not be spawned.
    #[error("cannot spawn the {what} thread")]
    Spawn {
        /// What the thread was for.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The configuration asks for something this variant does not do (e.g. TLS where it is not
    /// implemented yet).
    #[error("{0}")]
    Unsupported(String),
}
