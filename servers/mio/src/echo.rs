//! Echo on the event loop: each connection is a small state machine around its socket; the bytes
//! pass through the loop's one read buffer.
//!
//! On readiness a connection reads into the loop's buffer and writes the bytes straight back. Only
//! when the socket takes less than it was given (the client does not read fast enough) does the
//! rest move into a buffer of the connection's own, write interest is switched on, and reading
//! pauses until that rest is written: the queue is bounded by one read. Once it is written the
//! buffer is freed and write interest switched off again. So an idle connection holds its socket
//! and a few words of state, no buffer (`ECHO_BUF_SIZE` lives once per loop, not once per
//! connection).
//!
//! EOF (the client half-closed): once everything is written back, shut the write side down (FIN)
//! and close. A reset or any other socket error: close at once.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::Interest;
use server_common::config::ECHO_BUF_SIZE;

use crate::event_loop::{Cx, Protocol, Ready, Slot, Status, Wake};
use crate::transport::Stream;

/// Reads one connection may do per turn before the loop moves on (fairness: a client that sends
/// without pause cannot starve the others). 16 reads of 16 KiB: 256 KiB.
pub(crate) const READ_BUDGET: usize = 16;

/// The echo application on one loop: the loop's read buffer and the idle timeout.
#[derive(Debug)]
pub(crate) struct Echo {
    buf: Box<[u8]>,
    idle: Option<Duration>,
}

impl Echo {
    /// Echo with `--idle-timeout` `idle`.
    pub(crate) fn new(idle: Option<Duration>) -> Self {
        Echo {
            buf: vec![0; ECHO_BUF_SIZE].into_boxed_slice(),
            idle,
        }
    }
}

/// One echo connection.
#[derive(Debug)]
pub(crate) struct EchoConn {
    stream: Stream,
    /// Bytes read but not yet written back; empty (no allocation) unless the socket's send buffer
    /// filled up.
    unsent: Vec<u8>,
    /// How much of `unsent` is written.
    sent: usize,
    /// The client half-closed (EOF read).
    eof: bool,
    /// Epoll reported the peer's FIN or an error: read on to the EOF even after a short read.
    peer_closed: bool,
    last_input: Instant,
}

/// The outcome of writing some bytes to a non-blocking socket.
enum Written {
    /// All of them.
    All,
    /// This many; the send buffer is full.
    Part(usize),
}

/// Writes as much of `data` as the socket takes now.
fn write_some(stream: &mut Stream, data: &[u8]) -> io::Result<Written> {
    let mut done = 0;
    while done < data.len() {
        match stream.write(&data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Written::Part(done)),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Written::All)
}

impl EchoConn {
    /// Writes what is left of `unsent`; `true` once all of it is written (the buffer is freed and
    /// write interest switched off).
    fn flush(&mut self, slot: Slot, cx: &Cx<'_>) -> io::Result<bool> {
        match write_some(&mut self.stream, &self.unsent[self.sent..])? {
            Written::Part(n) => {
                self.sent += n;
                Ok(false)
            }
            Written::All => {
                self.unsent = Vec::new();
                self.sent = 0;
                cx.registry
                    .reregister(&mut self.stream, slot.token(), Interest::READABLE)?;
                Ok(true)
            }
        }
    }

    /// Keeps `rest` for later and switches write interest on.
    fn keep(&mut self, rest: &[u8], slot: Slot, cx: &Cx<'_>) -> io::Result<()> {
        self.unsent.extend_from_slice(rest);
        let both = Interest::READABLE | Interest::WRITABLE;
        cx.registry.reregister(&mut self.stream, slot.token(), both)
    }

    /// Reads and echoes until the kernel's receive buffer is empty, the send buffer is full, EOF,
    /// or the read budget is spent (then the connection is put on the wake list).
    fn echo(&mut self, buf: &mut [u8], slot: Slot, cx: &mut Cx<'_>) -> io::Result<()> {
        for _ in 0..READ_BUDGET {
            let n = match self.stream.read(buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.last_input = cx.now;
            if let Written::Part(done) = write_some(&mut self.stream, &buf[..n])? {
                return self.keep(&buf[done..n], slot, cx);
            }
            // A short read already proves the receive buffer empty (epoll reports the next bytes as
            // a new edge): no extra read that would only return `WouldBlock`. Tokio does the same.
            // Not after the peer's FIN was reported: its edge came already, so read on to the EOF.
            if n < buf.len() && !self.peer_closed {
                return Ok(());
            }
        }
        cx.wakes.push(Wake {
            slot,
            ready: Ready::READ,
        });
        Ok(())
    }

    /// One readiness event (or wake).
    fn advance(
        &mut self,
        buf: &mut [u8],
        slot: Slot,
        ready: Ready,
        cx: &mut Cx<'_>,
    ) -> io::Result<Status> {
        // Reading paused while output was pending, so the input may still be waiting: read after
        // flushing even if this event says only "writable".
        self.peer_closed |= ready.read_closed;
        let paused = !self.unsent.is_empty();
        if paused && !self.flush(slot, cx)? {
            return Ok(Status::Open);
        }
        if !self.eof && (ready.readable || paused) {
            self.echo(buf, slot, cx)?;
        }
        if self.eof && self.unsent.is_empty() {
            let _ = self.stream.shutdown(Shutdown::Write);
            return Ok(Status::Done);
        }
        Ok(Status::Open)
    }
}

impl Protocol for Echo {
    type Conn = EchoConn;

    fn reject(&self) -> &'static [u8] {
        b""
    }

    fn open(&mut self, mut stream: Stream, slot: Slot, cx: &mut Cx<'_>) -> io::Result<EchoConn> {
        cx.registry
            .register(&mut stream, slot.token(), Interest::READABLE)?;
        Ok(EchoConn {
            stream,
            unsent: Vec::new(),
            sent: 0,
            eof: false,
            peer_closed: false,
            last_input: cx.now,
        })
    }

    fn ready(&mut self, conn: &mut EchoConn, slot: Slot, ready: Ready, cx: &mut Cx<'_>) -> Status {
        conn.advance(&mut self.buf, slot, ready, cx)
            .unwrap_or_else(|err| {
                tracing::debug!(error = %err, "echo connection failed");
                Status::Done
            })
    }

    fn timer(&mut self, conn: &mut EchoConn, _slot: Slot, cx: &mut Cx<'_>) -> Status {
        match self.deadline(conn) {
            Some(at) if at <= cx.now => Status::Done,
            _ => Status::Open,
        }
    }

    fn deadline(&self, conn: &EchoConn) -> Option<Instant> {
        self.idle.map(|idle| conn.last_input + idle)
    }

    fn stop(&mut self, _conn: &mut EchoConn, _slot: Slot, _cx: &mut Cx<'_>) -> Status {
        Status::Done
    }

    fn stopped(&mut self, _cx: &mut Cx<'_>) {}
}

impl crate::tls::OwnsStream for EchoConn {
    fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }
}
