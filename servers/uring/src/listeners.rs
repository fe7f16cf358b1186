//! One listening socket per ring: the server's listener and, for every further ring, a socket bound to
//! the same address with `SO_REUSEPORT`, so that the kernel spreads new connections over the rings.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use server_common::Listener;
use server_common::listen::BACKLOG;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// `rings` listening sockets on `listener`'s address, the first being `listener`'s own (a duplicate,
/// as blocking as `listener`; the others are non-blocking).
///
/// A multishot accept armed on one shared listener by every ring does not spread connections: the
/// first ring woken accepts the whole backlog while it runs (measured: 100 connections opened at once
/// all landed on ring 0 of 2). With `SO_REUSEPORT` each ring owns a listener and the kernel hashes each
/// new connection to one of them. `SO_REUSEPORT` is set on the server's listener after it was bound,
/// which Linux accepts (it also lets another process of the same user join the group and take a share
/// of the connections, as with any `SO_REUSEPORT` server); should it fail, every ring falls back to a duplicate of the one listener, and
/// the log says so.
/// A unix-domain listener has no `SO_REUSEPORT` spreading: every ring accepts from a duplicate of it.
pub(crate) fn for_rings(listener: &Listener, rings: usize) -> io::Result<Vec<OwnedFd>> {
    let listener = match listener {
        Listener::Tcp(tcp) => tcp,
        Listener::Unix(unix) => {
            return (0..rings.max(1))
                .map(|_| unix.try_clone().map(OwnedFd::from))
                .collect();
        }
    };
    let shared = || listener.try_clone().map(OwnedFd::from);
    if rings <= 1 {
        return Ok(vec![shared()?]);
    }
    let own = (|| {
        SockRef::from(listener).set_reuse_port(true)?;
        let addr = listener.local_addr()?;
        (1..rings)
            .map(|_| bind_reuseport(addr))
            .collect::<io::Result<Vec<_>>>()
    })();
    let mut all = vec![shared()?];
    match own {
        Ok(extra) => all.extend(extra),
        Err(err) => {
            tracing::warn!(error = %err, "no SO_REUSEPORT listeners: every ring accepts from the one listener");
            for _ in 1..rings {
                all.push(shared()?);
            }
        }
    }
    Ok(all)
}

/// A non-blocking listener on `addr` in the same `SO_REUSEPORT` group as the server's listener.
fn bind_reuseport(addr: SocketAddr) -> io::Result<OwnedFd> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn every_ring_gets_a_listener_on_the_same_port_and_connections_spread() {
        let listener = server_common::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("non-blocking");
        let fds = for_rings(&Listener::Tcp(listener), 2).expect("listeners");
        let listeners: Vec<TcpListener> = fds.into_iter().map(TcpListener::from).collect();
        for l in &listeners {
            assert_eq!(l.local_addr().expect("addr"), addr);
        }
        let _clients: Vec<TcpStream> = (0..64)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(50)); // let the handshakes land
        let accepted: Vec<usize> = listeners
            .iter()
            .map(|l| std::iter::from_fn(|| l.accept().ok()).count())
            .collect();
        assert_eq!(accepted.iter().sum::<usize>(), 64, "{accepted:?}");
        assert!(accepted.iter().all(|&n| n > 0), "not spread: {accepted:?}");
    }
}
