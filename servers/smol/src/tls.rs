//! TLS for smol: `futures-rustls` drives the rustls state over the connection's async reads and
//! writes. The handshake runs in a task of its own, started by the accept loop and bounded by the
//! handshake timeout; a connection whose handshake fails or times out is closed and never served in
//! plaintext.
//!
//! Buffers: each TLS connection holds its rustls `ServerConnection` (record buffers that grow to the
//! largest record in flight, up to about 16 KiB each way), beside the app's own buffer.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::TlsAcceptor;
use server_common::Tls;
use smol::future::FutureExt;

use crate::transport::{Conn, Stream};

/// Makes connections TLS connections.
#[derive(Clone)]
pub(crate) struct Handshaker {
    acceptor: TlsAcceptor,
    timeout: Duration,
}

impl Handshaker {
    /// A handshaker for `tls`.
    pub(crate) fn new(tls: &Tls) -> Handshaker {
        Handshaker {
            acceptor: TlsAcceptor::from(Arc::clone(tls.server_config())),
            timeout: tls.handshake_timeout(),
        }
    }
}

/// Completes the server side of the handshake on `stream` within the handshaker's timeout.
pub(crate) async fn handshake(stream: Stream, handshaker: &Handshaker) -> io::Result<Conn> {
    let timed_out = async {
        smol::Timer::after(handshaker.timeout).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        ))
    };
    let tls = handshaker.acceptor.accept(stream).or(timed_out).await?;
    Ok(Conn::Tls(Box::new(tls)))
}
