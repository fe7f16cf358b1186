//! A TCP relay in front of a server listening on another transport, so that the conformance cases,
//! whose clients speak TCP, run unchanged against a server over a unix socket or TLS.
//!
//! Each connection a case opens to [`Relay::addr`] gets one connection to the server and a thread
//! that copies bytes both ways, half-close included: the case's FIN becomes the server side's FIN
//! (over TLS, `close_notify` then FIN), and the server's end of stream becomes a FIN to the case. The
//! relay reads from one side only once it wrote everything it read to the other, so a side that stops
//! reading stops the other side's writes too (backpressure, with the relay's socket buffers added).
//! A reset or error on either side drops both connections.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

/// How long a relay thread waits for readiness before it checks whether the relay stopped.
const POLL_TICK: Duration = Duration::from_millis(50);

/// Bounds the connect and the TLS handshake to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server behind the relay.
#[derive(Clone)]
pub enum Upstream {
    /// A unix-domain socket at this path.
    Unix(PathBuf),
    /// TLS at this address, trusted with this client configuration (server name `localhost`).
    Tls(SocketAddr, Arc<ClientConfig>),
}

/// A running relay; dropping it stops it and joins its threads.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay on `127.0.0.1:0` in front of `upstream`.
    pub fn start(upstream: Upstream) -> io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, threads) = (Arc::clone(&stop), Arc::clone(&threads));
            std::thread::spawn(move || accept_loop(&listener, &upstream, &stop, &threads))
        };
        Ok(Relay {
            addr,
            stop,
            threads,
            acceptor: Some(acceptor),
        })
    }

    /// The TCP address the cases connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let threads = std::mem::take(&mut *self.threads.lock().expect("relay threads"));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: &Upstream,
    stop: &Arc<AtomicBool>,
    threads: &Mutex<Vec<JoinHandle<()>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _peer)) => {
                let (upstream, stop) = (upstream.clone(), Arc::clone(stop));
                let thread = std::thread::spawn(move || {
                    if let Ok(mut pipe) = Pipe::open(client, &upstream) {
                        let _ = pipe.run(&stop);
                    }
                });
                threads.lock().expect("relay threads").push(thread);
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The relay's connection to the server.
enum Server {
    Unix(UnixStream),
    Tls(Box<ClientConnection>, TcpStream),
}

impl Server {
    fn connect(upstream: &Upstream) -> io::Result<Server> {
        match upstream {
            Upstream::Unix(path) => Ok(Server::Unix(UnixStream::connect(path)?)),
            Upstream::Tls(addr, config) => {
                let mut sock = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
                sock.set_read_timeout(Some(CONNECT_TIMEOUT))?;
                sock.set_write_timeout(Some(CONNECT_TIMEOUT))?;
                let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
                let mut tls =
                    ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
                while tls.is_handshaking() {
                    tls.complete_io(&mut sock)?;
                }
                Ok(Server::Tls(Box::new(tls), sock))
            }
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Server::Unix(s) => s.as_raw_fd(),
            Server::Tls(_, s) => s.as_raw_fd(),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Server::Unix(s) => s.set_nonblocking(true),
            Server::Tls(_, s) => s.set_nonblocking(true),
        }
    }

    /// Whether bytes wait to go out to the server beyond `queued` (TLS records).
    fn has_records(&self) -> bool {
        match self {
            Server::Unix(_) => false,
            Server::Tls(tls, _) => tls.wants_write(),
        }
    }

    /// Hands as much of `queued` to the server as it takes now (removing it from `queued`).
    fn send(&mut self, queued: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Server::Unix(s) => write_some(s, queued),
            Server::Tls(tls, sock) => {
                if !queued.is_empty() {
                    let n = tls.writer().write(queued)?;
                    queued.drain(..n);
                }
                while tls.wants_write() {
                    match tls.write_tls(sock) {
                        Ok(_) => {}
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(())
            }
        }
    }

    /// Ends the stream to the server: FIN, or over TLS `close_notify` (then FIN once every record
    /// is out: see [`Server::finish_close`]).
    fn close_write(&mut self) {
        match self {
            Server::Unix(s) => {
                let _ = s.shutdown(Shutdown::Write);
            }
            Server::Tls(tls, _) => tls.send_close_notify(),
        }
    }

    /// TLS: the FIN after the last record.
    fn finish_close(&mut self) {
        if let Server::Tls(tls, sock) = self
            && !tls.wants_write()
        {
            let _ = sock.shutdown(Shutdown::Write);
        }
    }

    /// Reads what the server sent into `into`: `Ok(false)` at its end of stream.
    fn recv(&mut self, into: &mut Vec<u8>) -> io::Result<bool> {
        let mut chunk = [0; 16 * 1024];
        match self {
            Server::Unix(s) => match s.read(&mut chunk) {
                Ok(0) => Ok(false),
                Ok(n) => {
                    into.extend_from_slice(&chunk[..n]);
                    Ok(true)
                }
                Err(err) if would_block(&err) => Ok(true),
                Err(err) => Err(err),
            },
            Server::Tls(tls, sock) => {
                let socket_open = match tls.read_tls(sock) {
                    Ok(n) => n > 0,
                    Err(err) if would_block(&err) => true,
                    Err(err) => return Err(err),
                };
                tls.process_new_packets().map_err(io::Error::other)?;
                loop {
                    match tls.reader().read(&mut chunk) {
                        Ok(0) => return Ok(false), // close_notify
                        Ok(n) => into.extend_from_slice(&chunk[..n]),
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            return Ok(socket_open);
                        }
                        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                            return Ok(false);
                        }
                        Err(err) => return Err(err),
                    }
                }
            }
        }
    }
}

/// One relayed connection: the case's socket, the server connection, and what is in flight.
struct Pipe {
    client: TcpStream,
    server: Server,
    /// Read from the case, not yet taken by the server.
    to_server: Vec<u8>,
    /// Read from the server, not yet taken by the case.
    to_client: Vec<u8>,
    client_eof: bool,
    server_eof: bool,
    server_closed: bool,
    client_closed: bool,
}

impl Pipe {
    fn open(client: TcpStream, upstream: &Upstream) -> io::Result<Pipe> {
        let server = Server::connect(upstream)?;
        server.set_nonblocking()?;
        client.set_nonblocking(true)?;
        let _ = client.set_nodelay(true);
        Ok(Pipe {
            client,
            server,
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_eof: false,
            server_eof: false,
            server_closed: false,
            client_closed: false,
        })
    }

    /// Copies both ways until both streams ended, an error, or `stop`.
    fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::SeqCst) {
            if !self.client_eof && self.to_server.is_empty() {
                let mut chunk = [0; 16 * 1024];
                match self.client.read(&mut chunk) {
                    Ok(0) => self.client_eof = true,
                    Ok(n) => self.to_server.extend_from_slice(&chunk[..n]),
                    Err(err) if would_block(&err) => {}
                    Err(err) => return Err(err),
                }
            }
            self.server.send(&mut self.to_server)?;
            if self.client_eof && self.to_server.is_empty() && !self.server_closed {
                self.server.close_write();
                self.server_closed = true;
                self.server.send(&mut self.to_server)?;
            }
            if self.server_closed {
                self.server.finish_close();
            }
            if !self.server_eof && self.to_client.is_empty() {
                self.server_eof = !self.server.recv(&mut self.to_client)?;
            }
            write_some(&mut self.client, &mut self.to_client)?;
            if self.server_eof && self.to_client.is_empty() && !self.client_closed {
                let _ = self.client.shutdown(Shutdown::Write);
                self.client_closed = true;
            }
            if self.client_closed && self.server_closed && !self.server.has_records() {
                return Ok(());
            }
            self.wait()?;
        }
        Ok(())
    }

    /// Waits until a side this pipe waits for is ready, at most [`POLL_TICK`].
    fn wait(&self) -> io::Result<()> {
        let mut client = libc::pollfd {
            fd: self.client.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        if !self.client_eof && self.to_server.is_empty() {
            client.events |= libc::POLLIN;
        }
        if !self.to_client.is_empty() {
            client.events |= libc::POLLOUT;
        }
        let mut server = libc::pollfd {
            fd: self.server.fd(),
            events: 0,
            revents: 0,
        };
        if !self.server_eof && self.to_client.is_empty() {
            server.events |= libc::POLLIN;
        }
        if !self.to_server.is_empty() || self.server.has_records() {
            server.events |= libc::POLLOUT;
        }
        let mut fds = [client, server];
        let tick = libc::c_int::try_from(POLL_TICK.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, tick) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(())
    }
}

/// Writes as much of `queued` as `to` takes now, removing it from `queued`.
fn write_some(mut to: impl Write, queued: &mut Vec<u8>) -> io::Result<()> {
    while !queued.is_empty() {
        match to.write(queued) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                queued.drain(..n);
            }
            Err(err) if would_block(&err) => return Ok(()),
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

fn would_block(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
