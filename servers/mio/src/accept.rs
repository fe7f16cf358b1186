//! The listening socket's side of the loop: accept in batches, apply `--max-conns`, back off on
//! EMFILE without busy-looping.
//!
//! Edge-triggered readiness says "something changed", once. The listener's event sets `pending`;
//! the loop then accepts until `accept` returns `WouldBlock`, which is the only proof that the
//! backlog is empty. Whenever it stops before that — a full batch (so that a connection storm
//! cannot starve the connections already open), or a resource error (EMFILE) — `pending` stays set
//! and the loop must come back by itself, because no new edge will come for the connections already
//! waiting: with a zero poll timeout after a full batch, or at the back-off's end after a resource
//! error. Meanwhile the kernel keeps the waiting connections in the backlog.
//!
//! Several loops sharing the listener are all woken by every new connection; whichever accepts first
//! serves it for good. So that a burst does not land on one loop, a loop that serves more than
//! [`SPREAD`] connections above another loop gives the others a head start of [`YIELD`] before each
//! connection it accepts (nginx's `accept_disabled` rule, with the loads in a shared array of
//! counters, [`Loads`]). It still accepts one connection per head start, until `WouldBlock`: so no
//! connection is left in the backlog with every loop asleep, and once the backlog is empty a loop
//! that stays ahead sleeps like any other (no wake-up every millisecond).

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::{Interest, Registry};
use server_common::{AcceptBackoff, ConnGuard, ConnLimit};

use crate::event_loop::LISTENER;
use crate::transport::{Listener, Stream};

/// Connections accepted per turn of the loop at most.
pub(crate) const ACCEPT_BATCH: usize = 64;

/// How many connections a loop may serve above another before it leaves new ones to the others.
pub(crate) const SPREAD: usize = 4;
/// The head start a loop that is ahead gives the others on each listener event.
pub(crate) const YIELD: Duration = Duration::from_millis(1);

/// The number of connections each loop of a server serves, shared by the loops.
#[derive(Debug, Clone)]
pub(crate) struct Loads(Arc<[AtomicUsize]>);

impl Loads {
    /// Counters for `loops` loops, all zero.
    pub(crate) fn new(loops: usize) -> Self {
        Loads((0..loops).map(|_| AtomicUsize::new(0)).collect())
    }

    /// Records that loop `index` serves `conns` connections.
    fn set(&self, index: usize, conns: usize) {
        if let Some(load) = self.0.get(index) {
            load.store(conns, Ordering::Relaxed);
        }
    }

    /// Whether loop `index` serves more than [`SPREAD`] connections above some other loop.
    fn is_ahead(&self, index: usize) -> bool {
        let Some(mine) = self.0.get(index).map(|l| l.load(Ordering::Relaxed)) else {
            return false;
        };
        let mut loads = self.0.iter().enumerate();
        loads.any(|(i, load)| i != index && mine > load.load(Ordering::Relaxed) + SPREAD)
    }
}

/// What one accept attempt gave.
#[derive(Debug)]
pub(crate) enum Accepted {
    /// A connection within the limit, and its slot in the limit.
    Conn(Stream, ConnGuard),
    /// Nothing for the loop: a connection over the limit (sent the reject line and closed), or an
    /// accept that failed (for one connection, or for want of descriptors: then backing off).
    Skipped,
    /// Nothing to accept now (backlog empty, backing off, or closed).
    Nothing,
}

/// The listener, the shared connection limit and the back-off state of one loop.
#[derive(Debug)]
pub(crate) struct Acceptor {
    listener: Option<Listener>,
    limit: ConnLimit,
    loads: Loads,
    /// This loop's index in `loads`.
    index: usize,
    backoff: AcceptBackoff,
    /// The backlog may hold connections: set by the listener's readiness, cleared by `WouldBlock`.
    pending: bool,
    /// After a resource error, or while giving less loaded loops a head start: do not try again
    /// before this.
    resume_at: Option<Instant>,
    /// The head start before the next accept was given.
    yielded: bool,
}

impl Acceptor {
    /// Registers `listener` with the loop's `registry` for readability (edge-triggered).
    pub(crate) fn new(
        mut listener: Listener,
        limit: ConnLimit,
        (loads, index): (Loads, usize),
        registry: &Registry,
    ) -> io::Result<Self> {
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Acceptor {
            listener: Some(listener),
            limit,
            loads,
            index,
            backoff: AcceptBackoff::new(),
            // Connections may have arrived between bind and register: look once.
            pending: true,
            resume_at: None,
            yielded: false,
        })
    }

    /// The listener's readiness event.
    pub(crate) fn readable(&mut self) {
        self.pending = true;
        self.yielded = false;
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

    /// Records how many connections this loop serves.
    pub(crate) fn set_load(&self, conns: usize) {
        self.loads.set(self.index, conns);
    }

    /// One accept. Over the limit, writes `reject` (best effort: a fresh socket's buffer is empty)
    /// and closes the connection.
    pub(crate) fn accept(&mut self, now: Instant, reject: &[u8]) -> Accepted {
        if !self.is_due(now) {
            return Accepted::Nothing;
        }
        if self.loads.is_ahead(self.index) {
            // Ahead of another loop: one connection per head start, so that the backlog still
            // empties (and `WouldBlock` ends the pending state) even if the others never come.
            self.yielded = !self.yielded;
            if self.yielded {
                self.resume_at = Some(now + YIELD);
                return Accepted::Nothing;
            }
        }
        let Some(listener) = &self.listener else {
            return Accepted::Nothing;
        };
        match listener.accept() {
            Ok(mut stream) => {
                self.backoff.on_success();
                self.resume_at = None;
                match self.limit.try_acquire() {
                    Some(guard) => Accepted::Conn(stream, guard),
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

    /// Stops accepting: the listener leaves this loop's epoll set and is closed. Deregistering is
    /// not optional here: with one listener per loop duplicated from the same socket, closing one
    /// duplicate would not remove the socket from the epoll set.
    pub(crate) fn close(&mut self, registry: &Registry) {
        if let Some(mut listener) = self.listener.take() {
            let _ = registry.deregister(&mut listener);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loop_well_ahead_of_another_yields() {
        let loads = Loads::new(3);
        loads.set(0, 10);
        loads.set(1, 10 + SPREAD);
        loads.set(2, 10 + SPREAD + 1);
        assert!(!loads.is_ahead(0));
        assert!(!loads.is_ahead(1));
        assert!(loads.is_ahead(2));
        let alone = Loads::new(1);
        alone.set(0, 1000);
        assert!(!alone.is_ahead(0));
    }
}
