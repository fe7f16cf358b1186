//! Known answers for `loadgen work`, against servers whose behaviour is
//! known exactly:
//!
//! * the textbook `work` server (`textbook work ADDR`: threads, every request
//!   run inline): a `SLEEP ms` request cannot be answered sooner than `ms`
//!   after it was sent, so every slow latency is at least that (a lower
//!   bound physics guarantees; no upper bound is asserted); every reply is
//!   verified and the counts add up to the schedule;
//! * an in-test server that gets `FIB n` wrong on one request per
//!   connection: a mismatch fault in that class, none in the other;
//! * an in-test server that answers every other slow request `ERR busy`
//!   (half of them with text after the code): the generator's busy count is
//!   exactly the server's, and no busy answer is in the latency histograms.
//!
//! Assertions are on counts and lower bounds only; every wait is bounded and
//! every server is stopped.

#![allow(clippy::unwrap_used)] // test code: failures should panic

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use conformance::wait::{KillOnDrop, poll_until};
use loadgen::work::{WorkClassSettings, WorkReport, WorkSettings};
use support::{TempDir, loadgen, read_json, show};

const SLEEP_MS: u64 = 30;

/// Starts `textbook work` on a free loopback port.
fn textbook_work() -> (KillOnDrop, SocketAddr) {
    let bin = conformance::process::build_binary("textbook", None).unwrap();
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let child = Command::new(bin)
        .args(["work", &addr.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let server = KillOnDrop(child);
    poll_until(Duration::from_secs(10), "textbook work listening", || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()
    })
    .unwrap();
    (server, addr)
}

/// A thread-per-connection work server whose reply to the `k`-th request
/// (from 0) of a connection is `answer(request, k)`; it runs until the test
/// process ends (its connections end when the generator closes them).
fn work_server(answer: impl Fn(&str, u64) -> String + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut out = s.try_clone().unwrap();
                for (k, line) in BufReader::new(s).lines().enumerate() {
                    let Ok(line) = line else { return };
                    let reply = answer(&line, k as u64);
                    if out.write_all(format!("{reply}\n").as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The correct reply (FIB by iteration; the servers here never sleep).
fn correct(line: &str) -> String {
    loadgen::work::expected_reply(line).unwrap()
}

/// 2 fast connections (`FIB 1`, 100/s in all) and 2 slow ones (`slow`, 10/s
/// in all), one worker per class, 0.2 s warm-up, 1 s window.
fn settings(addr: SocketAddr, slow: &str) -> WorkSettings {
    let mut s = WorkSettings::new(addr);
    s.fast = WorkClassSettings {
        conns: 2,
        request: "FIB 1".into(),
        rate: 100.0,
    };
    s.slow = WorkClassSettings {
        conns: 2,
        request: slow.into(),
        rate: 10.0,
    };
    s.threads = Some(1);
    s.warmup = Duration::from_millis(200);
    s.duration = Duration::from_secs(1);
    s
}

/// Window requests of a class on its fixed schedule: rate × window (the
/// schedule starts at 0 and neither bound falls between two requests).
fn scheduled(rate: f64, s: &WorkSettings) -> u64 {
    (rate * s.duration.as_secs_f64()).round() as u64
}

fn assert_counts_add_up(r: &WorkReport) {
    for (name, c) in r.classes() {
        assert_eq!(
            c.sent + c.unsent,
            scheduled(c.settings.rate, &r.settings),
            "{name}: {c:?}"
        );
        assert_eq!(c.served + c.busy + c.lost, c.sent, "{name}: {c:?}");
        assert_eq!(c.latency.summary.count, c.served, "{name}");
    }
}

#[test]
fn slow_latency_is_at_least_the_sleep_and_every_reply_is_verified() {
    let (_server, addr) = textbook_work();
    let s = settings(addr, &format!("SLEEP {SLEEP_MS}"));
    let r = loadgen::work::run(&s).unwrap();
    assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
    assert_counts_add_up(&r);
    let slow = r.slow.as_ref().unwrap();
    assert_eq!(slow.expected_reply, format!("SLEPT {SLEEP_MS}"));
    assert!(slow.served > 0 && r.fast.served > 0, "{r:?}");
    assert_eq!((r.fast.busy, slow.busy, slow.busy_total), (0, 0, 0));
    // HdrHistogram keeps 3 significant digits: a recorded value may read up
    // to 0.1 % low.
    let floor_us = SLEEP_MS * 1000 * 999 / 1000;
    for h in [&slow.latency, &slow.latency_corrected] {
        let min = h.histogram().unwrap().min();
        assert!(min >= floor_us, "slow latency {min} µs < {SLEEP_MS} ms");
    }
}

#[test]
fn a_wrong_fib_value_is_a_fault_of_its_class() {
    // The 3rd request of every slow connection gets fib(20) + 1.
    let addr = work_server(|line, k| match (line, k) {
        ("FIB 20", 2) => "FIB 20 6766".into(),
        _ => correct(line),
    });
    let s = settings(addr, "FIB 20");
    let r = loadgen::work::run(&s).unwrap();
    let slow = r.slow.as_ref().unwrap();
    // Each slow connection sends 6 requests by the end of the window; each
    // one fails at its 3rd reply and is closed.
    assert_eq!(slow.errors.mismatches, 2, "{slow:?}");
    assert_eq!(slow.errors.total(), 2, "{slow:?}");
    assert_eq!(r.fast.errors.total(), 0, "{:?}", r.fast);
    let first = slow.first_error.as_deref().unwrap();
    assert!(
        first.contains("expected \"FIB 20 6765\", received \"FIB 20 6766\""),
        "{first}"
    );
    assert_eq!(r.error_count(), 2);
}

#[test]
fn err_busy_is_counted_apart_and_kept_out_of_the_latency() {
    let sent_busy = Arc::new(AtomicU64::new(0));
    let counter = sent_busy.clone();
    // Every other slow request is declined, alternately with and without
    // text after the code.
    let addr = work_server(move |line, k| {
        if line == "FIB 20" && k % 2 == 1 {
            counter.fetch_add(1, Ordering::Relaxed);
            if k % 4 == 1 {
                "ERR busy".into()
            } else {
                "ERR busy pool full".into()
            }
        } else {
            correct(line)
        }
    });
    let s = settings(addr, "FIB 20");
    let r = loadgen::work::run(&s).unwrap();
    assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
    assert_counts_add_up(&r);
    let slow = r.slow.as_ref().unwrap();
    // The drain waits for every reply, so the run saw every busy answer.
    assert_eq!(slow.busy_total, sent_busy.load(Ordering::Relaxed));
    assert!(slow.busy > 0 && slow.served > 0, "{slow:?}");
    assert_eq!(r.fast.busy_total, 0);
}

#[test]
fn the_cli_prints_both_rates_and_exits_by_the_replies() {
    let addr = work_server(|line, _| correct(line));
    let dir = TempDir::new("work-cli");
    let (json, csv) = (dir.path("run.json"), dir.path("run.csv"));
    let a = addr.to_string();
    let common = [
        "work",
        "--addr",
        &a,
        "--threads",
        "1",
        "--fast-conns",
        "4",
        "--fast-rate",
        "200",
        "--slow-conns",
        "2",
        "--slow-req",
        "FIB 20",
        "--slow-rate",
        "10",
        "--warmup",
        "100ms",
        "--duration",
        "500ms",
    ];
    let mut args = common.to_vec();
    args.extend([
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let o = loadgen(&args, Duration::from_secs(60));
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("4 conns × 50.00 req/s each = 200.0 req/s in all"),
        "{out}"
    );
    assert!(
        out.contains("2 conns × 5.00 req/s each = 10.0 req/s in all"),
        "{out}"
    );
    let v = read_json(&json);
    assert_eq!(v["kind"], "work");
    assert_eq!(v["report"]["slow"]["expected_reply"], "FIB 20 6765");
    assert_eq!(v["report"]["fast"]["errors"]["mismatches"], 0);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.contains("report.fast.busy"), "{csv}");

    // A request whose reply cannot be predicted is refused before anything
    // is sent (exit status 2).
    let mut args = common.to_vec();
    args.extend(["--fast-req", "FIB 41"]);
    let o = loadgen(&args, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}
