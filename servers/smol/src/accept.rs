//! The accept loop: one task per accepted connection.

use std::future::Future;

use server_common::{AcceptBackoff, ConnLimit, Shutdown};
use smol::io::AsyncWriteExt;

use crate::executor;
use crate::tls::{self, Handshaker};
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

/// Accepts connections until `shutdown` is triggered and runs `handle` for each in a new task.
/// Over the connection limit, writes `reject` (may be empty) and closes the connection at once (with
/// TLS, closes it before any handshake: nothing is ever sent in plaintext). With TLS, the handshake
/// runs in the connection's task before `handle`.
pub(crate) async fn accept_loop<H, F>(acceptor: Acceptor<'_>, reject: &'static [u8], handle: H)
where
    H: Fn(Conn) -> F + Clone + Send + 'static,
    F: Future<Output = std::io::Result<()>> + Send + 'static,
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
                smol::Timer::after(backoff.on_error(&err)).await;
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
        let shutdown = shutdown.clone();
        let handle = handle.clone();
        let tls = tls.cloned();
        executor::spawn(async move {
            let serve = async move {
                let conn = tls::establish(stream, tls.as_ref()).await?;
                handle(conn).await
            };
            if let Some(Err(err)) = shutdown.or_cancel(serve).await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(guard);
        })
        .detach();
    }
}
