//! What to do when `accept()` fails: retry at once, or back off without busy-looping.

use std::io;
use std::time::Duration;

/// First pause after a resource error (EMFILE, ENFILE, ENOBUFS, ENOMEM).
const MIN_BACKOFF: Duration = Duration::from_millis(5);
/// Longest pause: the server notices freed descriptors within this long.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// The accept back-off policy, one per accept loop. Resource exhaustion doubles the pause up to
/// [`MAX_BACKOFF`]; a successful accept resets it. Errors about one aborted connection (ECONNABORTED,
/// EPROTO, ...) are retried at once, since the next connection in the backlog is unaffected.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    current: Option<Duration>,
}

impl AcceptBackoff {
    /// A fresh policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Call after every successful accept.
    pub fn on_success(&mut self) {
        if self.current.take().is_some() {
            tracing::info!("accept recovered");
        }
    }

    /// Call after a failed accept; returns how long to sleep before accepting again.
    pub fn on_error(&mut self, err: &io::Error) -> Duration {
        if !is_resource_error(err) {
            tracing::debug!(error = %err, "accept failed for one connection; continuing");
            return Duration::ZERO;
        }
        let next = match self.current {
            None => {
                tracing::warn!(error = %err, "accept failed: out of resources; backing off");
                MIN_BACKOFF
            }
            Some(d) => (d * 2).min(MAX_BACKOFF),
        };
        self.current = Some(next);
        next
    }
}

/// Whether an accept error means the process or system is out of something (descriptors, buffers,
/// memory), as opposed to one connection having failed.
pub fn is_resource_error(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) || err.kind() == io::ErrorKind::OutOfMemory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_errors_back_off_exponentially_and_reset() {
        let mut b = AcceptBackoff::new();
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(b.on_error(&emfile), MIN_BACKOFF);
        assert_eq!(b.on_error(&emfile), MIN_BACKOFF * 2);
        for _ in 0..20 {
            b.on_error(&emfile);
        }
        assert_eq!(b.on_error(&emfile), MAX_BACKOFF);
        b.on_success();
        assert_eq!(b.on_error(&emfile), MIN_BACKOFF);
    }

    #[test]
    fn per_connection_errors_retry_at_once() {
        let mut b = AcceptBackoff::new();
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(b.on_error(&aborted), Duration::ZERO);
    }
}
