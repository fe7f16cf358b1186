//! The textbook servers are only a fair yardstick if they are correct echo servers: every echo case of
//! the conformance suite that needs no server limits must pass against each of them.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use conformance::{Skipped, Target, cases};
use server_common::App;

/// Kills and reaps the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(model: &str) -> (Server, SocketAddr) {
    // A free port: bind port 0, note it, release it for the server.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let child = Command::new(env!("CARGO_BIN_EXE_textbook"))
        .args([model, &addr.to_string()])
        .spawn()
        .expect("spawn textbook");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            Instant::now() < deadline,
            "textbook {model} did not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, addr)
}

fn echo_cases_pass(model: &str) {
    let (_server, addr) = start(model);
    let target = Target::new(addr);
    let mut ran = 0;
    for case in cases(App::Echo) {
        match (case.run)(&target) {
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
