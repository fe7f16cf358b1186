//! Textbook mio echo (the shape of mio's own `examples/tcp_server.rs`): one `Poll` on the calling
//! thread, a `HashMap` from token to connection, every socket registered once for reading and
//! writing (edge-triggered), read until `WouldBlock`, write back; what the socket does not take
//! waits until it is writable (reading pauses meanwhile, so that the buffer stays bounded).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const SERVER: Token = Token(0);

/// One connection: its socket and the bytes it has not written back yet.
struct Conn {
    stream: TcpStream,
    unsent: Vec<u8>,
}

/// Serves echo on `addr` forever.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(128);
    let mut server = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut server, SERVER, Interest::READABLE)?;
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 1;
    let mut buf = vec![0; crate::BUF_SIZE];
    loop {
        if let Err(err) = poll.poll(&mut events, None) {
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        for event in events.iter() {
            match event.token() {
                SERVER => loop {
                    let (mut stream, _) = match server.accept() {
                        Ok(accepted) => accepted,
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    };
                    let token = Token(next);
                    next += 1;
                    let interest = Interest::READABLE.add(Interest::WRITABLE);
                    if poll
                        .registry()
                        .register(&mut stream, token, interest)
                        .is_ok()
                    {
                        let unsent = Vec::new();
                        conns.insert(token, Conn { stream, unsent });
                    }
                },
                token => {
                    let done = match conns.get_mut(&token) {
                        Some(conn) => echo(conn, &mut buf).unwrap_or(true),
                        None => false,
                    };
                    if done {
                        conns.remove(&token);
                    }
                }
            }
        }
    }
}

/// Writes what is pending, then reads and writes back until `WouldBlock`; `true` when the
/// connection is done (EOF after everything was written back).
fn echo(conn: &mut Conn, buf: &mut [u8]) -> io::Result<bool> {
    loop {
        while !conn.unsent.is_empty() {
            match conn.stream.write(&conn.unsent) {
                Ok(n) => drop(conn.unsent.drain(..n)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        match conn.stream.read(buf) {
            Ok(0) => return Ok(true),
            Ok(n) => conn.unsent.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
