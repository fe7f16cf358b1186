//! Conformance cases for the `work/1` app (`docs/PROTOCOL.md` section 4), valid for a server run
//! inline or offloaded. They keep every request quick (small `n`, short sleeps), so that they check
//! the rules, not the speed. The cases that need a known pool size (`ERR busy`) or a shutdown are in
//! `tests/tests/work_offload.rs`, which starts its own servers.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use server_common::App;

use crate::chat_client::ChatClient;
use crate::suite::{Case, Target};

/// Every work case, in the order the `conformance` binary runs them.
pub const CASES: &[Case] = &[
    case("values", values),
    case("pipelined_in_order", pipelined_in_order),
    case("bounds_and_bad_args", bounds_and_bad_args),
    case("unknown_command", unknown_command),
    case("control_characters", control_characters),
    case("crlf_and_empty_lines", crlf_and_empty_lines),
    case("bad_utf8_keeps_connection", bad_utf8_keeps_connection),
    case("line_too_long_closes", line_too_long_closes),
    case("half_close", half_close),
    case(
        "pipelined_flood_with_late_reader",
        pipelined_flood_with_late_reader,
    ),
];

const fn case(name: &'static str, run: fn(&Target) -> Result<()>) -> Case {
    Case {
        name,
        app: App::Work,
        run,
    }
}

/// A work connection: the suite's line client (no greeting in `work/1`).
pub fn connect(target: &Target) -> Result<ChatClient> {
    let mut client = ChatClient::connect_raw(target)?;
    client.nick = "work client".to_owned();
    Ok(client)
}

/// fib(n), computed iteratively here (an oracle independent of the server's recursion).
pub fn fib(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// The expected reply to `FIB <n>`.
pub fn fib_reply(n: u32) -> String {
    format!("FIB {n} {}", fib(n))
}

/// `FIB <n>` is fib(n) (fib(0)=0, fib(1)=1), `SLEEP <ms>` is `SLEPT <ms>`, `PING` is `PONG`.
pub fn values(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    c.call("FIB 0", "FIB 0 0")?;
    c.call("FIB 1", "FIB 1 1")?;
    c.call("FIB 2", "FIB 2 1")?;
    c.call("FIB 10", "FIB 10 55")?;
    c.call("FIB 20", "FIB 20 6765")?;
    c.call("fib 5", "FIB 5 5")?;
    c.call("SLEEP 0", "SLEPT 0")?;
    c.call("SLEEP 5", "SLEPT 5")?;
    c.call("PING", "PONG")?;
    c.call("PING ", "PONG ")?;
    c.call("PING a  b\t", "PONG a  b\t")?;
    c.sync()
}

/// Requests written in one go, mixing work, pings and errors, are answered one each, in order.
pub fn pipelined_in_order(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    let mut batch = String::new();
    let mut expected = Vec::new();
    for i in 0..40u32 {
        match i % 5 {
            0 => {
                batch.push_str(&format!("FIB {}\n", i % 18));
                expected.push(fib_reply(i % 18));
            }
            1 => {
                batch.push_str(&format!("PING {i}\n"));
                expected.push(format!("PONG {i}"));
            }
            2 => {
                batch.push_str(&format!("SLEEP {}\n", i % 3));
                expected.push(format!("SLEPT {}", i % 3));
            }
            3 => {
                batch.push_str("FIB 41\n");
                expected.push("ERR bad-args".to_owned());
            }
            _ => {
                batch.push_str("NOPE\n");
                expected.push("ERR unknown-command".to_owned());
            }
        }
    }
    c.send_raw(batch.as_bytes())?;
    for (i, reply) in expected.iter().enumerate() {
        c.expect(reply)
            .with_context(|| format!("reply {i} of a pipelined batch"))?;
    }
    c.sync()
}

/// Numbers are canonical decimal within bounds: anything else is `ERR bad-args`, and the connection
/// goes on. The upper bounds themselves are valid (not executed here: they take up to a second).
pub fn bounds_and_bad_args(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    for line in [
        "FIB 41",
        "FIB 99999",
        "FIB -1",
        "FIB +3",
        "FIB 007",
        "FIB 1.5",
        "FIB 0x1f",
        "FIB",
        "FIB ",
        "FIB 1 2",
        "FIB  1",
        "FIB 1 ",
        "FIB 18446744073709551617",
        "SLEEP 1001",
        "SLEEP 1e9",
        "SLEEP -5",
        "SLEEP",
        "SLEEP 10 ms",
    ] {
        c.call_err(line, "bad-args")?;
    }
    c.sync()
}

/// An unknown command word is `ERR unknown-command`, whatever follows; the word is case-insensitive
/// and ends at the first space (a tab belongs to it).
pub fn unknown_command(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    for line in [
        "FIBONACCI 3",
        "SLEPT 1",
        " FIB 1",
        "FIB\t1",
        "HELLO",
        "QUIT",
    ] {
        c.call_err(line, "unknown-command")?;
    }
    c.call("sLeEp 1", "SLEPT 1")?;
    c.sync()
}

/// A PING token with a control character is `ERR bad-text` (the server never echoes one); in a number
/// it is `ERR bad-args`. The connection goes on.
pub fn control_characters(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    for token in ["a\u{1}b", "\u{1b}[2J", "x\u{7f}", "a\rb"] {
        c.call_err(&format!("PING {token}"), "bad-text")?;
    }
    c.call_err("FIB 3\u{0}", "bad-args")?;
    c.call_err("SLEEP \u{7}1", "bad-args")?;
    c.call("PING \u{80}é", "PONG \u{80}é")?;
    c.sync()
}

/// One CR before the LF is dropped; empty lines get no reply.
pub fn crlf_and_empty_lines(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    c.send_raw(b"\n\r\nFIB 6\r\n\n\r\nPING x\r\n")?;
    c.expect("FIB 6 8")?;
    c.expect("PONG x")?;
    c.sync()
}

/// A line that is not UTF-8 is `ERR bad-utf8`; the connection goes on.
pub fn bad_utf8_keeps_connection(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    c.send_raw(b"FIB \xff\n")?;
    c.expect_err("bad-utf8")?;
    c.call("FIB 7", "FIB 7 13")?;
    c.sync()
}

/// A line of `--max-line` bytes is answered; one byte more is `ERR line-too-long` and the connection
/// is closed, without waiting for the LF; replies before it arrive first.
pub fn line_too_long_closes(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    let mut ping = b"PING ".to_vec();
    ping.resize(target.max_line, b'p');
    let mut boundary = ping.clone();
    boundary.extend_from_slice(b"\r\n");
    c.send_raw(&boundary)?;
    let line = c.read_line()?;
    ensure!(
        line.len() == target.max_line && line.starts_with("PONG "),
        "a line of exactly --max-line bytes was not answered with its PONG (got {} bytes)",
        line.len()
    );
    c.send_raw(b"FIB 3\n")?;
    let mut long = ping;
    long.push(b'p');
    c.send_raw(&long)?;
    c.expect("FIB 3 2")?;
    c.expect_err("line-too-long")?;
    c.expect_closed()
}

/// After the client half-closes, its complete requests are answered in order, an unterminated last
/// line is dropped, and the server closes.
pub fn half_close(target: &Target) -> Result<()> {
    let mut c = connect(target)?;
    c.send_raw(b"FIB 5\nSLEEP 20\nPING x\nFIB 3")?;
    c.shutdown_write()?;
    c.expect("FIB 5 5")?;
    c.expect("SLEPT 20")?;
    c.expect("PONG x")?;
    c.expect_closed()
}

/// A client that pipelines far more than any buffer holds and starts reading only later gets every
/// reply, in order: the server stops reading while its replies wait (TCP backpressure) and resumes.
pub fn pipelined_flood_with_late_reader(target: &Target) -> Result<()> {
    const REQUESTS: usize = 20_000;
    let mut c = connect(target)?;
    let mut writer = c.stream().try_clone().context("cannot clone the socket")?;
    let sending = std::thread::spawn(move || -> std::io::Result<()> {
        let mut batch = String::new();
        for i in 0..REQUESTS {
            batch.push_str(if i % 100 == 0 { "FIB 3\n" } else { "PING " });
            if i % 100 != 0 {
                batch.push_str(&format!("{i}\n"));
            }
            if batch.len() > 16 * 1024 {
                writer.write_all(batch.as_bytes())?;
                batch.clear();
            }
        }
        writer.write_all(batch.as_bytes())
    });
    // Let the server's replies back up before reading any.
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..REQUESTS {
        let expected = if i % 100 == 0 {
            "FIB 3 2".to_owned()
        } else {
            format!("PONG {i}")
        };
        c.expect(&expected)
            .with_context(|| format!("reply {i} of {REQUESTS}"))?;
    }
    sending
        .join()
        .map_err(|_| anyhow!("the sending thread panicked"))?
        .context("sending the requests failed")?;
    c.sync()
}

/// For a server started with `--offload --offload-threads 1 --offload-queue 1`: sends `SLEEP <ms>` on
/// three connections at once. Whatever order the server reads them in, two take the pool (one
/// running, one queued) and the third is `ERR busy` at once. Returns the two admitted connections and
/// the refused one, whose `ERR busy` was read. `ms` must be long enough for the server to read all
/// three before the first sleep ends (a few hundred milliseconds).
pub fn fill_pool(target: &Target, ms: u64) -> Result<(ChatClient, ChatClient, ChatClient)> {
    let mut clients = vec![connect(target)?, connect(target)?, connect(target)?];
    for client in &mut clients {
        client.send(&format!("SLEEP {ms}"))?;
    }
    let streams: Vec<&crate::transport::Conn> = clients.iter().map(ChatClient::stream).collect();
    let ready = crate::client::readable(&streams, crate::client::IO_TIMEOUT);
    let first = ready
        .iter()
        .position(|&ready| ready)
        .context("none of three SLEEP requests was answered within the I/O timeout")?;
    let mut refused = clients.remove(first);
    let line = refused.read_line()?;
    ensure!(
        line == "ERR busy",
        "the first reply to three SLEEP {ms} on a pool of 1 + 1 was {line:?}, not ERR busy"
    );
    let b = clients.pop().context("three clients")?;
    let a = clients.pop().context("three clients")?;
    Ok((a, b, refused))
}
