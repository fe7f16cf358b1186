//! The `serve` binary's command-line contract, per variant: the default bind address, the refusal of
//! a non-loopback `--addr` without `--expose`, a non-default `--max-line`, and nothing on stdout but
//! the listening line.

mod support;

use std::time::Duration;

use conformance::Target;
use conformance::chat_client::ChatClient;
use conformance::client::{connect, roundtrip};
use conformance::process::ServeCommand;
use serve::Impl;

per_variant!(
    default_bind_is_loopback,
    non_loopback_without_expose_refused,
    max_line_honoured,
    stdout_is_only_the_listening_line
);

/// How long a refusing server may take to exit.
const REFUSAL_LIMIT: Duration = Duration::from_secs(30);

/// Without `--addr` the server listens on 127.0.0.1 (a kernel-chosen port) and serves there.
fn default_bind_is_loopback(imp: Impl) {
    let server = ServeCommand::new(imp, "echo")
        .default_addr()
        .spawn()
        .expect("spawn serve");
    assert_eq!(
        server.addr().ip(),
        std::net::Ipv4Addr::LOCALHOST,
        "{}",
        server.listening_line()
    );
    let mut stream = connect(server.addr()).expect("connect");
    roundtrip(&mut stream, b"default bind").expect("echo");
}

/// `--addr 0.0.0.0:0` without `--expose`: exit status 2, one line on stderr naming the address and
/// `--expose`, nothing on stdout, nothing bound.
fn non_loopback_without_expose_refused(imp: Impl) {
    let mut command = ServeCommand::new(imp, "echo");
    command.addr = Some("0.0.0.0:0".to_owned());
    let (status, stdout, stderr) = command.run_to_exit(REFUSAL_LIMIT).expect("run serve");
    assert_eq!(
        status.code(),
        Some(2),
        "exit status {status}; stderr:\n{stderr}"
    );
    assert_eq!(stdout, "", "stdout of a refused start");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr is not one line:\n{stderr}");
    assert!(
        lines[0].contains("0.0.0.0:0") && lines[0].contains("--expose"),
        "the refusal does not name the address and --expose: {stderr}"
    );
}

/// `--max-line 64`: a line of exactly 64 bytes is served, one of 65 gets `ERR line-too-long` and the
/// connection closes.
fn max_line_honoured(imp: Impl) {
    const MAX_LINE: usize = 64;
    let server = ServeCommand::new(imp, "chat")
        .args(["--max-line", &MAX_LINE.to_string()])
        .spawn()
        .expect("spawn serve");
    let target = Target::new(server.addr());
    let mut client = ChatClient::connect(&target).expect("HELLO");
    let token = "t".repeat(MAX_LINE - "PING ".len());
    client
        .call(&format!("PING {token}"), &format!("PONG {token}"))
        .expect("a line of exactly --max-line bytes served");
    client.send(&format!("PING {token}x")).expect("send");
    client
        .expect_err("line-too-long")
        .expect("a line of --max-line + 1 bytes refused");
    client.expect_closed().expect("closed after line-too-long");
}

/// Through a whole session (HELLO, traffic, disconnects, SIGTERM) the server writes nothing to stdout
/// after its listening line.
fn stdout_is_only_the_listening_line(imp: Impl) {
    let mut server = ServeCommand::new(imp, "chat").spawn().expect("spawn serve");
    let target = Target::new(server.addr());
    conformance::chat::msg_to_other_members(&target).expect("traffic");
    conformance::chat::line_too_long_closes(&target).expect("traffic");
    let _held = ChatClient::connect(&target).expect("HELLO");
    server.signal(libc::SIGTERM).expect("SIGTERM");
    let status = server
        .wait_timeout(Duration::from_secs(20))
        .expect("wait")
        .expect("server still running 20 s after SIGTERM");
    assert!(status.success(), "exit status {status}");
    // stdout closed with the process; its collector has everything once it saw EOF (bounded poll).
    conformance::wait::poll_until(Duration::from_secs(5), "stdout closed", || {
        server.stdout_closed().then_some(())
    })
    .expect("stdout");
    let extra = server.stdout_after_listening();
    assert_eq!(extra, "", "{imp}: stdout after the listening line");
}
