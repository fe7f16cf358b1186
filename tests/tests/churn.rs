//! Churn without leaks: 10 000 connect / send / disconnect cycles against each variant's chat server
//! (a third closing cleanly, a third with a reset, a third with a FIN in the middle of a line). Afterwards
//! the server's open fds and threads are back at their baseline and its RSS within a small margin.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use conformance::Target;
use conformance::chat_client::ChatClient;
use conformance::client;
use conformance::process::ServeCommand;
use serve::Impl;
use support::{footprint, settle};

/// Cycles in the measured phase.
const CYCLES: usize = 10_000;
/// Cycles before the baseline is taken, so that thread stacks, allocator arenas and the runtime's
/// pools exist already.
const WARMUP: usize = 600;
/// Client threads running cycles at once.
const WORKERS: usize = 8;
/// RSS may end this much above the baseline: allocator arenas keep freed memory (glibc keeps up to
/// 8 arenas per core), which is not a leak. A leak of even 100 bytes per cycle would exceed it.
const RSS_MARGIN_KIB: u64 = 1024;

per_variant!(chat_churn_returns_to_baseline);

/// The long soak, not run by default: `cargo test -p conformance --test churn -- --ignored soak`
/// (`SOAK_CYCLES`, default 200 000, sets the length).
mod soak {
    #[test]
    #[ignore = "long soak; run by hand"]
    fn soak_threads() {
        super::soak(serve::Impl::Threads)
    }
    #[test]
    #[ignore = "long soak; run by hand"]
    fn soak_tokio() {
        super::soak(serve::Impl::Tokio)
    }
    #[test]
    #[ignore = "long soak; run by hand"]
    fn soak_async_std() {
        super::soak(serve::Impl::AsyncStd)
    }
    #[test]
    #[ignore = "long soak; run by hand"]
    fn soak_smol() {
        super::soak(serve::Impl::Smol)
    }
    #[test]
    #[ignore = "long soak; run by hand"]
    fn soak_uring() {
        if !crate::support::skipped(serve::Impl::Uring) {
            super::soak(serve::Impl::Uring)
        }
    }
}

fn soak(imp: Impl) {
    let cycles = std::env::var("SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    churn(imp, cycles);
}

/// One cycle; `kind` picks how it ends.
fn cycle(addr: std::net::SocketAddr, i: usize) {
    let mut chat = ChatClient::connect_raw(&Target::new(addr)).expect("connect");
    let room = format!("churn{}", i % 7);
    match i % 3 {
        // Clean: commands, half-close, the server answers and closes.
        0 => {
            let lines = format!("JOIN {room}\nMSG {room} cycle {i}\nQUIT\n");
            chat.send_raw(lines.as_bytes()).expect("write");
            let mut rest = chat.take_buffered();
            let mut stream = chat.stream();
            stream.read_to_end(&mut rest).expect("read to EOF");
            assert!(
                rest.ends_with(b"BYE\n"),
                "cycle {i}: {}",
                client::preview(&rest)
            );
        }
        // Reset in the middle of a line.
        1 => {
            let lines = format!("JOIN {room}\nMSG {room} half a li");
            chat.send_raw(lines.as_bytes()).expect("write");
            client::reset(chat.into_stream()).expect("reset");
        }
        // FIN in the middle of a line, without reading.
        _ => {
            let lines = format!("JOIN {room}\nMSG {room} unterminated");
            chat.send_raw(lines.as_bytes()).expect("write");
            drop(chat);
        }
    }
}

fn run_cycles(addr: std::net::SocketAddr, range: std::ops::Range<usize>) {
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let range = range.clone();
            scope.spawn(move || {
                for i in range.skip(worker).step_by(WORKERS) {
                    cycle(addr, i);
                }
            });
        }
    });
}

fn chat_churn_returns_to_baseline(imp: Impl) {
    churn(imp, CYCLES);
}

fn churn(imp: Impl, cycles: usize) {
    let server = ServeCommand::new(imp, "chat").spawn().expect("spawn serve");
    let pid = server.pid();
    run_cycles(server.addr(), 0..WARMUP);
    let baseline = settle(pid, footprint(pid), Duration::from_secs(10));
    let started = Instant::now();
    run_cycles(server.addr(), WARMUP..WARMUP + cycles);
    let elapsed = started.elapsed();
    let after = settle(pid, baseline, Duration::from_secs(20));
    eprintln!(
        "churn {imp}: {cycles} cycles in {elapsed:.1?}; fds {} -> {}, threads {} -> {}, RSS {} KiB -> {} KiB",
        baseline.fds, after.fds, baseline.threads, after.threads, baseline.rss_kib, after.rss_kib
    );
    assert!(
        after.fds <= baseline.fds,
        "fd leak: {baseline:?} -> {after:?}"
    );
    assert!(
        after.threads <= baseline.threads,
        "thread leak: {baseline:?} -> {after:?}"
    );
    assert!(
        after.rss_kib <= baseline.rss_kib + RSS_MARGIN_KIB,
        "RSS grew by more than {RSS_MARGIN_KIB} KiB: {baseline:?} -> {after:?}"
    );
    // And the server still works.
    let mut fresh = ChatClient::connect_raw(&Target::new(server.addr())).expect("connect");
    fresh.hello().expect("HELLO");
}
