//! TLS on a ring, the worker's half: rustls driven by hand over the ring's completions, under echo
//! or chat.
//!
//! A TLS connection starts in its handshake: each receive completion's bytes go into the session
//! (the provided buffer returns to the ring at once) and whatever rustls answers is sent; the
//! handshake timeout is a deadline the tick checks. Once rustls reports the handshake complete the
//! application opens the connection (chat: the broker greets it) and the plaintext goes to its
//! usual input: echo writes it straight back into the session, chat frames it for the broker.
//!
//! Out, the applications run unchanged over [`Worker::send`] and [`Worker::send_msg`], which for a
//! TLS connection encrypt the plaintext into the session and send the records from the
//! connection's own buffer, one send in flight as over TCP; the application hears its send
//! completed (with the plaintext byte count it handed over) once the records carrying it are out.
//! Records rustls makes meanwhile (session tickets, echo, a KeyUpdate answer) wait in the session
//! and go with the next send. A write shutdown sends `close_notify` before the FIN; the peer's
//! `close_notify`, or its FIN without one, is the input's end. A protocol error closes the
//! connection after rustls's alert, sent best effort.

use std::io::{self, IoSlice};
use std::time::Instant;

use server_common::Tls;

use crate::chat::chat_input;
use crate::conn::{AppConn, Conn, send_now};
use crate::tls::{Fin, TlsConn, TlsFailure};
use crate::worker::{AppSide, Worker};

/// Plaintext echo moves from a session's reader to its writer through (one record's worth).
const ECHO_SCRATCH: usize = 16 * 1024;

/// A ring's TLS setting, and echo's scratch buffer.
#[derive(Debug)]
pub(crate) struct TlsSide {
    tls: Tls,
    scratch: Box<[u8]>,
}

impl TlsSide {
    /// The ring-wide state for `tls`.
    pub(crate) fn new(tls: Tls) -> TlsSide {
        TlsSide {
            tls,
            scratch: vec![0; ECHO_SCRATCH].into_boxed_slice(),
        }
    }

    /// A session for a connection accepted now.
    pub(crate) fn accept(&self) -> Result<Box<TlsConn>, TlsFailure> {
        TlsConn::new(&self.tls, Instant::now()).map(Box::new)
    }
}

impl Worker {
    fn tls_conn(&mut self, slot: u32) -> Option<&mut TlsConn> {
        self.conns.get_mut(slot)?.tls.as_deref_mut()
    }

    /// Whether `slot` is a TLS connection still in its handshake.
    pub(crate) fn tls_handshaking(&mut self, slot: u32) -> bool {
        self.tls_conn(slot).is_some_and(|tls| tls.handshaking())
    }

    /// Ciphertext arrived in buffer `bid`: into the session, the buffer back to the ring; then the
    /// handshake's end and the plaintext.
    pub(crate) fn tls_data(&mut self, slot: u32, bid: u16, len: usize) {
        let mut taken = 0;
        while taken < len {
            let fed = match self.conns.get_mut(slot).and_then(|c| c.tls.as_deref_mut()) {
                Some(tls) => tls.feed(&self.bufs.filled(bid, len)[taken..]),
                None => Ok(len - taken),
            };
            match fed {
                Ok(0) => {
                    // The plaintext before it was not taken: the rest cannot be read.
                    self.bufs.recycle(bid);
                    let stalled = io::Error::other("received plaintext was not drained");
                    return self.tls_fail(slot, &TlsFailure::Session(stalled));
                }
                Ok(n) => taken += n,
                Err(err) => {
                    self.bufs.recycle(bid);
                    return self.tls_fail(slot, &err);
                }
            }
            if !self.tls_opened(slot) {
                break;
            }
        }
        self.bufs.recycle(bid);
    }

    /// After a feed: the handshake's end opens the application, then the plaintext goes to it.
    /// `false` when the connection cannot take more (gone, closing, still handshaking, or failed).
    fn tls_opened(&mut self, slot: u32) -> bool {
        let Some(conn) = self.conns.get_mut(slot) else {
            return false;
        };
        if conn.closing {
            return false; // closed (shutdown, timeout): a late handshake must not open the application
        }
        let Some(tls) = conn.tls.as_deref_mut() else {
            return false;
        };
        if tls.finish_handshake() {
            self.on_open(slot);
        } else if tls.handshaking() {
            return false;
        }
        match self.tls_plaintext(slot) {
            Ok(true) => {
                self.app_read_end(slot);
                false
            }
            Ok(false) => true,
            Err(err) => {
                self.tls_fail(slot, &err);
                false
            }
        }
    }

    /// Hands the received plaintext to the application; `Ok(true)` at the peer's `close_notify`.
    fn tls_plaintext(&mut self, slot: u32) -> Result<bool, TlsFailure> {
        let stopping = self.stopping;
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(false);
        };
        let Conn {
            tls: Some(tls),
            app,
            ..
        } = conn
        else {
            return Ok(false);
        };
        match (&mut self.side, app) {
            (AppSide::Chat(side), AppConn::Chat(chat)) => {
                tls.drain_plaintext(|bytes| chat_input(side, chat, stopping, bytes))
            }
            (AppSide::Work(_), AppConn::Work(work)) => {
                tls.drain_plaintext(|bytes| work.tls_input(bytes))
            }
            _ => match self.tls.as_mut() {
                Some(ring) => tls.echo(&mut ring.scratch),
                None => Ok(false),
            },
        }
    }

    /// The connection broke at the TLS layer: rustls's alert best effort, then closed.
    fn tls_fail(&mut self, slot: u32, err: &TlsFailure) {
        tracing::debug!(error = %err, "TLS connection failed");
        if let Some(conn) = self.conns.get_mut(slot)
            && !conn.send_inflight
            && let Some(tls) = conn.tls.as_deref_mut()
        {
            let alert = tls.take_alert();
            if !alert.is_empty() {
                send_now(conn.raw_fd(), &alert);
            }
        }
        self.on_read_error(slot);
    }

    /// The tick: a handshake past its deadline is closed.
    pub(crate) fn tls_timer(&mut self, slot: u32, now: Instant) {
        if let Some(conn) = self.conns.get_mut(slot)
            && conn
                .tls
                .as_deref()
                .is_some_and(|t| t.handshake_expired(now))
        {
            tracing::debug!("TLS handshake timed out");
            conn.read_closed = true;
            conn.closing = true;
        }
    }

    /// Shutdown: connections still in their handshake are closed (the others close through their
    /// application, after `close_notify`).
    pub(crate) fn tls_stop(&mut self) {
        for slot in self.conns.occupied() {
            if self.tls_handshaking(slot)
                && let Some(conn) = self.conns.get_mut(slot)
            {
                conn.read_closed = true;
                conn.closing = true;
            }
        }
    }

    /// With no send in flight: sends the records the session has; else, after the handshake, does a
    /// FIN that waited for its `close_notify`, or lets the application send (through the session).
    pub(crate) fn tls_pump(&mut self, slot: u32) -> io::Result<()> {
        if self.tls_flush(slot)? {
            return Ok(());
        }
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        let Some(tls) = conn.tls.as_deref_mut() else {
            return Ok(());
        };
        if tls.handshaking() {
            return Ok(());
        }
        if let Fin::Pending { close } = tls.fin {
            tls.fin = Fin::Sent;
            conn.shutdown_socket(libc::SHUT_WR);
            conn.closing |= close;
            return Ok(());
        }
        self.app_pump(slot)?;
        // A FIN the application asked for waits for its close_notify, and so does the close that
        // came with it.
        if let Some(conn) = self.conns.get_mut(slot)
            && let Some(tls) = conn.tls.as_deref_mut()
            && let Fin::Pending { close } = &mut tls.fin
        {
            *close |= std::mem::take(&mut conn.closing);
            if !conn.send_inflight {
                self.tls_flush(slot)?;
            }
        }
        Ok(())
    }

    /// Starts sending the rest of `out`, or else every record the session has; `false` if there was
    /// nothing to send. Only with no send in flight.
    fn tls_flush(&mut self, slot: u32) -> io::Result<bool> {
        let Some(tls) = self.tls_conn(slot) else {
            return Ok(false);
        };
        if tls.unsent().is_empty() {
            match tls.fill_out() {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(err) => {
                    self.tls_fail(slot, &err);
                    return Ok(false);
                }
            }
        }
        let unsent = tls.unsent();
        let (ptr, len) = (unsent.as_ptr(), unsent.len());
        // SAFETY: the bytes are in the connection's `out`, which is neither written nor moved until
        // this send completes (`fill_out` and `advance` run only with no send in flight), and lives
        // in the boxed TLS state of a slot that is not freed before the completion arrives.
        unsafe { self.submit_send(slot, ptr, len)? };
        Ok(true)
    }

    /// The application sends `bufs` over TLS: encrypted into the session, then the records are sent.
    pub(crate) fn tls_send(&mut self, slot: u32, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        let Some(tls) = self.tls_conn(slot) else {
            return Ok(());
        };
        match tls.write_plaintext(bufs) {
            Ok(taken) => tls.owed += taken,
            Err(err) => {
                self.tls_fail(slot, &err);
                return Ok(());
            }
        }
        if !self.tls_flush(slot)? {
            // Nothing to send for the plaintext: the application would wait for a completion forever.
            let err = TlsFailure::Session(io::Error::other("no record for the plaintext"));
            self.tls_fail(slot, &err);
        }
        Ok(())
    }

    /// `n` bytes of ciphertext went out: the rest of `out` follows; once all of it is out, the
    /// application hears that the plaintext it handed over was sent.
    pub(crate) fn tls_sent(&mut self, slot: u32, n: usize) {
        let Some(tls) = self.tls_conn(slot) else {
            return;
        };
        if !tls.advance(n) {
            if let Err(err) = self.tls_flush(slot) {
                tracing::warn!(error = %err, "cannot resubmit a partial TLS send");
            }
            return;
        }
        let owed = std::mem::take(&mut tls.owed);
        if owed > 0 {
            self.app_sent(slot, owed);
        }
    }

    /// Echo over TLS: whether the connection holds as much unsent as the echo buffer.
    pub(crate) fn tls_echo_full(&mut self, slot: u32) -> bool {
        self.tls_conn(slot)
            .is_some_and(|tls| tls.backlog() >= server_common::config::ECHO_BUF_SIZE)
    }
}
