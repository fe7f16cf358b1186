//! Process-level echo cases: the `serve` binary as a child process, for what only a process shows
//! (signals, descriptor limits, CPU time).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use conformance::client::{self, connect, connect_with_timeout, roundtrip};
use conformance::process::ServeCommand;
use serve::Impl;

per_variant!(listening_line, sigterm_with_clients, emfile_recovery);

/// The binary prints exactly `listening <impl> echo 127.0.0.1:<port>` and serves there.
fn listening_line(imp: Impl) {
    let server = ServeCommand::new(imp, "echo").spawn().expect("spawn serve");
    let line = server.listening_line();
    assert_eq!(line, format!("listening {imp} echo {}", server.addr()));
    assert_ne!(server.addr().port(), 0);
    let mut stream = connect(server.addr()).expect("connect");
    roundtrip(&mut stream, b"ping").expect("echo");
}

/// SIGTERM with clients connected (one of them never reading): every client sees its connection
/// closed, and the process exits 0 within the drain timeout.
fn sigterm_with_clients(imp: Impl) {
    let mut server = ServeCommand::new(imp, "echo")
        .args(["--drain-timeout", "3"])
        .spawn()
        .expect("spawn serve");
    let mut clients: Vec<TcpStream> = (0..5)
        .map(|i| {
            let mut stream = connect(server.addr()).expect("connect");
            roundtrip(&mut stream, format!("client {i}").as_bytes()).expect("echo");
            stream
        })
        .collect();
    // A client that sends a lot and never reads: the server is blocked writing to it.
    let stuck = connect(server.addr()).expect("connect");
    stuck.set_nonblocking(true).expect("nonblocking");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..256 {
        if (&stuck).write(&chunk).is_err() {
            break;
        }
    }
    server.signal(libc::SIGTERM).expect("SIGTERM");
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("wait")
        .expect("server still running 10 s after SIGTERM (drain timeout 3 s)");
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.stderr_text()
    );
    for (i, stream) in clients.iter_mut().enumerate() {
        assert!(
            client::is_closed_by_peer(stream).expect("read"),
            "client {i} not closed after shutdown"
        );
    }
    assert!(
        !server.stderr_text().contains("panicked"),
        "panic in stderr:\n{}",
        server.stderr_text()
    );
}

/// Started with a low RLIMIT_NOFILE and flooded past it: existing clients keep being served, the
/// server burns almost no CPU while it cannot accept, and once descriptors are freed it accepts the
/// connections that waited in the backlog.
fn emfile_recovery(imp: Impl) {
    const LIMIT: u64 = 48;
    let server = ServeCommand::new(imp, "echo")
        .nofile_limit(LIMIT)
        .spawn()
        .expect("spawn serve");
    let short = Duration::from_millis(500);
    // Open connections until one is not served: that one waits in the backlog.
    let mut served = Vec::new();
    let mut waiting = None;
    for i in 0..LIMIT + 10 {
        let mut stream = connect_with_timeout(server.addr(), short).expect("connect");
        stream
            .write_all(format!("conn {i:03}").as_bytes())
            .expect("write");
        match client::read_exact_vec(&mut stream, 8) {
            Ok(back) => {
                assert_eq!(back, format!("conn {i:03}").as_bytes());
                served.push(stream);
            }
            Err(_) => {
                waiting = Some((i, stream));
                break;
            }
        }
    }
    let (waiting_id, mut waiting) = waiting.expect("the fd limit was never reached");
    assert!(
        served.len() >= 5,
        "only {} connections served",
        served.len()
    );

    // Out of descriptors: existing clients are still served, and the server is nearly idle.
    let before = server.cpu_time().expect("cpu");
    for (i, stream) in served.iter_mut().enumerate().take(5) {
        stream
            .set_read_timeout(Some(client::IO_TIMEOUT))
            .expect("timeout");
        roundtrip(stream, format!("still {i}").as_bytes()).expect("existing client served");
    }
    std::thread::sleep(Duration::from_secs(1));
    let burned = server.cpu_time().expect("cpu") - before;
    assert!(
        burned < Duration::from_millis(300),
        "server burned {burned:?} of CPU in ~1 s while out of descriptors (busy loop?)"
    );

    // Free descriptors: the connection that waited in the backlog is served.
    served.truncate(served.len() - 10);
    waiting
        .set_read_timeout(Some(client::IO_TIMEOUT))
        .expect("timeout");
    let back = client::read_exact_vec(&mut waiting, 8).expect("backlogged connection served");
    assert_eq!(back, format!("conn {waiting_id:03}").as_bytes());
    let mut fresh = connect(server.addr()).expect("connect");
    roundtrip(&mut fresh, b"fresh").expect("new connection served");
}
