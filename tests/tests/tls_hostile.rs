//! Hostile TLS clients against a `serve` process per variant (`--tls-self-signed`, a short
//! `--tls-handshake-timeout`): plaintext sent to the TLS port, a garbage ClientHello, a truncated
//! ClientHello, a client that starts nothing and one that never finishes its handshake, and a client
//! that resets in the middle of a record. Each is closed, a TLS client connected all along is
//! served before and after, the server stays nearly idle while a stalled handshake waits (no busy
//! loop), and its open fds and threads return to their baseline.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use conformance::process::{ServeCommand, ServeProcess};
use serve::Impl;
use support::tls;

per_variant!(hostile_tls_clients_are_closed_and_nothing_else_is_disturbed);

/// The handshake timeout the server runs with: short, so the stalled cases end quickly.
const HANDSHAKE_TIMEOUT: &str = "0.5";

/// How long a hostile connection may stay open before the server must have closed it: the
/// handshake timeout plus generous slack for a loaded machine.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

fn cert_path(imp: Impl) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tls-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{imp}.pem"))
}

/// A plain TCP connection with reads bounded by [`CLOSE_LIMIT`].
fn raw(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(CLOSE_LIMIT)).expect("timeout");
    stream
        .set_write_timeout(Some(CLOSE_LIMIT))
        .expect("timeout");
    stream
}

/// Reads until the server closes (EOF or reset) and returns what arrived; panics if the connection
/// is still open after [`CLOSE_LIMIT`].
fn until_closed(mut stream: TcpStream, what: &str) -> Vec<u8> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(err) => panic!("{what}: not closed after {:?}: {err}", started.elapsed()),
        }
    }
}

fn hostile_tls_clients_are_closed_and_nothing_else_is_disturbed(imp: Impl) {
    if let Some(reason) = imp.tls_unsupported_reason() {
        eprintln!("SKIPPED {imp} over TLS: {reason}");
        return;
    }
    let cert = cert_path(imp);
    let server = ServeCommand::new(imp, "echo")
        .args(["--tls-self-signed", "--tls-cert-out"])
        .args([cert.to_str().expect("utf-8 path")])
        .args([
            "--tls-handshake-timeout",
            HANDSHAKE_TIMEOUT,
            "--workers",
            "2",
        ])
        .spawn()
        .expect("spawn serve");
    assert!(server.listening_line().contains(" tls://127.0.0.1:"));
    let addr = server.addr();
    let config = tls::client_config(&tls::cert_from_pem_file(&cert));
    let baseline = support::stable_footprint(server.pid(), Duration::from_secs(30));

    let mut good = tls::connect(addr, &config).expect("a good client's handshake");
    tls::roundtrip(&mut good, b"before");

    // Plaintext to the TLS port: closed, and never echoed (no plaintext fallback).
    let mut plain = raw(addr);
    plain.write_all(b"hello in plaintext\n").expect("write");
    let got = until_closed(plain, "plaintext");
    assert!(
        !got.windows(5).any(|w| w == b"hello"),
        "plaintext was echoed: {got:?}"
    );

    // A record that claims to be a handshake but holds garbage.
    let mut garbage = raw(addr);
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x20, 0xde, 0xad, 0xbe, 0xef])
        .expect("write");
    garbage.write_all(&[0x5a; 28]).expect("write");
    until_closed(garbage, "garbage ClientHello");

    // Half a real ClientHello, then nothing: closed at the handshake timeout. Meanwhile the
    // server must stay nearly idle (a stalled handshake is no busy loop).
    let hello = tls::client_hello(&config);
    let mut truncated = raw(addr);
    truncated
        .write_all(&hello[..hello.len() / 2])
        .expect("write");
    let silent = raw(addr); // connects, sends nothing
    let cpu_before = server.cpu_time().expect("cpu time");
    let waited = Instant::now();
    until_closed(truncated, "truncated ClientHello");
    until_closed(silent, "silent client");
    let (cpu, wall) = (
        server.cpu_time().expect("cpu time") - cpu_before,
        waited.elapsed(),
    );
    assert!(
        cpu < wall / 3 + Duration::from_millis(100),
        "the server used {cpu:?} of CPU in {wall:?} while handshakes stalled"
    );

    // A client that completes its handshake, starts a record and resets the connection.
    let mut resetting = tls::connect(addr, &config).expect("handshake");
    resetting
        .sock
        .write_all(&[0x17, 0x03, 0x03, 0x04, 0x00, 1, 2, 3, 4, 5])
        .expect("a partial record");
    socket2::SockRef::from(&resetting.sock)
        .set_linger(Some(Duration::ZERO))
        .expect("linger 0");
    drop(resetting); // RST

    tls::roundtrip(&mut good, b"after");
    tls::close_and_expect_clean_end(good);

    let now = support::settle(server.pid(), baseline, Duration::from_secs(30));
    assert!(
        now.fds <= baseline.fds && now.threads <= baseline.threads,
        "not back to baseline: {baseline:?} then {now:?}"
    );
    stop(server);
}

/// SIGTERM, then the server must exit 0.
fn stop(mut server: ServeProcess) {
    server.signal(libc::SIGTERM).expect("SIGTERM");
    let status = server
        .wait_timeout(Duration::from_secs(30))
        .expect("wait")
        .expect("serve did not exit after SIGTERM");
    assert!(status.success(), "exit status {status}");
}
