//! Process-level echo cases: the `serve` binary as a child process, for what only a process shows
//! (signals, descriptor limits, CPU time).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use conformance::client::{self, connect, roundtrip};
use conformance::process::ServeCommand;
use conformance::wait::poll_until;
use serve::Impl;

per_variant!(
    listening_line,
    sigterm_with_clients,
    flushes_what_it_received_on_shutdown,
    no_echo_after_signal,
    emfile_recovery
);

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
/// connections that waited in the backlog. That the limit was hit is read from `/proc/PID/fd`, not
/// inferred from a client that was not answered.
fn emfile_recovery(imp: Impl) {
    const LIMIT: u64 = 48;
    /// Connections closed to free descriptors.
    const FREED: usize = 10;
    let server = ServeCommand::new(imp, "echo")
        .nofile_limit(LIMIT)
        .spawn()
        .expect("spawn serve");
    let fds = || server.probe().fd_count().expect("fd count of the server");
    // Open connections, each served, until the server holds all LIMIT descriptors.
    let mut served = Vec::new();
    while fds() < LIMIT {
        let i = served.len();
        assert!(
            (i as u64) < LIMIT,
            "{i} connections served but the server holds only {} of {LIMIT} fds",
            fds()
        );
        let mut stream = connect(server.addr()).expect("connect");
        roundtrip(&mut stream, format!("conn {i:03}").as_bytes()).unwrap_or_else(|err| {
            panic!(
                "connection {i} not served with {} of {LIMIT} fds open: {err:#}",
                fds()
            )
        });
        served.push(stream);
    }
    assert_eq!(
        fds(),
        LIMIT,
        "the server holds more fds than its RLIMIT_NOFILE"
    );
    assert!(
        served.len() > FREED,
        "only {} connections served before the fd limit",
        served.len()
    );
    // At the limit: the next connection completes its handshake in the backlog but is not accepted.
    let mut waiting = connect(server.addr()).expect("connect");
    waiting.write_all(b"waiting!").expect("write");
    waiting
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let early = client::read_exact_vec(&mut waiting, 8);
    assert!(
        early.is_err(),
        "a connection was served while the server held all {LIMIT} fds"
    );
    assert_eq!(fds(), LIMIT, "fd count changed while at the limit");

    // Out of descriptors: existing clients are still served, and the server is nearly idle.
    let before = server.cpu_time().expect("cpu");
    let measured = std::time::Instant::now();
    for (i, stream) in served.iter_mut().enumerate().take(5) {
        roundtrip(stream, format!("still {i}").as_bytes()).expect("existing client served");
    }
    // Give a busy accept loop time to show itself in the CPU figure (this is a measurement window,
    // not synchronisation).
    std::thread::sleep(Duration::from_secs(1));
    let burned = server.cpu_time().expect("cpu") - before;
    let window = measured.elapsed();
    assert!(
        burned < window.mul_f64(0.3),
        "server burned {burned:?} of CPU in {window:?} while out of descriptors (busy loop?)"
    );

    // Free descriptors: the connection that waited in the backlog is served.
    served.truncate(served.len() - FREED);
    waiting
        .set_read_timeout(Some(client::IO_TIMEOUT))
        .expect("timeout");
    let back = client::read_exact_vec(&mut waiting, 8).expect("backlogged connection served");
    assert_eq!(back, b"waiting!");
    let mut fresh = connect(server.addr()).expect("connect");
    roundtrip(&mut fresh, b"fresh").expect("new connection served");
}

/// Bytes of `stream`'s send queue the server has not acknowledged yet (`SIOCOUTQ`, which is `TIOCOUTQ`).
#[allow(unsafe_code)]
fn unacked(stream: &TcpStream) -> usize {
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one c_int through the pointer, which is valid for the call.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    usize::try_from(queued).expect("queue length")
}

/// A client with a tiny receive buffer sends 512 KiB without reading, so the server holds what it read
/// and cannot write. Once the server's kernel has acknowledged every byte, SIGTERM: the client then
/// reads all of it back, byte-exact, before an orderly close (EOF, not a reset), and the process
/// exits 0.
fn flushes_what_it_received_on_shutdown(imp: Impl) {
    const LEN: usize = 512 * 1024;
    let mut server = ServeCommand::new(imp, "echo")
        .args(["--drain-timeout", "5"])
        .spawn()
        .expect("spawn serve");
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect_timeout(&server.addr().into(), client::IO_TIMEOUT)
        .expect("connect");
    let mut stream: TcpStream = socket.into();
    let data = client::payload(20, LEN);
    stream
        .set_write_timeout(Some(client::IO_TIMEOUT))
        .expect("timeout");
    stream
        .write_all(&data)
        .expect("the server took less than 512 KiB without the client reading");
    poll_until(
        client::IO_TIMEOUT,
        "the server acknowledged every byte",
        || (unacked(&stream) == 0).then_some(()),
    )
    .expect("acknowledged");
    server.signal(libc::SIGTERM).expect("SIGTERM");
    stream
        .set_read_timeout(Some(client::IO_TIMEOUT))
        .expect("timeout");
    let mut back = Vec::with_capacity(LEN);
    let ended = client::read_until_closed(&mut stream, &mut back);
    let same = back.iter().zip(&data).position(|(a, b)| a != b);
    assert!(same.is_none(), "{imp}: echo differs at byte {same:?}");
    assert!(
        matches!(ended, Ok(client::Closed::Eof)) && back.len() == LEN,
        "{imp}: {} of {LEN} bytes the server had received came back before the close ({ended:?})",
        back.len()
    );
    let status = server
        .wait_timeout(Duration::from_secs(20))
        .expect("wait")
        .expect("server still running 20 s after SIGTERM");
    assert!(status.success(), "exit status {status}");
}

/// After the signal (seen by a client's connection closing) the server accepts no one: a new
/// connection is refused, or waits unserved until the process exits, and nothing is echoed on it.
fn no_echo_after_signal(imp: Impl) {
    let mut server = ServeCommand::new(imp, "echo")
        .args(["--drain-timeout", "2"])
        .spawn()
        .expect("spawn serve");
    let mut watcher = connect(server.addr()).expect("connect");
    roundtrip(&mut watcher, b"before").expect("echo");
    // A client that sends a lot and never reads: it holds the drain open until the deadline.
    let stuck = connect(server.addr()).expect("connect");
    stuck.set_nonblocking(true).expect("nonblocking");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..256 {
        if (&stuck).write(&chunk).is_err() {
            break;
        }
    }
    server.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(
        client::is_closed_by_peer(&mut watcher).expect("read"),
        "{imp}: client not closed after SIGTERM"
    );
    match connect(server.addr()) {
        Err(err) => eprintln!("{imp}: connection after the signal refused: {err:#}"),
        Ok(mut late) => {
            // Written into the backlog; never read by the server.
            let _ = late.write_all(b"late");
            let mut got = Vec::new();
            let ended = client::read_until_closed(&mut late, &mut got);
            assert!(
                got.is_empty(),
                "{imp}: a connection made after the signal was echoed {got:?}"
            );
            ended.expect("a connection made after the signal not closed when the server exited");
        }
    }
    let status = server
        .wait_timeout(Duration::from_secs(20))
        .expect("wait")
        .expect("server still running 20 s after SIGTERM (drain timeout 2 s)");
    assert!(status.success(), "exit status {status}");
}
