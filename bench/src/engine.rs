//! The worker event loop shared by every scenario.
//!
//! One worker thread owns a set of connections and one epoll instance (via
//! `mio`). It goes through three phases:
//!
//! 1. **connect**: non-blocking connects, paced if asked, each timed from
//!    `connect()` to writability; then it reports how many succeeded and
//!    waits for the common start instant;
//! 2. **load**: closed loop (each connection keeps `pipeline` messages in
//!    flight) or open loop (a fixed schedule, see [`crate::schedule`]); every
//!    echoed byte is checked against the connection's pattern
//!    ([`crate::pattern`]);
//! 3. **drain**: no new messages; each connection finishes the message it
//!    is writing, half-closes, and reads until the server closes, which
//!    proves every byte came back.
//!
//! A message belongs to the measured window when it was sent (open loop:
//! *scheduled*) inside `[warmup, warmup + duration)`; its latency is
//! recorded whenever it completes, even during the drain, so slow messages
//! at the end are not silently dropped.
//!
//! The per-message path does no allocation: the pattern is regenerated from
//! the stream offset into a per-worker scratch buffer, the echo is read into
//! another and checked in place, and send timestamps live in a fixed ring per
//! connection.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::hist;
use crate::net::{self, ConnectState};
use crate::pattern;
use crate::schedule::{OpenLoop, Schedule};
use crate::stats::{ConnectFailures, ErrorCounts};
use crate::timer::{TIMER, Timer};
use host_probe::ResourceUsage as SelfUsage;

/// Size of the per-worker read and write scratch buffers.
const SCRATCH: usize = 64 * 1024;
/// How often idle connections are checked for timeouts.
const SCAN_EVERY_NS: u64 = 20_000_000;

/// How messages are offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Load {
    /// Each connection keeps `pipeline` messages in flight.
    Closed {
        /// Messages in flight per connection.
        pipeline: usize,
    },
    /// A fixed schedule of `rate` messages/s over this worker's connections.
    Open {
        /// Messages per second for this worker.
        rate: f64,
        /// Cap on messages in flight per connection.
        max_inflight: usize,
    },
}

/// What one worker does.
#[derive(Debug, Clone)]
pub(crate) struct WorkerPlan {
    pub index: usize,
    pub addr: SocketAddr,
    /// Global connection indices (for seeds and source addresses).
    pub conn_ids: Vec<usize>,
    pub source_ips: Vec<IpAddr>,
    pub run_seed: u64,
    pub connect_start: Instant,
    /// Connection attempts per second for this worker.
    pub connect_rate: Option<f64>,
    pub connect_timeout: Duration,
    pub size: usize,
    pub load: Load,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub drain_timeout: Duration,
    pub record: bool,
    pub cpu: Option<usize>,
    pub progress: Arc<AtomicU64>,
    /// Set by the coordinator once the end-of-window snapshots are taken:
    /// only then do connections half-close.
    pub drain: Arc<AtomicBool>,
}

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
pub(crate) struct WorkerResult {
    pub latency: Histogram<u64>,
    pub corrected: Histogram<u64>,
    pub connect: Histogram<u64>,
    pub first_attempt: Option<Instant>,
    pub last_established: Option<Instant>,
    pub established: usize,
    pub connect_failures: ConnectFailures,
    /// Messages of the window that completed.
    pub messages: u64,
    /// Messages of the window that were sent (open loop: scheduled and sent).
    pub sent: u64,
    /// Messages of the window that were scheduled but never sent.
    pub unsent: u64,
    /// Messages of the window sent but never echoed (connection lost).
    pub lost: u64,
    pub errors: ErrorCounts,
    pub first_error: Option<String>,
    /// Connections that completed at least one message.
    pub conns_answered: usize,
    /// Connections that ended with a clean, complete half-close exchange.
    pub conns_clean: usize,
    /// CPU used by this thread inside the window.
    pub cpu: Option<(SelfUsage, SelfUsage)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Not attempted yet (paced connects).
    Idle,
    Connecting,
    Open,
    /// Write side shut down, reading the rest of the echo.
    HalfClosed,
    /// Finished cleanly or failed; the socket is closed.
    Done,
}

struct Conn {
    stream: Option<TcpStream>,
    st: St,
    seed: u64,
    source: Option<IpAddr>,
    connect_started: Option<Instant>,
    can_write: bool,
    w_off: u64,
    r_off: u64,
    /// Messages the load allows to be sent.
    k_due: u64,
    /// Messages whose first byte has been written.
    k_started: u64,
    /// Messages fully echoed.
    k_done: u64,
    /// Send timestamps (ns since start) of messages `k_done..k_started`.
    ring: Box<[u64]>,
}

enum Fail {
    Mismatch(String),
    Io(io::Error),
    Eof,
}

/// Runs one worker to completion.
pub(crate) fn run(
    plan: WorkerPlan,
    events_tx: Sender<WorkerEvent>,
    start_rx: Receiver<Instant>,
) -> Option<WorkerResult> {
    let mut w = match Worker::new(&plan) {
        Ok(w) => w,
        Err(e) => {
            let _ = events_tx.send(WorkerEvent::Failed(e));
            return None;
        }
    };
    w.connect_phase();
    let established = w.established;
    if events_tx.send(WorkerEvent::Ready { established }).is_err() {
        return None;
    }
    // The coordinator drops the sender to abort.
    let t0 = start_rx.recv().ok()?;
    w.load_phase(t0);
    Some(w.finish())
}

struct Worker<'a> {
    plan: &'a WorkerPlan,
    poll: Poll,
    conns: Vec<Conn>,
    rbuf: Box<[u8]>,
    wbuf: Box<[u8]>,
    ring_cap: usize,
    open: Option<OpenLoop>,
    // Time base of the load phase and window bounds, in ns since `t0`.
    t0: Instant,
    warm_ns: u64,
    end_ns: u64,
    sending: bool,
    /// Half-closing allowed (after the coordinator's end snapshots).
    shutting: bool,
    // Results.
    latency: Histogram<u64>,
    corrected: Histogram<u64>,
    connect: Histogram<u64>,
    first_attempt: Option<Instant>,
    last_established: Option<Instant>,
    established: usize,
    connect_failures: ConnectFailures,
    messages: u64,
    total_messages: u64,
    errors: ErrorCounts,
    first_error: Option<String>,
    conns_clean: usize,
    cpu0: Option<SelfUsage>,
    cpu1: Option<SelfUsage>,
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

impl<'a> Worker<'a> {
    fn new(plan: &'a WorkerPlan) -> Result<Self, String> {
        if let Some(cpu) = plan.cpu {
            crate::limits::pin_current_thread(cpu)
                .map_err(|e| format!("pinning worker {} to cpu {cpu}: {e}", plan.index))?;
        }
        let poll = Poll::new().map_err(|e| format!("creating epoll: {e}"))?;
        let (ring_cap, open) = match plan.load {
            Load::Closed { pipeline } => (pipeline.max(1), None),
            Load::Open { rate, max_inflight } => (
                max_inflight.max(1),
                Some(OpenLoop::new(rate, plan.conn_ids.len())),
            ),
        };
        let conns = plan
            .conn_ids
            .iter()
            .map(|&g| Conn {
                stream: None,
                st: St::Idle,
                seed: pattern::conn_seed(plan.run_seed, g),
                source: (!plan.source_ips.is_empty())
                    .then(|| plan.source_ips[g % plan.source_ips.len()]),
                connect_started: None,
                can_write: false,
                w_off: 0,
                r_off: 0,
                k_due: 0,
                k_started: 0,
                k_done: 0,
                ring: vec![0; ring_cap].into_boxed_slice(),
            })
            .collect();
        Ok(Worker {
            plan,
            poll,
            conns,
            rbuf: vec![0; SCRATCH].into_boxed_slice(),
            wbuf: vec![0; SCRATCH].into_boxed_slice(),
            ring_cap,
            open,
            t0: Instant::now(),
            warm_ns: 0,
            end_ns: 0,
            sending: false,
            shutting: false,
            latency: hist::new_latency(),
            corrected: hist::new_latency(),
            connect: hist::new_latency(),
            first_attempt: None,
            last_established: None,
            established: 0,
            connect_failures: ConnectFailures::default(),
            messages: 0,
            total_messages: 0,
            errors: ErrorCounts::default(),
            first_error: None,
            conns_clean: 0,
            cpu0: None,
            cpu1: None,
        })
    }

    // ----- connect phase -------------------------------------------------

    fn connect_phase(&mut self) {
        let n = self.conns.len();
        let pace = self.plan.connect_rate.map(Schedule::new);
        let mut next = 0usize; // next connection to attempt
        let mut pending = 0usize; // attempts in progress
        let mut last_scan = Instant::now();
        let mut events = Events::with_capacity(1024);
        while next < n || pending > 0 {
            let now = Instant::now();
            // Start every attempt that is due.
            while next < n {
                if let Some(p) = pace {
                    let due = self.plan.connect_start + Duration::from_nanos(p.at_ns(next as u64));
                    if due > now {
                        break;
                    }
                }
                if self.start_connect(next) {
                    pending += 1;
                }
                next += 1;
            }
            // Time out attempts that take too long.
            if now.duration_since(last_scan) >= Duration::from_millis(10) {
                last_scan = now;
                for i in 0..n {
                    let c = &self.conns[i];
                    if c.st == St::Connecting
                        && c.connect_started
                            .is_some_and(|t| now.duration_since(t) >= self.plan.connect_timeout)
                    {
                        self.connect_failures.timed_out += 1;
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
                if c.st != St::Connecting {
                    continue;
                }
                let Some(stream) = c.stream.as_ref() else {
                    continue;
                };
                match net::check_connect(stream) {
                    ConnectState::Pending => {}
                    ConnectState::Connected => {
                        c.st = St::Open;
                        c.can_write = true;
                        pending -= 1;
                        self.established += 1;
                        self.last_established = Some(now);
                        if let Some(t) = c.connect_started {
                            hist::record_ns(&mut self.connect, ns_between(t, now));
                        }
                    }
                    ConnectState::Failed(e) => {
                        self.connect_failures.count(&e);
                        pending -= 1;
                        self.close(i);
                    }
                }
            }
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
                    return false;
                }
                c.stream = Some(s);
                c.st = St::Connecting;
                true
            }
            Err(e) => {
                self.connect_failures.count(&e);
                c.st = St::Done;
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
        let mut drain_end_ns = u64::MAX;
        // Wait for the common start.
        let lead = t0.saturating_duration_since(Instant::now());
        if !lead.is_zero() {
            std::thread::sleep(lead);
        }
        self.sending = true;
        let mut now_ns = self.now_ns();
        if self.warm_ns == 0 {
            self.cpu0 = Some(SelfUsage::thread());
        }
        if let Load::Closed { pipeline } = self.plan.load {
            for i in 0..self.conns.len() {
                if self.conns[i].st == St::Open {
                    self.conns[i].k_due = pipeline as u64;
                    self.flush(i, now_ns);
                }
            }
        }
        let mut cursor = 0u64; // open loop: next worker-wide message
        // Messages scheduled before the end: those with `at_ns < end_ns`.
        let end_m = self.open.map(|o| {
            if self.end_ns == 0 {
                0
            } else {
                o.due_by(self.end_ns - 1)
            }
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
                self.cpu0 = Some(SelfUsage::thread());
            }
            // Open loop: hand out every message that is due (also, late, those
            // scheduled before the end when this wake-up came after it).
            if let (Some(o), Some(end_m), true) = (self.open, end_m, self.sending) {
                while cursor < end_m && o.at_ns(cursor) <= now_ns {
                    let j = o.conn_of(cursor);
                    cursor += 1;
                    if matches!(self.conns[j].st, St::Open) {
                        self.conns[j].k_due += 1;
                        self.flush(j, now_ns);
                    }
                }
            }
            if !draining && now_ns >= self.end_ns {
                self.cpu1 = Some(SelfUsage::thread());
                draining = true;
                self.sending = false;
                for i in 0..self.conns.len() {
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
                self.scan_timeouts(now_ns);
                self.plan
                    .progress
                    .store(self.total_messages, Ordering::Relaxed);
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
                    let due = o.at_ns(cursor);
                    wake = wake.min(due);
                    if let Some(t) = timer.as_mut() {
                        // epoll rounds its timeout up to whole milliseconds.
                        t.arm(due, now_ns);
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
            self.cpu1 = Some(SelfUsage::thread());
        }
        // Whatever is still open did not finish within the drain timeout.
        for i in 0..self.conns.len() {
            if matches!(self.conns[i].st, St::Open | St::HalfClosed) {
                self.errors.drain_timeouts += 1;
                let c = &self.conns[i];
                let msg = format!(
                    "connection {}: drain timeout after half-close ({} of {} bytes echoed)",
                    self.plan.conn_ids[i], c.r_off, c.w_off
                );
                self.first_error.get_or_insert(msg);
                self.close(i);
            }
        }
        self.plan
            .progress
            .store(self.total_messages, Ordering::Relaxed);
    }

    fn all_done(&self) -> bool {
        self.conns
            .iter()
            .all(|c| c.st == St::Done || c.st == St::Idle)
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

    /// Verifies `n` bytes just read into `rbuf` and completes messages.
    fn on_data(&mut self, i: usize, n: usize, now_ns: u64) -> Result<(), Fail> {
        let size = self.plan.size as u64;
        let c = &mut self.conns[i];
        if c.r_off + n as u64 > c.w_off {
            return Err(Fail::Mismatch(format!(
                "echoed {} bytes but only {} were sent",
                c.r_off + n as u64,
                c.w_off
            )));
        }
        if let Err(m) = pattern::check(c.seed, c.r_off, &self.rbuf[..n]) {
            return Err(Fail::Mismatch(m.to_string()));
        }
        c.r_off += n as u64;
        while (c.k_done + 1) * size <= c.r_off {
            let k = c.k_done;
            let sent = c.ring[(k % self.ring_cap as u64) as usize];
            c.k_done += 1;
            self.total_messages += 1;
            // Which time decides membership of the window.
            let (in_window, intended) = match self.open {
                Some(o) => {
                    let t = o.conn_msg_at_ns(i, k);
                    (t >= self.warm_ns && t < self.end_ns, t)
                }
                None => (sent >= self.warm_ns && sent < self.end_ns, sent),
            };
            if in_window {
                self.messages += 1;
                if self.plan.record {
                    hist::record_ns(&mut self.latency, now_ns.saturating_sub(sent));
                    if self.open.is_some() {
                        hist::record_ns(&mut self.corrected, now_ns.saturating_sub(intended));
                    }
                }
            }
            if self.open.is_none() && self.sending {
                c.k_due += 1;
            }
        }
        Ok(())
    }

    fn on_eof(&mut self, i: usize) {
        let c = &self.conns[i];
        match c.st {
            St::HalfClosed if c.r_off == c.w_off => {
                self.conns_clean += 1;
                self.close(i);
            }
            St::HalfClosed => {
                self.errors.incomplete += 1;
                let msg = format!(
                    "connection {}: end of stream after {} of {} bytes echoed",
                    self.plan.conn_ids[i], c.r_off, c.w_off
                );
                self.first_error.get_or_insert(msg);
                self.close(i);
            }
            _ => self.fail(i, Fail::Eof),
        }
    }

    fn fail(&mut self, i: usize, f: Fail) {
        let id = self.plan.conn_ids[i];
        let msg = match f {
            Fail::Mismatch(m) => {
                self.errors.mismatches += 1;
                format!("connection {id}: echo mismatch: {m}")
            }
            Fail::Eof => {
                self.errors.unexpected_eof += 1;
                format!("connection {id}: closed by the server")
            }
            Fail::Io(e) => {
                if is_reset(&e) {
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
        self.close(i);
    }

    /// Writes whatever the load allows on connection `i`; after the end,
    /// completes the message in progress and half-closes.
    fn flush(&mut self, i: usize, now_hint: u64) {
        let size = self.plan.size as u64;
        let cap = self.ring_cap as u64;
        let record = self.plan.record;
        let t0 = self.t0;
        let sending = self.sending;
        let c = &mut self.conns[i];
        if c.st != St::Open {
            return;
        }
        let target_msgs = if sending {
            c.k_due.min(c.k_done + cap)
        } else {
            c.k_started
        };
        let target = target_msgs * size;
        let mut result = Ok(());
        while c.can_write && c.w_off < target {
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            let n = ((target - c.w_off) as usize).min(self.wbuf.len());
            pattern::fill(c.seed, c.w_off, &mut self.wbuf[..n]);
            let now = if record {
                ns_between(t0, Instant::now())
            } else {
                now_hint
            };
            match stream.write(&self.wbuf[..n]) {
                Ok(0) => {
                    result = Err(Fail::Io(io::ErrorKind::WriteZero.into()));
                    break;
                }
                Ok(m) => {
                    c.w_off += m as u64;
                    let started = c.w_off.div_ceil(size);
                    while c.k_started < started {
                        c.ring[(c.k_started % cap) as usize] = now;
                        c.k_started += 1;
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
        if !sending && self.shutting && c.w_off == target {
            let shut = c.stream.as_ref().map(|s| s.shutdown(Shutdown::Write));
            match shut {
                Some(Ok(())) => c.st = St::HalfClosed,
                Some(Err(e)) => self.fail(i, Fail::Io(e)),
                None => {}
            }
        }
    }

    fn scan_timeouts(&mut self, now_ns: u64) {
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
                    "connection {}: message {} not echoed within {:?} ({} of {} bytes back)",
                    self.plan.conn_ids[i], c.k_done, self.plan.timeout, c.r_off, c.w_off
                );
                self.first_error.get_or_insert(msg);
                self.close(i);
            }
        }
    }

    fn finish(self) -> WorkerResult {
        let (mut sent, mut unsent, mut lost) = (0u64, 0u64, 0u64);
        let cap = self.ring_cap as u64;
        let mut answered = 0;
        for (j, c) in self.conns.iter().enumerate() {
            if c.k_done > 0 {
                answered += 1;
            }
            match self.open {
                Some(o) => {
                    // Messages scheduled inside the window for this connection.
                    let mut k = 0u64;
                    // First k with intended >= warm.
                    while o.conn_msg_at_ns(j, k) < self.warm_ns {
                        k += 1;
                    }
                    let first = k;
                    let mut last = first;
                    while o.conn_msg_at_ns(j, last) < self.end_ns {
                        last += 1;
                    }
                    let scheduled = if c.st == St::Idle { 0 } else { last - first };
                    let s = c.k_started.clamp(first, last) - first;
                    let d = c.k_done.clamp(first, last) - first;
                    sent += s;
                    unsent += scheduled - s;
                    lost += s - d;
                }
                None => {
                    for k in c.k_done..c.k_started {
                        let t = c.ring[(k % cap) as usize];
                        if t >= self.warm_ns && t < self.end_ns {
                            lost += 1;
                        }
                    }
                }
            }
        }
        if self.open.is_none() {
            sent = self.messages + lost;
        }
        WorkerResult {
            latency: self.latency,
            corrected: self.corrected,
            connect: self.connect,
            first_attempt: self.first_attempt,
            last_established: self.last_established,
            established: self.established,
            connect_failures: self.connect_failures,
            messages: self.messages,
            sent,
            unsent,
            lost,
            errors: self.errors,
            first_error: self.first_error,
            conns_answered: answered,
            conns_clean: self.conns_clean,
            cpu: self.cpu0.zip(self.cpu1),
        }
    }
}
