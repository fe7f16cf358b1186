//! TLS for threads: rustls's `ServerConnection` driven by blocking reads and writes.
//!
//! The handshake runs on the connection's thread before the app sees the connection, with the
//! socket's read and write timeouts set to what is left of the handshake timeout.
//!
//! Chat has a reader and a writer thread per connection, but one TLS session: records in both
//! directions go through the same `ServerConnection`. rustls's `StreamOwned` cannot be shared by two
//! threads that block, so the connection is split here by hand:
//! - the session state sits behind a mutex that is held only while rustls decrypts or encrypts,
//!   never during a system call, so a reader blocked in `read` or a writer blocked on a client that
//!   does not read never holds it;
//! - the reader blocks in `read` on the socket (no lock), then feeds the ciphertext to the session
//!   and takes the plaintext out under the lock;
//! - the writer encrypts under the lock into its own pending buffer, and writes that buffer to the
//!   socket under a second mutex (`outgoing`), which keeps records in the order rustls made them.
//!   Ciphertext already taken out of the session is always written before new plaintext is
//!   accepted, so a write interrupted by the stall tick resumes exactly where it stopped.
//!
//! Records the session makes while *reading* (the answer to a client's KeyUpdate request) are sent
//! with the writer's next write; the reader never writes, so a client that does not read cannot
//! block its own input. The echo app uses the same two halves on one thread.
//!
//! Buffers per TLS connection: the rustls session (its record buffers grow to the largest record in
//! flight, about 16 KiB each way), a 4 KiB ciphertext buffer for the reader (allocated once), and the
//! writer's pending ciphertext (at most one batch, emptied as it is written).

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::ServerConnection;
use server_common::Tls;

use crate::transport::{HalfClose, Stream};

/// Size of the reader's ciphertext buffer.
const CIPHER_BUF: usize = 4 * 1024;

/// One TLS session shared by its reading and writing halves.
struct Session {
    socket: Arc<Stream>,
    state: Mutex<ServerConnection>,
    outgoing: Mutex<Outgoing>,
}

/// Ciphertext taken out of the session and not yet written to the socket.
#[derive(Default)]
struct Outgoing {
    buf: Vec<u8>,
    sent: usize,
}

/// The reading half of a TLS connection: plaintext out, ciphertext in from the socket.
pub(crate) struct TlsReader {
    session: Arc<Session>,
    cipher: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
}

/// The writing half of a TLS connection: plaintext in, records out to the socket.
pub(crate) struct TlsWriter {
    session: Arc<Session>,
}

/// Runs the server side of the handshake on `socket` within `tls`'s handshake timeout, then restores
/// the socket's read timeout to `idle` and returns the connection's two halves.
pub(crate) fn handshake(
    socket: Arc<Stream>,
    tls: &Tls,
    idle: Option<Duration>,
) -> io::Result<(TlsReader, TlsWriter)> {
    let mut conn = tls.new_connection().map_err(io::Error::other)?;
    let deadline = Instant::now() + tls.handshake_timeout();
    let mut io = &*socket;
    while conn.is_handshaking() || conn.wants_write() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(handshake_timed_out)?;
        socket.set_read_timeout(Some(left))?;
        socket.set_write_timeout(Some(left))?;
        let step = if conn.wants_write() {
            conn.write_tls(&mut io).map(drop)
        } else {
            match conn.read_tls(&mut io) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed during the TLS handshake",
                )),
                Ok(_) => conn.process_new_packets().map(drop).map_err(|err| {
                    let _ = conn.write_tls(&mut io); // the alert, best effort
                    io::Error::new(io::ErrorKind::InvalidData, err)
                }),
                Err(err) => Err(err),
            }
        };
        match step {
            Err(err) if is_timeout(&err) => return Err(handshake_timed_out()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            step => step?,
        }
    }
    socket.set_read_timeout(idle)?;
    socket.set_write_timeout(None)?;
    let session = Arc::new(Session {
        socket,
        state: Mutex::new(conn),
        outgoing: Mutex::new(Outgoing::default()),
    });
    let reader = TlsReader {
        session: Arc::clone(&session),
        cipher: vec![0; CIPHER_BUF].into_boxed_slice(),
        start: 0,
        end: 0,
        eof: false,
    };
    Ok((reader, TlsWriter { session }))
}

fn handshake_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Locks a mutex; a panic elsewhere while holding it leaves a session that is closed anyway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Session {
    /// Moves every record the session has ready into `out`.
    fn take_records(&self, out: &mut Outgoing) {
        let mut conn = lock(&self.state);
        while conn.wants_write() {
            // Writing into a Vec cannot fail.
            if conn.write_tls(&mut out.buf).is_err() {
                break;
            }
        }
    }

    /// Writes `out` to the socket; on an error (e.g. the stall tick's timeout) what is left stays
    /// in `out` for the next call.
    fn send(&self, out: &mut Outgoing) -> io::Result<()> {
        while out.sent < out.buf.len() {
            match (&*self.socket).write(&out.buf[out.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => out.sent += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        out.buf.clear();
        out.sent = 0;
        Ok(())
    }
}

impl Read for TlsReader {
    /// Plaintext from the session; blocks on the socket (without holding the session's lock) when
    /// the session has none. 0 at the client's `close_notify` or EOF.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = lock(&self.session.state);
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    // EOF without close_notify: for echo and chat, the end of the input.
                    Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(err) => return Err(err),
                }
                if self.start < self.end {
                    let mut pending = &self.cipher[self.start..self.end];
                    self.start += conn.read_tls(&mut pending)?;
                    conn.process_new_packets()
                        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
                    continue;
                }
                if self.eof {
                    return Ok(0);
                }
            }
            let n = (&*self.session.socket).read(&mut self.cipher)?;
            (self.start, self.end) = (0, n);
            if n == 0 {
                self.eof = true;
                let mut conn = lock(&self.session.state);
                let _ = conn.read_tls(&mut &[][..]);
                let _ = conn.process_new_packets();
            }
        }
    }
}

impl TlsWriter {
    /// The socket underneath.
    pub(crate) fn socket(&self) -> &Stream {
        &self.session.socket
    }
}

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Encrypts as much of `bufs` as the session takes and writes the records. Earlier records
    /// still unwritten go first; if they cannot (timeout), nothing new is taken. Records this call
    /// made but could not write in time are written by the next call or [`flush`](Self::flush).
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut out = lock(&self.session.outgoing);
        self.session.send(&mut out)?;
        let taken = lock(&self.session.state).writer().write_vectored(bufs)?;
        self.session.take_records(&mut out);
        match self.session.send(&mut out) {
            Err(err) if is_timeout(&err) => {}
            sent => sent?,
        }
        Ok(taken)
    }

    /// Writes every record made so far (including any the reader's side produced).
    fn flush(&mut self) -> io::Result<()> {
        let mut out = lock(&self.session.outgoing);
        self.session.take_records(&mut out);
        self.session.send(&mut out)
    }
}

impl HalfClose for TlsWriter {
    /// `Write`: sends `close_notify` (best effort), then the FIN. `Read`: shuts the socket's reading
    /// side down (wakes the reader).
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            let mut out = lock(&self.session.outgoing);
            lock(&self.session.state).send_close_notify();
            self.session.take_records(&mut out);
            let _ = self.session.send(&mut out);
        }
        self.session.socket.shutdown(how)
    }
}
