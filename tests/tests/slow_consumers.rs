//! Slow and stalled clients at scale: a chat server (`--queue-bytes 8192`) with 1 000 members in one
//! room, 50 of which never read (tiny receive buffer and MSS, so that they stall after a few KB). One
//! member sends a stream of `MSG`s; the others read concurrently (a few threads polling non-blocking
//! sockets). Every reader receives every `MSG` in order, each stalled member is cut off (closed, its
//! room told `LEFT`), and the server's RSS stays under a bound derived from the configuration.

mod support;

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use conformance::chat_client::ChatClient;
use conformance::client::{self, IO_TIMEOUT, is_timeout, preview};
use conformance::process::ServeCommand;
use conformance::transport::Conn;
use rand::{Rng, SeedableRng};
use serve::Impl;
use socket2::{Domain, Socket, Type};
use support::{footprint, rss_bytes, settle, stable_footprint};

/// Members of the room, the sender included.
const CLIENTS: usize = 1000;
/// Members that never read after their `OK JOIN`.
const STALLED: usize = 50;
/// `--queue-bytes` of the server.
const QUEUE_BYTES: usize = 8192;
/// `--max-line` of the server (the default).
const MAX_LINE: usize = 4096;
/// The sender sends at least this many `MSG`s, and goes on (up to [`MAX_MSGS`]) until it has seen every
/// stalled member leave.
const MIN_MSGS: usize = 500;
/// Upper bound on the `MSG`s sent.
const MAX_MSGS: usize = 3000;
/// Bytes of text per `MSG`.
const TEXT_LEN: usize = 400;
/// The sender stays less than this many messages ahead of the slowest reader (and sends half of it at
/// a time), so that a reader's queue never holds more than 1.5 x `WINDOW` MSG lines (~3.4 KB) plus 50
/// JOINED and 50 LEFT lines (~2.4 KB), under [`QUEUE_BYTES`]: only stalled members can overflow,
/// however slowly the server's writers are scheduled on the 2 shared cores.
const WINDOW: usize = 6;
/// Members whose JOINs are pipelined at once.
const JOIN_CHUNK: usize = 32;
/// Threads polling the reading members.
const POLL_THREADS: usize = 3;
/// Bound on the whole flood.
const DEADLINE: Duration = Duration::from_secs(90);
/// The room.
const ROOM: &str = "crowd";
/// Seed of the message texts.
const SEED: u64 = 0x5EED_0001;

per_variant!(stalled_members_cut_off_readers_get_everything);

/// The three variants each run 1 000 clients; one at a time keeps the RSS figures and the 2 cores
/// honest.
static SERIAL: Mutex<()> = Mutex::new(());

/// Connects one member with the shared [`ChatClient`] and reads its `HELLO`; a stalled client gets a
/// tiny receive buffer and MSS before connecting, so that the kernels on both sides hold only a few KB
/// for it and its server queue overflows quickly.
fn connect_member(addr: SocketAddr, stalled: bool) -> ChatClient {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    if stalled {
        socket.set_recv_buffer_size(2048).expect("SO_RCVBUF");
        socket.set_tcp_mss(536).expect("TCP_MAXSEG");
    }
    socket
        .connect_timeout(&addr.into(), IO_TIMEOUT)
        .expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    let mut conn = ChatClient::from_stream(stream);
    conn.hello().expect("HELLO");
    conn
}

/// A member read by a poll thread.
struct Member {
    index: usize,
    conn: ChatClient,
    next_msg: usize,
    lefts: usize,
}

/// Shared between the sender and the poll threads.
struct Shared<'a> {
    texts: &'a [String],
    sender_nick: &'a str,
    stalled: &'a HashSet<String>,
    /// MSGs received in order, per member index (the sender's stays 0).
    progress: Vec<AtomicUsize>,
    /// LEFT lines the sender received.
    sender_lefts: AtomicUsize,
    /// The number of MSGs sent, once the sender is done.
    total: AtomicUsize,
    failed: AtomicBool,
    errors: Mutex<Vec<String>>,
    started: Instant,
}

impl Shared<'_> {
    fn fail(&self, error: String) {
        self.failed.store(true, Ordering::Release);
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(error);
        }
    }

    fn timed_out(&self) -> bool {
        self.started.elapsed() > DEADLINE
    }
}

/// Checks one line a reading member received.
fn check_line(shared: &Shared<'_>, member: &mut Member, line: &[u8]) -> Result<(), String> {
    let line = std::str::from_utf8(line).map_err(|_| format!("not UTF-8: {}", preview(line)))?;
    let is_sender = member.conn.nick == shared.sender_nick;
    if let Some(rest) = line.strip_prefix("MSG ") {
        let expected = shared
            .texts
            .get(member.next_msg)
            .map(|text| format!("{ROOM} {} {} {text}", shared.sender_nick, member.next_msg));
        if is_sender || expected.as_deref() != Some(rest) {
            return Err(format!(
                "member {} ({}) expected MSG number {}, got {}",
                member.index,
                member.conn.nick,
                member.next_msg,
                preview(line.as_bytes())
            ));
        }
        member.next_msg += 1;
        shared.progress[member.index].store(member.next_msg, Ordering::Release);
    } else if let Some(nick) = line.strip_prefix(&format!("LEFT {ROOM} ")) {
        if !shared.stalled.contains(nick) {
            return Err(format!(
                "member {} got LEFT for {nick}, not a stalled member",
                member.index
            ));
        }
        member.lefts += 1;
        if is_sender {
            shared.sender_lefts.fetch_add(1, Ordering::AcqRel);
        }
    } else if line.strip_prefix(&format!("JOINED {ROOM} ")).is_none() {
        return Err(format!(
            "member {} got unexpected line {}",
            member.index,
            preview(line.as_bytes())
        ));
    }
    Ok(())
}

/// Polls `members` (non-blocking) until each has every MSG and every stalled member's LEFT.
fn poll_members(shared: &Shared<'_>, members: &mut [Member]) {
    let mut active: Vec<usize> = Vec::with_capacity(members.len());
    loop {
        if shared.failed.load(Ordering::Acquire) {
            return;
        }
        if shared.timed_out() {
            shared.fail("poll thread: deadline passed".to_owned());
            return;
        }
        let total = shared.total.load(Ordering::Acquire);
        active.clear();
        for (i, member) in members.iter().enumerate() {
            let is_sender = member.conn.nick == shared.sender_nick;
            let done = member.lefts == STALLED && (is_sender || member.next_msg == total);
            if !done {
                active.push(i);
            }
        }
        if active.is_empty() {
            return;
        }
        let streams: Vec<_> = active.iter().map(|&i| members[i].conn.stream()).collect();
        let ready = client::readable(&streams, Duration::from_millis(20));
        for (&i, ready) in active.iter().zip(ready) {
            if !ready {
                continue;
            }
            let member = &mut members[i];
            match member.conn.read_some() {
                Ok(0) => {
                    shared.fail(format!(
                        "member {} ({}) closed by the server after {} MSGs",
                        member.index, member.conn.nick, member.next_msg
                    ));
                    return;
                }
                Ok(_) => {}
                Err(err) if is_timeout(&err) => {}
                Err(err) => {
                    shared.fail(format!("member {} read failed: {err}", member.index));
                    return;
                }
            }
            while let Some(line) = member.conn.take_line() {
                if let Err(err) = check_line(shared, member, &line[..line.len() - 1]) {
                    shared.fail(err);
                    return;
                }
            }
        }
    }
}

/// Writes `data` to a non-blocking socket, retrying until done.
fn write_all_nonblocking(mut stream: &Conn, mut data: &[u8], shared: &Shared<'_>) -> bool {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(n) => data = &data[n..],
            Err(err) if is_timeout(&err) || err.kind() == io::ErrorKind::Interrupted => {
                if shared.failed.load(Ordering::Acquire) || shared.timed_out() {
                    return false;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(err) => {
                shared.fail(format!("sender write failed: {err}"));
                return false;
            }
        }
    }
    true
}

/// Sends MSGs, never more than [`WINDOW`] ahead of the slowest reader, until at least [`MIN_MSGS`]
/// are sent and the sender has seen every stalled member leave (at most [`MAX_MSGS`]).
fn send_msgs(shared: &Shared<'_>, stream: &Conn, readers: &[usize]) -> usize {
    let mut sent = 0;
    let mut batch = String::new();
    while sent < MAX_MSGS
        && !(sent >= MIN_MSGS && shared.sender_lefts.load(Ordering::Acquire) == STALLED)
    {
        loop {
            if shared.failed.load(Ordering::Acquire) || shared.timed_out() {
                return sent;
            }
            let slowest = readers
                .iter()
                .map(|&i| shared.progress[i].load(Ordering::Acquire))
                .min()
                .unwrap_or(sent);
            if sent < slowest + WINDOW {
                break;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        let end = MAX_MSGS.min(sent + WINDOW / 2);
        for i in sent..end {
            batch.push_str(&format!("MSG {ROOM} {i} {}\n", shared.texts[i]));
        }
        if !write_all_nonblocking(stream, batch.as_bytes(), shared) {
            return sent;
        }
        batch.clear();
        sent = end;
    }
    sent
}

/// What a stalled member finally reads: a prefix of its lines, then the end of the stream.
struct StalledEnd {
    closed: bool,
    ended_with_slow_consumer: bool,
}

fn drain_stalled(conn: &mut ChatClient, texts: &[String], sender_nick: &str) -> StalledEnd {
    conn.stream().set_nonblocking(false).expect("blocking");
    conn.stream()
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("timeout");
    let mut all = conn.take_buffered();
    let mut stream = conn.stream().try_clone().expect("clone");
    let closed = client::read_until_closed(&mut stream, &mut all).is_ok();
    // Complete lines: JOINED lines, then MSGs in order from number 0.
    let mut next = 0;
    let mut last = "";
    let text = String::from_utf8_lossy(&all);
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let line = line.trim_end_matches('\n');
        last = line;
        if let Some(rest) = line.strip_prefix("MSG ") {
            assert_eq!(
                rest,
                format!("{ROOM} {sender_nick} {next} {}", texts[next]),
                "{}: stalled member's lines are not a prefix of the MSGs",
                conn.nick
            );
            next += 1;
        }
    }
    StalledEnd {
        closed,
        ended_with_slow_consumer: last == "ERR slow-consumer",
    }
}

fn stalled_members_cut_off_readers_get_everything(imp: Impl) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let test_started = Instant::now();
    let server = ServeCommand::new(imp, "chat")
        .args([
            "--queue-bytes",
            &QUEUE_BYTES.to_string(),
            "--max-line",
            &MAX_LINE.to_string(),
            "--drain-timeout",
            "2",
        ])
        .spawn()
        .expect("spawn serve");
    let pid = server.pid();
    let addr = server.addr();
    // Baseline: the idle server after one client came and went (runtime and broker started).
    {
        let mut warm = connect_member(addr, false);
        warm.join(ROOM).expect("JOIN");
    }
    let idle = stable_footprint(pid, Duration::from_secs(20));
    let baseline_rss = rss_bytes(pid);

    // Connect and join: the sender, the readers, then the stalled members (last, so that they are
    // sent only the JOINED lines of later stalled members before the MSGs start).
    // The sender and the readers join in chunks of pipelined JOINs (a member's first line after HELLO
    // is its OK JOIN); after each chunk every earlier member reads the chunk's JOINED lines, so that no
    // reader's 8 KiB queue ever holds more than a chunk of them, however slowly its writer is scheduled.
    let mut conns: Vec<(ChatClient, bool)> = (0..CLIENTS)
        .map(|i| {
            (
                connect_member(addr, i >= CLIENTS - STALLED),
                i >= CLIENTS - STALLED,
            )
        })
        .collect();
    let mut joined = 0;
    while joined < CLIENTS {
        let end = if joined < CLIENTS - STALLED {
            (joined + JOIN_CHUNK).min(CLIENTS - STALLED)
        } else {
            CLIENTS
        };
        for (conn, _) in &mut conns[joined..end] {
            conn.send(&format!("JOIN {ROOM}")).expect("JOIN");
        }
        for (conn, _) in &mut conns[joined..end] {
            conn.expect(&format!("OK JOIN {ROOM}")).expect("OK JOIN");
        }
        // The stalled members join last, all at once; readers get their 50 JOINED lines later.
        if joined < CLIENTS - STALLED {
            let chunk: HashSet<String> = conns[joined..end]
                .iter()
                .map(|(conn, _)| conn.nick.clone())
                .collect();
            for (conn, _) in &mut conns[..joined] {
                let mut seen = 0;
                while seen < chunk.len() {
                    let line = conn.read_line().expect("JOINED line");
                    let nick = line
                        .strip_prefix(&format!("JOINED {ROOM} "))
                        .unwrap_or_else(|| panic!("{}: unexpected {line:?}", conn.nick));
                    seen += usize::from(chunk.contains(nick));
                }
            }
        }
        joined = end;
    }
    let connected_rss = rss_bytes(pid);
    let held = footprint(pid);
    let sender_nick = conns[0].0.nick.clone();
    let stalled_nicks: HashSet<String> = conns
        .iter()
        .filter(|(_, stalled)| *stalled)
        .map(|(conn, _)| conn.nick.clone())
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let texts: Vec<String> = (0..MAX_MSGS)
        .map(|_| {
            (0..TEXT_LEN)
                .map(|_| char::from(rng.random_range(b' '..=b'~')))
                .collect()
        })
        .collect();
    let sender_stream = conns[0].0.stream().try_clone().expect("clone");
    let mut stalled_conns = Vec::new();
    let mut members = Vec::new();
    for (index, (conn, stalled)) in conns.into_iter().enumerate() {
        if stalled {
            stalled_conns.push(conn);
        } else {
            conn.stream().set_nonblocking(true).expect("nonblocking");
            members.push(Member {
                index,
                conn,
                next_msg: 0,
                lefts: 0,
            });
        }
    }
    let readers: Vec<usize> = (1..CLIENTS - STALLED).collect();
    let shared = Shared {
        texts: &texts,
        sender_nick: &sender_nick,
        stalled: &stalled_nicks,
        progress: (0..CLIENTS).map(|_| AtomicUsize::new(0)).collect(),
        sender_lefts: AtomicUsize::new(0),
        total: AtomicUsize::new(usize::MAX),
        failed: AtomicBool::new(false),
        errors: Mutex::new(Vec::new()),
        started: Instant::now(),
    };

    let peak = AtomicU64::new(connected_rss);
    let sampling = AtomicBool::new(true);
    let flood_started = Instant::now();
    let sent = std::thread::scope(|scope| {
        scope.spawn(|| {
            while sampling.load(Ordering::Acquire) {
                peak.fetch_max(rss_bytes(pid), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let per_thread = members.len().div_ceil(POLL_THREADS);
        let pollers: Vec<_> = members
            .chunks_mut(per_thread)
            .map(|chunk| scope.spawn(|| poll_members(&shared, chunk)))
            .collect();
        let sent = send_msgs(&shared, &sender_stream, &readers);
        shared.total.store(sent, Ordering::Release);
        for poller in pollers {
            if poller.join().is_err() {
                shared.fail("a poll thread panicked".to_owned());
            }
        }
        sampling.store(false, Ordering::Release);
        sent
    });
    let flood_time = flood_started.elapsed();
    let errors = shared.errors.lock().map(|e| e.clone()).unwrap_or_default();
    assert!(
        errors.is_empty(),
        "{imp}: after {sent} MSGs sent: {}",
        errors.join("; ")
    );
    for member in &members {
        assert_eq!(member.lefts, STALLED, "member {}", member.index);
    }
    assert!(sent >= MIN_MSGS);

    // Every stalled member was cut off: its connection ends (EOF or reset).
    let mut with_err = 0;
    for conn in &mut stalled_conns {
        let end = drain_stalled(conn, &texts, &sender_nick);
        assert!(
            end.closed,
            "{imp}: stalled member {} not closed by the server",
            conn.nick
        );
        with_err += usize::from(end.ended_with_slow_consumer);
    }
    let peak = peak.load(Ordering::Acquire);

    // The bound. Per connection the server holds at most: its outbound queue (`--queue-bytes` of line
    // bytes; broadcast lines are shared, so this over-counts), its framer (max_line + 2 + an 8 KiB read
    // chunk), and its execution context: for threads two thread stacks (reader and writer, `--stack-size`
    // 64 KiB each, of which only touched pages count), for the async variants two tasks' futures, a
    // channel and the socket's registration (allowance 16 KiB). Plus 1 KiB of chat state (nick,
    // membership), the broker's inbox (4096 events of at most a max_line line), and 16 MiB of allocator
    // slack (arenas keep freed memory) on top of the idle baseline.
    let framer = MAX_LINE + 2 + 8 * 1024;
    let context = if imp == Impl::Threads {
        2 * 64 * 1024
    } else {
        16 * 1024
    };
    let per_conn = QUEUE_BYTES + framer + context + 1024;
    let inbox = 4096 * (MAX_LINE + 64);
    let slack = 16 << 20;
    let bound = baseline_rss + (CLIENTS * per_conn + inbox + slack) as u64;
    let line_len = format!("MSG {ROOM} {sender_nick} 0000 \n").len() + TEXT_LEN;
    let bytes_sent = sent * line_len;
    // The traffic itself (hundreds of MB delivered) may only cost what the queues can hold: growth from
    // "all joined" to the peak is bounded by every queue full, a full broker inbox of these lines, and
    // 8 MiB of allocator slack.
    let flood_growth = peak.saturating_sub(connected_rss);
    let flood_bound = (CLIENTS * QUEUE_BYTES + 4096 * (line_len + 64) + (8 << 20)) as u64;
    let delivered = (CLIENTS - STALLED - 1) * sent;

    // Everyone leaves; the server's descriptors return to the idle baseline.
    drop(members);
    drop(stalled_conns);
    drop(sender_stream);
    let after = settle(pid, idle, Duration::from_secs(20));
    eprintln!(
        "slow_consumers {imp}: {CLIENTS} clients ({STALLED} stalled), queue-bytes {QUEUE_BYTES}; sender sent {sent} MSGs \
         (~{bytes_sent} B), {delivered} MSG lines delivered to readers in {flood_time:.1?}; {STALLED} cut off, {with_err} of \
         them read ERR slow-consumer last; RSS idle {} KiB, all joined {} KiB, peak {} KiB, bound {} KiB \
         (per conn {per_conn} B), flood growth {} KiB (bound {} KiB); fds idle {} / held {} / after {}; threads idle {} / held {} / after {}; \
         test wall time {:.1?}",
        baseline_rss / 1024,
        connected_rss / 1024,
        peak / 1024,
        bound / 1024,
        flood_growth / 1024,
        flood_bound / 1024,
        idle.fds,
        held.fds,
        after.fds,
        idle.threads,
        held.threads,
        after.threads,
        test_started.elapsed()
    );
    assert!(
        peak <= bound,
        "{imp}: server RSS peaked at {} KiB, over the bound {} KiB = idle {} KiB + {CLIENTS} clients x \
         (queue {QUEUE_BYTES} + framer {framer} + context {context} + state 1024) + inbox {inbox} + slack {slack}",
        peak / 1024,
        bound / 1024,
        baseline_rss / 1024
    );
    assert!(
        flood_growth <= flood_bound,
        "{imp}: server RSS grew by {} KiB during the flood ({} KiB delivered), over {} KiB = {CLIENTS} x queue \
         {QUEUE_BYTES} + inbox 4096 x {} + 8 MiB",
        flood_growth / 1024,
        delivered * line_len / 1024,
        flood_bound / 1024,
        line_len + 64
    );
    assert!(
        after.fds <= idle.fds,
        "{imp}: fd leak: idle {idle:?}, after {after:?}"
    );
}
