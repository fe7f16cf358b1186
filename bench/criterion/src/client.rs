//! The echo clients: every reply read back in full and compared byte for byte with what was sent, with
//! [`IO_TIMEOUT`] on every connect, read and write, so a wrong or silent server makes the bench panic
//! with a message naming the scenario instead of hanging or looking fast.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use conformance::transport::{Conn, Endpoint};

use crate::IO_TIMEOUT;

/// Connects to `addr` with [`IO_TIMEOUT`] on connect, reads and writes, and `TCP_NODELAY`.
///
/// # Panics
/// If the connection cannot be made; `what` names the scenario in the message.
pub fn connect(addr: SocketAddr, what: &str) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|err| panic!("{what}: cannot connect to {addr}: {err}"));
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .unwrap_or_else(|err| panic!("{what}: cannot set socket options: {err}"));
    stream
}

/// Connects to `endpoint` (TCP, TLS with its handshake done, or a unix socket) with [`IO_TIMEOUT`] on
/// connect, reads and writes, and `TCP_NODELAY` over TCP.
///
/// # Panics
/// If the connection cannot be made; `what` names the scenario in the message.
pub fn connect_to(endpoint: &Endpoint, what: &str) -> Conn {
    endpoint
        .connect(IO_TIMEOUT)
        .unwrap_or_else(|err| panic!("{what}: cannot connect to {endpoint}: {}", describe(&err)))
}

/// Writes all of `data`.
///
/// # Panics
/// On any error or timeout, with `what` in the message.
pub fn write_all<S: Write + ?Sized>(stream: &mut S, data: &[u8], what: &str) {
    if let Err(err) = stream.write_all(data) {
        panic!(
            "{what}: writing {} bytes failed: {}",
            data.len(),
            describe(&err)
        );
    }
}

/// Reads exactly `buf.len()` bytes.
///
/// # Panics
/// On EOF, error or timeout, with `what` in the message.
pub fn read_exact<S: Read + ?Sized>(stream: &mut S, buf: &mut [u8], what: &str) {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => panic!(
                "{what}: the server closed the connection after {got} of {} expected bytes",
                buf.len()
            ),
            Ok(n) => got += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => panic!(
                "{what}: reading failed after {got} of {} expected bytes: {}",
                buf.len(),
                describe(&err)
            ),
        }
    }
}

/// Reads exactly `expected.len()` bytes into `scratch` (resized as needed) and checks they equal
/// `expected`.
///
/// # Panics
/// On a mismatch, EOF, error or timeout, with `what` in the message.
pub fn expect_bytes<S: Read + ?Sized>(
    stream: &mut S,
    expected: &[u8],
    scratch: &mut Vec<u8>,
    what: &str,
) {
    scratch.resize(expected.len(), 0);
    read_exact(stream, scratch, what);
    check_eq(scratch, expected, what);
}

fn check_eq(got: &[u8], expected: &[u8], what: &str) {
    if got != expected {
        let at = got
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        panic!(
            "{what}: wrong bytes from the server (first difference at byte {at} of {}): got {:?}, expected {:?}",
            expected.len(),
            String::from_utf8_lossy(&got[at..got.len().min(at + 40)]),
            String::from_utf8_lossy(&expected[at..expected.len().min(at + 40)]),
        );
    }
}

fn describe(err: &io::Error) -> String {
    match err.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("timed out after {IO_TIMEOUT:?} ({err})")
        }
        _ => err.to_string(),
    }
}

/// An echo message of `len` bytes (at least 8) whose first 8 bytes carry a sequence number, so that a
/// stale or replayed echo is told apart from a fresh one. The rest is a fixed printable pattern.
#[derive(Debug, Clone)]
pub struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// A message of `len` bytes.
    ///
    /// # Panics
    /// If `len < 8`.
    pub fn new(len: usize) -> Self {
        assert!(len >= 8, "a message carries an 8-byte sequence number");
        let bytes = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        Message { bytes }
    }

    /// Stamps `seq` into the message and returns its bytes.
    pub fn stamp(&mut self, seq: u64) -> &[u8] {
        self.bytes[..8].copy_from_slice(&seq.to_le_bytes());
        &self.bytes
    }

    /// The bytes as last stamped.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The message length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the message is empty (never: at least 8 bytes).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// One echo connection over any transport: sends a message and waits for exactly that message back.
#[derive(Debug)]
pub struct EchoClient {
    stream: Conn,
    scratch: Vec<u8>,
    seq: u64,
}

impl EchoClient {
    /// Connects to the echo server at `addr` over plain TCP.
    pub fn connect(addr: SocketAddr) -> Self {
        EchoClient::over(Conn::Tcp(connect(addr, "echo client")))
    }

    /// Connects to the echo server at `endpoint` (TCP, TLS or a unix socket); a TLS handshake is
    /// done when this returns.
    pub fn connect_to(endpoint: &Endpoint) -> Self {
        EchoClient::over(connect_to(endpoint, "echo client"))
    }

    fn over(stream: Conn) -> Self {
        EchoClient {
            stream,
            scratch: Vec::new(),
            seq: 0,
        }
    }

    /// One round trip: writes `msg` (freshly stamped) and reads it back, checking every byte.
    pub fn round_trip(&mut self, msg: &mut Message) {
        self.seq += 1;
        let bytes = msg.stamp(self.seq);
        write_all(&mut self.stream, bytes, "echo round trip");
        expect_bytes(
            &mut self.stream,
            msg.bytes(),
            &mut self.scratch,
            "echo round trip",
        );
    }
}

/// A set of concurrent echo connections that receive bursts of messages.
#[derive(Debug)]
pub struct EchoBurst {
    conns: Vec<TcpStream>,
    msg: Message,
    per_conn: usize,
    expected: Vec<u8>,
    scratch: Vec<u8>,
    seq: u64,
}

impl EchoBurst {
    /// Opens `conns` connections to `addr`; each burst sends `per_conn` messages of `msg_len` bytes on
    /// each. Keep `per_conn * msg_len` well under the socket buffers (a few KiB) so that the
    /// write-everything-then-read-everything client cannot deadlock.
    pub fn connect(addr: SocketAddr, conns: usize, per_conn: usize, msg_len: usize) -> Self {
        EchoBurst {
            conns: (0..conns).map(|_| connect(addr, "echo burst")).collect(),
            msg: Message::new(msg_len),
            per_conn,
            expected: Vec::with_capacity(per_conn * msg_len),
            scratch: Vec::new(),
            seq: 0,
        }
    }

    /// Messages per burst (connections × messages per connection).
    pub fn messages(&self) -> usize {
        self.conns.len() * self.per_conn
    }

    /// One burst: message `k` is written to every connection in turn, for each `k`; then every
    /// connection's echo is read back in full and checked.
    pub fn burst(&mut self) {
        let first = self.seq;
        for _ in 0..self.per_conn {
            self.seq += 1;
            let bytes = self.msg.stamp(self.seq);
            for conn in &mut self.conns {
                write_all(conn, bytes, "echo burst");
            }
        }
        self.expected.clear();
        for seq in first + 1..=self.seq {
            self.expected.extend_from_slice(self.msg.stamp(seq));
        }
        for conn in &mut self.conns {
            expect_bytes(conn, &self.expected, &mut self.scratch, "echo burst");
        }
    }
}

/// Opens `n` fresh connections to the echo server at `addr` (all of them first, as a burst of arriving
/// clients would), sends `msg` on each, half-closes, and reads the echo and the server's close (EOF) on
/// each. Returns when the server has served and closed all `n`.
///
/// # Panics
/// If a connection fails, an echo is wrong or missing, or the server does not close.
pub fn connect_echo_close(addr: SocketAddr, n: usize, msg: &[u8], scratch: &mut Vec<u8>) {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| connect(addr, "connect")).collect();
    for conn in &mut conns {
        write_all(conn, msg, "connect");
        conn.shutdown(Shutdown::Write)
            .unwrap_or_else(|err| panic!("connect: cannot half-close: {err}"));
    }
    for conn in &mut conns {
        expect_bytes(conn, msg, scratch, "connect");
        let mut one = [0u8; 1];
        loop {
            match conn.read(&mut one) {
                Ok(0) => break,
                Ok(_) => panic!("connect: the server sent more than the echo"),
                // A stop and continue (or any signal) interrupts a read with a timeout.
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => panic!(
                    "connect: waiting for the server to close failed: {}",
                    describe(&err)
                ),
            }
        }
    }
}
