//! The textbook servers are only a fair yardstick if they are correct echo servers: every echo case of
//! the conformance suite that needs no server limits must pass against each of them.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use conformance::tls::Trust;
use conformance::transport::Endpoint;
use conformance::wait::{KillOnDrop, poll_until};
use conformance::{Skipped, Target, cases};
use server_common::App;

fn start(model: &str) -> (KillOnDrop, SocketAddr) {
    // A free port: bind port 0, note it, release it for the server.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let child = Command::new(env!("CARGO_BIN_EXE_textbook"))
        .args([model, &addr.to_string()])
        .spawn()
        .expect("spawn textbook");
    // Killed and reaped however the test ends.
    let server = KillOnDrop(child);
    poll_until(Duration::from_secs(10), "listening", || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()
    })
    .unwrap_or_else(|err| panic!("textbook {model} on {addr}: {err:#}"));
    (server, addr)
}

fn echo_cases_pass(model: &str) {
    let (_server, addr) = start(model);
    echo_cases_pass_at(model, &Target::new(addr));
}

fn echo_cases_pass_at(model: &str, target: &Target) {
    let mut ran = 0;
    for case in cases(App::Echo) {
        match (case.run)(target) {
            Ok(()) => ran += 1,
            Err(err) if err.downcast_ref::<Skipped>().is_some() => {}
            Err(err) => panic!("textbook {model}: {}: {err:#}", case.name),
        }
    }
    assert!(
        ran >= 6,
        "only {ran} echo cases ran against textbook {model}"
    );
}

#[test]
fn threads() {
    echo_cases_pass("threads");
}

#[test]
fn tokio() {
    echo_cases_pass("tokio");
}

#[test]
fn async_std() {
    echo_cases_pass("async-std");
}

#[test]
fn smol() {
    echo_cases_pass("smol");
}

#[test]
fn mio() {
    echo_cases_pass("mio");
}

/// The work cases the textbook `work` server is held to: values, order, bounds and errors, CRLF,
/// half-close. The cases of the framing limits (control characters, bad UTF-8, the line cap, a
/// flood read late) are left out: like the textbook echo servers, it has no limits.
const TEXTBOOK_WORK_CASES: &[&str] = &[
    "values",
    "pipelined_in_order",
    "bounds_and_bad_args",
    "unknown_command",
    "crlf_and_empty_lines",
    "half_close",
];

#[test]
fn work() {
    let (_server, addr) = start("work");
    let target = Target::new(addr);
    for name in TEXTBOOK_WORK_CASES {
        let case = cases(App::Work)
            .iter()
            .find(|c| c.name == *name)
            .unwrap_or_else(|| panic!("no work case {name}"));
        if let Err(err) = (case.run)(&target) {
            panic!("textbook work: {name}: {err:#}");
        }
    }
}

#[test]
fn tokio_tls() {
    let dir = std::env::temp_dir().join(format!("textbook-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cert = dir.join("cert.pem");
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let child = Command::new(env!("CARGO_BIN_EXE_textbook"))
        .args(["tokio-tls", &addr.to_string(), &cert.to_string_lossy()])
        .spawn()
        .expect("spawn textbook");
    let _server = KillOnDrop(child);
    poll_until(Duration::from_secs(10), "certificate written", || {
        std::fs::metadata(&cert).ok().filter(|m| m.len() > 0)
    })
    .expect("textbook tokio-tls");
    let trust = Trust::Ca(cert.clone());
    let endpoint = poll_until(Duration::from_secs(10), "listening", || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
        Endpoint::parse(&format!("tls://{addr}"), Some(&trust), false).ok()
    })
    .expect("textbook tokio-tls");
    echo_cases_pass_at("tokio-tls", &Target::at(endpoint));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokio_unix() {
    let dir = std::env::temp_dir().join(format!("textbook-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("echo.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_textbook"))
        .args(["tokio-unix", &path.to_string_lossy()])
        .spawn()
        .expect("spawn textbook");
    let _server = KillOnDrop(child);
    poll_until(Duration::from_secs(10), "listening", || {
        std::os::unix::net::UnixStream::connect(&path).ok()
    })
    .expect("textbook tokio-unix");
    echo_cases_pass_at("tokio-unix", &Target::at(Endpoint::Unix(path)));
    let _ = std::fs::remove_dir_all(&dir);
}
