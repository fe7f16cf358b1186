//! The transports an smol connection runs over: TCP, a unix-domain socket, or TLS over either
//! (see `tls.rs`). Every app's handler is written once for [`Conn`]; a plaintext connection pays one
//! `match` per poll for it.
//!
//! Sockets are smol's own primitive, [`Async`] around the std socket (as smol's examples use it), not
//! `smol::net`'s streams: those keep a readiness future for each direction inside every stream (a
//! few hundred bytes per connection, twice over when chat holds a reading and a writing handle),
//! where `Async` registers the task's waker with the reactor directly.

use std::io::{self, IoSlice};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::io::{
    AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf as SplitRead, WriteHalf as SplitWrite,
};
use futures_rustls::server::TlsStream;
use smol::Async;

/// The listening socket, registered with smol's reactor (async-io).
pub(crate) enum Listener {
    /// TCP.
    Tcp(Async<TcpListener>),
    /// A unix-domain stream socket.
    Unix(Async<UnixListener>),
}

impl Listener {
    /// Registers `listener` with the reactor (which makes it non-blocking).
    pub(crate) fn from_std(listener: server_common::Listener) -> io::Result<Listener> {
        Ok(match listener {
            server_common::Listener::Tcp(l) => Listener::Tcp(Async::new(l)?),
            server_common::Listener::Unix(l) => Listener::Unix(Async::new(l)?),
        })
    }

    /// The next connection, plaintext (TCP connections with `TCP_NODELAY` set).
    pub(crate) async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (stream, _peer) = l.accept().await?;
                let _ = stream.get_ref().set_nodelay(true);
                Ok(Stream::Tcp(stream))
            }
            Listener::Unix(l) => Ok(Stream::Unix(l.accept().await?.0)),
        }
    }
}

/// A plaintext connection: TCP or unix.
pub(crate) enum Stream {
    /// TCP.
    Tcp(Async<TcpStream>),
    /// A unix-domain stream socket.
    Unix(Async<UnixStream>),
}

impl Stream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.get_ref().shutdown(how),
            Stream::Unix(s) => s.get_ref().shutdown(how),
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
    /// A plaintext stream, shared with the writing half (no lock).
    Plain(Shared),
    /// TLS: one TLS state shared by both halves behind a lock.
    Tls(SplitRead<Box<TlsStream<Stream>>>),
}

/// The writing half of a [`Conn`]; see [`ReadHalf`].
pub(crate) enum WriteHalf {
    /// A plaintext stream, shared with the reading half.
    Plain(Shared),
    /// TLS's half.
    Tls(SplitWrite<Box<TlsStream<Stream>>>),
}

impl Conn {
    /// Splits the connection into halves usable from two tasks.
    pub(crate) fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Conn::Plain(s) => {
                let shared = Shared(Arc::new(s));
                (ReadHalf::Plain(shared.clone()), WriteHalf::Plain(shared))
            }
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
            WriteHalf::Plain(s) => s.0.shutdown(Shutdown::Write),
            WriteHalf::Tls(s) => s.close().await,
        }
    }
}

server_common::delegate_futures_io!(Conn { Conn::Plain, Conn::Tls });
server_common::delegate_futures_io!(read ReadHalf { ReadHalf::Plain, ReadHalf::Tls });
server_common::delegate_futures_io!(write WriteHalf { WriteHalf::Plain, WriteHalf::Tls });

/// A plaintext stream that a reading and a writing half share: both poll it through `&Stream`, which
/// reads and writes the socket without exclusive access.
#[derive(Clone)]
pub(crate) struct Shared(Arc<Stream>);

/// Reads through `&Async`, which needs no exclusive access.
impl AsyncRead for &Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match **self {
            Stream::Tcp(ref s) => Pin::new(&mut &*s).poll_read(cx, buf),
            Stream::Unix(ref s) => Pin::new(&mut &*s).poll_read(cx, buf),
        }
    }
}

/// Writes through `&Async`; closing half-closes the socket (FIN), as `smol::net`'s streams do and
/// TLS's `close_notify` expects after it (`Async`'s own close only flushes).
impl AsyncWrite for &Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match **self {
            Stream::Tcp(ref s) => Pin::new(&mut &*s).poll_write(cx, buf),
            Stream::Unix(ref s) => Pin::new(&mut &*s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match **self {
            Stream::Tcp(ref s) => Pin::new(&mut &*s).poll_write_vectored(cx, bufs),
            Stream::Unix(ref s) => Pin::new(&mut &*s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(())) // a socket buffers nothing of its own
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

/// Delegates `AsyncRead` and `AsyncWrite` of an owner of a [`Stream`] to `&Stream`.
macro_rules! through_shared_ref {
    ($ty:ty, |$this:ident| $stream:expr) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                Pin::new(&mut $stream).poll_read(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                Pin::new(&mut $stream).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                Pin::new(&mut $stream).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                Pin::new(&mut $stream).poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                Pin::new(&mut $stream).poll_close(cx)
            }
        }
    };
}

through_shared_ref!(Stream, |this| &*this);
through_shared_ref!(Shared, |this| &*this.0);
