//! Every variant over a unix-domain socket and over TLS, in-process: echo (with half-close) and a
//! chat session, plus the socket file's removal at stop. The full conformance suite over these
//! transports is stamped by the client side's tests; these check the servers' side on their own.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serve::{App, Impl, RunningServer};
use support::tls::{self, TlsLines};

per_variant!(echo_over_unix, chat_over_unix, echo_over_tls, chat_over_tls);

/// Bounds every read and write of the test clients.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh path for a socket in a directory of this test process.
fn socket_path(imp: Impl, app: App) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("transports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{imp}-{app}.sock"))
}

fn unix_client(path: &std::path::Path) -> UnixStream {
    let stream = UnixStream::connect(path).expect("connect to the unix socket");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

/// Whether `imp` serves TLS; if not, says so on stderr so the test passes without pretending.
fn tls_skipped(imp: Impl) -> bool {
    match imp.tls_unsupported_reason() {
        Some(reason) => {
            eprintln!("SKIPPED {imp} over TLS: {reason}");
            true
        }
        None => false,
    }
}

/// Echo over a unix socket: the listening address is `unix:PATH`, bytes come back, half-close
/// ends the stream, and the socket file is gone once the server stopped.
fn echo_over_unix(imp: Impl) {
    let path = socket_path(imp, App::Echo);
    let server = RunningServer::start_unix(imp, App::Echo, support::test_config(), &path)
        .expect("start over unix");
    assert_eq!(
        server.listen_addr().to_string(),
        format!("unix:{}", path.display())
    );
    let mut client = unix_client(&path);
    client.write_all(b"over a unix socket").expect("write");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut back = Vec::new();
    client.read_to_end(&mut back).expect("read to the end");
    assert_eq!(back, b"over a unix socket");
    support::stop_within_limit(server, &format!("{imp} echo over unix"));
    assert!(!path.exists(), "the socket file is left behind");
}

/// A chat session over a unix socket: HELLO, PING, QUIT.
fn chat_over_unix(imp: Impl) {
    let path = socket_path(imp, App::Chat);
    let server = RunningServer::start_unix(imp, App::Chat, support::test_config(), &path)
        .expect("start over unix");
    let mut client = unix_client(&path);
    let mut lines = BufReader::new(client.try_clone().expect("clone"));
    let mut line = String::new();
    lines.read_line(&mut line).expect("HELLO");
    assert!(
        line.starts_with(&format!("HELLO chat/1 {imp} guest")),
        "{line:?}"
    );
    client.write_all(b"PING unix\nQUIT\n").expect("write");
    for expected in ["PONG unix\n", "BYE\n"] {
        line.clear();
        lines.read_line(&mut line).expect("reply");
        assert_eq!(line, expected);
    }
    support::stop_within_limit(server, &format!("{imp} chat over unix"));
    assert!(!path.exists(), "the socket file is left behind");
}

/// Echo over TLS with a self-signed certificate: the listening address is `tls://IP:PORT`, bytes
/// come back, and the client's `close_notify` plus half-close ends the stream cleanly.
fn echo_over_tls(imp: Impl) {
    if tls_skipped(imp) {
        return;
    }
    let server =
        RunningServer::start_tls(imp, App::Echo, support::test_config()).expect("start over TLS");
    assert_eq!(
        server.listen_addr().to_string(),
        format!("tls://{}", server.addr())
    );
    let cert = &server.tls_certificate().expect("self-signed").cert_der;
    let config = tls::client_config(cert);
    let mut client = tls::connect(server.addr(), &config).expect("handshake");
    tls::roundtrip(&mut client, b"over TLS");
    tls::roundtrip(&mut client, &vec![b'x'; 100_000]); // several records each way
    tls::close_and_expect_clean_end(client);
    support::stop_within_limit(server, &format!("{imp} echo over TLS"));
}

/// A chat session over TLS: HELLO, a message between two clients, QUIT.
fn chat_over_tls(imp: Impl) {
    if tls_skipped(imp) {
        return;
    }
    let server =
        RunningServer::start_tls(imp, App::Chat, support::test_config()).expect("start over TLS");
    let config = tls::client_config(&server.tls_certificate().expect("self-signed").cert_der);
    let mut alice = TlsLines::new(tls::connect(server.addr(), &config).expect("handshake"));
    let mut bob = TlsLines::new(tls::connect(server.addr(), &config).expect("handshake"));
    for client in [&mut alice, &mut bob] {
        let hello = client.line();
        assert!(
            hello.starts_with(&format!("HELLO chat/1 {imp} guest")),
            "{hello:?}"
        );
    }
    alice.send("NICK alice");
    assert_eq!(alice.line(), "OK NICK alice");
    for client in [&mut alice, &mut bob] {
        client.send("JOIN tls");
        assert_eq!(client.line(), "OK JOIN tls");
    }
    assert!(alice.line().starts_with("JOINED tls guest"));
    alice.send("MSG tls over TLS");
    assert_eq!(bob.line(), "MSG tls alice over TLS");
    bob.send("QUIT");
    assert_eq!(bob.line(), "BYE");
    assert!(alice.line().starts_with("LEFT tls guest"));
    support::stop_within_limit(server, &format!("{imp} chat over TLS"));
}
