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

/// A temporary directory for this test process's certificates and sockets.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-process-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `serve` with `args`, expecting the refusal of a configuration: exit status 2, nothing on
/// stdout, and one line on stderr, `serve: ...`, containing every one of `names` (no backtrace,
/// whatever `RUST_BACKTRACE` says).
fn assert_refused(imp: Impl, args: &[&str], names: &[&str]) {
    let mut command = ServeCommand::new(imp, "echo").args(args.iter().copied());
    if args.contains(&"--unix") {
        command.addr = None; // --unix and --addr conflict
    }
    let (status, stdout, stderr) = command.run_to_exit(REFUSAL_LIMIT).expect("run serve");
    assert_eq!(
        status.code(),
        Some(2),
        "{args:?}: status {status}; stderr:\n{stderr}"
    );
    assert_eq!(stdout, "", "{args:?}: stdout of a refused start");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: stderr is not one line:\n{stderr}"
    );
    assert!(lines[0].starts_with("serve: "), "{args:?}: {stderr}");
    for name in names {
        assert!(
            lines[0].contains(name),
            "{args:?}: {name:?} not named: {stderr}"
        );
    }
}

/// A missing or unusable certificate or key: exit 2 with one line naming the file; TLS over a unix
/// socket and TLS on a variant without it are refused the same way.
#[test]
fn tls_configuration_errors_are_refused_naming_the_file() {
    let dir = temp_dir("tls");
    let (missing, junk) = (dir.join("missing.pem"), dir.join("junk.pem"));
    std::fs::write(&junk, "not a PEM file\n").expect("write");
    let (missing, junk) = (
        missing.to_str().expect("utf-8"),
        junk.to_str().expect("utf-8"),
    );
    let imp = Impl::Tokio;
    assert_refused(imp, &["--tls-cert", missing, "--tls-key", junk], &[missing]);
    assert_refused(
        imp,
        &["--tls-cert", junk, "--tls-key", junk],
        &[junk, "certificate"],
    );
    let cert = dir.join("cert.pem");
    let made = ServeCommand::new(imp, "echo")
        .args([
            "--tls-self-signed",
            "--tls-cert-out",
            cert.to_str().expect("utf-8"),
        ])
        .spawn()
        .expect("spawn serve");
    drop(made);
    let cert = cert.to_str().expect("utf-8");
    assert_refused(imp, &["--tls-cert", cert, "--tls-key", missing], &[missing]);
    assert_refused(
        imp,
        &["--tls-cert", cert, "--tls-key", junk],
        &[junk, "private key"],
    );
    assert_refused(
        imp,
        &["--tls-cert", cert, "--tls-key", cert],
        &[cert, "private key"],
    );
    let sock = dir.join("tls.sock");
    assert_refused(
        imp,
        &["--unix", sock.to_str().expect("utf-8"), "--tls-self-signed"],
        &["--unix", "TLS"],
    );
    for imp in Impl::ALL {
        if imp.tls_unsupported_reason().is_some() && !support::skipped(imp) {
            assert_refused(imp, &["--tls-self-signed"], &[imp.name(), "TLS"]);
        }
    }
}

/// `--unix` with an existing regular file (left untouched), with a directory that does not exist, and
/// with a socket another server answers on: exit 2 with one line naming the path.
#[test]
fn unusable_unix_paths_are_refused_naming_the_path() {
    let dir = temp_dir("unix-refused");
    let regular = dir.join("regular.txt");
    std::fs::write(&regular, "keep me").expect("write");
    let regular_str = regular.to_str().expect("utf-8");
    assert_refused(
        Impl::Threads,
        &["--unix", regular_str],
        &[regular_str, "not a socket"],
    );
    assert_eq!(std::fs::read_to_string(&regular).expect("read"), "keep me");
    let nowhere = dir.join("no-such-dir").join("x.sock");
    let nowhere = nowhere.to_str().expect("utf-8");
    assert_refused(Impl::Threads, &["--unix", nowhere], &[nowhere]);
    let live = dir.join("live.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&live).expect("bind");
    let live = live.to_str().expect("utf-8");
    assert_refused(Impl::Threads, &["--unix", live], &[live, "listening"]);
}

/// A stale socket file (nothing answers on it) is replaced; the server serves there, announces
/// `unix:PATH`, and removes the file when SIGTERM stops it.
#[test]
fn unix_socket_replaces_a_stale_file_and_is_removed_after_sigterm() {
    use std::io::{Read, Write};
    let path = temp_dir("unix-stale").join("echo.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind")); // leaves a stale file
    assert!(path.exists());
    let path_str = path.to_str().expect("utf-8");
    let mut command = ServeCommand::new(Impl::Tokio, "echo").args(["--unix", path_str]);
    command.addr = None;
    let mut server = command.spawn().expect("spawn serve");
    assert_eq!(
        server.listening_line(),
        format!("listening tokio echo unix:{path_str}")
    );
    let mut client = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    client.write_all(b"unix").expect("write");
    let mut back = [0; 4];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"unix");
    server.signal(libc::SIGTERM).expect("SIGTERM");
    let status = server
        .wait_timeout(Duration::from_secs(20))
        .expect("wait")
        .expect("server still running 20 s after SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(
        !path.exists(),
        "the socket file is left behind after SIGTERM"
    );
}

/// `--addr` on a port another socket listens on, and `--max-line 0`: exit 2 with one line (no
/// backtrace), as any other configuration the server cannot use.
#[test]
fn address_in_use_and_zero_limits_are_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut command = ServeCommand::new(Impl::Tokio, "echo");
    command.addr = Some(addr.clone());
    let (status, stdout, stderr) = command.run_to_exit(REFUSAL_LIMIT).expect("run serve");
    assert_eq!(status.code(), Some(2), "status {status}; stderr:\n{stderr}");
    assert_eq!(stdout, "");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr is not one line:\n{stderr}");
    assert!(
        lines[0].contains(&addr) && lines[0].contains("in use"),
        "{stderr}"
    );
    assert_refused(Impl::Tokio, &["--max-line", "0"], &["--max-line"]);
}
