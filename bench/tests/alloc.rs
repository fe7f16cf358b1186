//! The per-message path allocates nothing, in every scenario: the number of
//! allocations of a run does not grow with the number of messages (echo) or
//! deliveries (chat). The in-test servers allocate nothing per message
//! either (they run in this process, so their allocations count too).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loadgen::chat::{self, ChatSettings};
use loadgen::echo::{self, EchoSettings};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is process-wide: the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// An echo server that allocates nothing per message (one buffer per
/// connection), serving `conns` connections then returning.
fn server(conns: usize) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..conns {
            let Ok((mut s, _)) = l.accept() else { return };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

/// Messages per second of the echo runs.
const ECHO_RATE: f64 = 4000.0;

fn run(duration_ms: u64) -> (u64, u64) {
    let addr = server(4);
    let mut s = EchoSettings::new(addr);
    s.conns = 4;
    s.threads = Some(1);
    // An open loop: the message count is the schedule's, not the machine's
    // speed (a closed loop on a loaded machine may do too few to compare).
    s.rate = Some(ECHO_RATE);
    s.warmup = Duration::ZERO;
    s.duration = Duration::from_millis(duration_ms);
    let before = ALLOCS.load(Ordering::Relaxed);
    let r = echo::run(&s).unwrap();
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(r.error_count(), 0);
    (r.messages, allocs)
}

#[test]
fn allocations_do_not_grow_with_messages() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (m1, a1) = run(100);
    let (m2, a2) = run(600);
    // Exactly the scheduled messages (every one completes).
    assert_eq!((m1, m2), (400, 2400));
    // Allow for run-to-run noise (thread start-up, timing-dependent paths),
    // far below one allocation per message.
    let extra = a2.saturating_sub(a1);
    eprintln!("{a1} allocations for {m1} messages, {a2} for {m2}");
    assert!(
        extra < 100,
        "{a1} allocations for {m1} messages, {a2} for {m2}"
    );
}

/// A one-room chat relay that allocates nothing per message: each client's
/// thread reads lines into one reused buffer and writes each MSG, prefixed
/// with the room and the sender's nick, to every other member.
fn chat_server(clients: usize) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let members: Arc<Mutex<Vec<(usize, TcpStream)>>> = Arc::default();
    std::thread::spawn(move || {
        for id in 0..clients {
            let Ok((s, _)) = l.accept() else { return };
            let members = members.clone();
            std::thread::spawn(move || relay(id, s, &members));
        }
    });
    addr
}

fn relay(id: usize, mut s: TcpStream, members: &Mutex<Vec<(usize, TcpStream)>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(b"HELLO chat/1\n").is_err() {
        return;
    }
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = Vec::with_capacity(8192);
    let mut out = [0u8; 8192];
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.starts_with(b"JOIN ") {
            members.lock().unwrap().push((id, s.try_clone().unwrap()));
            let _ = s.write_all(b"OK JOIN r0\n");
        } else if let Some(text) = line.strip_prefix(b"MSG r0 ") {
            let head = b"MSG r0 nick ";
            let n = head.len() + text.len();
            out[..head.len()].copy_from_slice(head);
            out[head.len()..n].copy_from_slice(text);
            for (other, m) in members.lock().unwrap().iter_mut() {
                if *other != id {
                    let _ = m.write_all(&out[..n]);
                }
            }
        }
    }
    members.lock().unwrap().retain(|(other, _)| *other != id);
}

fn run_chat(duration_ms: u64) -> (u64, u64) {
    let addr = chat_server(4);
    let mut s = ChatSettings::new(addr);
    s.members = 4;
    s.senders = 2;
    s.rate = 2000.0;
    s.threads = Some(1);
    s.warmup = Duration::ZERO;
    s.duration = Duration::from_millis(duration_ms);
    let before = ALLOCS.load(Ordering::Relaxed);
    let r = chat::run(&s).unwrap();
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(r.error_count(), 0, "{r:?}");
    (r.deliveries, allocs)
}

#[test]
fn chat_allocations_do_not_grow_with_deliveries() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (m1, a1) = run_chat(100);
    let (m2, a2) = run_chat(600);
    // Exactly the scheduled messages times 3 receivers each.
    assert_eq!((m1, m2), (600, 3600));
    let extra = a2.saturating_sub(a1);
    eprintln!("{a1} allocations for {m1} deliveries, {a2} for {m2}");
    assert!(
        extra < 100,
        "{a1} allocations for {m1} deliveries, {a2} for {m2}"
    );
}
