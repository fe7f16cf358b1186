//! The server-wide shutdown signal.

use crate::Latch;

/// The server's shutdown signal: a [`Latch`] that SIGINT/SIGTERM (or a test) triggers. A variant's
/// `run` stops accepting once it is triggered and drains until the [`DrainDeadline`](crate::DrainDeadline).
pub type Shutdown = Latch;
