//! Typed errors of the load-generator library.

use std::io;
use std::net::SocketAddr;

/// Everything that can make a load-generator run fail as a whole.
///
/// Per-connection problems (a reset, a corrupted echo, a timeout) do not end a
/// run: they are counted in the report instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings are inconsistent or out of range.
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// The requested number of connections cannot be opened by this process.
    #[error("cannot open {requested} connections: {reason}")]
    Capacity {
        /// Connections asked for.
        requested: usize,
        /// Why they do not fit (fd limit, ephemeral ports, ...).
        reason: String,
    },
    /// No connection at all could be established to the target.
    #[error("no connection to {addr} could be established ({failed} failed)")]
    NoConnection {
        /// The target address.
        addr: SocketAddr,
        /// How many attempts failed.
        failed: usize,
    },
    /// A system call needed to set up the run failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Reading or parsing a /proc file failed.
    #[error("cannot read {path}: {reason}")]
    Proc {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Encoding or decoding a histogram failed.
    #[error("histogram: {0}")]
    Histogram(String),
    /// A worker thread panicked or disappeared.
    #[error("worker thread failed: {0}")]
    Worker(String),
}

impl Error {
    /// Wraps an I/O error with a description of what was being attempted.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
