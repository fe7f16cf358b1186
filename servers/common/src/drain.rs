//! The drain deadline: the one instant by which a stopping server has closed everything.

use std::time::{Duration, Instant};

/// When a stopping server gives up on connections that have not finished: `--drain-timeout` after
/// its accept loop ended. Computed once per server; every wait during shutdown (chat writers flushing,
/// connections ending) is bounded by this same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainDeadline(Instant);

impl DrainDeadline {
    /// Starts the drain now: the deadline is `timeout` from now.
    pub fn start(timeout: Duration) -> Self {
        DrainDeadline(Instant::now() + timeout)
    }

    /// The deadline as an instant.
    pub fn instant(self) -> Instant {
        self.0
    }

    /// How long is left until the deadline (zero once it has passed).
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}
