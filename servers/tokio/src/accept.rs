//! The accept loop: one task per accepted connection (the app may start it itself).

use std::future::Future;

use server_common::{AcceptBackoff, ConnGuard, ConnLimit, Shutdown};
use tokio::io::AsyncWriteExt;

use crate::tls::Handshaker;
use crate::transport::{Conn, Listener};

/// What the accept loop works with: the listening socket, the connection limit, the shutdown
/// signal and TLS, if configured.
#[derive(Clone, Copy)]
pub(crate) struct Acceptor<'a> {
    pub(crate) listener: &'a Listener,
    pub(crate) limit: &'a ConnLimit,
    pub(crate) shutdown: &'a Shutdown,
    pub(crate) tls: Option<&'a Handshaker>,
}

/// Accepts connections until `shutdown` is triggered and runs `handle` for each in a new task, which
/// holds the connection's slot and which shutdown cancels at its next `.await`.
/// Over the connection limit, writes `reject` (may be empty) and closes the connection at once (with
/// TLS, closes it before any handshake: nothing is ever sent in plaintext). With TLS, the handshake
/// runs in a task of its own before `handle`'s.
pub(crate) async fn accept_loop<H, F>(acceptor: Acceptor<'_>, reject: &'static [u8], handle: H)
where
    H: Fn(Conn) -> F + Clone + Send + 'static,
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let shutdown = acceptor.shutdown.clone();
    let start = move |conn: Conn, guard: ConnGuard| {
        let handle = handle.clone();
        let shutdown = shutdown.clone();
        // The app's future is made inside the task, so that the task lays it out once.
        tokio::spawn(async move {
            if let Some(Err(err)) = shutdown.or_cancel(handle(conn)).await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(guard);
        });
    };
    accept_each(acceptor, reject, start).await;
}

/// Accepts connections until `shutdown` is triggered and hands each, with its slot, to `start`, which
/// must not block: a plaintext connection at once, on the accept loop (so `start` decides which
/// task serves it, and that task is the only one the connection has); a TLS connection from a task
/// that completes the handshake first (cancelled at shutdown). Over the limit: as
/// [`accept_loop`].
pub(crate) async fn accept_each<S>(acceptor: Acceptor<'_>, reject: &'static [u8], start: S)
where
    S: Fn(Conn, ConnGuard) + Clone + Send + 'static,
{
    let Acceptor {
        listener,
        limit,
        shutdown,
        tls,
    } = acceptor;
    let mut backoff = AcceptBackoff::new();
    while let Some(accepted) = shutdown.or_cancel(listener.accept()).await {
        // `or_cancel` polls the accept before the signal: a connection accepted once the signal is
        // in is closed unserved, so that the server stops accepting at the signal.
        if shutdown.is_triggered() {
            break;
        }
        let mut stream = match accepted {
            Ok(stream) => stream,
            Err(err) => {
                tokio::time::sleep(backoff.on_error(&err)).await;
                continue;
            }
        };
        backoff.on_success();
        let Some(guard) = limit.try_acquire() else {
            if tls.is_none() {
                let _ = stream.write_all(reject).await;
            }
            continue;
        };
        let Some(tls) = tls else {
            start(Conn::Plain(stream), guard);
            continue;
        };
        let shutdown = shutdown.clone();
        let start = start.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match shutdown.or_cancel(tls.handshake(stream)).await {
                Some(Ok(conn)) => start(conn, guard),
                Some(Err(err)) => tracing::debug!(error = %err, "TLS handshake failed"),
                None => {}
            }
        });
    }
}
