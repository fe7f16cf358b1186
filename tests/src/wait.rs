//! Bounded waits that fail loudly: polling for a state, waiting for a thread's result, waiting for a
//! child process. Every wait in the suite goes through one of these, so none can hang CI.

use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How often [`poll_until`] and [`wait_child`] look again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `probe` every [`POLL_INTERVAL`] until it returns `Some`, for at most `limit`; fails naming
/// `what` otherwise.
pub fn poll_until<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("{what}: not within {limit:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Runs `work` on its own thread and waits at most `limit` for its result. A thread still blocked
/// at the deadline is left behind (detached) and this fails naming `what`: the test fails instead of
/// hanging on the mechanism under test.
pub fn run_within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("bounded: {what}"))
        .spawn(move || {
            let _ = tx.send(work());
        })
        .context("cannot spawn a thread")?;
    match rx.recv_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => bail!("{what}: still running after {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(anyhow!("{what}: the thread panicked")),
    }
}

/// Waits at most `limit` for `child` to exit; `None` if it is still running (the caller decides
/// whether to kill it).
pub fn wait_child(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().context("cannot poll a child process")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Kills (SIGKILL) and reaps `child` when dropped, if it is still running: a child spawned by a test
/// does not outlive a failing assertion.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_until_fails_when_the_state_never_comes() {
        let err = poll_until(Duration::from_millis(50), "never", || None::<()>).unwrap_err();
        assert!(err.to_string().contains("never"), "{err}");
    }

    #[test]
    fn run_within_fails_on_a_blocked_thread() {
        let (_keep, rx) = mpsc::channel::<()>();
        let err = run_within(Duration::from_millis(50), "blocked", move || rx.recv()).unwrap_err();
        assert!(err.to_string().contains("still running"), "{err}");
    }
}
