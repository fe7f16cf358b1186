//! The listening socket's side of the loop: accept in batches, apply `--max-conns`, back off on
//! EMFILE without busy-looping.
//!
//! Edge-triggered readiness says "something changed", once. The listener's event sets `pending`;
//! the loop then accepts until `accept` returns `WouldBlock`, which is the only proof that the backlog
//! is empty. Whenever it stops before that — a full batch (so that a connection storm cannot starve the
//! connections already open), or a resource error (EMFILE) — `pending` stays set and the loop must come
//! back by itself, because no new edge will come for the connections already waiting: with a zero poll
//! timeout after a full batch, or at the back-off's end after a resource error. Meanwhile the kernel
//! keeps the waiting connections in the backlog.

use std::io::{self, Write};
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry};
use server_common::{AcceptBackoff, ConnGuard, ConnLimit};

use crate::event_loop::LISTENER;

/// Connections accepted per turn of the loop at most.
pub(crate) const ACCEPT_BATCH: usize = 64;

/// What one accept attempt gave.
#[derive(Debug)]
pub(crate) enum Accepted {
    /// A connection within the limit, and its slot in the limit.
    Conn(TcpStream, ConnGuard),
    /// Nothing for the loop: a connection over the limit (sent the reject line and closed), or an
    /// accept that failed (for one connection, or for want of descriptors: then backing off).
    Skipped,
    /// Nothing to accept now (backlog empty, backing off, or closed).
    Nothing,
}

/// The listener, the shared connection limit and the back-off state of one loop.
#[derive(Debug)]
pub(crate) struct Acceptor {
    listener: Option<TcpListener>,
    limit: ConnLimit,
    backoff: AcceptBackoff,
    /// The backlog may hold connections: set by the listener's readiness, cleared by `WouldBlock`.
    pending: bool,
    /// After a resource error: do not try again before this.
    resume_at: Option<Instant>,
}

impl Acceptor {
    /// Registers `listener` with the loop's `registry` for readability (edge-triggered).
    pub(crate) fn new(
        mut listener: TcpListener,
        limit: ConnLimit,
        registry: &Registry,
    ) -> io::Result<Self> {
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Acceptor {
            listener: Some(listener),
            limit,
            backoff: AcceptBackoff::new(),
            // Connections may have arrived between bind and register: look once.
            pending: true,
            resume_at: None,
        })
    }

    /// The listener's readiness event.
    pub(crate) fn readable(&mut self) {
        self.pending = true;
    }

    /// Whether the loop should accept in this turn.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.pending && self.listener.is_some() && self.resume_at.is_none_or(|at| now >= at)
    }

    /// When the loop must wake up to accept although no event comes: at once (`now`) after a full
    /// batch, at the back-off's end after a resource error.
    pub(crate) fn wake_at(&self, now: Instant) -> Option<Instant> {
        (self.pending && self.listener.is_some()).then(|| self.resume_at.unwrap_or(now))
    }

    /// One accept. Over the limit, writes `reject` (best effort: a fresh socket's buffer is empty)
    /// and closes the connection.
    pub(crate) fn accept(&mut self, now: Instant, reject: &[u8]) -> Accepted {
        if !self.is_due(now) {
            return Accepted::Nothing;
        }
        let Some(listener) = &self.listener else {
            return Accepted::Nothing;
        };
        match listener.accept() {
            Ok((mut stream, _peer)) => {
                self.backoff.on_success();
                self.resume_at = None;
                match self.limit.try_acquire() {
                    Some(guard) => {
                        let _ = stream.set_nodelay(true);
                        Accepted::Conn(stream, guard)
                    }
                    None => {
                        let _ = stream.write(reject);
                        Accepted::Skipped
                    }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.pending = false;
                Accepted::Nothing
            }
            Err(err) => {
                let pause = self.backoff.on_error(&err);
                if !pause.is_zero() {
                    self.resume_at = Some(now + pause);
                }
                // One connection failed (ECONNABORTED, ...): the next attempt is in the same batch.
                Accepted::Skipped
            }
        }
    }

    /// Stops accepting: the listener leaves this loop's epoll set and is closed. Deregistering is not
    /// optional here: with one listener per loop duplicated from the same socket, closing one duplicate
    /// would not remove the socket from the epoll set.
    pub(crate) fn close(&mut self, registry: &Registry) {
        if let Some(mut listener) = self.listener.take() {
            let _ = registry.deregister(&mut listener);
        }
    }
}
