//! Process-level chat cases: the `serve` binary as a child process, for what only a process shows
//! (the listening line, SIGTERM, memory).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conformance::Target;
use conformance::chat_client::{ChatClient, unique};
use conformance::process::ServeCommand;
use serve::Impl;
use support::rss_bytes;

per_variant!(
    listening_line_and_hello,
    sigterm_shutting_down,
    sigint_shutting_down,
    no_hello_after_signal,
    slow_consumer_memory_bounded
);

/// The binary prints exactly `listening <impl> chat 127.0.0.1:<port>`, and HELLO names the same impl.
fn listening_line_and_hello(imp: Impl) {
    let server = ServeCommand::new(imp, "chat").spawn().expect("spawn serve");
    assert_eq!(
        server.listening_line(),
        format!("listening {imp} chat {}", server.addr())
    );
    let client = ChatClient::connect(&Target::new(server.addr())).expect("HELLO");
    assert_eq!(client.imp, imp.name());
}

/// SIGTERM: every client receives what was already queued for it, then `ERR shutting-down` as its last
/// line, then the connection closes; no `LEFT` is broadcast; the process exits 0 within the drain
/// timeout although one client never reads (its queue and socket buffers full).
fn sigterm_shutting_down(imp: Impl) {
    shutting_down(imp, libc::SIGTERM);
}

/// SIGINT stops the server exactly like SIGTERM.
fn sigint_shutting_down(imp: Impl) {
    shutting_down(imp, libc::SIGINT);
}

/// A client that never reads, with megabytes of replies queued: it holds the drain open until the
/// drain deadline.
fn stuck_client(target: &Target) -> ChatClient {
    let mut stuck = ChatClient::connect(target).expect("connect");
    let token = "t".repeat(4000);
    for _ in 0..4000 {
        stuck.send(&format!("PING {token}")).expect("ping");
    }
    stuck
}

/// After the signal (seen by a client receiving `ERR shutting-down`) the server accepts no one: a
/// new connection is refused, or waits unserved until the process exits, and never gets `HELLO`.
fn no_hello_after_signal(imp: Impl) {
    let mut server = ServeCommand::new(imp, "chat")
        .args(["--drain-timeout", "2", "--queue-bytes", "67108864"])
        .spawn()
        .expect("spawn serve");
    let target = Target::new(server.addr());
    let mut watcher = ChatClient::connect(&target).expect("connect");
    let stuck = stuck_client(&target);
    watcher.sync().expect("server responsive");
    server.signal(libc::SIGTERM).expect("SIGTERM");
    watcher
        .expect_err("shutting-down")
        .expect("ERR shutting-down");
    watcher.expect_closed().expect("closed");
    match ChatClient::connect_raw(&target) {
        Err(err) => eprintln!("{imp}: connection after the signal refused: {err:#}"),
        Ok(mut late) => {
            let got = late
                .read_until_closed()
                .expect("a connection made after the signal not closed when the server exited");
            assert!(
                got.is_empty(),
                "{imp}: a connection made after the signal received {}",
                conformance::client::preview(&got)
            );
        }
    }
    let status = server
        .wait_timeout(Duration::from_secs(20))
        .expect("wait")
        .expect("server still running 20 s after SIGTERM (drain timeout 2 s)");
    assert!(status.success(), "exit status {status}");
    drop(stuck);
}

/// Sends `signal` with clients connected, one never reading; see [`sigterm_shutting_down`].
fn shutting_down(imp: Impl, signal: i32) {
    let mut server = ServeCommand::new(imp, "chat")
        .args(["--drain-timeout", "2", "--queue-bytes", "67108864"])
        .spawn()
        .expect("spawn serve");
    let target = Target::new(server.addr());
    let room = unique("term");
    let mut a = ChatClient::connect(&target).expect("connect");
    let mut b = ChatClient::connect(&target).expect("connect");
    a.join(&room).expect("join");
    b.join(&room).expect("join");
    a.expect(&format!("JOINED {room} {}", b.nick))
        .expect("joined");
    // Queued for b, not yet read.
    for i in 0..200 {
        a.send(&format!("MSG {room} queued {i}")).expect("msg");
    }
    a.sync().expect("sync");
    // A client that asks for megabytes of replies and never reads them.
    let stuck = stuck_client(&target);
    let mut probe = ChatClient::connect(&target).expect("connect");
    probe.sync().expect("server still responsive");

    let signalled = Instant::now();
    server.signal(signal).expect("signal");
    for i in 0..200 {
        b.expect(&format!("MSG {room} {} queued {i}", a.nick))
            .expect("queued line delivered before shutdown");
    }
    for client in [&mut b, &mut a, &mut probe] {
        client
            .expect_err("shutting-down")
            .expect("ERR shutting-down as the last line");
        client
            .expect_closed()
            .expect("closed after ERR shutting-down");
    }
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("wait")
        .expect("server still running 10 s after the signal (drain timeout 2 s)");
    let took = signalled.elapsed();
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr_text()
    );
    assert!(
        took < Duration::from_millis(3500),
        "exit took {took:?} with a 2 s drain timeout"
    );
    assert!(
        !server.stderr_text().contains("panicked"),
        "panic in stderr:\n{}",
        server.stderr_text()
    );
    drop(stuck);
}

/// The slow-consumer case against a child process, sampling its RSS: a member that never reads while
/// tens of MB go through its room costs the server its queue bound, not the traffic.
fn slow_consumer_memory_bounded(imp: Impl) {
    let server = ServeCommand::new(imp, "chat").spawn().expect("spawn serve");
    let pid = server.pid();
    let target = Target::new(server.addr());
    // Warm up: a few clients and messages, so that the baseline includes the runtime's steady state.
    conformance::chat::msg_to_other_members(&target).expect("warm-up");
    let baseline = rss_bytes(pid);
    let peak = AtomicU64::new(baseline);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(rss_bytes(pid), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let outcome = conformance::chat::slow_consumer(&target);
        done.store(true, Ordering::Release);
        outcome.expect("slow consumer case");
    });
    let growth = peak.load(Ordering::Acquire).saturating_sub(baseline);
    eprintln!(
        "{imp}: RSS baseline {} KiB, peak growth {} KiB",
        baseline / 1024,
        growth / 1024
    );
    assert!(
        growth < 16 << 20,
        "{imp}: RSS grew by {} KiB while ~26 MB went to a stalled member",
        growth / 1024
    );
}
