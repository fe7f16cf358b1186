//! Known answers for an open loop that the server cannot keep up with: an
//! in-test echo server that answers exactly `CAPACITY` messages per second
//! (message `i` of its connection is echoed no earlier than `i / CAPACITY`
//! after the first arrived, by absolute deadlines, so a late wake-up catches
//! up and the capacity does not depend on the machine's speed), offered 2×
//! and 6× its capacity on one connection with the default `--max-inflight`
//! of 64.
//!
//! What must hold: the achieved rate is what the server served (messages
//! received inside the window, not the window's messages completed during
//! the drain); every window message never sent is counted `unsent` and is in
//! the corrected histogram with a latency of at least `t_stop − intended`
//! (flagged as a lower bound, so the histogram holds every scheduled window
//! message and is never empty); the uncorrected histogram, empty at 6×,
//! prints `—`, not 0; the exit status is 3 (the schedule was not kept).
//! And chat through a relay of the same capacity offered twice that: its
//! deliveries/s is what the relay relayed inside the window.

#![allow(clippy::unwrap_used)] // test code: failures should panic

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{TempDir, loadgen, read_json, show};

/// Messages per second the server answers.
const CAPACITY: f64 = 400.0;
const SIZE: usize = 64;
const WARMUP_S: f64 = 0.25;
const DURATION_S: f64 = 1.0;

struct PacedEcho {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for PacedEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn paced_echo() -> PacedEcho {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            let Ok(s) = s else { continue };
            std::thread::spawn(move || serve(s));
        }
    });
    PacedEcho { addr, stop }
}

/// Echoes `SIZE`-byte messages, message `i` not before `i / CAPACITY`
/// after the first arrived; a half-close ends it.
fn serve(mut s: TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; SIZE];
    let mut start = None;
    for i in 0u64.. {
        if s.read_exact(&mut buf).is_err() {
            return;
        }
        let t0 = *start.get_or_insert_with(Instant::now);
        let due = t0 + Duration::from_secs_f64(i as f64 / CAPACITY);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if s.write_all(&buf).is_err() {
            return;
        }
    }
}

/// Runs `loadgen echo` at `factor` × capacity; returns the report and the
/// exit status and output.
fn overload(factor: f64) -> (serde_json::Value, std::process::Output) {
    let srv = paced_echo();
    let dir = TempDir::new("overload");
    let json = dir.path("run.json");
    let (addr, json_s) = (srv.addr.to_string(), json.display().to_string());
    let rate = (factor * CAPACITY).to_string();
    let args = [
        "echo",
        "--addr",
        &addr,
        "--conns",
        "1",
        "--threads",
        "1",
        "--size",
        "64",
        "--rate",
        &rate,
        "--warmup",
        "250ms",
        "--duration",
        "1s",
        "--drain-timeout",
        "5s",
        "--json",
        &json_s,
    ];
    let out = loadgen(&args, Duration::from_secs(60));
    (read_json(&json), out)
}

fn check(factor: f64) -> (serde_json::Value, std::process::Output) {
    let (j, out) = overload(factor);
    let r = &j["report"];
    let text = show(&out);
    eprintln!("{factor}x capacity:\n{text}");
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    let scheduled = (factor * CAPACITY * DURATION_S).round() as u64;
    let (sent, unsent, lower) = (n("sent"), n("unsent"), n("latency_lower_bounds"));
    // Every scheduled window message is either sent or unsent.
    assert!(
        sent + unsent >= scheduled - 1 && sent + unsent <= scheduled + 1,
        "{text}"
    );
    // The server answers CAPACITY/s: at most that many sent in the window
    // beyond the 64 in flight, and the warm-up's backlog goes first.
    let backlog_s = (factor - 1.0) * WARMUP_S;
    let max_sent = (CAPACITY * (DURATION_S - backlog_s).max(0.0)) as u64 + 64 + 8;
    assert!(sent <= max_sent, "sent {sent} > {max_sent}: {text}");
    // Every unsent message is a lower bound in the corrected histogram (the
    // drain completed every message in flight).
    assert_eq!(lower, unsent, "{text}");
    let corrected = &r["latency_corrected"]["summary"];
    assert_eq!(corrected["count"].as_u64(), Some(sent + unsent), "{text}");
    // The last unsent message was intended before the end of the window, so
    // its latency is at least the drain; the median of a histogram of which
    // most samples are unsent is at least a quarter of the window.
    assert!(
        corrected["p50_us"].as_u64().unwrap() as f64 >= 0.25e6 * DURATION_S,
        "{text}"
    );
    // The achieved rate is what the server served, within 10 %.
    let achieved = r["msgs_per_s"].as_f64().unwrap();
    assert!(
        (achieved / CAPACITY - 1.0).abs() < 0.1,
        "achieved {achieved}: {text}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BEHIND SCHEDULE"), "{text}");
    assert!(stdout.contains("lower bounds"), "{text}");
    assert_eq!(out.status.code(), Some(3), "{text}");
    (j, out)
}

#[test]
fn twice_the_capacity_is_reported_as_it_is() {
    check(2.0);
}

#[test]
fn six_times_the_capacity_leaves_no_percentile_at_zero() {
    let (j, out) = check(6.0);
    let r = &j["report"];
    // No window message was sent (the warm-up's backlog lasted past the
    // window): the uncorrected histogram is empty and printed as `—`.
    assert_eq!(
        r["latency"]["summary"]["count"].as_u64(),
        Some(0),
        "{}",
        show(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = stdout
        .lines()
        .find(|l| l.contains("from actual send"))
        .unwrap();
    assert!(row.contains("p99       —"), "{row}");
}

/// A one-room chat relay that relays exactly `CAPACITY` messages per second
/// (message `i` not before `i / CAPACITY` after the first), to every other
/// member.
fn paced_chat() -> PacedEcho {
    use std::io::{BufRead, BufReader};
    use std::sync::Mutex;
    type Members = Arc<Mutex<Vec<(usize, TcpStream)>>>;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let members: Members = Arc::default();
    let start: Arc<Mutex<Option<(Instant, u64)>>> = Arc::default();
    std::thread::spawn(move || {
        for (id, s) in listener.incoming().enumerate() {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            let Ok(mut s) = s else { continue };
            let (members, start) = (members.clone(), start.clone());
            std::thread::spawn(move || {
                let _ = writeln!(s, "HELLO chat/1 paced guest{id}");
                let reader = BufReader::new(s.try_clone().unwrap());
                for line in reader.lines() {
                    let Ok(line) = line else { return };
                    if let Some(room) = line.strip_prefix("JOIN ") {
                        members.lock().unwrap().push((id, s.try_clone().unwrap()));
                        let _ = writeln!(s, "OK JOIN {room}");
                    } else if let Some(rest) = line.strip_prefix("MSG ") {
                        let Some((room, text)) = rest.split_once(' ') else {
                            continue;
                        };
                        let due = {
                            let mut st = start.lock().unwrap();
                            let (t0, i) = st.get_or_insert((Instant::now(), 0));
                            let due = *t0 + Duration::from_secs_f64(*i as f64 / CAPACITY);
                            *i += 1;
                            due
                        };
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        let out = format!("MSG {room} guest{id} {text}\n");
                        for (other, m) in members.lock().unwrap().iter_mut() {
                            if *other != id {
                                let _ = m.write_all(out.as_bytes());
                            }
                        }
                    }
                }
            });
        }
    });
    PacedEcho { addr, stop }
}

/// Chat at twice what the relay can do: deliveries/s is what it relayed
/// inside the window (by receipt time), not the window's messages delivered
/// during the drain (which read the offered rate); nothing is lost.
#[test]
fn chat_deliveries_are_counted_by_receipt_time() {
    let srv = paced_chat();
    let mut s = loadgen::chat::ChatSettings::new(srv.addr);
    s.rooms = 1;
    s.members = 2;
    s.senders = 1;
    s.rate = 2.0 * CAPACITY;
    s.warmup = Duration::from_secs_f64(WARMUP_S);
    s.duration = Duration::from_secs_f64(DURATION_S);
    s.drain_timeout = Duration::from_secs(10);
    let r = loadgen::chat::run(&s).unwrap();
    eprintln!(
        "chat at 2x: {:.1} deliveries/s, {} window deliveries, lost {}",
        r.deliveries_per_s, r.deliveries, r.lost
    );
    assert_eq!(r.error_count(), 0, "{r:?}");
    assert_eq!(r.deliveries, (2.0 * CAPACITY * DURATION_S) as u64, "{r:?}");
    assert!(
        (r.deliveries_per_s / CAPACITY - 1.0).abs() < 0.1,
        "{} deliveries/s for a relay of {CAPACITY}/s",
        r.deliveries_per_s
    );
}
