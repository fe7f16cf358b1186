//! Seeded hostile input over real sockets, against every variant's chat and echo server (in-process, on
//! port 0): arbitrary bytes, lines over `--max-line`, NULs, invalid UTF-8, terminal escape sequences, CR
//! without LF, and abrupt disconnects (reset by SO_LINGER 0, FIN in the middle of a line, close with
//! unread input) from 20 concurrent clients for a bounded number of sessions each. Afterwards the server
//! still serves fresh clients correctly and stops cleanly. For chat, every line any client received is a
//! well-formed server line, and clients watching the rooms the hostile clients talk in never receive a
//! control character other than TAB.

mod support;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use conformance::Target;
use conformance::chat_client::{ChatClient, unique};
use conformance::client::{self, connect, is_timeout, preview, roundtrip};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serve::{App, Impl, RunningServer};

/// Concurrent hostile clients.
const CLIENTS: u64 = 20;
/// Sessions (connections) per hostile client.
const SESSIONS: usize = 40;
/// Seed of everything random here; each client derives its own.
const SEED: u64 = 0xBAD_F00D;
/// The rooms the hostile chat clients use.
const ROOMS: [&str; 4] = ["h0", "h1", "h2", "h3"];
/// Every word a chat server line may start with.
const KNOWN_WORDS: [&str; 11] = [
    "HELLO", "OK", "ERR", "JOINED", "LEFT", "MSG", "NICK", "ROOMS", "WHO", "PONG", "BYE",
];

per_variant!(chat_survives_hostile_input, echo_survives_hostile_input);

/// How a hostile session ends.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// Half-close after the input, then read everything until the server closes.
    HalfCloseAndRead,
    /// Reset (SO_LINGER 0) right after the input, reading nothing.
    Reset,
    /// An unterminated line, then FIN, then read until the server closes.
    FinMidLine,
    /// Close without reading what the server sent (the kernel resets if input is unread).
    CloseUnread,
}

fn ending(rng: &mut StdRng) -> Ending {
    match rng.random_range(0..4) {
        0 => Ending::HalfCloseAndRead,
        1 => Ending::Reset,
        2 => Ending::FinMidLine,
        _ => Ending::CloseUnread,
    }
}

/// Random bytes of a random length, any value.
fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let mut bytes = vec![0; rng.random_range(1..=max)];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// One piece of hostile chat input.
fn chat_piece(rng: &mut StdRng, max_line: usize) -> Vec<u8> {
    let room = ROOMS[rng.random_range(0..ROOMS.len())];
    match rng.random_range(0..12) {
        0 | 1 => random_bytes(rng, 300),
        2 => {
            // Over the line limit, with or without its LF.
            let mut line = vec![b'A'; max_line + rng.random_range(2..3000)];
            if rng.random_bool(0.5) {
                line.push(b'\n');
            }
            line
        }
        3 => format!("MSG {room} a\0b\n\0\0\0\nNICK \0\n").into_bytes(),
        4 => {
            let mut line = format!("MSG {room} ").into_bytes();
            line.extend_from_slice(b"\xff\xfe\xc3\x28 bad\n");
            line.extend_from_slice(b"JOIN \xc3\x28\n\xed\xa0\x80\n");
            line
        }
        5 => format!("MSG {room} \x1b[2J\x1b[31mred\nNICK \x1b[H\nMSG {room} bell\x07\x7f\n")
            .into_bytes(),
        6 => format!("PING a\rb\rc\r\r MSG {room} cr\rinside\r\n\r\r\r").into_bytes(),
        7 => format!("MSG {room} text\twith tab \u{85} ok\n").into_bytes(),
        8 => format!("JOIN {room}\nWHO {room}\nROOMS\n").into_bytes(),
        9 => format!("LEAVE {room}\nmsg {room}  two  spaces\nPING\n").into_bytes(),
        10 => b"\r\n\n\n \nPING \x01\nNICK a b c\nQUIT extra\n".to_vec(),
        _ => format!("NICK h{}\n", rng.random_range(0..50)).into_bytes(),
    }
}

/// Connects with a timeout on every read and write.
fn hostile_connect(addr: SocketAddr) -> TcpStream {
    connect(addr).expect("connect")
}

/// Writes as much of `data` as the server takes; the server may close on us (line-too-long, QUIT).
fn write_some(stream: &mut TcpStream, data: &[u8]) -> bool {
    stream.write_all(data).is_ok()
}

/// Reads until EOF or reset; returns the bytes and whether it ended with a reset.
fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let closed = client::read_until_closed(stream, &mut all).expect("server did not close");
    (all, closed == client::Closed::Reset)
}

/// Checks one complete line the server sent (LF excluded): a known word first, UTF-8, and no control
/// character but TAB, except in a `PONG` when `own_pong` (the token of the client's own `PING` comes
/// back verbatim, control characters included; it reaches only that client).
fn check_server_line(line: &[u8], who: &str, own_pong: bool) -> Result<(), String> {
    let text = std::str::from_utf8(line)
        .map_err(|_| format!("{who}: non-UTF-8 line {}", preview(line)))?;
    let word = text.split(' ').next().unwrap_or("");
    if !KNOWN_WORDS.contains(&word) {
        return Err(format!("{who}: unknown line {}", preview(line)));
    }
    if own_pong && word == "PONG" {
        return Ok(());
    }
    if let Some(c) = text
        .chars()
        .find(|&c| c != '\t' && (c.is_ascii_control() || c == '\u{7f}'))
    {
        return Err(format!(
            "{who}: control character {c:?} in line {}",
            preview(line)
        ));
    }
    Ok(())
}

/// Checks everything a hostile chat session read: complete lines all well-formed; an unterminated tail
/// only if the connection was reset (a reset may cut what was in flight).
fn check_chat_replies(all: &[u8], reset: bool, who: &str) -> usize {
    let mut lines = 0;
    let mut rest = all;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        if let Err(err) = check_server_line(&rest[..end], who, true) {
            panic!("{err}");
        }
        if lines == 0 {
            assert!(
                rest.starts_with(b"HELLO chat/1 "),
                "{who}: first line is not HELLO: {}",
                preview(&rest[..end])
            );
        }
        lines += 1;
        rest = &rest[end + 1..];
    }
    assert!(
        rest.is_empty() || reset,
        "{who}: the server closed in the middle of a line: {}",
        preview(rest)
    );
    lines
}

/// One hostile chat client: `SESSIONS` connections of random input and random endings.
fn chat_hostile(addr: SocketAddr, max_line: usize, id: u64) -> (usize, usize) {
    let mut rng = StdRng::seed_from_u64(SEED ^ (id << 32));
    let mut lines = 0;
    let mut bytes = 0;
    for session in 0..SESSIONS {
        let who = format!("hostile {id} session {session}");
        let mut stream = hostile_connect(addr);
        let ending = ending(&mut rng);
        let pieces = rng.random_range(1..=6);
        for _ in 0..pieces {
            let piece = chat_piece(&mut rng, max_line);
            bytes += piece.len();
            if !write_some(&mut stream, &piece) {
                break;
            }
        }
        match ending {
            Ending::HalfCloseAndRead | Ending::FinMidLine => {
                if matches!(ending, Ending::FinMidLine) {
                    let _ = stream.write_all(b"MSG h0 unterminated \x1b[2J");
                }
                let _ = stream.shutdown(Shutdown::Write);
                let (all, reset) = read_until_closed(&mut stream);
                lines += check_chat_replies(&all, reset, &who);
            }
            Ending::Reset => client::reset(stream).expect("reset"),
            Ending::CloseUnread => drop(stream),
        }
    }
    (lines, bytes)
}

/// A client in every hostile room, reading all the time; checks every line it receives. Ends once it
/// reads the `PONG` of the token it is told to wait for.
fn watch(watcher: &mut ChatClient, token: &str, stop: &AtomicBool) -> usize {
    watcher
        .stream()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let end = format!("PONG {token}");
    let mut lines = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "watcher: no end within 60 s");
        match watcher.read_some() {
            Ok(0) => panic!("watcher closed by the server"),
            Ok(_) => {}
            Err(err) if is_timeout(&err) => continue,
            Err(err) => panic!("watcher read failed: {err}"),
        }
        while let Some(line) = watcher.take_line() {
            let line = &line[..line.len() - 1];
            if let Err(err) = check_server_line(line, "watcher", false) {
                panic!("{err}");
            }
            lines += 1;
            if stop.load(Ordering::Acquire) && line == end.as_bytes() {
                return lines;
            }
        }
    }
}

fn chat_survives_hostile_input(imp: Impl) {
    let started = Instant::now();
    let config = support::test_config();
    let max_line = config.max_line;
    let server = RunningServer::start(imp, App::Chat, config).expect("start server");
    let addr = server.addr();
    let target = Target::new(addr);
    let mut watchers = Vec::new();
    for _ in 0..2 {
        let mut watcher = ChatClient::connect(&target).expect("watcher");
        for room in ROOMS {
            watcher.join(room).expect("join");
        }
        watcher.sync().expect("sync");
        watchers.push(watcher);
    }
    let stop = AtomicBool::new(false);
    let (lines, bytes, watched) = std::thread::scope(|scope| {
        // The watchers read on their threads; this thread writes their last PING on a clone.
        let mut pingers: Vec<conformance::transport::Conn> = watchers
            .iter()
            .map(|w| w.stream().try_clone().expect("clone"))
            .collect();
        let watching: Vec<_> = watchers
            .iter_mut()
            .map(|w| {
                let stop = &stop;
                scope.spawn(move || watch(w, "watch-end", stop))
            })
            .collect();
        let hostile: Vec<_> = (0..CLIENTS)
            .map(|id| scope.spawn(move || chat_hostile(addr, max_line, id)))
            .collect();
        // Every hostile client's outcome first, so that the watchers are stopped even if one failed.
        let outcomes: Vec<_> = hostile.into_iter().map(|handle| handle.join()).collect();
        stop.store(true, Ordering::Release);
        for pinger in &mut pingers {
            pinger.write_all(b"PING watch-end\n").expect("ping");
        }
        let (mut lines, mut bytes) = (0, 0);
        for outcome in outcomes {
            let (l, b) = outcome.expect("hostile client panicked");
            lines += l;
            bytes += b;
        }
        let watched: usize = watching
            .into_iter()
            .map(|h| h.join().expect("watcher panicked"))
            .sum();
        (lines, bytes, watched)
    });

    // The server still works: HELLO, JOIN and MSG between two fresh clients, byte-exact.
    let mut a = ChatClient::connect(&target).expect("fresh client");
    let mut b = ChatClient::connect(&target).expect("fresh client");
    let room = unique("after");
    a.join(&room).expect("join");
    b.join(&room).expect("join");
    a.expect(&format!("JOINED {room} {}", b.nick))
        .expect("JOINED");
    b.send(&format!("MSG {room} still\tserving é"))
        .expect("msg");
    a.expect(&format!("MSG {room} {} still\tserving é", b.nick))
        .expect("MSG delivered");
    a.sync().expect("sync");
    b.sync().expect("sync");
    // The watchers are still served; lines caused by hostile sessions the server was still winding
    // down (JOINED, LEFT) may come before the PONG, and are checked like all others.
    for watcher in &mut watchers {
        watcher.send("PING final").expect("ping");
        loop {
            let line = watcher.read_line_raw().expect("watcher still served");
            let line = &line[..line.len() - 1];
            if let Err(err) = check_server_line(line, "watcher", false) {
                panic!("{err}");
            }
            if line == b"PONG final" {
                break;
            }
        }
    }
    drop((a, b, watchers));
    support::stop_within_limit(server, &format!("{imp}"));
    eprintln!(
        "hostile_input {imp} chat: {CLIENTS} clients x {SESSIONS} sessions, {bytes} hostile bytes, {lines} reply \
         lines checked, {watched} lines watched; wall time {:.1?}",
        started.elapsed()
    );
}

/// One hostile echo client: random bytes (NULs, escapes, CRs, invalid UTF-8 included, as any byte),
/// checked byte-exact wherever the session reads, and abrupt endings.
fn echo_hostile(addr: SocketAddr, id: u64) -> usize {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xEC40 ^ (id << 32));
    let mut bytes = 0;
    for session in 0..SESSIONS {
        let who = format!("echo hostile {id} session {session}");
        let mut stream = hostile_connect(addr);
        let mut data = random_bytes(&mut rng, 16 * 1024);
        if rng.random_bool(0.3) {
            data.extend_from_slice(b"\x1b[2J\0\r\xff\xfe\r\r");
        }
        bytes += data.len();
        match ending(&mut rng) {
            Ending::HalfCloseAndRead => {
                stream.write_all(&data).expect("write");
                stream.shutdown(Shutdown::Write).expect("shutdown");
                let (back, reset) = read_until_closed(&mut stream);
                assert!(!reset, "{who}: reset");
                assert!(back == data, "{who}: echo differs");
            }
            Ending::Reset => {
                stream.write_all(&data).expect("write");
                client::reset(stream).expect("reset");
            }
            Ending::FinMidLine => {
                // Read back part of it, then leave.
                stream.write_all(&data).expect("write");
                let part = rng.random_range(0..=data.len());
                let back = client::read_exact_vec(&mut stream, part).expect("read");
                assert!(back == data[..part], "{who}: echo differs");
                drop(stream);
            }
            Ending::CloseUnread => {
                // Piece by piece, each echoed byte-exact.
                for piece in data.chunks(rng.random_range(1..=4096)) {
                    roundtrip(&mut stream, piece).expect("echo");
                }
                drop(stream);
            }
        }
    }
    bytes
}

fn echo_survives_hostile_input(imp: Impl) {
    let started = Instant::now();
    let server = RunningServer::start(imp, App::Echo, support::test_config()).expect("start");
    let addr = server.addr();
    let bytes: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|id| scope.spawn(move || echo_hostile(addr, id)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("hostile client panicked"))
            .sum()
    });
    let mut fresh = connect(addr).expect("connect");
    for i in 0..4 {
        roundtrip(&mut fresh, &client::payload(SEED + i, 16 * 1024)).expect("fresh echo");
    }
    drop(fresh);
    support::stop_within_limit(server, &format!("{imp}"));
    eprintln!(
        "hostile_input {imp} echo: {CLIENTS} clients x {SESSIONS} sessions, {bytes} bytes; wall time {:.1?}",
        started.elapsed()
    );
}
