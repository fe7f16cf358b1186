//! The transports a tokio connection runs over: TCP, a unix-domain socket, or TLS over either (see
//! `tls.rs`). One enum per role, so that every app's handler is written once for [`Conn`] and runs over
//! any transport; a plaintext connection pays one `match` per poll for it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream, tcp, unix};
use tokio_rustls::server::TlsStream;

/// The listening socket, registered with tokio's reactor.
pub(crate) enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix-domain stream socket.
    Unix(UnixListener),
}

impl Listener {
    /// Registers `listener` with the reactor of the runtime this is called in.
    pub(crate) fn from_std(listener: server_common::Listener) -> io::Result<Listener> {
        listener.set_nonblocking(true)?;
        Ok(match listener {
            server_common::Listener::Tcp(l) => Listener::Tcp(TcpListener::from_std(l)?),
            server_common::Listener::Unix(l) => Listener::Unix(UnixListener::from_std(l)?),
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

/// A plaintext connection: TCP or unix.
pub(crate) enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A unix-domain stream socket.
    Unix(UnixStream),
}

/// A connection as the apps see it: plaintext, or TLS after a completed handshake.
pub(crate) enum Conn {
    /// TCP or unix, plaintext.
    Plain(Stream),
    /// TLS over TCP (boxed: the TLS state is large, and plaintext connections should not pay for it).
    Tls(Box<TlsStream<Stream>>),
}

/// The reading half of a [`Conn`] split for chat's reader and writer tasks.
pub(crate) enum ReadHalf {
    /// TCP's owned half (no lock).
    Tcp(tcp::OwnedReadHalf),
    /// Unix's owned half (no lock).
    Unix(unix::OwnedReadHalf),
    /// TLS: one TLS state shared by both halves behind tokio's split lock.
    Tls(tokio::io::ReadHalf<Box<TlsStream<Stream>>>),
}

/// The writing half of a [`Conn`]; see [`ReadHalf`].
pub(crate) enum WriteHalf {
    /// TCP's owned half.
    Tcp(tcp::OwnedWriteHalf),
    /// Unix's owned half.
    Unix(unix::OwnedWriteHalf),
    /// TLS's half.
    Tls(tokio::io::WriteHalf<Box<TlsStream<Stream>>>),
}

impl Conn {
    /// Splits the connection into halves usable from two tasks.
    pub(crate) fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Conn::Plain(Stream::Tcp(s)) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            Conn::Plain(Stream::Unix(s)) => {
                let (r, w) = s.into_split();
                (ReadHalf::Unix(r), WriteHalf::Unix(w))
            }
            Conn::Tls(s) => {
                let (r, w) = tokio::io::split(s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }
}

/// Implements `AsyncRead` by delegating to whichever variant the enum holds.
macro_rules! delegate_read {
    ($ty:ty { $($variant:path),+ }) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $($variant(s) => Pin::new(s).poll_read(cx, buf),)+
                }
            }
        }
    };
}

/// Implements `AsyncWrite` (vectored writes included) by delegating to the enum's variant.
macro_rules! delegate_write {
    ($ty:ty { $($variant:path),+ }) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $($variant(s) => Pin::new(s).poll_write(cx, buf),)+
                }
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $($variant(s) => Pin::new(s).poll_write_vectored(cx, bufs),)+
                }
            }

            fn is_write_vectored(&self) -> bool {
                match self {
                    $($variant(s) => s.is_write_vectored(),)+
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $($variant(s) => Pin::new(s).poll_flush(cx),)+
                }
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $($variant(s) => Pin::new(s).poll_shutdown(cx),)+
                }
            }
        }
    };
}

delegate_read!(Stream { Stream::Tcp, Stream::Unix });
delegate_write!(Stream { Stream::Tcp, Stream::Unix });
delegate_read!(Conn { Conn::Plain, Conn::Tls });
delegate_write!(Conn { Conn::Plain, Conn::Tls });
delegate_read!(ReadHalf { ReadHalf::Tcp, ReadHalf::Unix, ReadHalf::Tls });
delegate_write!(WriteHalf { WriteHalf::Tcp, WriteHalf::Unix, WriteHalf::Tls });
