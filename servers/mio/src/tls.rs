//! TLS on the event loop: rustls's `ServerConnection` driven by hand on readiness, under any
//! application ([`TlsProtocol`] wraps echo or chat).
//!
//! A connection starts in the handshake: on each readiness event the loop reads ciphertext
//! (`read_tls`), lets rustls process it (`process_new_packets`) and writes what rustls has to send
//! (`write_tls`) until the socket would block; the handshake timeout is the connection's deadline.
//! Once the handshake completes, the wrapped application opens the connection over a
//! [`Stream::Tls`](crate::transport::Stream::Tls), a [`TlsSocket`] whose `Read` and `Write` are the
//! session's plaintext: the application's state machine is the same as over TCP.
//!
//! - `read` fills the caller's buffer from the session, reading ciphertext from the socket as
//!   needed, and returns less than the buffer only once the socket would block, so the
//!   applications' rule "a short read proves the receive buffer empty" holds over TLS too.
//! - `write` first writes the records still pending from earlier calls (and reports `WouldBlock` if
//!   it cannot, so the application keeps its bytes and waits for writability, as over TCP), then
//!   hands the plaintext to the session and writes the records it made. Records left over when the
//!   socket fills up stay in the session and are written at the next readiness event: a TLS
//!   connection is always registered for writability too (edge-triggered, so this costs one event
//!   each time the send buffer drains), and [`TlsProtocol`] flushes before the application runs.
//!
//! Buffers: per connection, the rustls session (its record buffers grow to the largest record in
//! flight, about 16 KiB each way, and are kept); the application's own buffers are as over TCP
//! (echo's read buffer stays one per loop).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use rustls::ServerConnection;
use server_common::Tls;

use crate::event_loop::{Cx, Protocol, Ready, Slot, Status};
use crate::transport::Stream;

/// A socket with a TLS session on it.
#[derive(Debug)]
pub(crate) struct TlsSocket {
    sock: Stream,
    session: ServerConnection,
    /// The socket's EOF was read (and handed to the session).
    eof: bool,
}

impl TlsSocket {
    /// Writes the records the session has ready; `WouldBlock` if the socket cannot take them all.
    pub(crate) fn flush_records(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Reads ciphertext once and processes it: `Ok(false)` at the socket's EOF.
    fn read_records(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let n = self.session.read_tls(&mut self.sock)?;
        self.eof = n == 0;
        let processed = self.session.process_new_packets();
        if let Err(err) = processed {
            let _ = self.flush_records(); // the alert, best effort
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
        Ok(n > 0)
    }

    /// Shuts down `how`; `Write` sends `close_notify` first (best effort).
    pub(crate) fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.session.send_close_notify();
            let _ = self.flush_records();
        }
        self.sock.shutdown(how)
    }
}

impl Read for TlsSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = self.flush_records(); // e.g. a KeyUpdate answer; a full socket is no read error
        let mut filled = 0;
        loop {
            match self.session.reader().read(&mut buf[filled..]) {
                Ok(0) if filled < buf.len() => return Ok(filled), // close_notify
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                // The socket's EOF without close_notify: the end of the input for echo and chat.
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(err) => return Err(err),
            }
            match self.read_records() {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock && filled > 0 => {
                    return Ok(filled);
                }
                Err(err) => return Err(err),
            }
        }
    }
}

impl Write for TlsSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_records()?;
        let taken = self.session.writer().write(buf)?;
        match self.flush_records() {
            Err(err) if err.kind() != io::ErrorKind::WouldBlock => Err(err),
            _ => Ok(taken),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.flush_records()?;
        let taken = self.session.writer().write_vectored(bufs)?;
        match self.flush_records() {
            Err(err) if err.kind() != io::ErrorKind::WouldBlock => Err(err),
            _ => Ok(taken),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}

impl Source for TlsSocket {
    /// Always with writability, so that records left in the session are written when the socket
    /// drains (see the module docs).
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.sock
            .register(registry, token, interests | Interest::WRITABLE)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.sock
            .reregister(registry, token, interests | Interest::WRITABLE)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.sock.deregister(registry)
    }
}

/// A connection state that owns its stream (so that [`TlsProtocol`] can flush its records).
pub(crate) trait OwnsStream {
    /// The connection's stream.
    fn stream_mut(&mut self) -> &mut Stream;
}

/// Any application, over TLS: the handshake first, then the application over the session.
#[derive(Debug)]
pub(crate) struct TlsProtocol<P> {
    inner: P,
    tls: Tls,
}

/// A TLS connection: in its handshake, or served by the application.
#[derive(Debug)]
pub(crate) enum TlsConn<C> {
    /// The handshake is under way; closed at `deadline`.
    Handshaking {
        /// The socket and session (`None` only while handing over to the application).
        socket: Option<Box<TlsSocket>>,
        /// The handshake timeout's deadline.
        deadline: Instant,
    },
    /// The application's connection over the session.
    Serving(C),
}

impl<P> TlsProtocol<P> {
    /// `inner` over TLS with `tls`.
    pub(crate) fn new(inner: P, tls: Tls) -> Self {
        TlsProtocol { inner, tls }
    }
}

impl<P: Protocol> TlsProtocol<P>
where
    P::Conn: OwnsStream,
{
    /// Drives the handshake as far as the socket allows; hands a completed one to the application.
    fn handshake(
        &mut self,
        conn: &mut TlsConn<P::Conn>,
        slot: Slot,
        cx: &mut Cx<'_>,
    ) -> io::Result<Status> {
        let TlsConn::Handshaking { socket, .. } = conn else {
            return Ok(Status::Open);
        };
        let Some(tls) = socket.as_mut() else {
            return Ok(Status::Done);
        };
        loop {
            match tls.flush_records() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Status::Open),
                flushed => flushed?,
            }
            if !tls.session.is_handshaking() {
                break;
            }
            match tls.read_records() {
                Ok(true) => {}
                Ok(false) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed during the TLS handshake",
                    ));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Status::Open),
                Err(err) => return Err(err),
            }
        }
        let Some(mut tls) = socket.take() else {
            return Ok(Status::Done);
        };
        cx.registry.deregister(&mut *tls)?;
        let mut served = self.inner.open(Stream::Tls(tls), slot, cx)?;
        // Plaintext may have come with the client's Finished: the application reads it now (its
        // edge has passed).
        let both = Ready {
            readable: true,
            writable: true,
            read_closed: false,
        };
        let status = self.inner.ready(&mut served, slot, both, cx);
        *conn = TlsConn::Serving(served);
        Ok(status)
    }
}

impl<P: Protocol> Protocol for TlsProtocol<P>
where
    P::Conn: OwnsStream,
{
    type Conn = TlsConn<P::Conn>;

    /// Nothing: a connection over the limit is closed before any handshake, and nothing is ever
    /// sent in plaintext.
    fn reject(&self) -> &'static [u8] {
        b""
    }

    fn open(&mut self, stream: Stream, slot: Slot, cx: &mut Cx<'_>) -> io::Result<Self::Conn> {
        let session = self.tls.new_connection().map_err(io::Error::other)?;
        let mut socket = Box::new(TlsSocket {
            sock: stream,
            session,
            eof: false,
        });
        cx.registry
            .register(&mut *socket, slot.token(), Interest::READABLE)?;
        let deadline = cx.now + self.tls.handshake_timeout();
        Ok(TlsConn::Handshaking {
            socket: Some(socket),
            deadline,
        })
    }

    fn ready(
        &mut self,
        conn: &mut Self::Conn,
        slot: Slot,
        ready: Ready,
        cx: &mut Cx<'_>,
    ) -> Status {
        match conn {
            TlsConn::Handshaking { .. } => self.handshake(conn, slot, cx).unwrap_or_else(|err| {
                tracing::debug!(error = %err, "TLS handshake failed");
                Status::Done
            }),
            TlsConn::Serving(served) => {
                if let Stream::Tls(tls) = served.stream_mut() {
                    match tls.flush_records() {
                        Err(err) if err.kind() != io::ErrorKind::WouldBlock => {
                            tracing::debug!(error = %err, "TLS write failed");
                            return Status::Done;
                        }
                        _ => {}
                    }
                }
                self.inner.ready(served, slot, ready, cx)
            }
        }
    }

    fn timer(&mut self, conn: &mut Self::Conn, slot: Slot, cx: &mut Cx<'_>) -> Status {
        match conn {
            TlsConn::Handshaking { deadline, .. } if *deadline <= cx.now => Status::Done,
            TlsConn::Handshaking { .. } => Status::Open,
            TlsConn::Serving(served) => self.inner.timer(served, slot, cx),
        }
    }

    fn deadline(&self, conn: &Self::Conn) -> Option<Instant> {
        match conn {
            TlsConn::Handshaking { deadline, .. } => Some(*deadline),
            TlsConn::Serving(served) => self.inner.deadline(served),
        }
    }

    fn stop(&mut self, conn: &mut Self::Conn, slot: Slot, cx: &mut Cx<'_>) -> Status {
        match conn {
            TlsConn::Handshaking { .. } => Status::Done,
            TlsConn::Serving(served) => self.inner.stop(served, slot, cx),
        }
    }

    fn stopped(&mut self, cx: &mut Cx<'_>) {
        self.inner.stopped(cx);
    }
}
