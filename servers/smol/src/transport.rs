//! The transports an smol connection runs over: TCP, a unix-domain socket, or TLS over either
//! (see `tls.rs`). Every app's handler is written once for [`Conn`]; a plaintext connection pays one
//! `match` per poll for it.

use std::io;
use std::net::Shutdown;

use futures_lite::io::{AsyncWriteExt, ReadHalf as SplitRead, WriteHalf as SplitWrite};
use futures_rustls::server::TlsStream;
use smol::net::unix::{UnixListener, UnixStream};
use smol::net::{TcpListener, TcpStream};

/// The listening socket, registered with smol's reactor (async-io).
pub(crate) enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix-domain stream socket.
    Unix(UnixListener),
}

impl Listener {
    /// Registers `listener` with the reactor.
    pub(crate) fn from_std(listener: server_common::Listener) -> io::Result<Listener> {
        listener.set_nonblocking(true)?;
        Ok(match listener {
            server_common::Listener::Tcp(l) => Listener::Tcp(TcpListener::try_from(l)?),
            server_common::Listener::Unix(l) => Listener::Unix(UnixListener::try_from(l)?),
        })
    }

    /// The next connection, plaintext (TCP connections with `TCP_NODELAY` set).
    pub(crate) async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (stream, _peer) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok(Stream::Tcp(stream))
            }
            Listener::Unix(l) => Ok(Stream::Unix(l.accept().await?.0)),
        }
    }
}

/// A plaintext connection: TCP or unix. Cloning shares the socket (smol streams are handles).
#[derive(Clone)]
pub(crate) enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A unix-domain stream socket.
    Unix(UnixStream),
}

impl Stream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }
}

/// A connection as the apps see it: plaintext, or TLS after a completed handshake.
pub(crate) enum Conn {
    /// TCP or unix, plaintext.
    Plain(Stream),
    /// TLS (boxed: the TLS state is large, and plaintext connections should not pay for it).
    Tls(Box<TlsStream<Stream>>),
}

/// The reading half of a [`Conn`] split for chat's reader and writer tasks.
pub(crate) enum ReadHalf {
    /// A plaintext stream's handle (no lock).
    Plain(Stream),
    /// TLS: one TLS state shared by both halves behind a lock.
    Tls(SplitRead<Box<TlsStream<Stream>>>),
}

/// The writing half of a [`Conn`]; see [`ReadHalf`].
pub(crate) enum WriteHalf {
    /// A plaintext stream's handle.
    Plain(Stream),
    /// TLS's half.
    Tls(SplitWrite<Box<TlsStream<Stream>>>),
}

impl Conn {
    /// Splits the connection into halves usable from two tasks.
    pub(crate) fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Conn::Plain(s) => (ReadHalf::Plain(s.clone()), WriteHalf::Plain(s)),
            Conn::Tls(s) => {
                let (r, w) = futures_lite::io::split(s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }

    /// Half-closes: FIN for plaintext; TLS sends its `close_notify` first.
    pub(crate) async fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.shutdown(Shutdown::Write),
            Conn::Tls(s) => s.close().await,
        }
    }
}

impl WriteHalf {
    /// Half-closes: FIN for plaintext; TLS sends its `close_notify` first.
    pub(crate) async fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(s) => s.shutdown(Shutdown::Write),
            WriteHalf::Tls(s) => s.close().await,
        }
    }
}

server_common::delegate_futures_io!(Stream { Stream::Tcp, Stream::Unix });
server_common::delegate_futures_io!(Conn { Conn::Plain, Conn::Tls });
server_common::delegate_futures_io!(read ReadHalf { ReadHalf::Plain, ReadHalf::Tls });
server_common::delegate_futures_io!(write WriteHalf { WriteHalf::Plain, WriteHalf::Tls });
