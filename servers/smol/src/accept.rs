//! The accept loop: one task per accepted connection.

use std::future::Future;

use server_common::{AcceptBackoff, ConnLimit, Shutdown};
use smol::io::AsyncWriteExt;
use smol::net::{TcpListener, TcpStream};

use crate::executor;

/// What the accept loop works with: the listening socket, the connection limit and the shutdown
/// signal.
#[derive(Clone, Copy)]
pub(crate) struct Acceptor<'a> {
    pub(crate) listener: &'a TcpListener,
    pub(crate) limit: &'a ConnLimit,
    pub(crate) shutdown: &'a Shutdown,
}

/// Accepts connections until `shutdown` is triggered and runs `handle` for each in a new task.
/// Over the connection limit, writes `reject` (may be empty) and closes the connection at once.
pub(crate) async fn accept_loop<H, F>(acceptor: Acceptor<'_>, reject: &'static [u8], handle: H)
where
    H: Fn(TcpStream) -> F + Clone + Send + 'static,
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let Acceptor {
        listener,
        limit,
        shutdown,
    } = acceptor;
    let mut backoff = AcceptBackoff::new();
    while let Some(accepted) = shutdown.or_cancel(listener.accept()).await {
        let mut stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                smol::Timer::after(backoff.on_error(&err)).await;
                continue;
            }
        };
        backoff.on_success();
        let Some(guard) = limit.try_acquire() else {
            let _ = stream.write_all(reject).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shutdown = shutdown.clone();
        let handle = handle.clone();
        executor::spawn(async move {
            if let Some(Err(err)) = shutdown.or_cancel(handle(stream)).await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(guard);
        })
        .detach();
    }
}
