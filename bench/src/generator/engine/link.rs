//! The transport under one engine connection: a non-blocking TCP or unix-domain socket, with a rustls
//! client session driven by hand on top for TLS (`read_tls` / `process_new_packets` / `write_tls` on
//! readiness). The worker reads and writes plaintext through a [`Link`] and never sees which
//! transport it is; scenarios see nothing of it at all.
//!
//! TLS: the handshake runs after the TCP connect and before the connection counts as established, so
//! the connect latency of a TLS run includes it. Records rustls has queued leave in
//! [`Link::send_pending`], which the worker calls on every flush; reading returns a short count only
//! once the socket is drained, as the worker's edge-triggered loop expects of a plain socket.
//! rustls's buffered API allocates one buffer per record it encrypts or decrypts: over TLS, the
//! per-message path allocates in rustls (the engine itself does not).

use std::io::{self, Read, Write};
use std::net::Shutdown;

use conformance::transport::Endpoint;
use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use rustls::{ClientConnection, HandshakeKind};

use crate::generator::net::{self, ConnectState};

/// The socket of a link.
#[derive(Debug)]
enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Socket::read(self, buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Socket::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One engine connection over TCP, TLS or a unix-domain socket.
#[derive(Debug)]
pub(crate) struct Link {
    socket: Socket,
    tls: Option<Box<ClientConnection>>,
    /// TLS: `close_notify` is queued (the half-close waits for it to leave).
    closing: bool,
}

/// The outcome of [`Link::handshake`].
#[derive(Debug)]
pub(crate) enum Handshake {
    /// Done: the link carries plaintext now.
    Done,
    /// Waiting for the peer.
    Pending,
}

impl Link {
    /// Starts a non-blocking connect to `endpoint`, from `source` if given (TCP and TLS).
    pub(crate) fn start(endpoint: &Endpoint, source: Option<std::net::IpAddr>) -> io::Result<Link> {
        let (socket, tls) = match endpoint {
            Endpoint::Tcp(addr) => (Socket::Tcp(net::start_connect(*addr, source)?), None),
            Endpoint::Tls { addr, name, config } => {
                let session = ClientConnection::new(config.clone(), name.clone())
                    .map_err(io::Error::other)?;
                (
                    Socket::Tcp(net::start_connect(*addr, source)?),
                    Some(Box::new(session)),
                )
            }
            Endpoint::Unix(path) => (Socket::Unix(net::start_connect_unix(path)?), None),
        };
        Ok(Link {
            socket,
            tls,
            closing: false,
        })
    }

    /// Whether the socket's connect finished.
    pub(crate) fn check_connect(&self) -> ConnectState {
        match &self.socket {
            Socket::Tcp(s) => net::check_connect(s),
            Socket::Unix(s) => {
                match s.take_error() {
                    Ok(Some(e)) | Err(e) => return ConnectState::Failed(e),
                    Ok(None) => {}
                }
                match s.peer_addr() {
                    Ok(_) => ConnectState::Connected,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => ConnectState::Pending,
                    Err(e) => ConnectState::Failed(e),
                }
            }
        }
    }

    /// Drives the TLS handshake as far as the socket allows (nothing to do on TCP and unix).
    pub(crate) fn handshake(&mut self) -> io::Result<Handshake> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Ok(Handshake::Done);
        };
        loop {
            while tls.wants_write() {
                match tls.write_tls(&mut self.socket) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Handshake::Pending);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if !tls.is_handshaking() {
                return Ok(Handshake::Done);
            }
            match tls.read_tls(&mut self.socket) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed by the server during the TLS handshake",
                    ));
                }
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        let _ = tls.write_tls(&mut self.socket); // the alert, if it fits
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Handshake::Pending),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// TLS: whether the handshake was full or resumed (once it is done).
    pub(crate) fn handshake_kind(&self) -> Option<HandshakeKind> {
        self.tls.as_deref().and_then(|tls| tls.handshake_kind())
    }

    /// Writes the records the TLS session has queued; `WouldBlock` if some are left for the next
    /// writable event. Nothing to do on TCP and unix.
    pub(crate) fn send_pending(&mut self) -> io::Result<()> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Ok(());
        };
        while tls.wants_write() {
            match tls.write_tls(&mut self.socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads plaintext into `buf`: 0 at the end of the stream. A count short of `buf.len()` means the
    /// socket had nothing more to read (as on a plain socket).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.socket.read(buf);
        };
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                return Ok(filled);
            }
            match tls.reader().read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The server closed the TCP connection without close_notify: the protocols frame
                // their own messages, so this is an end of stream, as over TCP.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            match tls.read_tls(&mut self.socket) {
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        let _ = tls.write_tls(&mut self.socket); // the alert, if it fits
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes plaintext from `buf`; `WouldBlock` when nothing can be taken now. Over TLS, the bytes
    /// taken may still sit in the session as records; [`send_pending`](Self::send_pending) sends them.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return self.socket.write(buf);
        }
        self.send_pending()?;
        let Some(tls) = self.tls.as_deref_mut() else {
            return Ok(0);
        };
        let n = tls.writer().write(buf)?;
        match self.send_pending() {
            Ok(()) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Shuts the writing side down (TLS: after `close_notify`); `WouldBlock` while records are still
    /// queued (call it again on the next writable event).
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        if let Some(tls) = self.tls.as_deref_mut() {
            if !self.closing {
                tls.send_close_notify();
                self.closing = true;
            }
            self.send_pending()?;
        }
        match &self.socket {
            Socket::Tcp(s) => s.shutdown(Shutdown::Write),
            Socket::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
}

impl Source for Link {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match &mut self.socket {
            Socket::Tcp(s) => s.register(registry, token, interests),
            Socket::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match &mut self.socket {
            Socket::Tcp(s) => s.reregister(registry, token, interests),
            Socket::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match &mut self.socket {
            Socket::Tcp(s) => s.deregister(registry),
            Socket::Unix(s) => s.deregister(registry),
        }
    }
}
