//! The sockets a threads connection runs over: TCP or a unix-domain stream socket, behind one enum so
//! that the accept loop, the registry and every handler are written once. Reads and writes go through
//! `&Stream`, so a reader and a writer thread can share one socket without a lock.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use server_common::{Listener, Tls};

use crate::tls::{TlsReader, TlsWriter};

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A unix-domain stream socket.
    Unix(UnixStream),
}

/// The next connection on `listener` (TCP connections with `TCP_NODELAY` set).
pub(crate) fn accept(listener: &Listener) -> io::Result<Stream> {
    match listener {
        Listener::Tcp(l) => {
            let (stream, _peer) = l.accept()?;
            let _ = stream.set_nodelay(true);
            Ok(Stream::Tcp(stream))
        }
        Listener::Unix(l) => Ok(Stream::Unix(l.accept()?.0)),
    }
}

impl Stream {
    /// Shuts down one or both directions (wakes a thread blocked on that direction).
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// Sets the read timeout (`None`: block forever).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    /// Sets the write timeout (`None`: block forever).
    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            Stream::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Shutting down a direction of what a handler writes to: the socket itself, or a TLS connection
/// (which sends its `close_notify` before the FIN).
pub(crate) trait HalfClose {
    /// Shuts down `how` (for TLS, `Write` first sends `close_notify`).
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

/// The reading half of a connection as the apps see it: the socket, or a TLS session's reader.
pub(crate) enum ReadHalf {
    /// Plaintext.
    Plain(Arc<Stream>),
    /// TLS.
    Tls(TlsReader),
}

/// The writing half of a connection as the apps see it: the socket, or a TLS session's writer.
pub(crate) enum WriteHalf {
    /// Plaintext.
    Plain(Arc<Stream>),
    /// TLS.
    Tls(TlsWriter),
}

/// The two halves of `stream` as the apps are served over it: the socket itself, or a TLS session
/// once its handshake completed (on the calling thread, within the handshake timeout). The read
/// timeout stays `idle` (the idle timeout) either way.
pub(crate) fn open(
    stream: Arc<Stream>,
    tls: Option<&Tls>,
    idle: Option<Duration>,
) -> io::Result<(ReadHalf, WriteHalf)> {
    match tls {
        None => Ok((
            ReadHalf::Plain(Arc::clone(&stream)),
            WriteHalf::Plain(stream),
        )),
        Some(tls) => {
            let (reader, writer) = crate::tls::handshake(stream, tls, idle)?;
            Ok((ReadHalf::Tls(reader), WriteHalf::Tls(writer)))
        }
    }
}

impl WriteHalf {
    /// The socket underneath (for its timeouts).
    pub(crate) fn socket(&self) -> &Stream {
        match self {
            WriteHalf::Plain(s) => s,
            WriteHalf::Tls(s) => s.socket(),
        }
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(s) => (&**s).read(buf),
            ReadHalf::Tls(s) => s.read(buf),
        }
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(s) => (&**s).write(buf),
            WriteHalf::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(s) => (&**s).write_vectored(bufs),
            WriteHalf::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(_) => Ok(()),
            WriteHalf::Tls(s) => s.flush(),
        }
    }
}

impl HalfClose for WriteHalf {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            WriteHalf::Plain(s) => s.shutdown(how),
            WriteHalf::Tls(s) => s.shutdown(how),
        }
    }
}
