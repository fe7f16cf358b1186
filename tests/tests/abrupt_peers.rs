//! Half-open and abrupt peers: clients that reset, clients that connect and send nothing, and the
//! idle timeout (`--idle-timeout`, off by default) that reclaims silent ones.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use conformance::client::{self, connect, roundtrip};
use conformance::process::ServeCommand;
use serve::Impl;
use support::{footprint, settle, stable_footprint};

per_variant!(
    silent_and_reset_peers_neither_leak_nor_stall,
    echo_idle_timeout,
    chat_idle_timeout
);

/// 200 clients that connect and send nothing, and 200 that send half a message and reset: a fresh
/// client is served at once meanwhile; once the silent ones leave, fds and threads are back at baseline.
fn silent_and_reset_peers_neither_leak_nor_stall(imp: Impl) {
    let server = ServeCommand::new(imp, "echo").spawn().expect("spawn serve");
    let pid = server.pid();
    // Warm up first: the runtime starts its threads and opens its descriptors lazily.
    for _ in 0..5 {
        let mut warm = connect(server.addr()).expect("connect");
        roundtrip(&mut warm, b"warm up").expect("echo");
    }
    let baseline = stable_footprint(pid, Duration::from_secs(20));
    let silent: Vec<TcpStream> = (0..200)
        .map(|_| connect(server.addr()).expect("connect"))
        .collect();
    for i in 0..200 {
        let mut rude = connect(server.addr()).expect("connect");
        rude.write_all(&client::payload(i, 3000)).expect("write");
        client::reset(rude).expect("reset");
    }
    let mut fresh = connect(server.addr()).expect("connect");
    roundtrip(&mut fresh, b"served while 200 peers are silent").expect("fresh client served");
    drop(fresh);
    let held = footprint(pid);
    eprintln!("abrupt {imp}: baseline {baseline:?}, with 200 silent peers {held:?}");
    drop(silent);
    let after = settle(pid, baseline, Duration::from_secs(20));
    eprintln!("abrupt {imp}: after they left {after:?}");
    assert!(
        after.fds <= baseline.fds,
        "fd leak: {baseline:?} -> {after:?}"
    );
    assert!(
        after.threads <= baseline.threads,
        "thread leak: {baseline:?} -> {after:?}"
    );
}

/// With `--idle-timeout 1`, a silent echo client is closed; one that keeps talking is not.
fn echo_idle_timeout(imp: Impl) {
    let server = ServeCommand::new(imp, "echo")
        .args(["--idle-timeout", "1"])
        .spawn()
        .expect("spawn serve");
    let mut silent = connect(server.addr()).expect("connect");
    let mut talker = connect(server.addr()).expect("connect");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        roundtrip(&mut talker, b"still here").expect("talking client kept");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        client::is_closed_by_peer(&mut silent).expect("read"),
        "silent client not closed after 2.5 s with --idle-timeout 1"
    );
    roundtrip(&mut talker, b"after").expect("talking client kept");
}

/// With `--idle-timeout 1`, a silent chat client is disconnected and its rooms are told it left.
fn chat_idle_timeout(imp: Impl) {
    let server = ServeCommand::new(imp, "chat")
        .args(["--idle-timeout", "1"])
        .spawn()
        .expect("spawn serve");
    let target = conformance::Target::new(server.addr());
    let mut talker = conformance::chat_client::ChatClient::connect(&target).expect("talker");
    let mut silent = conformance::chat_client::ChatClient::connect(&target).expect("silent");
    silent.join("idle").expect("join");
    talker.join("idle").expect("join");
    // The talker keeps pinging; the silent client's LEFT arrives in between.
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = format!("LEFT idle {}", silent.nick);
    loop {
        assert!(Instant::now() < deadline, "no {left:?} within 10 s");
        talker.send("PING alive").expect("ping");
        let line = talker.read_line().expect("line");
        if line == left {
            break;
        }
        assert_eq!(line, "PONG alive", "unexpected line");
        std::thread::sleep(Duration::from_millis(100));
    }
    silent.read_until_closed().expect("silent client closed");
}
