//! Known answers over TLS and unix-domain sockets: loadgen's echo against the textbook references
//! (`textbook tokio-tls`, `textbook tokio-unix`) verifies every byte (every connection half-closes
//! and reads its whole stream back), counts its TLS handshakes, full and resumed, and reports a fault
//! when an in-test server corrupts the stream.

#![allow(clippy::unwrap_used)] // test code: failures should panic

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use conformance::wait::{KillOnDrop, poll_until};
use loadgen::echo::{EchoReport, EchoSettings};
use loadgen::results::counts::TlsHandshakes;
use loadgen::results::transport::Transport;

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("loadgen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the textbook binary (built once per test process) with `args`.
fn textbook(args: &[&str]) -> KillOnDrop {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(|| conformance::process::build_binary("textbook", None).unwrap());
    KillOnDrop(Command::new(bin).args(args).spawn().unwrap())
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

/// Starts `textbook tokio-tls`; returns it, its address and the certificate it wrote.
fn textbook_tls(dir: &Path) -> (KillOnDrop, SocketAddr, PathBuf) {
    let addr = free_addr();
    let cert = dir.join("cert.pem");
    let server = textbook(&["tokio-tls", &addr.to_string(), cert.to_str().unwrap()]);
    poll_until(
        Duration::from_secs(30),
        "textbook tokio-tls listening",
        || {
            let written = std::fs::metadata(&cert).is_ok_and(|m| m.len() > 0);
            (written && TcpStream::connect(addr).is_ok()).then_some(())
        },
    )
    .unwrap();
    (server, addr, cert)
}

fn settings(addr: SocketAddr, transport: Transport, conns: usize) -> EchoSettings {
    let mut s = EchoSettings::new(addr);
    s.transport = transport;
    s.conns = conns;
    s.threads = Some(1);
    s.warmup = Duration::ZERO;
    s.duration = Duration::from_millis(500);
    s
}

fn tls(ca: &Path, resume: bool) -> Transport {
    Transport::Tls {
        ca: Some(ca.to_owned()),
        server_name: "localhost".into(),
        resume,
    }
}

/// Every connection answered and closed cleanly after reading its whole stream back, no error.
fn assert_every_byte_verified(r: &EchoReport, conns: usize) {
    assert_eq!(r.errors.total(), 0, "errors: {:?}", r.first_error);
    assert!(r.messages > 0, "no message measured");
    assert_eq!(r.connect.established, conns);
    assert_eq!(r.conns_answered, conns);
    assert_eq!(r.conns_clean, conns, "not every stream came back whole");
}

#[test]
fn tls_echo_against_the_textbook_server_verifies_every_byte_with_full_handshakes() {
    let dir = TempDir::new("tls-full");
    let (_server, addr, cert) = textbook_tls(&dir.0);
    let r = loadgen::echo::run(&settings(addr, tls(&cert, false), 8)).unwrap();
    assert_every_byte_verified(&r, 8);
    assert_eq!(
        r.connect.tls,
        Some(TlsHandshakes {
            full: 8,
            resumed: 0
        })
    );
}

#[test]
fn tls_resume_resumes_the_sessions_of_earlier_connections() {
    let dir = TempDir::new("tls-resume");
    let (_server, addr, cert) = textbook_tls(&dir.0);
    let mut s = settings(addr, tls(&cert, true), 8);
    // One connection at a time, far enough apart for each to read its tickets.
    s.connect_rate = Some(20.0);
    let r = loadgen::echo::run(&s).unwrap();
    assert_every_byte_verified(&r, 8);
    let hs = r.connect.tls.unwrap();
    assert_eq!(hs.full + hs.resumed, 8, "{hs:?}");
    assert!(hs.full >= 1, "the first handshake cannot resume: {hs:?}");
    assert!(hs.resumed >= 1, "no handshake resumed: {hs:?}");
}

#[test]
fn tls_to_an_untrusted_certificate_fails_to_connect() {
    let dir = TempDir::new("tls-untrusted");
    let (_server, addr, _cert) = textbook_tls(&dir.0);
    // Trust another certificate than the server's.
    let other = dir.0.join("other.pem");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&other, made.cert.pem()).unwrap();
    let err = loadgen::echo::run(&settings(addr, tls(&other, false), 2)).unwrap_err();
    assert!(err.to_string().contains("no connection"), "{err}");
}

#[test]
fn unix_echo_against_the_textbook_server_verifies_every_byte() {
    let dir = TempDir::new("unix");
    let path = dir.0.join("echo.sock");
    let _server = textbook(&["tokio-unix", path.to_str().unwrap()]);
    poll_until(
        Duration::from_secs(30),
        "textbook tokio-unix listening",
        || std::os::unix::net::UnixStream::connect(&path).ok(),
    )
    .unwrap();
    let transport = Transport::Unix { path: path.clone() };
    let r = loadgen::echo::run(&settings(free_addr(), transport, 8)).unwrap();
    assert_every_byte_verified(&r, 8);
    assert_eq!(r.connect.tls, None);
}

/// An echo that flips one bit of byte 100 of every stream.
fn corrupting_echo(mut stream: impl Read + Write) {
    let mut buf = [0u8; 4096];
    let mut offset = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if (offset..offset + n as u64).contains(&100) {
            buf[(100 - offset) as usize] ^= 1;
        }
        offset += n as u64;
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
        let _ = stream.flush();
    }
}

fn assert_mismatch_reported(r: &EchoReport) {
    assert!(r.errors.mismatches >= 1, "no mismatch: {:?}", r.errors);
    assert!(
        r.first_error.as_deref().unwrap_or("").contains("mismatch"),
        "{:?}",
        r.first_error
    );
}

#[test]
fn unix_echo_reports_a_corrupting_server() {
    let dir = TempDir::new("unix-corrupt");
    let path = dir.0.join("bad.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2).flatten() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            std::thread::spawn(move || corrupting_echo(stream));
        }
    });
    let transport = Transport::Unix { path: path.clone() };
    let r = loadgen::echo::run(&settings(free_addr(), transport, 2)).unwrap();
    assert_mismatch_reported(&r);
}

#[test]
fn tls_echo_reports_a_corrupting_server() {
    let dir = TempDir::new("tls-corrupt");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.0.join("cert.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming().take(2).flatten() {
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let session = rustls::ServerConnection::new(config.clone()).unwrap();
            std::thread::spawn(move || {
                corrupting_echo(rustls::StreamOwned::new(session, socket));
            });
        }
    });
    let r = loadgen::echo::run(&settings(addr, tls(&cert, false), 2)).unwrap();
    assert_mismatch_reported(&r);
    assert_eq!(r.connect.tls.map(|t| t.full), Some(2));
}

#[test]
fn tls_churn_counts_every_handshake_full_or_resumed() {
    let dir = TempDir::new("tls-churn");
    let (_server, addr, cert) = textbook_tls(&dir.0);
    for resume in [false, true] {
        let mut s = loadgen::churn::ChurnSettings::new(addr);
        s.transport = tls(&cert, resume);
        s.rate = 100.0;
        s.duration = Duration::from_millis(300);
        s.threads = Some(1);
        let r = loadgen::churn::run(&s).unwrap();
        assert_eq!(r.error_count(), 0, "resume {resume}: {:?}", r.first_error);
        assert_eq!(r.completed, s.conns(), "resume {resume}");
        let hs = r.connect.tls.unwrap();
        assert_eq!(hs.full + hs.resumed, s.conns() as u64, "{hs:?}");
        if resume {
            assert!(hs.resumed >= 1, "no handshake resumed: {hs:?}");
        } else {
            assert_eq!(hs.resumed, 0, "{hs:?}");
        }
    }
}
