//! Graceful shutdown under load, against the `serve` binary of every variant: (a) echo while the
//! `loadgen` binary drives 50 connections; (b) chat while 100 clients in a few rooms send and read
//! continuously. SIGTERM mid-stream: the server exits 0 within the drain timeout (plus a margin for a
//! loaded 2-core machine), nothing panicked, and for chat every client's last line is
//! `ERR shutting-down` and no `LEFT` is broadcast.

mod support;

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use conformance::chat_client::ChatClient;
use conformance::client::{is_timeout, preview};
use conformance::process::{ServeCommand, ServeProcess, loadgen_binary};
use conformance::suite::Target;
use conformance::wait::{KillOnDrop, poll_until, wait_child};
use serve::Impl;

/// `--drain-timeout` of the servers, seconds.
const DRAIN_SECS: u64 = 2;
/// How much later than the drain timeout the process may exit on a loaded machine.
const EXIT_MARGIN: Duration = Duration::from_secs(5);
/// Chat clients.
const CHAT_CLIENTS: usize = 100;
/// Chat rooms (each client joins one).
const CHAT_ROOMS: usize = 4;
/// Threads driving the chat clients.
const CHAT_THREADS: usize = 4;
/// How often a driver thread lets a fifth of its clients send.
const SEND_PERIOD: Duration = Duration::from_millis(10);
/// `MSG` lines the clients must have received before the signal: the signal comes mid-stream.
const CHAT_LINES_BEFORE_SIGNAL: usize = 2_000;
/// How long the load may take to be up (connections open, lines flowing).
const LOAD_UP_LIMIT: Duration = Duration::from_secs(20);

per_variant!(echo_sigterm_under_loadgen, chat_sigterm_mid_stream);

/// Signals SIGTERM, then requires exit status 0 within the drain timeout plus [`EXIT_MARGIN`] and no
/// panic in stderr; returns how long the exit took.
fn terminate(server: &mut ServeProcess, imp: Impl) -> Duration {
    let signalled = Instant::now();
    server.signal(libc::SIGTERM).expect("SIGTERM");
    let limit = Duration::from_secs(DRAIN_SECS) + EXIT_MARGIN;
    let status = server.wait_timeout(limit).expect("wait").unwrap_or_else(|| {
        panic!(
            "{imp}: still running {limit:?} after SIGTERM (drain timeout {DRAIN_SECS} s); stderr:\n{}",
            server.stderr_text()
        )
    });
    let took = signalled.elapsed();
    let stderr = server.stderr_text();
    assert!(
        status.success(),
        "{imp}: exit status {status}; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "{imp}: panic in stderr:\n{stderr}"
    );
    took
}

/// (a) echo: SIGTERM once a `loadgen echo` run's 50 connections are up (seen in the server's fd count).
fn echo_sigterm_under_loadgen(imp: Impl) {
    let started = Instant::now();
    let loadgen = loadgen_binary().expect("loadgen binary");
    let mut server = ServeCommand::new(imp, "echo")
        .args(["--drain-timeout", &DRAIN_SECS.to_string()])
        .spawn()
        .expect("spawn serve");
    let idle_fds = server.probe().fd_count().expect("fds");
    let load = Command::new(loadgen)
        .args([
            "echo",
            "--addr",
            &server.addr().to_string(),
            "--conns",
            "50",
            "--duration",
            "4s",
            "--warmup",
            "0s",
            "--threads",
            "1",
            "--allow-errors",
            "--quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loadgen");
    let mut load = KillOnDrop(load);
    let load_stderr = load.0.stderr.take().expect("stderr pipe");
    let collected = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = { load_stderr }.read_to_string(&mut text);
        text
    });
    let loaded_fds = poll_until(LOAD_UP_LIMIT, "loadgen's 50 connections up", || {
        let fds = server.probe().fd_count().expect("fds");
        (fds >= idle_fds + 50).then_some(fds)
    })
    .unwrap_or_else(|err| panic!("{imp}: {err:#} (server fds idle {idle_fds})"));
    assert!(
        load.0.try_wait().expect("try_wait").is_none(),
        "{imp}: loadgen ended before the signal: {}",
        collected.join().unwrap_or_default()
    );
    let took = terminate(&mut server, imp);
    // loadgen notices its connections closing and ends within its duration plus its own drain timeout.
    let load_status = wait_child(&mut load.0, Duration::from_secs(20)).expect("wait for loadgen");
    drop(load);
    let load_stderr = collected.join().unwrap_or_default();
    eprintln!(
        "shutdown_under_load {imp} echo: loadgen 50 conns, SIGTERM with server fds idle {idle_fds}, \
         under load {loaded_fds}; exit 0 {took:.2?} after SIGTERM (drain timeout {DRAIN_SECS} s); loadgen {load_status:?}; \
         test wall time {:.1?}",
        started.elapsed()
    );
    assert!(
        load_status.is_some(),
        "{imp}: loadgen still running 20 s after the server exited; stderr:\n{load_stderr}"
    );
    assert!(
        !load_stderr.contains("panicked"),
        "{imp}: loadgen panicked:\n{load_stderr}"
    );
}

/// One chat client driven by a thread: the shared [`ChatClient`] on a non-blocking socket, and
/// everything it read.
struct Member {
    client: ChatClient,
    room: String,
    lines: Vec<String>,
    closed: bool,
    sent: usize,
}

impl Member {
    /// Reads what is available and collects the complete lines; fails on a reset. Returns how many
    /// `MSG` lines it collected.
    fn pump(&mut self) -> Result<usize> {
        loop {
            match self.client.read_some() {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(_) => {}
                Err(err) if is_timeout(&err) => break,
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {
                    bail!(
                        "{}: connection reset after {} lines",
                        self.client.nick,
                        self.lines.len()
                    )
                }
                Err(err) => return Err(err).context("read"),
            }
        }
        let mut msgs = 0;
        while let Some(mut line) = self.client.take_line() {
            line.pop();
            let line = String::from_utf8(line)
                .with_context(|| format!("{}: non-UTF-8 line", self.client.nick))?;
            msgs += usize::from(line.starts_with("MSG "));
            self.lines.push(line);
        }
        Ok(msgs)
    }
}

/// Connects, reads HELLO and joins `room` (blocking), then switches to non-blocking.
fn chat_member(addr: std::net::SocketAddr, room: String) -> Member {
    let mut client = ChatClient::connect(&Target::new(addr)).expect("connect");
    client.join(&room).expect("JOIN");
    client.stream().set_nonblocking(true).expect("nonblocking");
    let hello = format!("HELLO chat/1 {} {}", client.imp, client.nick);
    Member {
        lines: vec![hello, format!("OK JOIN {room}")],
        client,
        room,
        closed: false,
        sent: 0,
    }
}

/// Drives `members` until every one is closed by the server: until `signalled`, every
/// [`SEND_PERIOD`] a fifth of them (in turn) sends a `MSG`; all read everything all the time. The pace
/// keeps a debug build's broker ahead of the load, so that nobody becomes a slow consumer. Adds the
/// `MSG` lines received to `received`.
fn drive(members: &mut [Member], signalled: &AtomicBool, received: &AtomicUsize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_send = Instant::now();
    let mut round = 0usize;
    loop {
        if Instant::now() > deadline {
            let open = members.iter().filter(|m| !m.closed).count();
            bail!("{open} members still open 30 s after the start");
        }
        let sending = !signalled.load(Ordering::Acquire) && last_send.elapsed() >= SEND_PERIOD;
        if sending {
            last_send = Instant::now();
            round += 1;
        }
        let mut open = 0;
        for (i, member) in members.iter_mut().enumerate() {
            if member.closed {
                continue;
            }
            open += 1;
            if sending && (i + round) % 5 == 0 {
                let nick = &member.client.nick;
                let line = format!("MSG {} {nick} says {}\n", member.room, member.sent);
                // Non-blocking: a full socket buffer just skips this round.
                if let Ok(n) = member.client.stream().write(line.as_bytes()) {
                    if n < line.len() {
                        bail!("{nick}: partial write of a MSG");
                    }
                    member.sent += 1;
                }
            }
            received.fetch_add(member.pump()?, Ordering::Relaxed);
        }
        if open == 0 {
            return Ok(());
        }
        wait_any(members);
    }
}

/// Waits up to 5 ms until one of the open members is readable.
fn wait_any(members: &[Member]) {
    let open: Vec<_> = members
        .iter()
        .filter(|m| !m.closed)
        .map(|m| m.client.stream())
        .collect();
    conformance::client::readable(&open, Duration::from_millis(5));
}

/// (b) chat: 100 clients in 4 rooms sending and reading continuously; SIGTERM mid-stream.
fn chat_sigterm_mid_stream(imp: Impl) {
    let started = Instant::now();
    let mut server = ServeCommand::new(imp, "chat")
        .args(["--drain-timeout", &DRAIN_SECS.to_string()])
        .spawn()
        .expect("spawn serve");
    let addr = server.addr();
    let idle_fds = server.probe().fd_count().expect("fds");
    let mut members: Vec<Member> = (0..CHAT_CLIENTS)
        .map(|i| chat_member(addr, format!("load{}", i % CHAT_ROOMS)))
        .collect();
    let loaded_fds = server.probe().fd_count().expect("fds");
    assert!(
        loaded_fds >= idle_fds + CHAT_CLIENTS as u64,
        "{imp}: {loaded_fds} fds held"
    );
    let signalled = AtomicBool::new(false);
    let received = AtomicUsize::new(0);
    let took = std::thread::scope(|scope| {
        let per_thread = CHAT_CLIENTS.div_ceil(CHAT_THREADS);
        let drivers: Vec<_> = members
            .chunks_mut(per_thread)
            .map(|chunk| {
                let (signalled, received) = (&signalled, &received);
                scope.spawn(move || drive(chunk, signalled, received))
            })
            .collect();
        let flowing = poll_until(LOAD_UP_LIMIT, "chat MSG lines flowing", || {
            let lines = received.load(Ordering::Relaxed);
            (lines >= CHAT_LINES_BEFORE_SIGNAL).then_some(lines)
        });
        signalled.store(true, Ordering::Release);
        if let Err(err) = flowing {
            panic!("{imp}: {err:#}");
        }
        let took = terminate(&mut server, imp);
        for driver in drivers {
            driver
                .join()
                .expect("driver panicked")
                .unwrap_or_else(|err| panic!("{imp}: {err:#}"));
        }
        took
    });
    let mut lines = 0;
    let mut msgs_sent = 0;
    for member in &mut members {
        lines += member.lines.len();
        msgs_sent += member.sent;
        let rest = member.client.take_buffered();
        assert!(
            rest.is_empty(),
            "{imp}: {} ended in the middle of a line: {}",
            member.client.nick,
            preview(&rest)
        );
    }
    for member in &members {
        let member_nick = &member.client.nick;
        assert_eq!(
            member.lines.last().map(String::as_str),
            Some("ERR shutting-down"),
            "{imp}: {}'s last line (of {}) is not ERR shutting-down",
            member_nick,
            member.lines.len()
        );
        let shutting = member
            .lines
            .iter()
            .filter(|l| l.starts_with("ERR shutting-down"))
            .count();
        assert_eq!(shutting, 1, "{imp}: {}", member_nick);
        // Nobody left before the signal, and no LEFT is broadcast during shutdown: no LEFT at all.
        if let Some(left) = member.lines.iter().find(|l| l.starts_with("LEFT ")) {
            panic!("{imp}: {} received {left:?}", member_nick);
        }
        for line in &member.lines[2..member.lines.len() - 1] {
            assert!(
                line.starts_with(&format!("MSG {} ", member.room))
                    || line.starts_with(&format!("JOINED {} ", member.room)),
                "{imp}: {} received unexpected {line:?}",
                member_nick
            );
        }
    }
    eprintln!(
        "shutdown_under_load {imp} chat: {CHAT_CLIENTS} clients in {CHAT_ROOMS} rooms, {msgs_sent} MSGs sent, {lines} lines \
         received (SIGTERM after {CHAT_LINES_BEFORE_SIGNAL} MSG lines); server fds idle {idle_fds}, loaded {loaded_fds}; exit 0 {took:.2?} \
         after SIGTERM (drain timeout {DRAIN_SECS} s); every client's last line ERR shutting-down; test wall time {:.1?}",
        started.elapsed()
    );
}
