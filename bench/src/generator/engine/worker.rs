//! The worker event loop shared by every scenario.
//!
//! One worker thread owns a set of connections and one epoll instance (via
//! `mio`). It goes through three phases:
//!
//! 1. **connect**: non-blocking connects, paced if asked, each timed from
//!    `connect()` to writability, then the protocol's handshake (if any);
//!    then it reports how many connections are ready and waits for the
//!    common start instant;
//! 2. **load**: closed loop (each connection keeps `pipeline` messages in
//!    flight) or open loop (a fixed schedule over the connections that
//!    send, see [`crate::generator::schedule`]); the protocol fills every message and
//!    checks every byte that arrives;
//! 3. **drain**: no new messages; each connection finishes the message it
//!    is writing, then either half-closes and reads until the server closes
//!    (echo: proves every byte came back) or waits until the protocol has
//!    everything it expects (chat), within the drain timeout.
//!
//! The per-message path allocates nothing: the protocol fills messages into
//! a per-worker scratch buffer, arriving bytes are read into another and
//! handed to the protocol in place, and send timestamps live in a fixed ring
//! per connection.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use host_probe::ResourceUsage;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::protocol::{Fault, Outgoing, Protocol, Receipts};
use super::recorder::Recorder;
use super::{Load, WorkerPlan};
use crate::generator::net::{self, ConnectState};
use crate::generator::schedule::{OpenLoop, Schedule};
use crate::generator::timer::{TIMER, Timer};
use crate::results::counts::{ConnectFailures, ErrorCounts};
use crate::results::hist;

/// Size of the per-worker read and write scratch buffers.
const SCRATCH: usize = 64 * 1024;
/// How often idle connections are checked for timeouts.
const SCAN_EVERY_NS: u64 = 20_000_000;

/// Sent by a worker once its connect phase is over.
#[derive(Debug)]
pub(crate) enum WorkerEvent {
    Ready {
        established: usize,
    },
    /// The worker could not even start (poll creation, pinning, ...).
    Failed(String),
}

/// Everything a worker measured.
#[derive(Debug)]
pub(crate) struct WorkerResult<T> {
    pub rec: Recorder,
    pub connect: hdrhistogram::Histogram<u64>,
    /// One-shot protocols: from each connection's intended start to the end
    /// of its handshake.
    pub round_trip: hdrhistogram::Histogram<u64>,
    pub first_attempt: Option<Instant>,
    pub last_established: Option<Instant>,
    pub last_ready: Option<Instant>,
    pub established: usize,
    pub ready: usize,
    pub connect_failures: ConnectFailures,
    /// Messages of the window that were sent (open loop: scheduled and sent).
    pub sent: u64,
    /// Messages sent over the whole run.
    pub sent_total: u64,
    /// Messages of the window that were scheduled but never sent.
    pub unsent: u64,
    /// Messages of the window sent but never answered (protocols whose
    /// replies come on the sending connection).
    pub lost: u64,
    pub errors: ErrorCounts,
    pub first_error: Option<String>,
    /// Connections that completed at least one message.
    pub conns_answered: usize,
    /// Connections that ended cleanly (complete).
    pub conns_clean: usize,
    /// CPU used by this thread inside the window.
    pub cpu: Option<(ResourceUsage, ResourceUsage)>,
    /// The protocol's counters.
    pub tally: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Not attempted yet (paced connects).
    Idle,
    Connecting,
    /// Connected, in the protocol's handshake.
    Handshake,
    Open,
    /// Write side shut down, reading the rest.
    HalfClosed,
    /// Finished cleanly or failed; the socket is closed.
    Done,
}

struct Conn<C> {
    stream: Option<TcpStream>,
    st: St,
    source: Option<std::net::IpAddr>,
    connect_started: Option<Instant>,
    /// When the connect schedule wanted this attempt (the actual start when
    /// unpaced).
    connect_intended: Option<Instant>,
    can_write: bool,
    /// Bytes per message (0: this connection sends none).
    len: u64,
    /// Position among the worker's sending connections (open loop).
    sender: usize,
    w_off: u64,
    /// `w_off % len`, kept up to date without dividing.
    w_within: u64,
    r_off: u64,
    /// Messages the load allows to be sent.
    k_due: u64,
    /// Messages whose first byte has been written.
    k_started: u64,
    /// Messages fully answered (protocols with replies).
    k_done: u64,
    /// Send timestamps (ns since start) of messages `k_done..k_started`.
    ring: Box<[u64]>,
    /// Send and intended time of the message written only in part.
    partial: (u64, u64),
    /// Handshake bytes still to write.
    ctl: Vec<u8>,
    /// Reached `Open`.
    was_ready: bool,
    /// Closed by a failure.
    failed: bool,
    proto: C,
}

enum Fail {
    Fault(Fault),
    Io(io::Error),
    Eof,
}

/// The engine side of [`Receipts`] for one call of [`Protocol::receive`].
struct Rx<'a> {
    rec: &'a mut Recorder,
    ctl: &'a mut Vec<u8>,
    now_ns: u64,
    written: u64,
    completed: u64,
    ready: bool,
}

impl Receipts for Rx<'_> {
    #[inline]
    fn completed(&mut self, n: u64) {
        self.completed += n;
    }
    #[inline]
    fn delivered(&mut self, sent_ns: u64, intended_ns: u64) {
        self.rec.record(self.now_ns, sent_ns, intended_ns);
    }
    fn ready(&mut self) {
        self.ready = true;
    }
    fn reply(&mut self, bytes: &[u8]) {
        self.ctl.extend_from_slice(bytes);
    }
    #[inline]
    fn written(&self) -> u64 {
        self.written
    }
}

/// Runs one worker to completion.
pub(crate) fn run<P: Protocol>(
    plan: WorkerPlan,
    proto: Arc<P>,
    events_tx: Sender<WorkerEvent>,
    start_rx: Receiver<Instant>,
) -> Option<WorkerResult<P::Tally>> {
    let mut w = match Worker::new(&plan, proto.as_ref()) {
        Ok(w) => w,
        Err(e) => {
            let _ = events_tx.send(WorkerEvent::Failed(e));
            return None;
        }
    };
    w.connect_phase();
    let established = w.ready;
    if events_tx.send(WorkerEvent::Ready { established }).is_err() {
        return None;
    }
    // The coordinator drops the sender to abort.
    let t0 = start_rx.recv().ok()?;
    w.load_phase(t0);
    Some(w.finish())
}

struct Worker<'a, P: Protocol> {
    plan: &'a WorkerPlan,
    proto: &'a P,
    poll: Poll,
    conns: Vec<Conn<P::Conn>>,
    rbuf: Box<[u8]>,
    wbuf: Box<[u8]>,
    ring_cap: usize,
    open: Option<OpenLoop>,
    /// Open loop: this worker's schedule starts this long after `t0`.
    offset_ns: u64,
    /// Open loop: the worker's sending connections, by sender position.
    senders: Vec<usize>,
    // Time base of the load phase and window bounds, in ns since `t0`.
    t0: Instant,
    warm_ns: u64,
    end_ns: u64,
    /// When the worker stopped waiting for anything (end of the drain).
    stop_ns: u64,
    sending: bool,
    /// Draining allowed (after the coordinator's end snapshots).
    shutting: bool,
    rec: Recorder,
    connect: hdrhistogram::Histogram<u64>,
    round_trip: hdrhistogram::Histogram<u64>,
    first_attempt: Option<Instant>,
    last_established: Option<Instant>,
    last_ready: Option<Instant>,
    established: usize,
    ready: usize,
    connect_failures: ConnectFailures,
    sent_total: u64,
    errors: ErrorCounts,
    first_error: Option<String>,
    conns_clean: usize,
    cpu0: Option<ResourceUsage>,
    cpu1: Option<ResourceUsage>,
}

fn ns_between(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_nanos() as u64
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

impl<'a, P: Protocol> Worker<'a, P> {
    fn new(plan: &'a WorkerPlan, proto: &'a P) -> Result<Self, String> {
        if let Some(cpu) = plan.cpu {
            crate::limits::pin_current_thread(&[cpu])
                .map_err(|e| format!("pinning worker {} to cpu {cpu}: {e}", plan.index))?;
        }
        let poll = Poll::new().map_err(|e| format!("creating epoll: {e}"))?;
        let ring_cap = match plan.load {
            Load::Closed { pipeline } => pipeline.max(1),
            Load::Open { max_inflight, .. } => max_inflight.max(1),
        };
        let mut senders = Vec::new();
        let conns: Vec<Conn<P::Conn>> = plan
            .conn_ids
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                let proto_conn = proto.open(g);
                let len = proto.message_len(&proto_conn) as u64;
                let sender = senders.len();
                if len > 0 {
                    senders.push(i);
                }
                Conn {
                    stream: None,
                    st: St::Idle,
                    source: (!plan.source_ips.is_empty())
                        .then(|| plan.source_ips[g % plan.source_ips.len()]),
                    connect_started: None,
                    connect_intended: None,
                    can_write: false,
                    len,
                    sender,
                    w_off: 0,
                    w_within: 0,
                    r_off: 0,
                    k_due: 0,
                    k_started: 0,
                    k_done: 0,
                    ring: vec![0; if P::REPLIES { ring_cap } else { 1 }].into_boxed_slice(),
                    partial: (0, 0),
                    ctl: Vec::new(),
                    was_ready: false,
                    failed: false,
                    proto: proto_conn,
                }
            })
            .collect();
        let (open, offset_ns) = match plan.load {
            Load::Open {
                rate, offset_ns, ..
            } if !senders.is_empty() => (Some(OpenLoop::new(rate, senders.len())), offset_ns),
            _ => (None, 0),
        };
        Ok(Worker {
            plan,
            proto,
            poll,
            conns,
            rbuf: vec![0; SCRATCH].into_boxed_slice(),
            wbuf: vec![0; SCRATCH].into_boxed_slice(),
            ring_cap,
            open,
            offset_ns,
            senders,
            t0: Instant::now(),
            warm_ns: 0,
            end_ns: 0,
            stop_ns: 0,
            sending: false,
            shutting: false,
            rec: Recorder::new(plan.record, false, 0, 0, 0),
            connect: hist::new_latency(),
            round_trip: hist::new_latency(),
            first_attempt: None,
            last_established: None,
            last_ready: None,
            established: 0,
            ready: 0,
            connect_failures: ConnectFailures::default(),
            sent_total: 0,
            errors: ErrorCounts::default(),
            first_error: None,
            conns_clean: 0,
            cpu0: None,
            cpu1: None,
        })
    }

    /// Whether the load is open loop (for this worker's senders).
    fn is_open(&self) -> bool {
        self.open.is_some()
    }

    // ----- connect phase -------------------------------------------------

    fn connect_phase(&mut self) {
        let n = self.conns.len();
        let pace = self.plan.connect_rate.map(Schedule::new);
        let mut next = 0usize; // next connection to attempt
        let mut pending = 0usize; // attempts or handshakes in progress
        let mut last_scan = Instant::now();
        // Connections before this one are past their connect and handshake.
        let mut settled = 0usize;
        let mut events = Events::with_capacity(1024);
        while next < n || pending > 0 {
            let now = Instant::now();
            // Start every attempt that is due.
            while next < n {
                let mut due = None;
                if let Some(p) = pace {
                    let at = self.plan.connect_start + Duration::from_nanos(p.at_ns(next as u64));
                    if at > now {
                        break;
                    }
                    due = Some(at);
                }
                if self.start_connect(next) {
                    pending += 1;
                }
                self.conns[next].connect_intended = due.or(self.conns[next].connect_started);
                next += 1;
            }
            // Time out attempts (and handshakes) that take too long.
            if now.duration_since(last_scan) >= Duration::from_millis(10) {
                last_scan = now;
                while settled < next
                    && !matches!(self.conns[settled].st, St::Connecting | St::Handshake)
                {
                    settled += 1;
                }
                for i in settled..next {
                    let c = &self.conns[i];
                    if matches!(c.st, St::Connecting | St::Handshake)
                        && c.connect_started
                            .is_some_and(|t| now.duration_since(t) >= self.plan.connect_timeout)
                    {
                        self.connect_failures.timed_out += 1;
                        self.conns[i].failed = true;
                        self.close(i);
                        pending -= 1;
                    }
                }
            }
            if next == n && pending == 0 {
                break;
            }
            let mut wait = Duration::from_millis(10);
            if let (Some(p), true) = (pace, next < n) {
                let due = self.plan.connect_start + Duration::from_nanos(p.at_ns(next as u64));
                wait = wait.min(due.saturating_duration_since(now));
            }
            if self.poll.poll(&mut events, Some(wait)).is_err() {
                continue; // EINTR
            }
            let now = Instant::now();
            for ev in events.iter() {
                let i = ev.token().0;
                let Some(c) = self.conns.get_mut(i) else {
                    continue;
                };
                match c.st {
                    St::Connecting => {
                        let Some(stream) = c.stream.as_ref() else {
                            continue;
                        };
                        match net::check_connect(stream) {
                            ConnectState::Pending => {}
                            ConnectState::Connected => {
                                c.can_write = true;
                                self.established += 1;
                                self.last_established = Some(now);
                                if let Some(t) = c.connect_started {
                                    hist::record_ns(&mut self.connect, ns_between(t, now));
                                }
                                if self.proto.ready_on_connect() {
                                    self.set_ready(i, now);
                                    self.handshake_over(i, now);
                                    pending -= 1;
                                } else {
                                    c.st = St::Handshake;
                                    self.proto.greeting(&c.proto, &mut c.ctl);
                                    if self.handshake_io(i, now, true) {
                                        self.handshake_over(i, now);
                                        pending -= 1;
                                    }
                                }
                            }
                            ConnectState::Failed(e) => {
                                self.connect_failures.count(&e);
                                pending -= 1;
                                c.failed = true;
                                self.close(i);
                            }
                        }
                    }
                    St::Handshake => {
                        if ev.is_writable() {
                            c.can_write = true;
                        }
                        if self.handshake_io(i, now, ev.is_readable() || ev.is_read_closed()) {
                            self.handshake_over(i, now);
                            pending -= 1;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Connection `i`'s handshake is over (ready, or failed). One-shot
    /// protocols: a ready connection's life is over too; it is closed and its
    /// time from intended start to now recorded.
    fn handshake_over(&mut self, i: usize, now: Instant) {
        if !P::ONE_SHOT || self.conns[i].st != St::Open {
            return;
        }
        if let Some(t) = self.conns[i].connect_intended {
            hist::record_ns(&mut self.round_trip, ns_between(t, now));
        }
        self.conns_clean += 1;
        self.close(i);
    }

    fn set_ready(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.st = St::Open;
        c.was_ready = true;
        self.ready += 1;
        self.last_ready = Some(now);
    }

    /// Reads and writes a connection in its handshake; true once it is over
    /// (ready, or failed).
    fn handshake_io(&mut self, i: usize, now: Instant, readable: bool) -> bool {
        if readable {
            self.on_readable(i, false, 0);
        }
        self.flush(i, 0);
        let c = &self.conns[i];
        match c.st {
            St::Handshake => false,
            St::Open => {
                self.last_ready = Some(now);
                true
            }
            _ => true,
        }
    }

    /// Starts connection `i`; false if it failed at once.
    fn start_connect(&mut self, i: usize) -> bool {
        let now = Instant::now();
        self.first_attempt.get_or_insert(now);
        let c = &mut self.conns[i];
        c.connect_started = Some(now);
        match net::start_connect(self.plan.addr, c.source) {
            Ok(mut s) => {
                let reg = self.poll.registry().register(
                    &mut s,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                );
                if let Err(e) = reg {
                    self.connect_failures.count(&e);
                    c.st = St::Done;
                    c.failed = true;
                    return false;
                }
                c.stream = Some(s);
                c.st = St::Connecting;
                true
            }
            Err(e) => {
                self.connect_failures.count(&e);
                c.st = St::Done;
                c.failed = true;
                false
            }
        }
    }

    fn close(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if let Some(mut s) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        c.st = St::Done;
        c.can_write = false;
    }

    // ----- load and drain phases -----------------------------------------

    fn load_phase(&mut self, t0: Instant) {
        self.t0 = t0;
        self.warm_ns = self.plan.warmup.as_nanos() as u64;
        self.end_ns = self.warm_ns + self.plan.duration.as_nanos() as u64;
        self.rec = Recorder::new(
            self.plan.record,
            // Every worker of an open loop keeps the corrected histogram,
            // also one with no sender of its own (chat receivers).
            matches!(self.plan.load, Load::Open { .. }),
            self.warm_ns,
            self.end_ns,
            self.plan.interval.as_nanos() as u64,
        );
        let mut drain_end_ns = u64::MAX;
        // Wait for the common start.
        let lead = t0.saturating_duration_since(Instant::now());
        if !lead.is_zero() {
            std::thread::sleep(lead);
        }
        self.sending = true;
        let mut now_ns = self.now_ns();
        if self.warm_ns == 0 {
            self.cpu0 = Some(ResourceUsage::thread());
        }
        if let Load::Closed { pipeline } = self.plan.load {
            for i in 0..self.conns.len() {
                if self.conns[i].st == St::Open && self.conns[i].len > 0 {
                    self.conns[i].k_due = pipeline as u64;
                    self.flush(i, now_ns);
                }
            }
        }
        let mut cursor = 0u64; // open loop: next worker-wide message
        // Messages scheduled before the end: those with `at_ns < end_ns`.
        let end_m = self.open.map(|o| {
            let end = self.end_ns.saturating_sub(self.offset_ns);
            if end == 0 { 0 } else { o.due_by(end - 1) }
        });
        let mut events = Events::with_capacity(1024);
        let mut timer = match self.open {
            Some(_) => Timer::new(&self.poll).ok(),
            None => None,
        };
        let mut next_scan = now_ns + SCAN_EVERY_NS;
        let mut draining = false;
        loop {
            now_ns = self.now_ns();
            if self.cpu0.is_none() && now_ns >= self.warm_ns {
                self.cpu0 = Some(ResourceUsage::thread());
            }
            // Open loop: hand out every message that is due (also, late, those
            // scheduled before the end when this wake-up came after it).
            if let (Some(o), Some(end_m), true) = (self.open, end_m, self.sending) {
                while cursor < end_m && self.offset_ns + o.at_ns(cursor) <= now_ns {
                    let j = self.senders[o.conn_of(cursor)];
                    cursor += 1;
                    if matches!(self.conns[j].st, St::Open) {
                        self.conns[j].k_due += 1;
                        self.flush(j, now_ns);
                    }
                }
            }
            if !draining && now_ns >= self.end_ns {
                self.cpu1 = Some(ResourceUsage::thread());
                draining = true;
                self.sending = false;
                for i in 0..self.conns.len() {
                    let c = &self.conns[i];
                    self.proto.stop_sending(&c.proto, c.k_started);
                    self.flush(i, now_ns);
                }
            }
            if draining && !self.shutting && self.plan.drain.load(Ordering::Acquire) {
                self.shutting = true;
                drain_end_ns = now_ns + self.plan.drain_timeout.as_nanos() as u64;
                for i in 0..self.conns.len() {
                    self.flush(i, now_ns);
                }
            }
            if draining && (now_ns >= drain_end_ns || self.all_done()) {
                break;
            }
            if now_ns >= next_scan {
                next_scan = now_ns + SCAN_EVERY_NS;
                self.scan(now_ns);
                self.plan.progress.store(self.rec.total, Ordering::Relaxed);
            }
            // Sleep until the next thing to do.
            let mut wake = next_scan;
            if !draining {
                wake = wake.min(self.end_ns);
                if self.cpu0.is_none() {
                    wake = wake.min(self.warm_ns);
                }
            } else {
                wake = wake.min(drain_end_ns);
            }
            if let (Some(o), Some(end_m), true) = (self.open, end_m, self.sending) {
                if cursor < end_m {
                    let due = self.offset_ns + o.at_ns(cursor);
                    wake = wake.min(due);
                    if let Some(t) = timer.as_mut() {
                        // epoll rounds its timeout up to whole milliseconds.
                        // Armed from a fresh clock reading: `now_ns` is as
                        // old as this turn's processing, and a relative
                        // timer armed from it would fire late by as much.
                        t.arm(due, self.now_ns());
                    }
                }
            }
            let timeout = Duration::from_nanos(wake.saturating_sub(now_ns));
            if self.poll.poll(&mut events, Some(timeout)).is_err() {
                continue; // EINTR
            }
            let wake_ns = if self.plan.record { 0 } else { self.now_ns() };
            for ev in events.iter() {
                if ev.token() == TIMER {
                    if let Some(t) = timer.as_mut() {
                        t.fired();
                    }
                    continue;
                }
                // An error condition is surfaced by the read or the write.
                let err = ev.is_error();
                let closed = ev.is_read_closed() || err;
                let readable = ev.is_readable() || closed;
                let writable = ev.is_writable() || ev.is_write_closed() || err;
                self.on_event(ev.token().0, readable, closed, writable, wake_ns);
            }
        }
        if self.cpu1.is_none() {
            self.cpu1 = Some(ResourceUsage::thread());
        }
        self.stop_ns = self.now_ns();
        // Whatever is still open did not finish within the drain timeout.
        for i in 0..self.conns.len() {
            if matches!(self.conns[i].st, St::Open | St::HalfClosed) {
                self.errors.drain_timeouts += 1;
                let c = &self.conns[i];
                let msg = format!(
                    "connection {}: drain timeout ({} bytes received, {} sent)",
                    self.plan.conn_ids[i], c.r_off, c.w_off
                );
                self.first_error.get_or_insert(msg);
                self.close(i);
            }
        }
        self.plan.progress.store(self.rec.total, Ordering::Relaxed);
    }

    fn all_done(&self) -> bool {
        self.conns
            .iter()
            .all(|c| matches!(c.st, St::Done | St::Idle | St::Handshake))
    }

    #[inline]
    fn now_ns(&self) -> u64 {
        ns_between(self.t0, Instant::now())
    }

    /// The time to use for a timestamp: the clock, or the wake-up time when
    /// recording is off.
    #[inline]
    fn stamp(&self, wake_ns: u64) -> u64 {
        if self.plan.record {
            self.now_ns()
        } else {
            wake_ns
        }
    }

    fn on_event(&mut self, i: usize, readable: bool, closed: bool, writable: bool, wake_ns: u64) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if !matches!(c.st, St::Open | St::HalfClosed) {
            return;
        }
        if writable {
            c.can_write = true;
        }
        if readable {
            self.on_readable(i, closed, wake_ns);
        }
        if writable || readable {
            let now = if self.plan.record { 0 } else { wake_ns };
            self.flush(i, now);
        }
        if self.shutting && !P::HALF_CLOSE {
            self.close_if_complete(i);
        }
    }

    /// Closes connection `i` if it has everything it expects (protocols
    /// that do not half-close, once draining).
    fn close_if_complete(&mut self, i: usize) {
        let c = &self.conns[i];
        if c.st == St::Open
            && c.w_off == c.k_started * c.len
            && self.proto.complete(&c.proto, c.w_off)
        {
            self.conns_clean += 1;
            self.close(i);
        }
    }

    /// Reads what is available. `closed`: the peer's FIN (or an error) was
    /// signalled, so read on to the end of stream.
    fn on_readable(&mut self, i: usize, closed: bool, wake_ns: u64) {
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            match stream.read(&mut self.rbuf) {
                Ok(0) => {
                    self.on_eof(i);
                    return;
                }
                Ok(n) => {
                    let now = self.stamp(wake_ns);
                    if let Err(f) = self.on_data(i, n, now) {
                        self.fail(i, f);
                        return;
                    }
                    // Edge-triggered epoll signals every new arrival, so a
                    // short read means the socket buffer is empty: skip the
                    // read that would only return EWOULDBLOCK. Not when
                    // the peer's FIN is already queued (no new edge would
                    // come for it) or we are waiting for it.
                    let want_eof = closed || self.conns[i].st == St::HalfClosed;
                    if n < self.rbuf.len() && !want_eof {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(i, Fail::Io(e));
                    return;
                }
            }
        }
    }

    /// Hands `n` bytes just read into `rbuf` to the protocol and records
    /// the messages it completed.
    fn on_data(&mut self, i: usize, n: usize, now_ns: u64) -> Result<(), Fail> {
        let c = &mut self.conns[i];
        c.r_off += n as u64;
        let mut rx = Rx {
            rec: &mut self.rec,
            ctl: &mut c.ctl,
            now_ns,
            written: c.w_off,
            completed: 0,
            ready: false,
        };
        let r = self.proto.receive(&mut c.proto, &self.rbuf[..n], &mut rx);
        let (completed, ready) = (rx.completed, rx.ready);
        if ready && c.st == St::Handshake {
            c.st = St::Open;
            c.was_ready = true;
            self.ready += 1;
        }
        r.map_err(Fail::Fault)?;
        if P::REPLIES {
            let closed = matches!(self.plan.load, Load::Closed { .. });
            for _ in 0..completed {
                let c = &mut self.conns[i];
                let k = c.k_done;
                let sent = c.ring[(k % self.ring_cap as u64) as usize];
                c.k_done += 1;
                let intended = match self.open {
                    Some(o) => self.offset_ns + o.conn_msg_at_ns(c.sender, k),
                    None => sent,
                };
                self.rec.record(now_ns, sent, intended);
                if closed && self.sending {
                    c.k_due += 1;
                }
            }
        }
        Ok(())
    }

    fn on_eof(&mut self, i: usize) {
        let c = &self.conns[i];
        match c.st {
            St::HalfClosed if self.proto.complete(&c.proto, c.w_off) => {
                self.conns_clean += 1;
                self.close(i);
            }
            St::HalfClosed => {
                self.errors.incomplete += 1;
                let msg = format!(
                    "connection {}: end of stream after {} bytes received of {} sent",
                    self.plan.conn_ids[i], c.r_off, c.w_off
                );
                self.first_error.get_or_insert(msg);
                self.close(i);
            }
            St::Handshake => {
                self.connect_failures.rejected += 1;
                let msg = format!(
                    "connection {}: closed by the server during the handshake",
                    self.plan.conn_ids[i]
                );
                self.first_error.get_or_insert(msg);
                self.conns[i].failed = true;
                self.close(i);
            }
            _ if self.proto.eof_expected(&c.proto) => self.close(i),
            _ => self.fail(i, Fail::Eof),
        }
    }

    fn fail(&mut self, i: usize, f: Fail) {
        let id = self.plan.conn_ids[i];
        let in_handshake = self.conns[i].st == St::Handshake;
        let msg = match f {
            Fail::Fault(Fault::Refused(m)) if in_handshake => {
                self.connect_failures.rejected += 1;
                format!("connection {id}: refused: {m}")
            }
            Fail::Fault(Fault::Refused(m)) => {
                self.errors.refused += 1;
                format!("connection {id}: {m}")
            }
            Fail::Fault(Fault::Mismatch(m)) => {
                self.errors.mismatches += 1;
                format!("connection {id}: mismatch: {m}")
            }
            Fail::Eof => {
                self.errors.unexpected_eof += 1;
                format!("connection {id}: closed by the server")
            }
            Fail::Io(e) => {
                if in_handshake {
                    self.connect_failures.count(&e);
                } else if is_reset(&e) {
                    self.errors.resets += 1;
                } else if e.kind() == io::ErrorKind::TimedOut {
                    self.errors.timeouts += 1;
                } else {
                    self.errors.other_io += 1;
                }
                format!("connection {id}: {e}")
            }
        };
        self.first_error.get_or_insert(msg);
        self.conns[i].failed = true;
        self.close(i);
    }

    /// Writes the handshake bytes and whatever the load allows on
    /// connection `i`; after the end, completes the message in progress and
    /// (half-closing protocols) half-closes.
    fn flush(&mut self, i: usize, now_hint: u64) {
        let cap = self.ring_cap as u64;
        let record = self.plan.record;
        let t0 = self.t0;
        let sending = self.sending;
        let open = self.open;
        let offset_ns = self.offset_ns;
        let c = &mut self.conns[i];
        if !matches!(c.st, St::Open | St::Handshake) {
            return;
        }
        let mut result = Ok(());
        // Handshake bytes first.
        while c.can_write && !c.ctl.is_empty() {
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            match stream.write(&c.ctl) {
                Ok(0) => {
                    result = Err(Fail::Io(io::ErrorKind::WriteZero.into()));
                    break;
                }
                Ok(m) => {
                    c.ctl.drain(..m);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.can_write = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(Fail::Io(e));
                    break;
                }
            }
        }
        let len = c.len;
        let target_msgs = if c.st != St::Open || len == 0 {
            0
        } else if !sending {
            c.k_started
        } else if P::REPLIES {
            c.k_due.min(c.k_done + cap)
        } else {
            c.k_due
        };
        let target = target_msgs * len;
        while result.is_ok() && c.can_write && c.w_off < target {
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            let now = if record {
                ns_between(t0, Instant::now())
            } else {
                now_hint
            };
            // Fill the scratch buffer with as many message bytes as fit
            // (message index and offset kept incrementally: no division on
            // the hot path).
            let mut n = 0usize;
            let mut off = c.w_off;
            let mut within = c.w_within;
            let mut k = c.k_started - u64::from(within > 0);
            while off < target && n < self.wbuf.len() {
                let (sent_ns, intended_ns) = if within == 0 {
                    let intended = match open {
                        Some(o) => offset_ns + o.conn_msg_at_ns(c.sender, k),
                        None => now,
                    };
                    (now, intended)
                } else {
                    c.partial
                };
                let take = ((len - within).min(target - off) as usize).min(self.wbuf.len() - n);
                let m = Outgoing {
                    index: k,
                    sent_ns,
                    intended_ns,
                };
                self.proto
                    .fill(&c.proto, &m, within as usize, &mut self.wbuf[n..n + take]);
                n += take;
                off += take as u64;
                within += take as u64;
                if within == len {
                    within = 0;
                    k += 1;
                }
            }
            match stream.write(&self.wbuf[..n]) {
                Ok(0) => {
                    result = Err(Fail::Io(io::ErrorKind::WriteZero.into()));
                    break;
                }
                Ok(m) => {
                    c.w_off += m as u64;
                    // Walk the written bytes message by message: count the
                    // messages begun, and whether the last one is cut.
                    let mut left = m as u64;
                    let mut began_now = false;
                    while left > 0 {
                        if c.w_within == 0 {
                            if P::REPLIES {
                                c.ring[(c.k_started % cap) as usize] = now;
                            }
                            if let (Some(o), true) = (open, record) {
                                let intended = offset_ns + o.conn_msg_at_ns(c.sender, c.k_started);
                                self.rec.record_send_lag(now, intended);
                            }
                            c.k_started += 1;
                            self.sent_total += 1;
                            began_now = true;
                        }
                        let step = (len - c.w_within).min(left);
                        c.w_within += step;
                        left -= step;
                        if c.w_within == len {
                            c.w_within = 0;
                            began_now = false;
                        }
                    }
                    if c.w_within != 0 && began_now {
                        // A message begun by this write is cut at its end:
                        // keep its times for the rest of it.
                        let k = c.k_started - 1;
                        let intended = match open {
                            Some(o) => offset_ns + o.conn_msg_at_ns(c.sender, k),
                            None => now,
                        };
                        c.partial = (now, intended);
                    }
                    if m < n {
                        c.can_write = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.can_write = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(Fail::Io(e));
                    break;
                }
            }
        }
        if let Err(f) = result {
            self.fail(i, f);
            return;
        }
        if P::HALF_CLOSE && !sending && self.shutting && c.st == St::Open && c.w_off == target {
            let shut = c.stream.as_ref().map(|s| s.shutdown(Shutdown::Write));
            match shut {
                Some(Ok(())) => c.st = St::HalfClosed,
                Some(Err(e)) => self.fail(i, Fail::Io(e)),
                None => {}
            }
        }
    }

    /// Periodic checks: messages not answered in time (protocols with
    /// replies) and, while draining, connections that are complete.
    fn scan(&mut self, now_ns: u64) {
        if self.shutting && !P::HALF_CLOSE {
            for i in 0..self.conns.len() {
                self.close_if_complete(i);
            }
        }
        if !P::REPLIES {
            return;
        }
        let limit = self.plan.timeout.as_nanos() as u64;
        let cap = self.ring_cap as u64;
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            if !matches!(c.st, St::Open | St::HalfClosed) || c.k_done >= c.k_started {
                continue;
            }
            let sent = c.ring[(c.k_done % cap) as usize];
            if now_ns.saturating_sub(sent) > limit {
                self.errors.timeouts += 1;
                let msg = format!(
                    "connection {}: message {} not answered within {:?} ({} bytes received of {} sent)",
                    self.plan.conn_ids[i], c.k_done, self.plan.timeout, c.r_off, c.w_off
                );
                self.first_error.get_or_insert(msg);
                self.conns[i].failed = true;
                self.close(i);
            }
        }
    }

    fn finish(mut self) -> WorkerResult<P::Tally> {
        let (mut sent, mut unsent, mut lost) = (0u64, 0u64, 0u64);
        let cap = self.ring_cap as u64;
        let mut answered = 0;
        let mut tally = P::Tally::default();
        let (warm_ns, end_ns, stop_ns) = (self.warm_ns, self.end_ns, self.stop_ns);
        for c in &self.conns {
            let alive = c.was_ready && !c.failed;
            self.proto.tally(&c.proto, alive, &mut tally);
            // Receipts expected and never had (chat: lost, cut off): lower
            // bounds from their intended time.
            let rec = &mut self.rec;
            self.proto.unfinished(&c.proto, alive, &mut |intended, n| {
                rec.record_unfinished(stop_ns, intended, n)
            });
            if c.k_done > 0 {
                answered += 1;
            }
            if c.len == 0 {
                continue;
            }
            if self.is_open() {
                // Messages scheduled inside the window for this connection.
                let (open, offset, sender) = (self.open, self.offset_ns, c.sender);
                let at = move |k: u64| open.map_or(0, |o| offset + o.conn_msg_at_ns(sender, k));
                let mut first = 0u64;
                while at(first) < warm_ns {
                    first += 1;
                }
                let mut last = first;
                while at(last) < end_ns {
                    last += 1;
                }
                let scheduled = if c.was_ready { last - first } else { 0 };
                let s = c.k_started.clamp(first, last) - first;
                sent += s;
                unsent += scheduled.saturating_sub(s);
                if P::REPLIES {
                    let d = c.k_done.clamp(first, last) - first;
                    lost += s - d;
                }
                // Every window message not completed by the end (unsent,
                // lost, timed out): its latency from the intended time is at
                // least the time the worker stopped waiting minus that.
                if c.was_ready {
                    let done = if P::REPLIES { c.k_done } else { c.k_started };
                    let per = if P::REPLIES {
                        1
                    } else {
                        self.proto.receipts_per_message(&c.proto)
                    };
                    for k in done.clamp(first, last)..last {
                        self.rec.record_unfinished(stop_ns, at(k), per);
                    }
                }
            } else {
                for k in c.k_done..c.k_started {
                    let t = c.ring[(k % cap) as usize];
                    if t >= self.warm_ns && t < self.end_ns {
                        lost += 1;
                    }
                }
            }
        }
        if matches!(self.plan.load, Load::Closed { .. }) {
            sent = self.rec.messages + lost;
        }
        WorkerResult {
            rec: self.rec,
            connect: self.connect,
            round_trip: self.round_trip,
            first_attempt: self.first_attempt,
            last_established: self.last_established,
            last_ready: self.last_ready,
            established: self.established,
            ready: self.ready,
            connect_failures: self.connect_failures,
            sent,
            sent_total: self.sent_total,
            unsent,
            lost,
            errors: self.errors,
            first_error: self.first_error,
            conns_answered: answered,
            conns_clean: self.conns_clean,
            cpu: self.cpu0.zip(self.cpu1),
            tally,
        }
    }
}
