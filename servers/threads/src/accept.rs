//! The accept loop: one thread per accepted connection.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use server_common::{AcceptBackoff, Config, ConnLimit, Shutdown};

use crate::registry::Registry;

/// Accepts connections until `shutdown` is triggered and runs `handle` for each on a new thread.
/// The handler gets the socket behind an `Arc` (`&TcpStream` reads and writes), shared with the
/// registry that wakes it at shutdown.
/// Over the connection limit, writes `reject` (may be empty) and closes the connection at once.
pub(crate) fn accept_loop<H>(
    listener: &TcpListener,
    limit: &ConnLimit,
    registry: &Registry,
    config: &Config,
    shutdown: &Shutdown,
    reject: &'static [u8],
    handle: H,
) where
    H: Fn(Arc<TcpStream>) -> std::io::Result<()> + Clone + Send + 'static,
{
    let mut backoff = AcceptBackoff::new();
    while !shutdown.is_triggered() {
        let mut stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(err) if shutdown.is_triggered() => {
                tracing::debug!(error = %err, "accept interrupted by shutdown");
                break;
            }
            Err(err) => {
                std::thread::sleep(backoff.on_error(&err));
                continue;
            }
        };
        backoff.on_success();
        let Some(guard) = limit.try_acquire() else {
            let _ = stream.write_all(reject);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The idle timeout is the socket's read timeout: a blocked read fails with WouldBlock.
        let _ = stream.set_read_timeout(config.idle_timeout);
        let stream = Arc::new(stream);
        let Some(registered) = registry.register(&stream) else {
            continue; // shutting down
        };
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .stack_size(config.stack_size)
            .spawn(move || {
                if let Err(err) = handle(stream) {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                drop(registered);
                drop(guard);
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot spawn a connection thread; closing the connection");
        }
    }
}
