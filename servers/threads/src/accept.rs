//! The accept loop: one thread per accepted connection.

use std::io::Write;
use std::sync::Arc;

use server_common::{AcceptBackoff, Config, ConnLimit, Listener, Shutdown};

use crate::registry::Registry;
use crate::transport::{self, ReadHalf, WriteHalf};

/// Accepts connections until `shutdown` is triggered and runs `handle` for each on a new thread.
/// The handler gets the connection's reading and writing halves (over the socket, shared through an
/// `Arc` with the registry that wakes it at shutdown); with `config.tls`, the connection's thread
/// first completes the TLS handshake.
/// Over the connection limit, writes `reject` (may be empty) and closes the connection at once (with
/// TLS, closes it before any handshake: nothing is ever sent in plaintext).
pub(crate) fn accept_loop<H>(
    listener: &Listener,
    limit: &ConnLimit,
    registry: &Registry,
    config: &Config,
    shutdown: &Shutdown,
    reject: &'static [u8],
    handle: H,
) where
    H: Fn(ReadHalf, WriteHalf) -> std::io::Result<()> + Clone + Send + 'static,
{
    let mut backoff = AcceptBackoff::new();
    while !shutdown.is_triggered() {
        let stream = match transport::accept(listener) {
            Ok(stream) => stream,
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
            if config.tls.is_none() {
                let _ = (&stream).write_all(reject);
            }
            continue;
        };
        // The idle timeout is the socket's read timeout: a blocked read fails with WouldBlock.
        let _ = stream.set_read_timeout(config.idle_timeout);
        let stream = Arc::new(stream);
        let Some(registered) = registry.register(&stream) else {
            continue; // shutting down
        };
        let handle = handle.clone();
        let (tls, idle) = (config.tls.clone(), config.idle_timeout);
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .stack_size(config.stack_size)
            .spawn(move || {
                let served = transport::open(stream, tls.as_ref(), idle)
                    .and_then(|(reader, writer)| handle(reader, writer));
                if let Err(err) = served {
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
