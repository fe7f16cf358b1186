//! The one blocking, line-oriented `chat/1` client of the workspace, used by the conformance cases, the
//! reliability tests and the criterion benches: every read has a timeout, every assertion is
//! byte-exact. A test that needs a specially prepared socket (small buffers, non-blocking) wraps it
//! with [`ChatClient::from_stream`] and drives it with [`ChatClient::read_some`] and
//! [`ChatClient::take_line`].

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::client::preview;
use crate::suite::Target;
use crate::transport::Conn;

/// A name (nick or room) no other case or run uses: `prefix` plus a process- and call-unique suffix,
/// at most 32 bytes.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}{}-{n}", std::process::id() % 100_000);
    assert!(name.len() <= 32, "name {name} too long");
    name
}

/// One chat connection.
#[derive(Debug)]
pub struct ChatClient {
    stream: Conn,
    /// Bytes read and not returned yet.
    pending: Vec<u8>,
    /// The client's nick: assigned by `HELLO`, updated by [`ChatClient::set_nick`].
    pub nick: String,
    /// The implementation name from `HELLO`.
    pub imp: String,
    pings: u64,
}

impl ChatClient {
    /// Connects and reads `HELLO chat/1 <impl> <nick>`. A connection refused with `ERR server-full` is
    /// retried for up to 5 s: the connections of a previous case may still be closing.
    pub fn connect(target: &Target) -> Result<ChatClient> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut client = ChatClient::connect_raw(target)?;
            let line = client.read_line().context("no HELLO")?;
            if !is_err_line(&line, "server-full") || Instant::now() > deadline {
                client.parse_hello(&line)?;
                return Ok(client);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Connects without reading anything.
    pub fn connect_raw(target: &Target) -> Result<ChatClient> {
        Ok(ChatClient::from_stream(target.connect()?))
    }

    /// Wraps a connected socket the caller prepared (timeouts, buffer sizes, blocking or not) without
    /// reading anything; call [`hello`](Self::hello) next.
    pub fn from_stream(stream: impl Into<Conn>) -> ChatClient {
        ChatClient {
            stream: stream.into(),
            pending: Vec::with_capacity(64 * 1024),
            nick: String::new(),
            imp: String::new(),
            pings: 0,
        }
    }

    /// Reads and checks the `HELLO` line; records the implementation name and nick.
    pub fn hello(&mut self) -> Result<()> {
        let line = self.read_line().context("no HELLO")?;
        self.parse_hello(&line)
    }

    fn parse_hello(&mut self, line: &str) -> Result<()> {
        let words: Vec<&str> = line.split(' ').collect();
        let [hello, proto, imp, nick] = words[..] else {
            bail!("bad HELLO line {line:?}");
        };
        ensure!(
            hello == "HELLO" && proto == "chat/1",
            "bad HELLO line {line:?}"
        );
        let digits = nick.strip_prefix("guest").unwrap_or("");
        ensure!(
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            "assigned nick {nick:?} is not guest<N>"
        );
        self.imp = imp.to_owned();
        self.nick = nick.to_owned();
        Ok(())
    }

    /// The socket itself, for a test that ends the connection its own way (a reset, say); anything
    /// buffered and not returned yet is dropped.
    pub fn into_stream(self) -> Conn {
        self.stream
    }

    /// The socket (for shutdown, timeouts, polling). Bytes read from it directly bypass
    /// [`take_buffered`](Self::take_buffered).
    pub fn stream(&self) -> &Conn {
        &self.stream
    }

    /// Sends `line` followed by LF.
    pub fn send(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.send_raw(&bytes)
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .with_context(|| format!("write of {} failed", preview(bytes)))
    }

    /// One read from the socket into the buffer: the number of bytes read, 0 at EOF. Errors are the
    /// socket's own (`WouldBlock` on a non-blocking socket with nothing to read, a timeout, a reset).
    pub fn read_some(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.pending.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// The next complete line already buffered, LF included, without reading.
    pub fn take_line(&mut self) -> Option<Vec<u8>> {
        let end = self.pending.iter().position(|&b| b == b'\n')?;
        Some(self.pending.drain(..=end).collect())
    }

    /// Everything buffered and not returned yet (an unterminated line, say).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Reads one line, LF included; fails on EOF, reset or timeout.
    pub fn read_line_raw(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(line);
            }
            let n = self.read_some().with_context(|| {
                format!("no line from the server (got {})", preview(&self.pending))
            })?;
            ensure!(
                n > 0 || !self.pending.is_empty(),
                "EOF where a line was expected"
            );
            ensure!(
                n > 0,
                "EOF in the middle of a line: {}",
                preview(&self.pending)
            );
        }
    }

    /// Reads exactly `expected.len()` bytes and requires them to be `expected` (lines, LF included).
    /// Allocates nothing once the buffer has grown, so benches can call it in their timed loop.
    pub fn expect_bytes(&mut self, expected: &[u8]) -> Result<()> {
        while self.pending.len() < expected.len() {
            let n = self.read_some().with_context(|| {
                format!(
                    "{}: waited for {} (got {})",
                    self.nick,
                    preview(expected),
                    preview(&self.pending)
                )
            })?;
            ensure!(n > 0, "{}: EOF before {}", self.nick, preview(expected));
        }
        let got = &self.pending[..expected.len()];
        ensure!(
            got == expected,
            "{}: expected {}, got {}",
            self.nick,
            preview(expected),
            preview(got)
        );
        self.pending.drain(..expected.len());
        Ok(())
    }

    /// Reads one line as UTF-8 without its LF; a server line never contains CR.
    pub fn read_line(&mut self) -> Result<String> {
        let mut raw = self.read_line_raw()?;
        raw.pop();
        ensure!(
            !raw.contains(&b'\r'),
            "server line contains CR: {}",
            preview(&raw)
        );
        String::from_utf8(raw).context("server line is not UTF-8")
    }

    /// Reads one line and requires it to be exactly `expected`.
    pub fn expect(&mut self, expected: &str) -> Result<()> {
        let line = self
            .read_line()
            .with_context(|| format!("{} waited for {expected:?}", self.nick))?;
        ensure!(
            line == expected,
            "{} expected {expected:?}, got {line:?}",
            self.nick
        );
        Ok(())
    }

    /// Reads one line and requires it to be `ERR <code>`, optionally followed by a space and text.
    pub fn expect_err(&mut self, code: &str) -> Result<()> {
        let line = self
            .read_line()
            .with_context(|| format!("{} waited for ERR {code}", self.nick))?;
        ensure!(
            is_err_line(&line, code),
            "{} expected ERR {code}, got {line:?}",
            self.nick
        );
        Ok(())
    }

    /// Sends `line` and expects exactly `reply`.
    pub fn call(&mut self, line: &str, reply: &str) -> Result<()> {
        self.send(line)?;
        self.expect(reply)
            .with_context(|| format!("after {line:?}"))
    }

    /// Sends `line` and expects `ERR <code>`.
    pub fn call_err(&mut self, line: &str, code: &str) -> Result<()> {
        self.send(line)?;
        self.expect_err(code)
            .with_context(|| format!("after {line:?}"))
    }

    /// Round-trips a `PING` with a fresh token: the next line must be its `PONG`, which proves that
    /// nothing else was queued for this client before it.
    pub fn sync(&mut self) -> Result<()> {
        self.pings += 1;
        let token = format!("sync-{}", self.pings);
        self.send(&format!("PING {token}"))?;
        self.expect(&format!("PONG {token}"))
            .context("something arrived before the PONG")
    }

    /// Renames the client (`OK NICK` expected).
    pub fn set_nick(&mut self, nick: &str) -> Result<()> {
        self.call(&format!("NICK {nick}"), &format!("OK NICK {nick}"))?;
        self.nick = nick.to_owned();
        Ok(())
    }

    /// Joins `room` (`OK JOIN` expected).
    pub fn join(&mut self, room: &str) -> Result<()> {
        self.call(&format!("JOIN {room}"), &format!("OK JOIN {room}"))
    }

    /// Half-closes: shuts down the writing side.
    pub fn shutdown_write(&self) -> Result<()> {
        self.stream
            .shutdown_write()
            .context("shutdown(Write) failed")
    }

    /// Requires the server to close the connection next: EOF (or reset) with no byte before it.
    pub fn expect_closed(&mut self) -> Result<()> {
        let rest = self
            .read_until_closed()
            .with_context(|| format!("{}: connection not closed", self.nick))?;
        ensure!(
            rest.is_empty(),
            "{}: expected the connection to close, got {}",
            self.nick,
            preview(&rest)
        );
        Ok(())
    }

    /// Reads everything until the server closes (EOF or reset), bounded by the read timeout.
    pub fn read_until_closed(&mut self) -> Result<Vec<u8>> {
        let mut all = self.take_buffered();
        crate::client::read_until_closed(&mut self.stream, &mut all)?;
        Ok(all)
    }
}

/// Whether `line` is `ERR <code>` or `ERR <code> <text>`.
pub fn is_err_line(line: &str, code: &str) -> bool {
    line.strip_prefix("ERR ")
        .and_then(|rest| rest.strip_prefix(code))
        .is_some_and(|tail| tail.is_empty() || tail.starts_with(' '))
}
