//! The one error type of this crate.

use std::io;

/// What went wrong reading a probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A `/proc` file or directory could not be read (the process may be gone).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path read.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A `/proc` file did not have the expected format.
    #[error("unexpected format in {path}: {what}")]
    Format {
        /// The path read.
        path: String,
        /// What was missing or malformed.
        what: String,
    },
    /// A system call failed.
    #[error("{call} failed: {source}")]
    Sys {
        /// The call, e.g. `clock_getcpuclockid(42)`.
        call: String,
        /// The error it returned.
        #[source]
        source: io::Error,
    },
}

impl ProbeError {
    pub(crate) fn read(path: &str, source: io::Error) -> ProbeError {
        ProbeError::Read {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn format(path: &str, what: impl Into<String>) -> ProbeError {
        ProbeError::Format {
            path: path.to_string(),
            what: what.into(),
        }
    }

    /// Whether the error means the process (or thread) no longer exists.
    pub fn is_gone(&self) -> bool {
        match self {
            ProbeError::Read { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ESRCH)
            ),
            ProbeError::Sys { source, .. } => source.raw_os_error() == Some(libc::ESRCH),
            ProbeError::Format { .. } => false,
        }
    }
}

/// `Result` with [`ProbeError`].
pub type Result<T> = std::result::Result<T, ProbeError>;
