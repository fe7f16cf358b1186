//! The benchmark client shared by every criterion bench in this package (`benches/*.rs`).
//!
//! Every variant is driven by exactly the same client code, so the differences criterion reports are the
//! servers'. Chat is driven by the workspace's one blocking chat client, the conformance suite's
//! [`ChatClient`]. The client is deliberately plain: blocking `std::net` sockets with `TCP_NODELAY`, driven from
//! the bench thread itself, with a read and write timeout of [`IO_TIMEOUT`] on every socket. A server that
//! does not send the expected bytes back in time makes the bench panic with a message naming the
//! scenario, instead of hanging; every byte that comes back is compared with what was expected (messages
//! carry a per-iteration sequence number), so a broken server cannot look fast.
//!
//! Servers run in this process, on 127.0.0.1 port 0, through [`serve::RunningServer`], the same `run`
//! entry point the `serve` binary uses. Server and client therefore share the machine's cores: the figures
//! are for comparing variants with each other, not absolute capacities.
//!
//! Quick mode: set `BENCH_QUICK=1` to shorten warm-up and measurement and skip the plots (see
//! [`criterion_config`]).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

pub use conformance::chat_client::ChatClient;
use conformance::suite::Target;
use criterion::Criterion;
pub use serve::{App, Config, Impl, RunningServer};

/// Timeout of every connect, read and write the bench client makes.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Drain timeout given to the in-process servers: the benches close their clients before stopping a
/// server, so stopping never needs long.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether quick mode was asked for (`BENCH_QUICK` set to anything but empty or `0`).
pub fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The criterion configuration of every bench in this package: criterion's defaults, or in quick mode
/// 10 samples over 0.3 s of warm-up and 1.5 s of measurement per benchmark, and no plots or HTML report
/// (drawing them takes criterion several seconds per benchmark, longer than measuring it; the estimates
/// are still saved, so baselines work). Command-line options (`--warm-up-time`, `--measurement-time`,
/// `--sample-size`, `--save-baseline`, ...) still apply on top.
pub fn criterion_config() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.without_plots()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1500))
    } else {
        c
    }
}

/// The variants that can run here, in [`Impl::ALL`] order; each one left out (io_uring unavailable)
/// is named with its reason on stderr.
pub fn available() -> Vec<Impl> {
    Impl::ALL
        .into_iter()
        .filter(|imp| match imp.unavailable_reason() {
            Some(reason) => {
                eprintln!("skipping {imp}: {reason}");
                false
            }
            None => true,
        })
        .collect()
}

/// Starts `imp` serving `app` on 127.0.0.1:0 in this process, with default limits and a short drain
/// timeout.
///
/// # Panics
/// If the server cannot be started.
pub fn start_server(imp: Impl, app: App) -> RunningServer {
    let config = Config {
        drain_timeout: DRAIN_TIMEOUT,
        ..Config::default()
    };
    RunningServer::start(imp, app, config)
        .unwrap_or_else(|err| panic!("cannot start the {imp} {app} server: {err}"))
}

/// Stops a server and checks that it shut down cleanly.
///
/// # Panics
/// If the server's `run` returned an error.
pub fn stop_server(server: RunningServer) {
    let (imp, app) = (server.imp(), server.app());
    if let Err(err) = server.stop() {
        panic!("the {imp} {app} server did not stop cleanly: {err}");
    }
}

/// Connects to `addr` with [`IO_TIMEOUT`] on connect, reads and writes, and `TCP_NODELAY`.
///
/// # Panics
/// If the connection cannot be made; `what` names the scenario in the message.
pub fn connect(addr: SocketAddr, what: &str) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|err| panic!("{what}: cannot connect to {addr}: {err}"));
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .unwrap_or_else(|err| panic!("{what}: cannot set socket options: {err}"));
    stream
}

/// Writes all of `data`.
///
/// # Panics
/// On any error or timeout, with `what` in the message.
pub fn write_all(stream: &mut TcpStream, data: &[u8], what: &str) {
    if let Err(err) = stream.write_all(data) {
        panic!(
            "{what}: writing {} bytes failed: {}",
            data.len(),
            describe(&err)
        );
    }
}

/// Reads exactly `buf.len()` bytes.
///
/// # Panics
/// On EOF, error or timeout, with `what` in the message.
pub fn read_exact(stream: &mut TcpStream, buf: &mut [u8], what: &str) {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => panic!(
                "{what}: the server closed the connection after {got} of {} expected bytes",
                buf.len()
            ),
            Ok(n) => got += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => panic!(
                "{what}: reading failed after {got} of {} expected bytes: {}",
                buf.len(),
                describe(&err)
            ),
        }
    }
}

/// Reads exactly `expected.len()` bytes into `scratch` (resized as needed) and checks they equal
/// `expected`.
///
/// # Panics
/// On a mismatch, EOF, error or timeout, with `what` in the message.
pub fn expect_bytes(stream: &mut TcpStream, expected: &[u8], scratch: &mut Vec<u8>, what: &str) {
    scratch.resize(expected.len(), 0);
    read_exact(stream, scratch, what);
    check_eq(scratch, expected, what);
}

fn check_eq(got: &[u8], expected: &[u8], what: &str) {
    if got != expected {
        let at = got
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        panic!(
            "{what}: wrong bytes from the server (first difference at byte {at} of {}): got {:?}, expected {:?}",
            expected.len(),
            String::from_utf8_lossy(&got[at..got.len().min(at + 40)]),
            String::from_utf8_lossy(&expected[at..expected.len().min(at + 40)]),
        );
    }
}

fn describe(err: &io::Error) -> String {
    match err.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("timed out after {IO_TIMEOUT:?} ({err})")
        }
        _ => err.to_string(),
    }
}

/// An echo message of `len` bytes (at least 8) whose first 8 bytes carry a sequence number, so that a
/// stale or replayed echo is told apart from a fresh one. The rest is a fixed printable pattern.
#[derive(Debug, Clone)]
pub struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// A message of `len` bytes.
    ///
    /// # Panics
    /// If `len < 8`.
    pub fn new(len: usize) -> Self {
        assert!(len >= 8, "a message carries an 8-byte sequence number");
        let bytes = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        Message { bytes }
    }

    /// Stamps `seq` into the message and returns its bytes.
    pub fn stamp(&mut self, seq: u64) -> &[u8] {
        self.bytes[..8].copy_from_slice(&seq.to_le_bytes());
        &self.bytes
    }

    /// The bytes as last stamped.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The message length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the message is empty (never: at least 8 bytes).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// One echo connection: sends a message and waits for exactly that message back.
#[derive(Debug)]
pub struct EchoClient {
    stream: TcpStream,
    scratch: Vec<u8>,
    seq: u64,
}

impl EchoClient {
    /// Connects to the echo server at `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        EchoClient {
            stream: connect(addr, "echo client"),
            scratch: Vec::new(),
            seq: 0,
        }
    }

    /// One round trip: writes `msg` (freshly stamped) and reads it back, checking every byte.
    pub fn round_trip(&mut self, msg: &mut Message) {
        self.seq += 1;
        let bytes = msg.stamp(self.seq);
        write_all(&mut self.stream, bytes, "echo round trip");
        expect_bytes(
            &mut self.stream,
            msg.bytes(),
            &mut self.scratch,
            "echo round trip",
        );
    }
}

/// A set of concurrent echo connections that receive bursts of messages.
#[derive(Debug)]
pub struct EchoBurst {
    conns: Vec<TcpStream>,
    msg: Message,
    per_conn: usize,
    expected: Vec<u8>,
    scratch: Vec<u8>,
    seq: u64,
}

impl EchoBurst {
    /// Opens `conns` connections to `addr`; each burst sends `per_conn` messages of `msg_len` bytes on
    /// each. Keep `per_conn * msg_len` well under the socket buffers (a few KiB) so that the
    /// write-everything-then-read-everything client cannot deadlock.
    pub fn connect(addr: SocketAddr, conns: usize, per_conn: usize, msg_len: usize) -> Self {
        EchoBurst {
            conns: (0..conns).map(|_| connect(addr, "echo burst")).collect(),
            msg: Message::new(msg_len),
            per_conn,
            expected: Vec::with_capacity(per_conn * msg_len),
            scratch: Vec::new(),
            seq: 0,
        }
    }

    /// Messages per burst (connections × messages per connection).
    pub fn messages(&self) -> usize {
        self.conns.len() * self.per_conn
    }

    /// One burst: message `k` is written to every connection in turn, for each `k`; then every
    /// connection's echo is read back in full and checked.
    pub fn burst(&mut self) {
        let first = self.seq;
        for _ in 0..self.per_conn {
            self.seq += 1;
            let bytes = self.msg.stamp(self.seq);
            for conn in &mut self.conns {
                write_all(conn, bytes, "echo burst");
            }
        }
        self.expected.clear();
        for seq in first + 1..=self.seq {
            self.expected.extend_from_slice(self.msg.stamp(seq));
        }
        for conn in &mut self.conns {
            expect_bytes(conn, &self.expected, &mut self.scratch, "echo burst");
        }
    }
}

/// Opens `n` fresh connections to the echo server at `addr` (all of them first, as a burst of arriving
/// clients would), sends `msg` on each, half-closes, and reads the echo and the server's close (EOF) on
/// each. Returns when the server has served and closed all `n`.
///
/// # Panics
/// If a connection fails, an echo is wrong or missing, or the server does not close.
pub fn connect_echo_close(addr: SocketAddr, n: usize, msg: &[u8], scratch: &mut Vec<u8>) {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| connect(addr, "connect")).collect();
    for conn in &mut conns {
        write_all(conn, msg, "connect");
        conn.shutdown(Shutdown::Write)
            .unwrap_or_else(|err| panic!("connect: cannot half-close: {err}"));
    }
    for conn in &mut conns {
        expect_bytes(conn, msg, scratch, "connect");
        let mut one = [0u8; 1];
        match conn.read(&mut one) {
            Ok(0) => {}
            Ok(_) => panic!("connect: the server sent more than the echo"),
            Err(err) => panic!(
                "connect: waiting for the server to close failed: {}",
                describe(&err)
            ),
        }
    }
}

/// A chat room of `members` clients on one server, for measuring fan-out: member 0 sends `MSG`, every
/// other member must receive it.
#[derive(Debug)]
pub struct ChatRoom {
    members: Vec<ChatClient>,
    room: String,
    text: String,
    seq: u64,
    send: Vec<u8>,
    expected: Vec<u8>,
}

impl ChatRoom {
    /// Connects `members` clients (at least 2) and has each join `room` in turn (each waits for its
    /// `OK JOIN`), then drains the `JOINED` notices the earlier members received, checking their count.
    /// Messages carry `text_len` bytes of text (at least 12).
    pub fn new(addr: SocketAddr, room: &str, members: usize, text_len: usize) -> Self {
        assert!(members >= 2, "a fan-out needs a sender and a receiver");
        assert!(
            text_len >= 12,
            "the text carries a 12-digit sequence number"
        );
        let target = Target::new(addr);
        let mut clients: Vec<ChatClient> = Vec::with_capacity(members);
        for _ in 0..members {
            let mut client = ChatClient::connect(&target)
                .unwrap_or_else(|err| panic!("chat client (is chat implemented?): {err:#}"));
            client
                .join(room)
                .unwrap_or_else(|err| panic!("chat JOIN: {err:#}"));
            clients.push(client);
        }
        // Member i saw the JOINED of every later member, in join order.
        let nicks: Vec<String> = clients.iter().map(|c| c.nick.clone()).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            for nick in &nicks[i + 1..] {
                client
                    .expect(&format!("JOINED {room} {nick}"))
                    .unwrap_or_else(|err| panic!("chat JOINED: {err:#}"));
            }
        }
        let text = (0..text_len - 12)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        ChatRoom {
            members: clients,
            room: room.to_owned(),
            text,
            seq: 0,
            send: Vec::new(),
            expected: Vec::new(),
        }
    }

    /// Receivers of each message (members minus the sender).
    pub fn receivers(&self) -> usize {
        self.members.len() - 1
    }

    /// One fan-out: member 0 sends `MSG <room> <seq><text>`; returns once every other member has
    /// received exactly `MSG <room> <sender> <seq><text>`.
    pub fn fan_out(&mut self) {
        use std::fmt::Write as _;
        self.seq += 1;
        let (sender, receivers) = self.members.split_first_mut().expect("a room has members");
        let mut line = String::with_capacity(self.room.len() + self.text.len() + 64);
        let _ = writeln!(line, "MSG {} {:012}{}", self.room, self.seq, self.text);
        self.send.clear();
        self.send.extend_from_slice(line.as_bytes());
        line.clear();
        let _ = writeln!(
            line,
            "MSG {} {} {:012}{}",
            self.room, sender.nick, self.seq, self.text
        );
        self.expected.clear();
        self.expected.extend_from_slice(line.as_bytes());
        sender
            .send_raw(&self.send)
            .unwrap_or_else(|err| panic!("chat MSG: {err:#}"));
        for receiver in receivers {
            receiver
                .expect_bytes(&self.expected)
                .unwrap_or_else(|err| panic!("chat fan-out: {err:#}"));
        }
    }
}

/// Deterministic pseudo-random numbers (xorshift64*) for building realistic inputs without a
/// dependency; the same seed gives the same input on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// A realistic client-to-server chat byte stream of about `target` bytes: mostly `MSG` with texts of
/// 5–200 bytes (some non-ASCII), with `JOIN`, `LEAVE`, `NICK`, `PING`, `WHO`, `ROOMS`; about a third of
/// the lines end in CRLF, the rest in LF. Returns the bytes and the number of lines.
pub fn chat_stream(target: usize, seed: u64) -> (Vec<u8>, usize) {
    const WORDS: &[&str] = &[
        "hello", "the", "build", "is", "green", "again", "did", "you", "see", "latency", "numbers",
        "for", "tokio", "threads", "ok", "lunch?", "café", "naïve", "😀", "merge", "when", "ready",
    ];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(target + 256);
    let mut lines = 0;
    while out.len() < target {
        let room = format!("room-{}", rng.range(1, 12));
        let line = match rng.range(0, 99) {
            0..=79 => {
                let len = rng.range(5, 200);
                let mut text = String::with_capacity(len + 8);
                while text.len() < len {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(WORDS[rng.range(0, WORDS.len() - 1)]);
                }
                format!("MSG {room} {text}")
            }
            80..=84 => format!("JOIN {room}"),
            85..=87 => format!("LEAVE {room}"),
            88..=89 => format!("NICK user_{}", rng.range(1, 9999)),
            90..=94 => format!("PING {}", rng.next_u64()),
            95..=97 => format!("WHO {room}"),
            _ => "ROOMS".to_owned(),
        };
        out.extend_from_slice(line.as_bytes());
        if rng.range(0, 2) == 0 {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b'\n');
        }
        lines += 1;
    }
    (out, lines)
}
