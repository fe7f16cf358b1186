//! Textbook blocking `work` server (`work/1`): `std::net`, a thread per connection, each request
//! executed inline on that thread, in order, and answered before the next is read.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// Serves `work` on `addr` forever.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || work(stream));
    }
    Ok(())
}

fn work(stream: TcpStream) {
    // A reply is one small write after each request: without this, Nagle's algorithm holds it while
    // the previous reply is unacknowledged, and the client's delayed ACK comes with its next request.
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            return;
        }
        // An unterminated last line (the client half-closed) is discarded.
        let Some(request) = line.strip_suffix('\n') else {
            return;
        };
        let request = request.strip_suffix('\r').unwrap_or(request);
        if request.is_empty() {
            continue;
        }
        let reply = answer(request);
        if out.write_all(format!("{reply}\n").as_bytes()).is_err() {
            return;
        }
    }
}

/// The naive recursive Fibonacci number.
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

/// The reply to one request line.
fn answer(line: &str) -> String {
    let (cmd, arg) = match line.split_once(' ') {
        Some((c, a)) => (c, Some(a)),
        None => (line, None),
    };
    let number = |a: Option<&str>, max: u64| {
        // Decimal digits, no sign and no leading zero.
        a.filter(|a| a.bytes().all(|b| b.is_ascii_digit()) && (*a == "0" || !a.starts_with('0')))
            .and_then(|a| a.parse::<u64>().ok())
            .filter(|&n| n <= max)
    };
    match cmd.to_ascii_uppercase().as_str() {
        "FIB" => match number(arg, 40) {
            Some(n) => format!("FIB {n} {}", fib(n)),
            None => "ERR bad-args".into(),
        },
        "SLEEP" => match number(arg, 1000) {
            Some(ms) => {
                thread::sleep(Duration::from_millis(ms));
                format!("SLEPT {ms}")
            }
            None => "ERR bad-args".into(),
        },
        "PING" => match arg {
            Some(token) => format!("PONG {token}"),
            None => "PONG".into(),
        },
        _ => "ERR unknown-command".into(),
    }
}
