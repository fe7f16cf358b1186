//! Waits bounded by the idle timeout (`Config::idle_timeout`).

use std::future::Future;
use std::io;
use std::time::Duration;

/// Runs `read`; with an idle timeout, fails with `TimedOut` when it does not finish for that long.
/// Without one (the default) no timer is armed on the hot path.
pub(crate) async fn within<T>(
    idle: Option<Duration>,
    read: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match idle {
        None => read.await,
        Some(limit) => async_std::future::timeout(limit, read)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))?,
    }
}
