//! The listening socket of any transport: a TCP listener or a unix-domain stream listener, and the
//! address the `listening` line prints for it (`IP:PORT`, `tls://IP:PORT` or `unix:PATH`).

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

/// A bound, listening stream socket: TCP or unix-domain. Every variant's `run` takes one; TLS, if
/// configured, is layered on top by the variant (`Config::tls`).
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A unix-domain stream listener.
    Unix(UnixListener),
}

impl Listener {
    /// Switches the listening socket between blocking and non-blocking accepts.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(nonblocking),
            Listener::Unix(l) => l.set_nonblocking(nonblocking),
        }
    }

    /// A second handle on the same listening socket (a `dup`).
    pub fn try_clone(&self) -> io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l) => Listener::Unix(l.try_clone()?),
        })
    }

    /// Where the socket listens, plain (without the TLS scheme; see [`ListenAddr::with_tls`]).
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(ListenAddr::Tcp),
            Listener::Unix(l) => {
                let addr = l.local_addr()?;
                let path = addr.as_pathname().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "unnamed unix socket")
                })?;
                Ok(ListenAddr::Unix(path.to_path_buf()))
            }
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Listener::Tcp(listener)
    }
}

impl From<UnixListener> for Listener {
    fn from(listener: UnixListener) -> Self {
        Listener::Unix(listener)
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A server's address as the `listening` line and clients write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// Plain TCP: `IP:PORT` (IPv6: `[IP]:PORT`).
    Tcp(SocketAddr),
    /// TLS over TCP: `tls://IP:PORT`.
    Tls(SocketAddr),
    /// A unix-domain stream socket: `unix:PATH`.
    Unix(PathBuf),
}

impl ListenAddr {
    /// The same address with TLS on top (`tls://`); a unix address is returned unchanged (TLS over
    /// unix sockets is not part of the contract, and `serve` refuses it).
    pub fn with_tls(self) -> ListenAddr {
        match self {
            ListenAddr::Tcp(addr) => ListenAddr::Tls(addr),
            other => other,
        }
    }

    /// The IP address and port, for TCP and TLS; `None` for a unix socket.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(addr) | ListenAddr::Tls(addr) => Some(*addr),
            ListenAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Tls(addr) => write!(f, "tls://{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_as_the_contract_writes_them() {
        let v4: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        let v6: SocketAddr = "[::1]:7000".parse().expect("addr");
        assert_eq!(ListenAddr::Tcp(v4).to_string(), "127.0.0.1:7000");
        assert_eq!(
            ListenAddr::Tcp(v4).with_tls().to_string(),
            "tls://127.0.0.1:7000"
        );
        assert_eq!(ListenAddr::Tls(v6).to_string(), "tls://[::1]:7000");
        assert_eq!(
            ListenAddr::Unix("/tmp/chat.sock".into()).to_string(),
            "unix:/tmp/chat.sock"
        );
    }
}
