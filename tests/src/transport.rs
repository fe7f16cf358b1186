//! The transports of `docs/PROTOCOL.md` (section Transports) on the client side: where a server
//! listens ([`Endpoint`]: `HOST:PORT`, `tls://HOST:PORT`, `unix:PATH`) and one blocking connection over
//! any of them ([`Conn`]), so that every case runs unchanged over TCP, TLS and unix sockets.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use crate::tls::{self, TlsConfigError, Trust};

/// Where a server listens, and how to reach it.
#[derive(Clone)]
pub enum Endpoint {
    /// Plain TCP: `HOST:PORT`.
    Tcp(SocketAddr),
    /// TLS over TCP: `tls://HOST:PORT`.
    Tls {
        /// The TCP address.
        addr: SocketAddr,
        /// The name sent in the ClientHello and checked against the certificate (the `HOST`).
        name: ServerName<'static>,
        /// The client configuration (trust, session cache) every connection shares.
        config: Arc<ClientConfig>,
    },
    /// A unix-domain stream socket: `unix:PATH`.
    Unix(PathBuf),
}

/// Why an address could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Not `HOST:PORT`, `tls://HOST:PORT` or `unix:PATH`, or it does not resolve.
    #[error("address {0}")]
    Address(String),
    /// A `tls://` address without `--ca` or `--insecure`, or either of them without `tls://`.
    #[error("{0}")]
    Trust(&'static str),
    /// The TLS client configuration could not be built.
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
}

/// An address as a user writes it: `HOST:PORT` (or `tcp://HOST:PORT`), `tls://HOST:PORT` or
/// `unix:PATH`, resolved, before any TLS configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Plain TCP.
    Tcp(SocketAddr),
    /// TLS to `addr`, presenting and verifying `host`.
    Tls {
        /// The resolved address.
        addr: SocketAddr,
        /// The host as written (brackets of an IPv6 address removed).
        host: String,
    },
    /// A unix-domain socket.
    Unix(PathBuf),
}

impl std::str::FromStr for Address {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Address, EndpointError> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(EndpointError::Address(format!(
                    "{text}: no path after unix:"
                )));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("tls://") {
            let host = rest.rsplit_once(':').map_or(rest, |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            return Ok(Address::Tls {
                addr: resolve(rest)?,
                host: host.to_owned(),
            });
        }
        resolve(text.strip_prefix("tcp://").unwrap_or(text)).map(Address::Tcp)
    }
}

impl Endpoint {
    /// Parses `HOST:PORT`, `tls://HOST:PORT` or `unix:PATH` (see [`Address`]). `trust` is required
    /// for `tls://` and refused otherwise; `resume`: TLS connections share a session cache (see
    /// [`tls::client_config`]).
    pub fn parse(
        text: &str,
        trust: Option<&Trust>,
        resume: bool,
    ) -> Result<Endpoint, EndpointError> {
        let address: Address = text.parse()?;
        match (address, trust) {
            (Address::Tls { .. }, None) => Err(EndpointError::Trust(
                "a tls:// address needs --ca PEM (the certificate to trust) or --insecure",
            )),
            (Address::Tls { addr, host }, Some(trust)) => {
                let name = tls::server_name(&host).map_err(EndpointError::Address)?;
                let config = tls::client_config(trust, resume)?;
                Ok(Endpoint::Tls { addr, name, config })
            }
            (_, Some(_)) => Err(EndpointError::Trust(
                "--ca and --insecure apply to tls:// addresses only",
            )),
            (Address::Tcp(addr), None) => Ok(Endpoint::Tcp(addr)),
            (Address::Unix(path), None) => Ok(Endpoint::Unix(path)),
        }
    }

    /// The TCP address (TCP and TLS), none for a unix socket.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Tcp(addr) | Endpoint::Tls { addr, .. } => Some(*addr),
            Endpoint::Unix(_) => None,
        }
    }

    /// The transport's name: `tcp`, `tls` or `unix`.
    pub fn transport(&self) -> &'static str {
        match self {
            Endpoint::Tcp(_) => "tcp",
            Endpoint::Tls { .. } => "tls",
            Endpoint::Unix(_) => "unix",
        }
    }

    /// Connects with `timeout` on connect, reads and writes (and `TCP_NODELAY` over TCP); a TLS
    /// connection has completed its handshake when this returns.
    pub fn connect(&self, timeout: Duration) -> io::Result<Conn> {
        match self {
            Endpoint::Tcp(addr) => tcp(*addr, timeout).map(Conn::Tcp),
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                Ok(Conn::Unix(stream))
            }
            Endpoint::Tls { addr, name, config } => {
                let mut socket = tcp(*addr, timeout)?;
                let mut session = ClientConnection::new(config.clone(), name.clone())
                    .map_err(io::Error::other)?;
                while session.is_handshaking() {
                    session.complete_io(&mut socket)?;
                }
                TlsStream::new(session, socket).map(Conn::Tls)
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Tls { addr, .. } => write!(f, "tls://{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

fn resolve(text: &str) -> Result<SocketAddr, EndpointError> {
    text.to_socket_addrs()
        .map_err(|e| EndpointError::Address(format!("{text}: {e}")))?
        .next()
        .ok_or_else(|| EndpointError::Address(format!("{text} resolves to no address")))
}

fn tcp(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One blocking client connection over any transport, used like a `TcpStream` (`Read`, `Write`, also
/// through `&Conn`, `try_clone` for a second thread, timeouts, half-close).
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Tcp(TcpStream),
    /// A unix-domain stream socket.
    Unix(UnixStream),
    /// TLS over TCP, handshake done.
    Tls(TlsStream),
}

impl From<TcpStream> for Conn {
    fn from(stream: TcpStream) -> Conn {
        Conn::Tcp(stream)
    }
}

impl Conn {
    /// Another handle on the same connection (for a writer thread beside a reader).
    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tls(s) => Conn::Tls(s.clone()),
        })
    }

    /// Shuts the writing side down (TLS: `close_notify` first): the peer reads an end of stream and
    /// may still answer.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
            Conn::Tls(s) => s.shutdown_write(),
        }
    }

    /// Ends the connection abruptly, as a crashing client would: a TCP reset (SO_LINGER 0) over TCP
    /// and TLS (no `close_notify`). A unix socket has no reset: it is closed at once, and the server
    /// reads a reset only if it left bytes unread, an end of stream otherwise.
    pub fn reset(self) -> io::Result<()> {
        match &self {
            Conn::Tcp(s) => socket2::SockRef::from(s).set_linger(Some(Duration::ZERO))?,
            Conn::Tls(s) => {
                s.with_socket(|s| socket2::SockRef::from(s).set_linger(Some(Duration::ZERO)))?
            }
            Conn::Unix(_) => {}
        }
        drop(self);
        Ok(())
    }

    /// Sets the read timeout of the socket (every handle of it).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_read_timeout(timeout),
            Conn::Unix(s) => s.set_read_timeout(timeout),
            Conn::Tls(s) => s.with_socket(|s| s.set_read_timeout(timeout)),
        }
    }

    /// Sets the write timeout of the socket (every handle of it).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_write_timeout(timeout),
            Conn::Unix(s) => s.set_write_timeout(timeout),
            Conn::Tls(s) => s.with_socket(|s| s.set_write_timeout(timeout)),
        }
    }

    /// Makes the socket (every handle of it) non-blocking or blocking again.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_nonblocking(nonblocking),
            Conn::Unix(s) => s.set_nonblocking(nonblocking),
            Conn::Tls(s) => s.with_socket(|s| s.set_nonblocking(nonblocking)),
        }
    }
}

impl Read for &Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Conn::Tcp(s) => (&*s).read(buf),
            Conn::Unix(s) => (&*s).read(buf),
            Conn::Tls(s) => s.read_plain(buf),
        }
    }
}

impl Write for &Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Conn::Tcp(s) => (&*s).write(buf),
            Conn::Unix(s) => (&*s).write(buf),
            Conn::Tls(s) => s.write_plain(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Unix(s) => s.as_fd(),
            Conn::Tls(s) => s.writer_socket.as_fd(),
        }
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A blocking TLS client connection whose handles ([`Clone`]) a reading and a writing thread can use
/// at once: the session is locked only to move bytes in and out of it, never across a blocking socket
/// call; the socket is read under one lock (one reader at a time) and written under another (records
/// leave in the order the session made them).
#[derive(Debug, Clone)]
pub struct TlsStream {
    shared: Arc<TlsShared>,
    /// A handle on the socket for calls that need no lock (options, the fd).
    writer_socket: Arc<TcpStream>,
}

#[derive(Debug)]
struct TlsShared {
    session: Mutex<ClientConnection>,
    reader: Mutex<RecordReader>,
    writer: Mutex<TcpStream>,
}

/// The reading side: the socket, and records read from it that the session has not taken yet.
#[derive(Debug)]
struct RecordReader {
    socket: TcpStream,
    raw: Box<[u8]>,
    start: usize,
    end: usize,
}

/// Takes a lock; a thread that panicked holding it left the bytes as they were, so go on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many bytes of records one socket read takes.
const RAW_CHUNK: usize = 32 * 1024;

impl TlsStream {
    fn new(session: ClientConnection, socket: TcpStream) -> io::Result<TlsStream> {
        let writer = socket.try_clone()?;
        let writer_socket = Arc::new(socket.try_clone()?);
        Ok(TlsStream {
            shared: Arc::new(TlsShared {
                session: Mutex::new(session),
                reader: Mutex::new(RecordReader {
                    socket,
                    raw: vec![0; RAW_CHUNK].into_boxed_slice(),
                    start: 0,
                    end: 0,
                }),
                writer: Mutex::new(writer),
            }),
            writer_socket,
        })
    }

    /// The session (for what it negotiated: `handshake_kind`, protocol version).
    pub fn session(&self) -> MutexGuard<'_, ClientConnection> {
        lock(&self.shared.session)
    }

    fn with_socket<T>(&self, f: impl FnOnce(&TcpStream) -> io::Result<T>) -> io::Result<T> {
        f(&self.writer_socket)
    }

    /// Sends what the session has queued (records, alerts), in order.
    fn send_queued(&self, mut session: MutexGuard<'_, ClientConnection>) -> io::Result<()> {
        if !session.wants_write() {
            return Ok(());
        }
        let mut records = Vec::new();
        while session.wants_write() {
            session.write_tls(&mut records)?;
        }
        let mut writer = lock(&self.shared.writer);
        drop(session);
        writer.write_all(&records)
    }

    fn read_plain(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut reader = lock(&self.shared.reader);
        let reader = &mut *reader;
        loop {
            {
                let mut session = lock(&self.shared.session);
                match session.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed the TCP connection without close_notify: the protocol frames
                    // its own messages, so this reads as an end of stream, as over TCP.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
            }
            let eof = reader.start == reader.end && {
                let n = loop {
                    match reader.socket.read(&mut reader.raw) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                (reader.start, reader.end) = (0, n);
                n == 0
            };
            // Hand the session one read's worth: it holds at most one record of plaintext, which is
            // read out before it gets more (its buffer of received plaintext is bounded).
            let mut session = lock(&self.shared.session);
            let mut data = &reader.raw[reader.start..reader.end];
            let took = session.read_tls(&mut data)?;
            reader.start += took;
            if took == 0 && !eof {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the TLS session takes no more bytes",
                ));
            }
            if let Err(e) = session.process_new_packets() {
                // Send the alert rustls queued, then fail.
                let _ = self.send_queued(session);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            self.send_queued(session)?;
        }
    }

    fn write_plain(&self, buf: &[u8]) -> io::Result<usize> {
        let mut session = lock(&self.shared.session);
        let n = session.writer().write(buf)?;
        self.send_queued(session)?;
        Ok(n)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        let mut session = lock(&self.shared.session);
        session.send_close_notify();
        self.send_queued(session)?;
        lock(&self.shared.writer).shutdown(Shutdown::Write)
    }
}
