//! The event loop: one thread, one `epoll` instance, a slab of connection state machines, a timer
//! heap, and a list of connections to handle again without waiting for the kernel.
//!
//! One turn of [`EventLoop::run`]:
//!
//! 1. **Wait**: `epoll_wait` (mio's [`Poll::poll`]) for at most the time to the next deadline
//!    (timer, accept back-off, drain deadline), or not at all when work is left over from the last
//!    turn.
//! 2. **Shutdown**: if the server's [`Shutdown`] latch was triggered (the [`WAKER`] event says so),
//!    stop accepting, tell every connection, and start the drain deadline.
//! 3. **Dispatch**: for each readiness event, the [`Protocol`] advances that connection's state
//!    machine (read until the kernel's buffer is empty, write until it is full); the listener's
//!    event only marks the backlog as pending.
//! 4. **Accept** up to a batch of new connections into the slab.
//! 5. **Timers**: every connection whose deadline passed gets [`Protocol::timer`].
//! 6. **Wakes**: every connection on the wake list gets [`Protocol::ready`] again: one that used up
//!    its read budget (fairness), or, for chat, one the broker queued lines for this turn.
//!
//! This is what an async runtime's reactor and scheduler do underneath, without futures: the slab
//! entry is the task, [`Protocol::ready`] is its `poll`, a [`Wake`] on the list is its waker, and
//! the read budget is tokio's cooperative budget.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Poll, Registry, Token};
use server_common::{ConnGuard, ConnLimit, DrainDeadline, Shutdown};
use slab::Slab;

use crate::accept::{ACCEPT_BATCH, Accepted, Acceptor, Loads};
use crate::timers::{Deadline, Timers};
use crate::transport::{Listener, Stream};

/// The listener's token. Connections use their slab key, which never comes near it.
pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
/// The token of the loop's [`mio::Waker`], which the shutdown latch triggers.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// Readiness events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 1024;

/// Where a connection lives: its slab key (also its mio [`Token`]) and its serial number, unique in
/// this loop, which tells it apart from a later connection in the same slot (and is a chat client's
/// id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The slab key.
    pub(crate) key: usize,
    /// The serial number.
    pub(crate) serial: u64,
}

impl Slot {
    /// The connection's mio token.
    pub(crate) fn token(self) -> Token {
        Token(self.key)
    }
}

/// What to do on a connection: read, write, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// Input may be waiting (or the peer closed, or the socket failed).
    pub(crate) readable: bool,
    /// The send buffer may have room (or the socket failed).
    pub(crate) writable: bool,
    /// The peer closed its side or the socket failed: read until EOF or an error, even after a
    /// short read (which otherwise proves the buffer empty, but not that the FIN was seen).
    pub(crate) read_closed: bool,
}

impl Ready {
    /// Read only.
    pub(crate) const READ: Ready = Ready {
        readable: true,
        writable: false,
        read_closed: false,
    };
    /// Write only.
    pub(crate) const WRITE: Ready = Ready {
        readable: false,
        writable: true,
        read_closed: false,
    };

    /// What an epoll event asks for. A hang-up or an error counts as both: the next read or write
    /// reports what happened (EOF, `ECONNRESET`).
    fn of(event: &Event) -> Ready {
        let failed = event.is_error();
        Ready {
            readable: event.is_readable() || event.is_read_closed() || failed,
            writable: event.is_writable() || event.is_write_closed() || failed,
            read_closed: event.is_read_closed() || failed,
        }
    }
}

/// A connection to handle again this turn (or the next) although the kernel reported nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wake {
    /// Which connection.
    pub(crate) slot: Slot,
    /// What to do.
    pub(crate) ready: Ready,
}

/// The loop's wake list, shared (single-threaded, `Rc`) with whoever must wake a connection from
/// inside a protocol call: the chat broker's mailboxes.
#[derive(Debug, Clone, Default)]
pub(crate) struct WakeList(Rc<RefCell<Vec<Wake>>>);

impl WakeList {
    /// Puts a connection on the list.
    pub(crate) fn push(&self, wake: Wake) {
        self.0.borrow_mut().push(wake);
    }

    fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// Swaps the list's contents into `batch` (which must be empty), keeping both allocations.
    pub(crate) fn take(&self, batch: &mut Vec<Wake>) {
        std::mem::swap(&mut *self.0.borrow_mut(), batch);
    }
}

/// Whether a connection lives on after a protocol call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Keep it.
    Open,
    /// Close it: the loop drops it, which closes the socket (and removes it from the epoll set).
    Done,
}

/// What a protocol call may use besides the connection.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    /// The loop's epoll registry, to (re)register interest.
    pub(crate) registry: &'a Registry,
    /// The time this turn started.
    pub(crate) now: Instant,
    /// The loop's wake list.
    pub(crate) wakes: &'a WakeList,
    /// The drain deadline, once the server is shutting down.
    pub(crate) drain: Option<Instant>,
}

/// An application on the event loop: how its connection state machine reacts to readiness, timers
/// and shutdown. The loop owns the connections; the protocol owns what they share (echo: one read
/// buffer; chat: the broker).
pub(crate) trait Protocol {
    /// One connection's state machine.
    type Conn: std::fmt::Debug;

    /// What a connection over `--max-conns` is sent before it is closed.
    fn reject(&self) -> &'static [u8];

    /// A freshly accepted connection: register it with `slot.token()` and build its state.
    fn open(&mut self, stream: Stream, slot: Slot, cx: &mut Cx<'_>) -> io::Result<Self::Conn>;

    /// The connection may read and/or write.
    fn ready(&mut self, conn: &mut Self::Conn, slot: Slot, ready: Ready, cx: &mut Cx<'_>)
    -> Status;

    /// A deadline of the connection may have passed.
    fn timer(&mut self, conn: &mut Self::Conn, slot: Slot, cx: &mut Cx<'_>) -> Status;

    /// The connection's earliest deadline, if it has one.
    fn deadline(&self, conn: &Self::Conn) -> Option<Instant>;

    /// The server is shutting down: this connection stops taking input.
    fn stop(&mut self, conn: &mut Self::Conn, slot: Slot, cx: &mut Cx<'_>) -> Status;

    /// The server is shutting down, after every connection was told ([`stop`](Self::stop)).
    fn stopped(&mut self, cx: &mut Cx<'_>);
}

/// One slab entry: the connection, its serial, its earliest armed deadline and its slot in the
/// connection limit.
#[derive(Debug)]
struct Entry<C> {
    serial: u64,
    armed: Option<Instant>,
    _guard: ConnGuard,
    conn: C,
}

/// How a loop is set up besides its protocol.
#[derive(Debug, Clone)]
pub(crate) struct LoopConfig {
    /// The limit shared by every loop of the server.
    pub(crate) limit: ConnLimit,
    /// Every loop's number of connections, and this loop's index in it.
    pub(crate) loads: (Loads, usize),
    /// The server's shutdown latch.
    pub(crate) shutdown: Shutdown,
    /// `--drain-timeout`.
    pub(crate) drain_timeout: Duration,
}

/// One event loop: the poll instance, its event buffer, and everything a turn changes.
#[derive(Debug)]
pub(crate) struct EventLoop<P: Protocol> {
    poll: Poll,
    events: Events,
    state: State<P>,
}

/// Everything a turn changes (apart from the event buffer it reads).
#[derive(Debug)]
struct State<P: Protocol> {
    protocol: P,
    conns: Slab<Entry<P::Conn>>,
    acceptor: Acceptor,
    timers: Timers,
    due: Vec<Deadline>,
    wakes: WakeList,
    batch: Vec<Wake>,
    shutdown: Shutdown,
    drain_timeout: Duration,
    drain: Option<DrainDeadline>,
    next_serial: u64,
    now: Instant,
}

impl<P: Protocol> EventLoop<P> {
    /// A loop on `poll` (whose [`WAKER`] the caller made) serving `protocol` on `listener`.
    pub(crate) fn new(
        poll: Poll,
        listener: Listener,
        protocol: P,
        config: LoopConfig,
    ) -> io::Result<Self> {
        let acceptor = Acceptor::new(listener, config.limit, config.loads, poll.registry())?;
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(EVENTS),
            state: State {
                protocol,
                conns: Slab::new(),
                acceptor,
                timers: Timers::default(),
                due: Vec::new(),
                wakes: WakeList::default(),
                batch: Vec::new(),
                shutdown: config.shutdown,
                drain_timeout: config.drain_timeout,
                drain: None,
                next_serial: 0,
                now: Instant::now(),
            },
        })
    }

    /// Runs turns until the server shut down and every connection closed (or the drain deadline
    /// passed). Fails only if `epoll_wait` does.
    pub(crate) fn run(self) -> io::Result<()> {
        let EventLoop {
            mut poll,
            mut events,
            mut state,
        } = self;
        loop {
            let timeout = state.timeout(Instant::now());
            if let Err(err) = poll.poll(&mut events, timeout) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            state.now = Instant::now();
            let registry = poll.registry();
            for event in events.iter() {
                match event.token() {
                    LISTENER => state.acceptor.readable(),
                    WAKER => {} // the latch is checked below
                    Token(key) => state.ready(registry, key, Ready::of(event)),
                }
            }
            if state.drain.is_none() && state.shutdown.is_triggered() {
                state.begin_drain(registry);
            }
            state.accept(registry);
            state.expire(registry);
            state.run_wakes(registry);
            if state.is_finished() {
                return Ok(());
            }
        }
    }
}

impl<P: Protocol> State<P> {
    /// How long `epoll_wait` may sleep: not at all with wakes or a full accept batch left over,
    /// else until the earliest deadline (forever without one).
    fn timeout(&self, now: Instant) -> Option<Duration> {
        if !self.wakes.is_empty() {
            return Some(Duration::ZERO);
        }
        [
            self.timers.next(),
            self.acceptor.wake_at(now),
            self.drain.map(DrainDeadline::instant),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    /// Applies `call` to the connection in `slot` if it is still there, then closes it or re-arms
    /// its deadline.
    fn with_conn(
        &mut self,
        registry: &Registry,
        slot: Slot,
        call: impl FnOnce(&mut P, &mut P::Conn, &mut Cx<'_>) -> Status,
    ) {
        let mut cx = Cx {
            registry,
            now: self.now,
            wakes: &self.wakes,
            drain: self.drain.map(DrainDeadline::instant),
        };
        let Some(entry) = self.conns.get_mut(slot.key) else {
            return;
        };
        if entry.serial != slot.serial {
            return; // a later connection in the same slot
        }
        match call(&mut self.protocol, &mut entry.conn, &mut cx) {
            Status::Done => drop(self.conns.remove(slot.key)),
            Status::Open => {
                if let Some(at) = self.protocol.deadline(&entry.conn)
                    && entry.armed.is_none_or(|armed| at < armed)
                {
                    entry.armed = Some(at);
                    let (key, serial) = (slot.key, slot.serial);
                    self.timers.arm(Deadline { at, key, serial });
                }
            }
        }
    }

    fn slot(&self, key: usize) -> Option<Slot> {
        let serial = self.conns.get(key)?.serial;
        Some(Slot { key, serial })
    }

    fn ready(&mut self, registry: &Registry, key: usize, ready: Ready) {
        // Sporadic events for a slot closed earlier in this batch are harmless: at worst a read or
        // write that returns `WouldBlock`.
        if let Some(slot) = self.slot(key) {
            self.with_conn(registry, slot, |p, conn, cx| p.ready(conn, slot, ready, cx));
        }
    }

    fn accept(&mut self, registry: &Registry) {
        let reject = self.protocol.reject();
        for _ in 0..ACCEPT_BATCH {
            self.acceptor.set_load(self.conns.len());
            let (stream, guard) = match self.acceptor.accept(self.now, reject) {
                Accepted::Conn(stream, guard) => (stream, guard),
                Accepted::Skipped => continue,
                Accepted::Nothing => return,
            };
            let entry = self.conns.vacant_entry();
            let slot = Slot {
                key: entry.key(),
                serial: self.next_serial,
            };
            self.next_serial += 1;
            let mut cx = Cx {
                registry,
                now: self.now,
                wakes: &self.wakes,
                drain: None,
            };
            match self.protocol.open(stream, slot, &mut cx) {
                Ok(conn) => {
                    entry.insert(Entry {
                        serial: slot.serial,
                        armed: None,
                        _guard: guard,
                        conn,
                    });
                    self.with_conn(registry, slot, |_, _, _| Status::Open); // arms its deadline
                }
                Err(err) => tracing::debug!(error = %err, "cannot register a new connection"),
            }
        }
    }

    fn expire(&mut self, registry: &Registry) {
        let mut due = std::mem::take(&mut self.due);
        self.timers.take_due(self.now, &mut due);
        for deadline in due.drain(..) {
            let slot = Slot {
                key: deadline.key,
                serial: deadline.serial,
            };
            if let Some(entry) = self.conns.get_mut(slot.key)
                && entry.serial == slot.serial
                && entry.armed == Some(deadline.at)
            {
                entry.armed = None;
            }
            self.with_conn(registry, slot, |p, conn, cx| p.timer(conn, slot, cx));
        }
        self.due = due;
    }

    fn run_wakes(&mut self, registry: &Registry) {
        let mut batch = std::mem::take(&mut self.batch);
        self.wakes.take(&mut batch);
        for wake in batch.drain(..) {
            let slot = wake.slot;
            self.with_conn(registry, slot, |p, conn, cx| {
                p.ready(conn, slot, wake.ready, cx)
            });
        }
        self.batch = batch;
    }

    /// Shutdown: the listener closes, every connection stops taking input, then the protocol's
    /// shutdown (chat: the broker closes every client); the drain deadline starts.
    fn begin_drain(&mut self, registry: &Registry) {
        self.acceptor.close(registry);
        self.drain = Some(DrainDeadline::start(self.drain_timeout));
        let slots: Vec<Slot> = self
            .conns
            .iter()
            .map(|(key, entry)| Slot {
                key,
                serial: entry.serial,
            })
            .collect();
        for slot in slots {
            self.with_conn(registry, slot, |p, conn, cx| p.stop(conn, slot, cx));
        }
        let mut cx = Cx {
            registry,
            now: self.now,
            wakes: &self.wakes,
            drain: self.drain.map(DrainDeadline::instant),
        };
        self.protocol.stopped(&mut cx);
    }

    /// Whether the loop is done: shutting down, and every connection closed or the drain deadline
    /// passed (then the rest are closed here).
    fn is_finished(&mut self) -> bool {
        let Some(drain) = self.drain else {
            return false;
        };
        if self.conns.is_empty() {
            return true;
        }
        if self.now < drain.instant() {
            return false;
        }
        tracing::warn!(
            open = self.conns.len(),
            "drain timeout: closing the connections left"
        );
        self.conns.clear();
        true
    }
}
