//! Known answers for the chat scenario's checks, against a deliberately
//! broken in-test chat server that breaks every 7th message of the one
//! sender in a known way: each class (lost, duplicated, reordered) must hold
//! exactly the count the fault produces and nothing may be misfiled in
//! another; `loadgen chat` must exit non-zero unless `--allow-errors`.

#![allow(clippy::unwrap_used)] // test code: failures should panic

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{loadgen, show};

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Every 7th message is not relayed.
    Drop,
    /// Every 7th message is relayed twice.
    Duplicate,
    /// Every 7th message is relayed after the next one.
    Swap,
    /// Every 7th message is not relayed to one member (the first to join
    /// after the sender).
    LoseOne,
}

type Rooms = Arc<Mutex<HashMap<String, Vec<(usize, TcpStream)>>>>;

struct FakeChat {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeChat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn start(fault: Fault) -> FakeChat {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rooms: Rooms = Arc::default();
    let counter = Arc::new(AtomicU64::new(0));
    let held: Arc<Mutex<Option<(String, String, usize)>>> = Arc::default();
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for (id, s) in listener.incoming().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(s) = s else { continue };
                let (rooms, counter, held) = (rooms.clone(), counter.clone(), held.clone());
                std::thread::spawn(move || serve(id, s, fault, rooms, counter, held));
            }
        });
    }
    FakeChat { addr, stop }
}

fn relay(rooms: &Rooms, room: &str, from: usize, line: &str) {
    relay_except(rooms, room, from, None, line);
}

/// Relays to every member but `from` and `skip`.
fn relay_except(rooms: &Rooms, room: &str, from: usize, skip: Option<usize>, line: &str) {
    let mut r = rooms.lock().unwrap();
    if let Some(members) = r.get_mut(room) {
        let skip = skip.and_then(|k| members.iter().map(|m| m.0).filter(|&i| i != from).nth(k));
        for (id, s) in members.iter_mut() {
            if *id != from && Some(*id) != skip {
                let _ = s.write_all(line.as_bytes());
            }
        }
    }
}

fn serve(
    id: usize,
    mut s: TcpStream,
    fault: Fault,
    rooms: Rooms,
    counter: Arc<AtomicU64>,
    held: Arc<Mutex<Option<(String, String, usize)>>>,
) {
    let _ = writeln!(s, "HELLO chat/1 fake guest{id}");
    let reader = BufReader::new(s.try_clone().unwrap());
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if let Some(room) = line.strip_prefix("JOIN ") {
            rooms
                .lock()
                .unwrap()
                .entry(room.to_string())
                .or_default()
                .push((id, s.try_clone().unwrap()));
            let _ = writeln!(s, "OK JOIN {room}");
        } else if let Some(rest) = line.strip_prefix("MSG ") {
            let Some((room, text)) = rest.split_once(' ') else {
                continue;
            };
            let out = format!("MSG {room} guest{id} {text}\n");
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let odd = n % 7 == 3;
            match fault {
                Fault::Drop if odd => {}
                Fault::LoseOne if odd => relay_except(&rooms, room, id, Some(0), &out),
                Fault::Duplicate if odd => {
                    relay(&rooms, room, id, &out);
                    relay(&rooms, room, id, &out);
                }
                Fault::Swap if odd => {
                    *held.lock().unwrap() = Some((room.to_string(), out, id));
                }
                _ => {
                    relay(&rooms, room, id, &out);
                    if fault == Fault::Swap {
                        if let Some((r, l, from)) = held.lock().unwrap().take() {
                            relay(&rooms, &r, from, &l);
                        }
                    }
                }
            }
        }
    }
}

fn settings(addr: SocketAddr) -> loadgen::chat::ChatSettings {
    let mut s = loadgen::chat::ChatSettings::new(addr);
    s.rooms = 1;
    s.members = 4;
    s.senders = 1;
    s.rate = 500.0;
    s.warmup = Duration::from_millis(50);
    s.duration = Duration::from_millis(300);
    s.drain_timeout = Duration::from_millis(500);
    s
}

#[test]
fn a_correct_server_has_no_errors() {
    let srv = start(Fault::None);
    let r = loadgen::chat::run(&settings(srv.addr)).unwrap();
    assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
    assert_eq!(r.deliveries_total, 3 * r.sent_total);
    // Every window delivery is in both histograms, whichever worker
    // received it (a worker without a sender once kept no corrected one).
    assert_eq!(r.latency.summary.count, r.deliveries, "{r:?}");
    assert_eq!(r.latency_corrected.summary.count, r.deliveries, "{r:?}");
}

/// Messages `n < sent` with `n % 7 == 3` (the ones the fault touches).
fn faulty(sent: u64) -> u64 {
    (0..sent).filter(|n| n % 7 == 3).count() as u64
}

/// (lost, duplicated, reordered, corrupt) of a run.
fn classes(r: &loadgen::results::chat::ChatReport) -> (u64, u64, u64, u64) {
    (r.lost, r.duplicated, r.reordered, r.corrupt)
}

// Three receivers (4 members, 1 sender) in every test below.

#[test]
fn every_dropped_message_is_lost_and_nothing_else() {
    let srv = start(Fault::Drop);
    let r = loadgen::chat::run(&settings(srv.addr)).unwrap();
    let n = faulty(r.sent_total);
    assert!(n > 0, "{r:?}");
    assert_eq!(classes(&r), (3 * n, 0, 0, 0), "{r:?}");
    assert!(!r.drained);
    // The lost deliveries of window messages are in the corrected histogram
    // as lower bounds: the window's messages are the last `sent` numbers.
    let window = r.sent_total - r.sent..r.sent_total;
    let lost_in_window = 3 * window.filter(|n| n % 7 == 3).count() as u64;
    assert_eq!(r.latency_lower_bounds, lost_in_window, "{r:?}");
    assert_eq!(
        r.latency_corrected.summary.count,
        r.deliveries + lost_in_window,
        "{r:?}"
    );
}

#[test]
fn every_duplicated_message_is_a_duplicate_and_nothing_else() {
    let srv = start(Fault::Duplicate);
    let r = loadgen::chat::run(&settings(srv.addr)).unwrap();
    let n = faulty(r.sent_total);
    assert!(n > 0, "{r:?}");
    assert_eq!(classes(&r), (0, 3 * n, 0, 0), "{r:?}");
    assert_eq!(r.deliveries_total, 3 * (r.sent_total + n), "{r:?}");
    assert!(r.error_count() > 0);
}

#[test]
fn every_swapped_pair_is_one_reordering_and_nothing_else() {
    let srv = start(Fault::Swap);
    let r = loadgen::chat::run(&settings(srv.addr)).unwrap();
    let n = faulty(r.sent_total);
    // The last message is held for ever if it was one to swap.
    let held = u64::from(r.sent_total % 7 == 4);
    assert!(n > held, "{r:?}");
    assert_eq!(classes(&r), (3 * held, 0, 3 * (n - held), 0), "{r:?}");
    assert!(r.error_count() > 0);
}

#[test]
fn a_message_lost_to_one_recipient_is_lost_once() {
    let srv = start(Fault::LoseOne);
    let r = loadgen::chat::run(&settings(srv.addr)).unwrap();
    let n = faulty(r.sent_total);
    assert!(n > 0, "{r:?}");
    assert_eq!(classes(&r), (n, 0, 0, 0), "{r:?}");
}

#[test]
fn the_cli_exits_non_zero_on_loss_unless_allowed() {
    let srv = start(Fault::Drop);
    let addr = srv.addr.to_string();
    let args = [
        "chat",
        "--addr",
        &addr,
        "--members",
        "3",
        "--senders",
        "1",
        "--rate",
        "400",
        "--duration",
        "300ms",
        "--warmup",
        "50ms",
        "--drain-timeout",
        "300ms",
    ];
    let out = loadgen(&args, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("lost"));
    let mut allowed = args.to_vec();
    allowed.push("--allow-errors");
    let out = loadgen(&allowed, Duration::from_secs(30));
    assert!(out.status.success(), "{}", show(&out));
}
