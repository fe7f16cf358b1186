//! The `chat` scenario: fan-out through chat rooms (`chat/1`, see
//! docs/PROTOCOL.md).
//!
//! `rooms × members` clients connect, read `HELLO`, `JOIN` their room and
//! wait for `OK JOIN`; only then does the load start. `senders` of them
//! (spread evenly over the rooms) send `MSG <room> <text>` on a fixed
//! schedule (`rate` messages/s over all senders); the text carries the
//! sender id, its sequence number and the send time, padded to `size`
//! bytes. Every receiver checks, per sender, that sequence numbers arrive in
//! order, once, and completely; fan-out latency is the time from the send to
//! each receipt. A few event-loop threads (mio, edge-triggered) carry all
//! clients.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hist::{self, HistogramReport};
use crate::proc_stats::{CoreUsage, GeneratorStats, Sampler, ServerStats};
use crate::timer::{TIMER, Timer};
use crate::util::serde_secs;
use host_probe::{CoreSnapshot, ResourceUsage};

/// Settings of a chat run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSettings {
    /// Server address.
    pub addr: SocketAddr,
    /// Rooms.
    pub rooms: usize,
    /// Members per room (clients = rooms × members).
    pub members: usize,
    /// Clients that send, spread evenly over the rooms.
    pub senders: usize,
    /// Messages per second over all senders.
    pub rate: f64,
    /// Text size of each message in bytes (at least the header
    /// `sender:seq:timestamp:`).
    pub size: usize,
    /// Measured duration.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
    /// Warm-up before the window (load on, not recorded).
    #[serde(with = "serde_secs")]
    pub warmup: Duration,
    /// How long connecting and joining may take.
    #[serde(with = "serde_secs")]
    pub join_timeout: Duration,
    /// After the last send, how long to wait for the remaining deliveries.
    #[serde(with = "serde_secs")]
    pub drain_timeout: Duration,
    /// Worker threads (`None`: one per CPU of `cpus`, else one per core).
    pub threads: Option<usize>,
    /// CPUs to pin the worker threads to, round-robin (empty: no pinning).
    pub cpus: Vec<usize>,
    /// Server process to sample in /proc.
    pub server_pid: Option<u32>,
    /// Sampling period of the server's RSS and threads.
    #[serde(with = "serde_secs")]
    pub sample_interval: Duration,
}

impl ChatSettings {
    /// Defaults: one room of 10 members, 2 senders, 1000 messages/s of 64
    /// bytes, 1 s warm-up, 5 s measured.
    pub fn new(addr: SocketAddr) -> Self {
        ChatSettings {
            addr,
            rooms: 1,
            members: 10,
            senders: 2,
            rate: 1000.0,
            size: 64,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            join_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
            threads: None,
            cpus: Vec::new(),
            server_pid: None,
            sample_interval: Duration::from_millis(100),
        }
    }

    /// Total clients.
    pub fn clients(&self) -> usize {
        self.rooms * self.members
    }

    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidSettings(m.to_string()));
        if self.rooms == 0 || self.members == 0 {
            return bad("--rooms and --members must be at least 1");
        }
        if self.senders == 0 || self.senders > self.clients() {
            return bad("--senders must be between 1 and rooms × members");
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return bad("--rate must be a positive number of messages per second");
        }
        if self.duration.is_zero() {
            return bad("--duration must be positive");
        }
        if self.size > 4000 {
            return bad("--size must fit a chat line (at most 4000 bytes)");
        }
        Ok(())
    }

    /// The room of sender `j` (senders are spread round-robin over rooms).
    fn sender_room(&self, j: usize) -> usize {
        j % self.rooms
    }

    /// The client index of sender `j`: member `j / rooms` of its room.
    fn sender_client(&self, j: usize) -> usize {
        self.sender_room(j) * self.members + j / self.rooms
    }
}

/// Results of a chat run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReport {
    /// The settings used.
    pub settings: ChatSettings,
    /// Worker threads used.
    pub threads: usize,
    /// Clients requested.
    pub clients: usize,
    /// Clients that received `OK JOIN` before the load started.
    pub joined: usize,
    /// Clients that could not connect or join (refused, `ERR server-full`,
    /// timeout).
    pub join_failures: usize,
    /// Seconds from the first connect to the last `OK JOIN`.
    pub join_s: f64,
    /// Measured window, seconds.
    pub window_s: f64,
    /// Messages sent in the window.
    pub sent: u64,
    /// Messages sent over the whole run (warm-up included).
    pub sent_total: u64,
    /// Receipts of the window's messages (one per receiving member).
    pub deliveries: u64,
    /// Receipts of all messages.
    pub deliveries_total: u64,
    /// Receipts expected for all messages from the members still connected.
    pub deliveries_expected: u64,
    /// Window receipts per second.
    pub deliveries_per_s: f64,
    /// Window messages sent per second.
    pub msgs_per_s: f64,
    /// Fan-out latency, send to each receipt, of the window's messages.
    pub latency: HistogramReport,
    /// The same from each message's intended send time on the fixed
    /// schedule (corrected for coordinated omission: a sender held up by
    /// the server does not hide the delay). It also includes the
    /// generator's own lateness in waking up (senders are woken by a
    /// timerfd, so normally a few µs).
    #[serde(default)]
    pub latency_corrected: HistogramReport,
    /// Receipts missing at connected receivers (after the drain).
    pub lost: u64,
    /// Messages received twice.
    pub duplicated: u64,
    /// Messages that arrived after a later one of the same sender.
    pub reordered: u64,
    /// MSG lines whose text did not parse or had the wrong size.
    pub corrupt: u64,
    /// Clients cut off with `ERR slow-consumer` (or closed by the server
    /// without it while being sent to).
    pub slow_consumer_cutoffs: u64,
    /// Receipts those cut-off clients did not get (not counted in `lost`).
    pub lost_to_cutoffs: u64,
    /// Other disconnects and I/O errors after joining.
    pub disconnects: u64,
    /// The first problem, described.
    pub first_error: Option<String>,
    /// Whether every receipt arrived before the drain timeout.
    pub drained: bool,
    /// The server's cost, with `server_pid` (per message = per delivery).
    pub server: Option<ServerStats>,
    /// The generator's own cost (per message = per delivery).
    pub generator: GeneratorStats,
    /// How busy each CPU was over the window.
    pub cores: Vec<CoreUsage>,
}

impl ChatReport {
    /// Errors that make the run fail: loss, duplicates, reordering,
    /// corruption, join failures and disconnects (slow-consumer cut-offs
    /// are reported separately and not counted).
    pub fn error_count(&self) -> u64 {
        self.lost
            + self.duplicated
            + self.reordered
            + self.corrupt
            + self.join_failures as u64
            + self.disconnects
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    Hello,
    Joining,
    Ready,
    Dead,
}

struct Client {
    index: usize,
    room: usize,
    stream: mio::net::TcpStream,
    state: State,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Per sender of the room (by position): next expected sequence number.
    next: Vec<u64>,
    /// Per sender of the room (by position): unique receipts.
    received: Vec<u64>,
    cut_off: bool,
    sender: Option<SenderState>,
}

struct SenderState {
    id: usize,
    seq: u64,
    due: Instant,
    interval: Duration,
}

struct Plan {
    settings: ChatSettings,
    clients: Vec<usize>,
    cpu: Option<usize>,
    base: Instant,
    room_senders: Arc<Vec<Vec<usize>>>,
    sender_pos: Arc<Vec<usize>>,
    final_sent: Arc<Vec<AtomicU64>>,
    senders_done: Arc<AtomicU64>,
}

enum Event {
    Ready {
        joined: usize,
        failed: usize,
        first_error: Option<String>,
    },
}

#[derive(Default)]
struct Out {
    hist: Option<Histogram<u64>>,
    corrected: Option<Histogram<u64>>,
    sent: u64,
    sent_total: u64,
    deliveries: u64,
    deliveries_total: u64,
    expected: u64,
    unique: u64,
    cut_expected: u64,
    cut_unique: u64,
    duplicated: u64,
    reordered: u64,
    corrupt: u64,
    cutoffs: u64,
    disconnects: u64,
    first_error: Option<String>,
    drained: bool,
    last_join: Option<Instant>,
}

/// Runs a chat scenario.
pub fn run(settings: &ChatSettings) -> Result<ChatReport> {
    settings.check()?;
    let clients = settings.clients();
    crate::limits::ensure_capacity(clients, 1)?;
    let threads = settings
        .threads
        .unwrap_or(if settings.cpus.is_empty() {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            settings.cpus.len()
        })
        .clamp(1, clients);
    let mut sampler = match settings.server_pid {
        Some(pid) => Some(Sampler::start(pid, settings.sample_interval)?),
        None => None,
    };
    let mut room_senders = vec![Vec::new(); settings.rooms];
    let mut sender_pos = vec![0; settings.senders];
    for (j, pos) in sender_pos.iter_mut().enumerate() {
        let r = settings.sender_room(j);
        *pos = room_senders[r].len();
        room_senders[r].push(j);
    }
    let room_senders = Arc::new(room_senders);
    let sender_pos = Arc::new(sender_pos);
    let final_sent: Arc<Vec<AtomicU64>> =
        Arc::new((0..settings.senders).map(|_| AtomicU64::new(0)).collect());
    let senders_done = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let (ev_tx, ev_rx) = mpsc::channel();
    let mut handles = Vec::new();
    let mut start_txs = Vec::new();
    for w in 0..threads {
        let plan = Plan {
            settings: settings.clone(),
            clients: (w..clients).step_by(threads).collect(),
            cpu: (!settings.cpus.is_empty()).then(|| settings.cpus[w % settings.cpus.len()]),
            base,
            room_senders: room_senders.clone(),
            sender_pos: sender_pos.clone(),
            final_sent: final_sent.clone(),
            senders_done: senders_done.clone(),
        };
        let (stx, srx) = mpsc::channel::<Option<Instant>>();
        let tx = ev_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("chat-w{w}"))
            .spawn(move || worker(plan, tx, srx))
            .map_err(|e| Error::io("spawning a chat worker", e))?;
        handles.push(h);
        start_txs.push(stx);
    }
    drop(ev_tx);
    let (mut joined, mut failed, mut first_error) = (0, 0, None);
    for _ in 0..threads {
        match ev_rx.recv() {
            Ok(Event::Ready {
                joined: j,
                failed: f,
                first_error: e,
            }) => {
                joined += j;
                failed += f;
                if first_error.is_none() {
                    first_error = e;
                }
            }
            Err(_) => break,
        }
    }
    if joined == 0 {
        for tx in &start_txs {
            let _ = tx.send(None);
        }
        for h in handles {
            let _ = h.join();
        }
        return Err(Error::NoConnection {
            addr: settings.addr,
            failed,
        });
    }
    if let Some(s) = sampler.as_mut() {
        s.ctxt_start()?;
    }
    let t0 = Instant::now() + Duration::from_millis(5);
    for tx in &start_txs {
        let _ = tx.send(Some(t0));
    }
    let t_warm = t0 + settings.warmup;
    let t_end = t_warm + settings.duration;
    sleep_until(t_warm);
    let usage0 = ResourceUsage::process();
    let cpu0 = CoreSnapshot::read().ok();
    if let Some(s) = sampler.as_mut() {
        s.window_start()?;
        if settings.warmup.is_zero() {
            s.ctxt_start()?;
        }
    }
    sleep_until(t_end);
    let window_s = t_warm.elapsed().as_secs_f64();
    let usage1 = ResourceUsage::process();
    let cores = CoreUsage::since(cpu0.as_ref());
    if let Some(s) = sampler.as_mut() {
        s.window_end()?;
        s.ctxt_end()?;
    }
    let mut total = Out {
        drained: true,
        ..Out::default()
    };
    let mut hist = hist::new_latency();
    let mut corrected = hist::new_latency();
    let mut first_connect = None::<Instant>;
    for h in handles {
        let o = h
            .join()
            .map_err(|_| Error::Worker("a chat worker panicked".into()))?;
        let (o, started) = o?;
        first_connect = Some(first_connect.map_or(started, |f: Instant| f.min(started)));
        if let Some(h) = &o.hist {
            hist::merge(&mut hist, h)?;
        }
        if let Some(h) = &o.corrected {
            hist::merge(&mut corrected, h)?;
        }
        total.sent += o.sent;
        total.sent_total += o.sent_total;
        total.deliveries += o.deliveries;
        total.deliveries_total += o.deliveries_total;
        total.expected += o.expected;
        total.unique += o.unique;
        total.cut_expected += o.cut_expected;
        total.cut_unique += o.cut_unique;
        total.duplicated += o.duplicated;
        total.reordered += o.reordered;
        total.corrupt += o.corrupt;
        total.cutoffs += o.cutoffs;
        total.disconnects += o.disconnects;
        if first_error.is_none() {
            first_error = o.first_error;
        }
        total.drained &= o.drained;
        total.last_join = total.last_join.max(o.last_join);
    }
    let per_s = |x: u64| {
        if window_s > 0.0 {
            x as f64 / window_s
        } else {
            0.0
        }
    };
    let mut generator = GeneratorStats::between(&usage0, &usage1, window_s, total.deliveries, 0.0);
    generator.threads = threads;
    generator.cpus = settings.cpus.clone();
    generator.recording = true;
    let server = match sampler {
        Some(s) => Some(s.finish(joined, total.deliveries)?),
        None => None,
    };
    let join_s = match (first_connect, total.last_join) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    Ok(ChatReport {
        settings: settings.clone(),
        threads,
        clients,
        joined,
        join_failures: failed,
        join_s,
        window_s,
        sent: total.sent,
        sent_total: total.sent_total,
        deliveries: total.deliveries,
        deliveries_total: total.deliveries_total,
        deliveries_expected: total.expected,
        deliveries_per_s: per_s(total.deliveries),
        msgs_per_s: per_s(total.sent),
        latency: HistogramReport::of(&hist)?,
        latency_corrected: HistogramReport::of(&corrected)?,
        lost: total.expected.saturating_sub(total.unique),
        duplicated: total.duplicated,
        reordered: total.reordered,
        corrupt: total.corrupt,
        slow_consumer_cutoffs: total.cutoffs,
        lost_to_cutoffs: total.cut_expected.saturating_sub(total.cut_unique),
        disconnects: total.disconnects,
        first_error,
        drained: total.drained,
        server,
        generator,
        cores,
    })
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Formats the text of message `seq` of sender `id`, sent `ts_ns` after
/// the run's base instant, padded with `x` to `size` bytes.
pub fn format_text(out: &mut Vec<u8>, id: usize, seq: u64, ts_ns: u64, size: usize) {
    let start = out.len();
    let _ = write!(out, "{id}:{seq}:{ts_ns}:");
    while out.len() - start < size {
        out.push(b'x');
    }
}

/// Parses a text made by [`format_text`]: (sender id, sequence number,
/// send time in ns after the base instant, padding length).
pub fn parse_text(text: &[u8]) -> Option<(usize, u64, u64, usize)> {
    let mut it = text.splitn(4, |&b| b == b':');
    let num = |s: Option<&[u8]>| -> Option<u64> { std::str::from_utf8(s?).ok()?.parse().ok() };
    let id = num(it.next())?;
    let seq = num(it.next())?;
    let ts = num(it.next())?;
    let pad = it.next()?;
    if !pad.iter().all(|&b| b == b'x') {
        return None;
    }
    Some((usize::try_from(id).ok()?, seq, ts, pad.len()))
}

struct Worker {
    plan: Plan,
    poll: Poll,
    clients: Vec<Client>,
    hist: Histogram<u64>,
    corrected: Histogram<u64>,
    out: Out,
    window: Option<(u64, u64)>,
    /// The schedule: (start, stagger per sender id, interval), ns after
    /// the base instant.
    schedule: (u64, u64, u64),
}

impl Worker {
    fn fail(&mut self, msg: String) {
        if self.out.first_error.is_none() {
            self.out.first_error = Some(msg);
        }
    }

    fn flush(&mut self, i: usize) {
        let c = &mut self.clients[i];
        while !c.wbuf.is_empty() && c.state != State::Dead {
            match c.stream.write(&c.wbuf) {
                Ok(0) => {
                    c.state = State::Dead;
                }
                Ok(n) => {
                    c.wbuf.drain(..n);
                }
                Err(e) if would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    c.state = State::Dead;
                    let msg = format!("client {}: write: {e}", c.index);
                    self.died(i, msg);
                    return;
                }
            }
        }
    }

    fn died(&mut self, i: usize, msg: String) {
        let c = &mut self.clients[i];
        let was_ready = matches!(c.state, State::Ready) || c.cut_off;
        c.state = State::Dead;
        if !c.cut_off && was_ready {
            self.out.disconnects += 1;
            self.fail(msg);
        } else if !c.cut_off {
            self.fail(msg);
        }
    }

    /// Reads what is available; returns false once the client is dead.
    fn read(&mut self, i: usize, now: Instant) {
        let mut buf = [0u8; 65536];
        loop {
            let c = &mut self.clients[i];
            if c.state == State::Dead {
                return;
            }
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    self.lines(i, now);
                    let c = &mut self.clients[i];
                    if c.state != State::Dead {
                        let msg = format!("client {}: closed by the server", c.index);
                        self.died(i, msg);
                    }
                    return;
                }
                Ok(n) => {
                    c.rbuf.extend_from_slice(&buf[..n]);
                    self.lines(i, now);
                }
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let msg = format!("client {}: read: {e}", self.clients[i].index);
                    self.died(i, msg);
                    return;
                }
            }
        }
    }

    fn lines(&mut self, i: usize, now: Instant) {
        let rbuf = std::mem::take(&mut self.clients[i].rbuf);
        let mut start = 0;
        while let Some(p) = rbuf[start..].iter().position(|&b| b == b'\n') {
            let line = &rbuf[start..start + p];
            start += p + 1;
            self.line(i, line, now);
        }
        let c = &mut self.clients[i];
        c.rbuf = rbuf;
        c.rbuf.drain(..start);
    }

    fn line(&mut self, i: usize, line: &[u8], now: Instant) {
        let (index, room) = (self.clients[i].index, self.clients[i].room);
        if let Some(rest) = line.strip_prefix(b"MSG ") {
            // <room> <nick> <text>
            let mut it = rest.splitn(3, |&b| b == b' ');
            let (_, _, text) = (it.next(), it.next(), it.next());
            let size = self.plan.settings.size;
            let parsed = text.and_then(|t| {
                parse_text(t)
                    .filter(|&(_, _, _, pad)| t.len() == size || (pad == 0 && t.len() > size))
            });
            let Some((id, seq, ts, _)) = parsed else {
                self.out.corrupt += 1;
                self.fail(format!(
                    "client {index}: bad MSG line {:?}",
                    String::from_utf8_lossy(line)
                ));
                return;
            };
            let pos = match self.plan.sender_pos.get(id) {
                Some(&p) if self.plan.room_senders[room].get(p) == Some(&id) => p,
                _ => {
                    self.out.corrupt += 1;
                    self.fail(format!(
                        "client {index}: MSG from sender {id} not in its room"
                    ));
                    return;
                }
            };
            self.out.deliveries_total += 1;
            let c = &mut self.clients[i];
            let problem = if seq == c.next[pos] {
                c.next[pos] += 1;
                c.received[pos] += 1;
                None
            } else if seq > c.next[pos] {
                self.out.reordered += 1;
                c.next[pos] = seq + 1;
                c.received[pos] += 1;
                Some(format!(
                    "client {index}: sender {id} sequence {seq} arrived before an earlier one"
                ))
            } else {
                // An earlier number: a duplicate (every number below `next`
                // was counted already, or was skipped and is late, which the
                // reorder count already caught).
                self.out.duplicated += 1;
                Some(format!("client {index}: sender {id} sequence {seq} again"))
            };
            if let Some(m) = problem {
                self.fail(m);
            }
            if let Some((a, b)) = self.window {
                if ts >= a && ts < b {
                    self.out.deliveries += 1;
                    let sent = self.plan.base + Duration::from_nanos(ts);
                    hist::record_ns(
                        &mut self.hist,
                        now.saturating_duration_since(sent).as_nanos() as u64,
                    );
                    let (t0, stagger, interval) = self.schedule;
                    let intended = t0
                        .saturating_add(stagger.saturating_mul(id as u64))
                        .saturating_add(interval.saturating_mul(seq));
                    let intended = self.plan.base + Duration::from_nanos(intended);
                    hist::record_ns(
                        &mut self.corrected,
                        now.saturating_duration_since(intended).as_nanos() as u64,
                    );
                }
            }
            return;
        }
        let c = &mut self.clients[i];
        match c.state {
            State::Hello if line.starts_with(b"HELLO ") => {
                c.state = State::Joining;
                let room = c.room;
                let _ = writeln!(c.wbuf, "JOIN r{room}");
                self.flush(i);
            }
            State::Joining if line.starts_with(b"OK JOIN ") => {
                c.state = State::Ready;
                self.out.last_join = Some(now);
            }
            _ if line.starts_with(b"ERR slow-consumer") => {
                c.cut_off = true;
                self.out.cutoffs += 1;
            }
            _ if line.starts_with(b"ERR ") => {
                let msg = format!(
                    "client {}: server said {:?}",
                    c.index,
                    String::from_utf8_lossy(line)
                );
                if c.state == State::Ready {
                    self.out.disconnects += 1;
                }
                c.state = State::Dead;
                self.fail(msg);
            }
            // JOINED / LEFT / NICK lines of other members.
            _ => {}
        }
    }
}

type WorkerOut = Result<(Out, Instant)>;

fn worker(
    plan: Plan,
    tx: mpsc::Sender<Event>,
    start: mpsc::Receiver<Option<Instant>>,
) -> WorkerOut {
    if let Some(cpu) = plan.cpu {
        let _ = crate::limits::pin_current_thread(cpu);
    }
    let poll = Poll::new().map_err(|e| Error::io("creating a poll instance", e))?;
    let s = plan.settings.clone();
    let started = Instant::now();
    let mut w = Worker {
        clients: Vec::with_capacity(plan.clients.len()),
        poll,
        hist: hist::new_latency(),
        corrected: hist::new_latency(),
        out: Out::default(),
        window: None,
        schedule: (0, 0, 0),
        plan,
    };
    let sender_of: HashMap<usize, usize> =
        (0..s.senders).map(|j| (s.sender_client(j), j)).collect();
    let mut failed = 0;
    for (k, &ci) in w.plan.clients.clone().iter().enumerate() {
        let room = ci / s.members;
        match crate::net::start_connect(s.addr, None) {
            Ok(mut stream) => {
                if let Err(e) = w.poll.registry().register(
                    &mut stream,
                    Token(k),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    return Err(Error::io("registering a socket", e));
                }
                let n = w.plan.room_senders[room].len();
                w.clients.push(Client {
                    index: ci,
                    room,
                    stream,
                    state: State::Connecting,
                    rbuf: Vec::new(),
                    wbuf: Vec::new(),
                    next: vec![0; n],
                    received: vec![0; n],
                    cut_off: false,
                    sender: sender_of.get(&ci).map(|&id| SenderState {
                        id,
                        seq: 0,
                        due: started,
                        interval: Duration::from_secs_f64(s.senders as f64 / s.rate),
                    }),
                });
            }
            Err(e) => {
                // Indices must stay aligned with tokens, and a client
                // cannot exist without a stream, so this ends the run.
                return Err(Error::io("connecting", e));
            }
        }
    }
    let mut events = Events::with_capacity(1024);
    // Join phase.
    let deadline = started + s.join_timeout;
    loop {
        let pending = w
            .clients
            .iter()
            .filter(|c| !matches!(c.state, State::Ready | State::Dead))
            .count();
        if pending == 0 || Instant::now() >= deadline {
            break;
        }
        if let Err(e) = w.poll.poll(&mut events, Some(Duration::from_millis(50))) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Error::io("poll", e));
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(c) = w.clients.get_mut(i) else {
                continue;
            };
            if c.state == State::Connecting {
                match crate::net::check_connect(&c.stream) {
                    crate::net::ConnectState::Connected => c.state = State::Hello,
                    crate::net::ConnectState::Pending => continue,
                    crate::net::ConnectState::Failed(e) => {
                        c.state = State::Dead;
                        let msg = format!("client {}: connect: {e}", c.index);
                        w.fail(msg);
                        continue;
                    }
                }
            }
            if ev.is_writable() {
                w.flush(i);
            }
            if ev.is_readable() || ev.is_read_closed() {
                w.read(i, now);
            }
        }
    }
    let joined = w.clients.iter().filter(|c| c.state == State::Ready).count();
    for c in &mut w.clients {
        if c.state != State::Ready && c.state != State::Dead {
            c.state = State::Dead;
        }
    }
    failed += w.clients.len() - joined;
    let _ = tx.send(Event::Ready {
        joined,
        failed,
        first_error: w.out.first_error.clone(),
    });
    let Ok(Some(t0)) = start.recv() else {
        return Ok((w.out, started));
    };
    let t_warm = t0 + s.warmup;
    let t_end = t_warm + s.duration;
    let base = w.plan.base;
    let ns = move |t: Instant| t.saturating_duration_since(base).as_nanos() as u64;
    w.window = Some((ns(t_warm), ns(t_end)));
    let stagger = Duration::from_secs_f64(1.0 / s.rate);
    let interval = Duration::from_secs_f64(s.senders as f64 / s.rate);
    w.schedule = (
        ns(t0),
        stagger.as_nanos() as u64,
        interval.as_nanos() as u64,
    );
    for c in &mut w.clients {
        if let Some(snd) = c.sender.as_mut() {
            snd.due = t0 + stagger * (snd.id as u32);
        }
    }
    let my_senders: Vec<usize> = (0..w.clients.len())
        .filter(|&i| w.clients[i].sender.is_some())
        .collect();
    let mut line = Vec::with_capacity(s.size + 64);
    // Without a timerfd (it cannot fail in practice) the epoll timeout's
    // millisecond granularity is the fallback.
    let mut timer = Timer::new(&w.poll).ok();
    let mut sending = true;
    let mut drain_deadline = None;
    let mut last_check = Instant::now();
    loop {
        let now = Instant::now();
        if sending {
            for &i in &my_senders {
                let c = &mut w.clients[i];
                if c.state != State::Ready {
                    continue;
                }
                let Some(snd) = c.sender.as_mut() else {
                    continue;
                };
                let mut wrote = false;
                while snd.due <= now && snd.due < t_end {
                    let t = Instant::now();
                    line.clear();
                    let _ = write!(line, "MSG r{} ", c.room);
                    format_text(&mut line, snd.id, snd.seq, ns(t), s.size);
                    line.push(b'\n');
                    c.wbuf.extend_from_slice(&line);
                    if t >= t_warm && t < t_end {
                        w.out.sent += 1;
                    }
                    w.out.sent_total += 1;
                    snd.seq += 1;
                    snd.due += snd.interval;
                    wrote = true;
                }
                if wrote {
                    w.flush(i);
                }
            }
            if now >= t_end {
                sending = false;
                for &i in &my_senders {
                    let c = &w.clients[i];
                    if let Some(snd) = &c.sender {
                        w.plan.final_sent[snd.id].store(snd.seq, Ordering::Release);
                    }
                }
                w.plan
                    .senders_done
                    .fetch_add(my_senders.len() as u64, Ordering::AcqRel);
            }
        }
        if !sending {
            let all_done =
                w.plan.senders_done.load(Ordering::Acquire) as usize >= w.plan.settings.senders;
            if all_done {
                let dl = *drain_deadline.get_or_insert(now + s.drain_timeout);
                if now.duration_since(last_check) >= Duration::from_millis(5) || now >= dl {
                    last_check = now;
                    if complete(&w) {
                        w.out.drained = true;
                        break;
                    }
                    if now >= dl {
                        break;
                    }
                }
            }
        }
        let timeout = if sending {
            let next = my_senders
                .iter()
                .filter_map(|&i| w.clients[i].sender.as_ref().map(|s| s.due))
                .min()
                .unwrap_or(t_end)
                .min(t_end);
            if let Some(t) = timer.as_mut() {
                t.arm(ns(next), ns(Instant::now()));
            }
            next.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(10))
        } else {
            Duration::from_millis(5)
        };
        if let Err(e) = w.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Error::io("poll", e));
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            let i = ev.token().0;
            if ev.token() == TIMER {
                if let Some(t) = timer.as_mut() {
                    t.fired();
                }
                continue;
            }
            if i >= w.clients.len() {
                continue;
            }
            if ev.is_writable() {
                w.flush(i);
            }
            if ev.is_readable() || ev.is_read_closed() {
                w.read(i, now);
            }
        }
    }
    // Completeness per receiver and sender of its room.
    for c in &w.clients {
        let senders = &w.plan.room_senders[c.room];
        for (pos, &j) in senders.iter().enumerate() {
            if c.sender.as_ref().is_some_and(|s| s.id == j) {
                continue;
            }
            let sent = w.plan.final_sent[j].load(Ordering::Acquire);
            if c.cut_off {
                w.out.cut_expected += sent;
                w.out.cut_unique += c.received[pos].min(sent);
            } else if c.state == State::Ready {
                w.out.expected += sent;
                w.out.unique += c.received[pos].min(sent);
            }
        }
    }
    w.out.hist = Some(std::mem::replace(&mut w.hist, hist::new_latency()));
    w.out.corrected = Some(std::mem::replace(&mut w.corrected, hist::new_latency()));
    Ok((w.out, started))
}

/// Whether every connected receiver of this worker got every message.
fn complete(w: &Worker) -> bool {
    w.clients.iter().all(|c| {
        c.state != State::Ready
            || w.plan.room_senders[c.room]
                .iter()
                .enumerate()
                .all(|(pos, &j)| {
                    c.sender.as_ref().is_some_and(|s| s.id == j)
                        || c.received[pos] >= w.plan.final_sent[j].load(Ordering::Acquire)
                })
    })
}

/// A human-readable summary of a chat report.
pub fn table(r: &ChatReport) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let s = &r.settings;
    let l = &r.latency.summary;
    let _ = writeln!(
        t,
        "chat {}: {} room(s) x {} members, {} senders at {} msg/s, {} B, {} worker thread(s)",
        s.addr, s.rooms, s.members, s.senders, s.rate, s.size, r.threads
    );
    let _ = writeln!(
        t,
        "  joined      {} of {} ({} failed) in {:.2} s",
        r.joined, r.clients, r.join_failures, r.join_s
    );
    let _ = writeln!(
        t,
        "  window      {:.2} s: {} messages sent ({:.0}/s), {} deliveries ({:.0}/s)",
        r.window_s, r.sent, r.msgs_per_s, r.deliveries, r.deliveries_per_s
    );
    let _ = writeln!(
        t,
        "  fan-out latency (us)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.1}",
        l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us, l.mean_us
    );
    let _ = writeln!(
        t,
        "  checks      lost {}  duplicated {}  reordered {}  corrupt {}  disconnects {}  drained {}",
        r.lost, r.duplicated, r.reordered, r.corrupt, r.disconnects, r.drained
    );
    let _ = writeln!(
        t,
        "  slow consumers cut off {} (receipts they missed: {})",
        r.slow_consumer_cutoffs, r.lost_to_cutoffs
    );
    let c = &r.latency_corrected.summary;
    let _ = writeln!(
        t,
        "  from intended send time (us)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        c.p50_us, c.p90_us, c.p99_us, c.p999_us, c.max_us
    );
    if let Some(sv) = &r.server {
        let _ = writeln!(
            t,
            "  server      {:.2} cores, {:.2} CPU-us/delivery, threads peak {}, RSS peak {:.1} MiB",
            sv.cpu_cores,
            sv.cpu_us_per_msg,
            sv.threads_peak,
            sv.rss_peak_bytes as f64 / 1048576.0
        );
    }
    if let Some(e) = &r.first_error {
        let _ = writeln!(t, "  first error: {e}");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let mut v = Vec::new();
        format_text(&mut v, 7, 42, 123_456_789, 64);
        assert_eq!(v.len(), 64);
        assert_eq!(parse_text(&v).map(|t| t.0 + t.3), Some(7 + 64 - 15));
        assert_eq!(parse_text(&v).map(|t| (t.1, t.2)), Some((42, 123_456_789)));
        let mut short = Vec::new();
        format_text(&mut short, 7, 42, 123_456_789, 4);
        assert_eq!(parse_text(&short), Some((7, 42, 123_456_789, 0)));
        assert_eq!(parse_text(b"7:42:1:xxy"), None);
        assert_eq!(parse_text(b"7:x:1:"), None);
        assert_eq!(parse_text(b"hello"), None);
    }

    #[test]
    fn senders_spread_over_rooms() {
        let mut s = ChatSettings::new("127.0.0.1:1".parse().unwrap());
        s.rooms = 3;
        s.members = 4;
        s.senders = 5;
        let clients: Vec<usize> = (0..5).map(|j| s.sender_client(j)).collect();
        assert_eq!(clients, vec![0, 4, 8, 1, 5]);
        assert!(s.check().is_ok());
        s.senders = 13;
        assert!(s.check().is_err());
    }
}
