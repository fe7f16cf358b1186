//! The per-message path allocates nothing: the number of allocations of a
//! run does not grow with the number of messages.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

fn run(duration_ms: u64) -> (u64, u64) {
    let addr = server(4);
    let mut s = EchoSettings::new(addr);
    s.conns = 4;
    s.threads = Some(1);
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
    let (m1, a1) = run(100);
    let (m2, a2) = run(600);
    assert!(m2 >= m1 + 500, "{m1} {m2}");
    // Allow for run-to-run noise (thread start-up, timing-dependent paths),
    // far below one allocation per message.
    let extra = a2.saturating_sub(a1);
    eprintln!("{a1} allocations for {m1} messages, {a2} for {m2}");
    assert!(
        extra < 100,
        "{a1} allocations for {m1} messages, {a2} for {m2}"
    );
}
