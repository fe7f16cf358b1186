//! Known answers for the instrument, against in-test servers whose
//! behaviour is known exactly:
//!
//! * coordinated-omission correction: an echo server that stalls once for
//!   `T` while the open loop offers `R` msg/s holds about `R·T` messages;
//!   the corrected histogram must hold them spread over `0..T` (so about
//!   `R·(T − x)` samples above `x`) and its maximum must be about `T`;
//! * CPU per message: an echo server (a child process, so that its CPU clock
//!   is its own) that burns a fixed CPU time per message on its thread's CPU
//!   clock must be measured within ±20 %.
//!
//! The assertions are on counts and CPU-clock quantities: the stall's actual
//! length is measured by the server itself (a loaded machine may oversleep),
//! and the expected counts follow from it.

#![allow(clippy::unwrap_used)] // test code: failures should panic

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use loadgen::echo::EchoSettings;

const SIZE: usize = 64;

/// Starts a one-connection echo server; `on_message(i)` runs before
/// message `i` is echoed.
fn echo_server(on_message: impl Fn(u64) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; SIZE];
        for i in 0u64.. {
            if s.read_exact(&mut buf).is_err() {
                return;
            }
            on_message(i);
            if s.write_all(&buf).is_err() {
                return;
            }
        }
    });
    addr
}

#[test]
fn one_stall_is_spread_over_the_corrected_histogram() {
    const RATE: f64 = 1000.0;
    const STALL: Duration = Duration::from_millis(200);
    // The message at which the server stalls: 0.3 s into the window.
    const AT: u64 = 400;
    let stalled_ns = Arc::new(AtomicU64::new(0));
    let seen = stalled_ns.clone();
    let addr = echo_server(move |i| {
        if i == AT {
            let t = Instant::now();
            std::thread::sleep(STALL);
            seen.store(t.elapsed().as_nanos() as u64, Ordering::Release);
        }
    });
    let mut s = EchoSettings::new(addr);
    s.conns = 1;
    s.threads = Some(1);
    s.size = SIZE;
    s.rate = Some(RATE);
    s.max_inflight = 1000;
    s.warmup = Duration::from_millis(100);
    s.duration = Duration::from_millis(800);
    let r = loadgen::echo::run(&s).unwrap();
    assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
    let stall_s = stalled_ns.load(Ordering::Acquire) as f64 / 1e9;
    assert!(stall_s >= STALL.as_secs_f64(), "the server did not stall");
    let c = r.latency_corrected.as_ref().unwrap();
    let h = loadgen::results::hist::from_base64(&c.v2_base64).unwrap();
    // Every scheduled window message is in it.
    assert_eq!(h.len(), 800, "{:?}", c.summary);
    // Spread over 0..stall: about RATE·(stall − x) samples above x.
    for x in [0.05, 0.1, 0.15] {
        let above = h.count_between((x * 1e6) as u64, u64::MAX) as f64;
        let expected = RATE * (stall_s - x);
        assert!(
            (above - expected).abs() <= 0.1 * expected + 10.0,
            "above {x} s: {above} samples, expected {expected:.0} (stall {stall_s:.3} s)"
        );
    }
    eprintln!(
        "stall {stall_s:.3} s; corrected: n {}, above 0.1 s {}, max {} µs",
        h.len(),
        h.count_between(100_000, u64::MAX),
        c.summary.max_us
    );
    // Max ≈ the stall.
    let max_s = c.summary.max_us as f64 / 1e6;
    assert!(
        max_s >= stall_s * 0.99 && max_s <= stall_s + 0.03,
        "max {max_s} s, stall {stall_s} s"
    );
}

/// CPU the child server burns per message (by its thread's CPU clock).
const BURN: Duration = Duration::from_micros(500);
const CHILD_ENV: &str = "LOADGEN_TEST_BURNING_SERVER";

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Not a test: the server process of the test below (it runs only when
/// started by it, with the environment variable set).
#[test]
#[ignore = "the server process of cpu_per_message_is_what_the_server_burns"]
fn burning_echo_server() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let addr = echo_server(|_| {
        let start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - start < BURN {
            for _ in 0..100 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
    });
    println!("{addr}");
    std::io::stdout().flush().unwrap();
    // Exit when the parent closes stdin (or after a bounded time).
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

struct ChildServer(Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn cpu_per_message_is_what_the_server_burns() {
    let mut child = ChildServer(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "burning_echo_server", "--ignored", "--nocapture"])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "server said nothing");
        if let Ok(a) = line.trim().parse() {
            break a;
        }
    };
    let mut s = EchoSettings::new(addr);
    s.conns = 1;
    s.threads = Some(1);
    s.size = SIZE;
    s.rate = Some(200.0);
    s.warmup = Duration::from_millis(200);
    s.duration = Duration::from_secs(1);
    s.server_pid = Some(child.0.id());
    let r = loadgen::echo::run(&s).unwrap();
    assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
    let sv = r.cost.server.as_ref().unwrap();
    let burn_us = BURN.as_secs_f64() * 1e6;
    eprintln!(
        "server CPU {:.1} µs/msg (burns {burn_us}), {} messages",
        sv.cpu_us_per_msg, r.messages
    );
    assert!(
        (sv.cpu_us_per_msg / burn_us - 1.0).abs() <= 0.2,
        "server CPU {:.1} µs/msg, burns {burn_us} µs/msg ({} messages, {:.4} CPU s)",
        sv.cpu_us_per_msg,
        r.messages,
        sv.cpu_s
    );
    drop(TcpStream::connect(addr));
}
