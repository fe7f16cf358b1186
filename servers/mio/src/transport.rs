//! The transports a mio connection runs over: TCP, a unix-domain stream socket, or TLS over either
//! (`tls.rs`). One enum each for the listener and the stream, registered with the loop's `Registry`
//! like the socket they hold; a connection pays one `match` per read or write for it.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::tls::TlsSocket;

/// A loop's listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix-domain stream socket.
    Unix(UnixListener),
}

impl Listener {
    /// Wraps a non-blocking std listener.
    pub(crate) fn from_std(listener: server_common::Listener) -> Listener {
        match listener {
            server_common::Listener::Tcp(l) => Listener::Tcp(TcpListener::from_std(l)),
            server_common::Listener::Unix(l) => Listener::Unix(UnixListener::from_std(l)),
        }
    }

    /// The next connection from the backlog (TCP connections with `TCP_NODELAY` set); `WouldBlock`
    /// when it is empty.
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (stream, _peer) = l.accept()?;
                let _ = stream.set_nodelay(true);
                Ok(Stream::Tcp(stream))
            }
            Listener::Unix(l) => Ok(Stream::Unix(l.accept()?.0)),
        }
    }
}

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A unix-domain stream socket.
    Unix(UnixStream),
    /// TLS over either, after its handshake (boxed: the session is large).
    Tls(Box<TlsSocket>),
}

impl Stream {
    /// Shuts down one or both directions (TLS: `close_notify` before the FIN).
    pub(crate) fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tls(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Implements `Source` by delegating to the enum's variant.
macro_rules! delegate_source {
    ($ty:ident { $($variant:ident),+ }) => {
        impl Source for $ty {
            fn register(
                &mut self,
                registry: &Registry,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                match self {
                    $($ty::$variant(s) => s.register(registry, token, interests),)+
                }
            }

            fn reregister(
                &mut self,
                registry: &Registry,
                token: Token,
                interests: Interest,
            ) -> io::Result<()> {
                match self {
                    $($ty::$variant(s) => s.reregister(registry, token, interests),)+
                }
            }

            fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
                match self {
                    $($ty::$variant(s) => s.deregister(registry),)+
                }
            }
        }
    };
}

delegate_source!(Listener { Tcp, Unix });
delegate_source!(Stream { Tcp, Unix, Tls });
