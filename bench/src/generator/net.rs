//! Opening non-blocking client sockets (TCP, optionally bound to a source address, or unix-domain).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Starts a non-blocking connect to `addr`, from `source` if given.
///
/// Binding to a source address uses `IP_BIND_ADDRESS_NO_PORT`, so the port
/// is chosen at connect time per destination rather than reserved at bind
/// time (which would cap each source address at one port range overall).
/// The connect completes later: wait for writability, then check
/// `take_error()` and `peer_addr()`.
pub fn start_connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<mio::net::TcpStream> {
    let domain = Domain::for_address(addr);
    let sock = Socket::new(domain, Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
    sock.set_tcp_nodelay(true)?;
    if let Some(ip) = source {
        if ip.is_ipv4() {
            let one: libc::c_int = 1;
            // SAFETY: a valid socket fd and a c_int option value of the
            // right size. Failure only loses the optimisation.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        sock.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
    }
    match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(std::net::TcpStream::from(
        sock,
    )))
}

/// Starts a non-blocking connect to the unix-domain socket at `path` (it completes at once, or
/// fails: a full backlog is `WouldBlock`).
pub fn start_connect_unix(path: &std::path::Path) -> io::Result<mio::net::UnixStream> {
    mio::net::UnixStream::connect(path)
}

/// Outcome of checking a connecting socket after a readiness event.
#[derive(Debug)]
pub enum ConnectState {
    /// The connection is established.
    Connected,
    /// Not yet (spurious wakeup).
    Pending,
    /// The connect failed.
    Failed(io::Error),
}

/// Checks whether a non-blocking connect finished.
pub fn check_connect(stream: &mio::net::TcpStream) -> ConnectState {
    match stream.take_error() {
        Ok(Some(e)) | Err(e) => return ConnectState::Failed(e),
        Ok(None) => {}
    }
    match stream.peer_addr() {
        Ok(_) => ConnectState::Connected,
        Err(e) if e.kind() == io::ErrorKind::NotConnected => ConnectState::Pending,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => ConnectState::Pending,
        Err(e) => ConnectState::Failed(e),
    }
}
