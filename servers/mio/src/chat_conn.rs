//! One chat connection's state machine: its input side (its line framer, and whether input still goes to the
//! broker) and its output side (queue, the close's last line, FIN, linger).
//!
//! Input ([`Reading`]): `Open` feeds each line to the broker; `Discarding` reads and drops (the
//! broker closed the client, or the server is shutting down — nothing a client sends then is
//! processed, but it is read, so that closing does not reset the connection under its last lines);
//! `Done` after EOF, a reset or the idle timeout.
//!
//! Output ([`Sending`]): `Queue` writes what the broker queued. Once the broker has closed the
//! client (its [`Outlet`] holds the `Close`), the queue is written out and then the close's last
//! line (`BYE`, `ERR line-too-long`, `ERR shutting-down`) — `Last`; a slow consumer's queue is
//! dropped instead, and its `ERR slow-consumer` is written only if no line was half-written and the
//! socket takes it within [`STALL_TICK`]. Then FIN, and `Linger`: keep reading and dropping the
//! client's input until its EOF or [`CLOSE_LINGER`] (never past the drain deadline), and only then
//! close the socket.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{ClientId, Line, Lines};
use mio::Interest;
use server_common::chat::{Broker, CLOSE_LINGER, Outlet, STALL_TICK, WRITE_BATCH};

use crate::chat::{Outbound, Postbox};
use crate::echo::READ_BUDGET;
use crate::event_loop::{Cx, Ready, Slot, Status, Wake};
use crate::transport::Stream;

/// What becomes of the connection's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Lines go to the broker.
    Open,
    /// Input is read and dropped.
    Discarding,
    /// EOF, reset or idle timeout: nothing more is read.
    Done,
}

/// Where the connection's output is.
#[derive(Debug)]
enum Sending {
    /// Writing the queue (then, once closed, the close's last line).
    Queue,
    /// Writing the close's last line (not counted in the budget), `written` bytes of it done; for a
    /// slow consumer, given up at `until`.
    Last {
        line: Line,
        written: usize,
        until: Option<Instant>,
    },
    /// FIN sent: waiting for the client's EOF until `until`.
    Linger { until: Instant },
}

/// One chat connection.
#[derive(Debug)]
pub(crate) struct ChatConn {
    stream: Stream,
    slot: Slot,
    lines: Lines,
    outbound: Rc<Outbound>,
    outlet: Arc<Outlet>,
    /// Bytes of the first queued line already written.
    front_written: usize,
    reading: Reading,
    sending: Sending,
    /// Write interest is registered.
    write_interest: bool,
    /// Epoll reported the peer's FIN or an error: read on to the EOF even after a short read.
    peer_closed: bool,
    /// Close at once: the socket failed, or the linger ended.
    close_now: bool,
    last_input: Instant,
}

impl ChatConn {
    /// A connection that is registered for reading and known to the broker.
    pub(crate) fn new(
        stream: Stream,
        slot: Slot,
        lines: Lines,
        outbound: Rc<Outbound>,
        outlet: Arc<Outlet>,
        now: Instant,
    ) -> Self {
        ChatConn {
            stream,
            slot,
            lines,
            outbound,
            outlet,
            front_written: 0,
            reading: Reading::Open,
            sending: Sending::Queue,
            write_interest: false,
            close_now: false,
            peer_closed: false,
            last_input: now,
        }
    }

    fn id(&self) -> ClientId {
        self.slot.serial
    }

    /// What becomes of the input.
    pub(crate) fn reading(&self) -> Reading {
        self.reading
    }

    /// When input last arrived.
    pub(crate) fn last_input(&self) -> Instant {
        self.last_input
    }

    /// Whether input still goes to the broker and none came for `idle`.
    pub(crate) fn is_idle(&self, idle: Duration, now: Instant) -> bool {
        self.reading == Reading::Open && now >= self.last_input + idle
    }

    /// Done once the socket failed, or after FIN once the client's EOF was read.
    pub(crate) fn status(&self) -> Status {
        let lingering = matches!(self.sending, Sending::Linger { .. });
        if self.close_now || (lingering && self.reading == Reading::Done) {
            Status::Done
        } else {
            Status::Open
        }
    }

    /// The output side's deadline (slow consumer's last line, linger), if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.sending {
            Sending::Queue => None,
            Sending::Last { until, .. } => until,
            Sending::Linger { until } => Some(until),
        }
    }

    /// Shutdown: input is no longer processed (the broker will close the client).
    pub(crate) fn stop_input(&mut self) {
        if self.reading == Reading::Open {
            self.reading = Reading::Discarding;
        }
    }

    /// The input ended (EOF, reset, idle timeout): a client still in the chat leaves it.
    pub(crate) fn input_ended(&mut self, broker: &mut Broker<Postbox>) {
        if self.reading == Reading::Open {
            broker.disconnect(self.id());
        }
        self.reading = Reading::Done;
    }

    /// Reads until the receive buffer is empty (or the read budget is spent: then the connection is
    /// woken again), feeding every line to the broker while input is open.
    pub(crate) fn read(
        &mut self,
        broker: &mut Broker<Postbox>,
        scratch: &mut [u8],
        slot: Slot,
        ready: Ready,
        cx: &mut Cx<'_>,
    ) {
        self.peer_closed |= ready.read_closed;
        for _ in 0..READ_BUDGET {
            if self.reading == Reading::Open && self.outlet.close_instruction().is_some() {
                self.reading = Reading::Discarding; // closed by the broker (QUIT, slow consumer)
            }
            if self.reading == Reading::Done {
                return;
            }
            let len = scratch.len();
            match self.stream.read(scratch) {
                Ok(0) => return self.input_ended(broker),
                Ok(n) => {
                    if self.reading == Reading::Open {
                        self.last_input = cx.now;
                        self.frames(broker, &scratch[..n]);
                    }
                    // A short read proves the receive buffer empty (see `echo.rs`).
                    if n < len && !self.peer_closed {
                        return;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!(error = %err, "chat read failed");
                    self.close_now = true;
                    return self.input_ended(broker);
                }
            }
        }
        cx.wakes.push(Wake {
            slot,
            ready: Ready::READ,
        });
    }

    /// Hands every complete frame of `data` (just read into the loop's buffer) to the broker, borrowed
    /// from that buffer, until the broker closes the client; an unterminated rest stays with `lines`.
    fn frames(&mut self, broker: &mut Broker<Postbox>, mut data: &[u8]) {
        let id = self.id();
        while self.reading == Reading::Open {
            let Some(frame) = self.lines.next_frame(&mut data) else {
                return;
            };
            broker.input(id, frame);
            if self.outlet.close_instruction().is_some() {
                self.reading = Reading::Discarding;
            }
        }
    }

    /// Writes what is queued, then executes the close instruction once there is one.
    pub(crate) fn write(&mut self, cx: &mut Cx<'_>) {
        self.outbound.woken.set(false);
        if let Err(err) = self.write_out(cx) {
            tracing::debug!(error = %err, "chat write failed");
            self.close_now = true;
        }
    }

    fn write_out(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        loop {
            match &mut self.sending {
                Sending::Queue if self.outlet.is_cut() => {
                    // Slow consumer: what is queued is dropped; the last line only between lines.
                    let between_lines = self.front_written == 0;
                    self.outbound.lines.borrow_mut().clear();
                    self.front_written = 0;
                    let last = self
                        .outlet
                        .close_instruction()
                        .and_then(|c| c.last_line.clone());
                    match last {
                        Some(line) if between_lines => {
                            let until = Some(cx.now + STALL_TICK);
                            self.sending = Sending::Last {
                                line,
                                written: 0,
                                until,
                            };
                        }
                        _ => return self.finish(cx),
                    }
                }
                Sending::Queue => {
                    if !self.write_queue()? {
                        return self.want_write(true, cx);
                    }
                    let Some(close) = self.outlet.close_instruction() else {
                        return self.want_write(false, cx);
                    };
                    match close.last_line.clone() {
                        Some(line) => {
                            self.sending = Sending::Last {
                                line,
                                written: 0,
                                until: None,
                            };
                        }
                        None => return self.finish(cx),
                    }
                }
                Sending::Last { line, written, .. } => {
                    match self.stream.write(&line[*written..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => *written += n,
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            return self.want_write(true, cx);
                        }
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(err),
                    }
                    if *written == line.len() {
                        return self.finish(cx);
                    }
                }
                Sending::Linger { .. } => return Ok(()),
            }
        }
    }

    /// Writes queued lines with vectored writes until the queue is empty (`true`) or the socket's
    /// send buffer is full (`false`). Each fully written line leaves the client's budget.
    fn write_queue(&mut self) -> io::Result<bool> {
        let mut lines = self.outbound.lines.borrow_mut();
        loop {
            if lines.is_empty() {
                return Ok(true);
            }
            let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
            let mut total = 0;
            for (slice, line) in slices.iter_mut().zip(lines.iter()) {
                let bytes = if total == 0 {
                    &line[self.front_written..]
                } else {
                    &line[..]
                };
                total += bytes.len();
                *slice = IoSlice::new(bytes);
            }
            let count = lines.len().min(WRITE_BATCH);
            let mut written = match self.stream.write_vectored(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            let short = written < total;
            while let Some(front) = lines.front() {
                let rest = front.len() - self.front_written;
                if written < rest {
                    self.front_written += written;
                    break;
                }
                written -= rest;
                self.front_written = 0;
                self.outlet.release(front.len());
                lines.pop_front();
            }
            // A short write proves the send buffer full: wait for writability.
            if short {
                return Ok(false);
            }
        }
    }

    /// Switches write interest on or off (only while output is pending is it on).
    fn want_write(&mut self, on: bool, cx: &Cx<'_>) -> io::Result<()> {
        if self.write_interest != on {
            let interest = if on {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            cx.registry
                .reregister(&mut self.stream, self.slot.token(), interest)?;
            self.write_interest = on;
        }
        Ok(())
    }

    /// Output done: FIN, then linger for the client's EOF (unless already seen).
    fn finish(&mut self, cx: &Cx<'_>) -> io::Result<()> {
        let _ = self.stream.shutdown(Shutdown::Write);
        let linger = cx.now + CLOSE_LINGER;
        let until = cx.drain.map_or(linger, |drain| drain.min(linger));
        self.sending = Sending::Linger { until };
        if self.reading == Reading::Open {
            self.reading = Reading::Discarding;
        }
        self.want_write(false, cx)
    }

    /// Applies the output side's deadlines: a slow consumer's last line is given up; a linger ends.
    pub(crate) fn expire(&mut self, cx: &mut Cx<'_>) {
        match self.sending {
            Sending::Last {
                until: Some(until), ..
            } if cx.now >= until => {
                if let Err(err) = self.finish(cx) {
                    tracing::debug!(error = %err, "chat close failed");
                    self.close_now = true;
                }
            }
            Sending::Linger { until } if cx.now >= until => self.close_now = true,
            _ => {}
        }
    }
}

impl crate::tls::OwnsStream for ChatConn {
    fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }
}
