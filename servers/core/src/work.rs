//! The `work/1` requests: parsing one line into a [`Request`], executing a [`Job`], and formatting the
//! replies. No I/O and no runtime; [`Job::run`] computes (`FIB`) or blocks the calling thread
//! (`SLEEP`) on purpose, because *where* it runs is what the variants compare.
//!
//! Syntax (see `docs/PROTOCOL.md`): the command word is matched case-insensitively and separated from
//! its argument by one space, as in chat. A number is canonical decimal: `0`, or a digit 1–9 followed
//! by digits; no sign, no leading zero, no exponent, nothing after it. A number that is not canonical
//! or out of range is `bad-args`, and so is a missing, empty or extra argument. The token of `PING` is
//! the rest of the line verbatim (possibly empty), as in chat, but since it is echoed back it must not
//! contain a control character (U+0000–U+001F except TAB, U+007F): `bad-text`.

use std::io::Write;
use std::time::Duration;

use crate::code::ErrorCode;
use crate::command::is_valid_text;

/// The largest `n` of `FIB <n>`.
pub const MAX_FIB: u32 = 40;
/// The largest `ms` of `SLEEP <ms>`.
pub const MAX_SLEEP_MS: u32 = 1000;

/// The protocol name of the work app.
pub const PROTOCOL: &str = "work/1";

/// One parsed request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `FIB <n>` or `SLEEP <ms>`: work, executed where the variant's mode says.
    Job(Job),
    /// `PING` (`None`) or `PING <token>`: answered in order, never executed as work.
    Ping(Option<&'a str>),
}

/// A unit of work: what executes inline or on the offload pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Compute fib(n) by naive recursion (CPU-bound).
    Fib(u32),
    /// Block the executing thread for this many milliseconds (a blocking driver call's model).
    Sleep(u32),
}

/// An executed job and its result, ready to be formatted as the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    job: Job,
    value: u64,
}

/// Parses one request line (terminator already removed).
pub fn parse(line: &str) -> Result<Request<'_>, ErrorCode> {
    let (word, rest) = match line.split_once(' ') {
        Some((word, rest)) => (word, Some(rest)),
        None => (line, None),
    };
    let is = |name: &str| word.eq_ignore_ascii_case(name);
    if is("FIB") {
        number(rest, MAX_FIB).map(|n| Request::Job(Job::Fib(n)))
    } else if is("SLEEP") {
        number(rest, MAX_SLEEP_MS).map(|ms| Request::Job(Job::Sleep(ms)))
    } else if is("PING") {
        match rest {
            Some(token) if !is_valid_text(token) => Err(ErrorCode::BadText),
            _ => Ok(Request::Ping(rest)),
        }
    } else {
        Err(ErrorCode::UnknownCommand)
    }
}

/// The one argument as a canonical decimal number of at most `max`.
fn number(arg: Option<&str>, max: u32) -> Result<u32, ErrorCode> {
    let arg = arg.ok_or(ErrorCode::BadArgs)?;
    let canonical = match arg.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    // At most 10 digits fit a u32 check cheaply; anything longer is out of range anyway.
    if !canonical || arg.len() > 10 {
        return Err(ErrorCode::BadArgs);
    }
    match arg.parse::<u64>() {
        Ok(n) if n <= u64::from(max) => u32::try_from(n).map_err(|_| ErrorCode::BadArgs),
        _ => Err(ErrorCode::BadArgs),
    }
}

impl Job {
    /// Executes the job on the calling thread: `FIB` computes, `SLEEP` blocks the thread
    /// (`std::thread::sleep`).
    pub fn run(self) -> Done {
        let value = match self {
            Job::Fib(n) => fib(std::hint::black_box(n)),
            Job::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
                u64::from(ms)
            }
        };
        Done { job: self, value }
    }
}

/// fib(n) by naive recursion: fib(0) = 0, fib(1) = 1, fib(n) = fib(n-1) + fib(n-2). Exponential on
/// purpose (fib(40) makes about 330 million calls); fits a `u64` for every `n` up to [`MAX_FIB`].
pub fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

impl Done {
    /// The job that was executed.
    pub fn job(&self) -> Job {
        self.job
    }

    /// Appends the reply line: `FIB <n> <fib(n)>\n` or `SLEPT <ms>\n`.
    pub fn write_reply(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail.
        let _ = match self.job {
            Job::Fib(n) => writeln!(out, "FIB {n} {}", self.value),
            Job::Sleep(ms) => writeln!(out, "SLEPT {ms}"),
        };
    }
}

/// Appends the reply to `PING` (`token: None`) or `PING <token>`: `PONG\n` or `PONG <token>\n`.
pub fn write_pong(token: Option<&str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"PONG");
    if let Some(token) = token {
        out.push(b' ');
        out.extend_from_slice(token.as_bytes());
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorCode::*;

    fn reply(done: Done) -> String {
        let mut out = Vec::new();
        done.write_reply(&mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn requests_parse() {
        assert_eq!(parse("FIB 10"), Ok(Request::Job(Job::Fib(10))));
        assert_eq!(parse("fib 0"), Ok(Request::Job(Job::Fib(0))));
        assert_eq!(parse("FIB 40"), Ok(Request::Job(Job::Fib(40))));
        assert_eq!(parse("SLEEP 0"), Ok(Request::Job(Job::Sleep(0))));
        assert_eq!(parse("Sleep 1000"), Ok(Request::Job(Job::Sleep(1000))));
        assert_eq!(parse("PING"), Ok(Request::Ping(None)));
        assert_eq!(parse("PING "), Ok(Request::Ping(Some(""))));
        assert_eq!(parse("ping a  b\t"), Ok(Request::Ping(Some("a  b\t"))));
    }

    #[test]
    fn bad_arguments() {
        for line in [
            "FIB",
            "FIB ",
            "FIB 41",
            "FIB 99999",
            "FIB -1",
            "FIB +3",
            "FIB 007",
            "FIB 00",
            "FIB 1 2",
            "FIB  1",
            "FIB 1 ",
            "FIB 0x10",
            "FIB 1.0",
            "FIB ١",
            "FIB 18446744073709551616",
            "FIB 4294967336",
            "SLEEP",
            "SLEEP 1001",
            "SLEEP 1e9",
            "SLEEP -0",
            "SLEEP 5\u{1}",
            "SLEEP 99999999999999999999999",
        ] {
            assert_eq!(parse(line), Err(BadArgs), "{line:?}");
        }
    }

    #[test]
    fn unknown_and_control_characters() {
        for line in ["FIBS 1", "SLEPT 1", " FIB 1", "FIB\t1", "HELLO", "PING\tx"] {
            assert_eq!(parse(line), Err(UnknownCommand), "{line:?}");
        }
        for token in ["\u{1}", "a\u{7f}", "a\rb", "\u{1b}[2J"] {
            assert_eq!(parse(&format!("PING {token}")), Err(BadText), "{token:?}");
        }
        assert_eq!(parse("PING \u{80}é"), Ok(Request::Ping(Some("\u{80}é"))));
    }

    #[test]
    fn fib_values() {
        let expected = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55];
        for (n, value) in expected.into_iter().enumerate() {
            assert_eq!(fib(u32::try_from(n).expect("small")), value);
        }
        assert_eq!(fib(25), 75_025);
    }

    #[test]
    fn replies_format() {
        assert_eq!(reply(Job::Fib(10).run()), "FIB 10 55\n");
        assert_eq!(reply(Job::Sleep(0).run()), "SLEPT 0\n");
        let mut out = Vec::new();
        write_pong(None, &mut out);
        write_pong(Some(""), &mut out);
        write_pong(Some("x y"), &mut out);
        assert_eq!(out, b"PONG\nPONG \nPONG x y\n");
    }
}
