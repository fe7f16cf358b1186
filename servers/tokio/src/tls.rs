//! TLS for tokio: `tokio-rustls` drives the rustls state over the connection's async reads and
//! writes. The handshake runs in a task of its own, started by the accept loop and bounded by the
//! handshake timeout; a connection whose handshake fails or times out is closed and never served in
//! plaintext.
//!
//! Buffers: each TLS connection holds its rustls `ServerConnection` (its record buffers grow to the
//! largest record in flight, up to about 16 KiB each way, and shrink back only as rustls decides),
//! beside the app's own buffer.

use std::io;

use server_common::Tls;
use tokio_rustls::TlsAcceptor;

use crate::transport::{Conn, Stream};

/// Makes connections TLS connections.
#[derive(Clone)]
pub(crate) struct Handshaker {
    acceptor: TlsAcceptor,
    timeout: std::time::Duration,
}

impl Handshaker {
    /// A handshaker for `tls`.
    pub(crate) fn new(tls: &Tls) -> Handshaker {
        Handshaker {
            acceptor: TlsAcceptor::from(std::sync::Arc::clone(tls.server_config())),
            timeout: tls.handshake_timeout(),
        }
    }

    /// Completes the server side of the handshake on `stream` within the timeout.
    pub(crate) async fn handshake(&self, stream: Stream) -> io::Result<Conn> {
        match tokio::time::timeout(self.timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(Conn::Tls(Box::new(tls))),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}
