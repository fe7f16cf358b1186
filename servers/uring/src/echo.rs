//! Echo on a ring: every received buffer is sent back from where the kernel put it (no copy) and
//! returned to the buffer ring once sent; on EOF, half-close after the last byte went out.

use std::collections::VecDeque;
use std::io;

use server_common::config::ECHO_BUF_SIZE;

use crate::conn::AppConn;
use crate::worker::Worker;

/// Received buffers waiting to go back out, oldest first.
#[derive(Debug, Default)]
pub(crate) struct EchoConn {
    /// `(buffer id, length)` of each received buffer not yet fully sent.
    pending: VecDeque<(u16, usize)>,
    /// Bytes of the first pending buffer already sent.
    sent: usize,
    /// Bytes received and not yet sent.
    bytes: usize,
}

impl EchoConn {
    /// Whether the connection holds as much unsent data as a blocking variant's buffer: its receive
    /// pauses until the client reads (per-connection backpressure; the shared buffer ring stays
    /// available to the others).
    pub(crate) fn is_full(&self) -> bool {
        self.bytes >= ECHO_BUF_SIZE
    }

    /// Gives up every held buffer (the connection is being freed).
    pub(crate) fn take_buffers(&mut self) -> impl Iterator<Item = u16> + '_ {
        self.bytes = 0;
        self.sent = 0;
        self.pending.drain(..).map(|(bid, _)| bid)
    }
}

impl Worker {
    fn echo(&mut self, slot: u32) -> Option<&mut EchoConn> {
        match &mut self.conns.get_mut(slot)?.app {
            AppConn::Echo(echo) => Some(echo),
            _ => None,
        }
    }

    pub(crate) fn echo_data(&mut self, slot: u32, bid: u16, len: usize) {
        match self.echo(slot) {
            Some(echo) => {
                echo.pending.push_back((bid, len));
                echo.bytes += len;
            }
            None => self.bufs.recycle(bid),
        }
    }

    pub(crate) fn echo_read_end(&mut self, slot: u32) {
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.read_closed = true;
        }
    }

    pub(crate) fn echo_error(&mut self, slot: u32) {
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.read_closed = true;
            conn.closing = true;
        }
    }

    /// Sends the oldest pending buffer (from where the last partial send stopped); with nothing
    /// pending after EOF, half-closes and closes.
    pub(crate) fn echo_pump(&mut self, slot: u32) -> io::Result<()> {
        let Some(echo) = self.echo(slot) else {
            return Ok(());
        };
        match echo.pending.front().copied() {
            Some((bid, len)) => {
                let offset = echo.sent;
                let data = &self.bufs.filled(bid, len)[offset..];
                let (ptr, len) = (data.as_ptr(), data.len());
                // SAFETY: the bytes are in buffer `bid` of `self.bufs`, which this connection holds
                // (it is not in the buffer ring) until the send completed and `echo_sent` recycles it;
                // the pool lives until the ring is gone.
                unsafe { self.send(slot, ptr, len) }
            }
            None => {
                if let Some(conn) = self.conns.get_mut(slot)
                    && conn.read_closed
                {
                    conn.shutdown(libc::SHUT_WR);
                    conn.closing = true;
                }
                Ok(())
            }
        }
    }

    /// `n` bytes of the oldest pending buffer went out.
    pub(crate) fn echo_sent(&mut self, slot: u32, n: usize) {
        let Some(echo) = self.echo(slot) else {
            return;
        };
        echo.sent += n;
        echo.bytes = echo.bytes.saturating_sub(n);
        let Some(&(bid, len)) = echo.pending.front() else {
            return;
        };
        if echo.sent >= len {
            echo.pending.pop_front();
            echo.sent = 0;
            self.bufs.recycle(bid);
        }
    }
}
