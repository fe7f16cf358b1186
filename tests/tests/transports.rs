//! Every variant over a unix-domain socket and over TLS, in-process: echo (with half-close) and a
//! chat session, plus the socket file's removal at stop; and the work conformance cases over both
//! transports, inline and offloaded (`work_over_unix::*`, `work_over_tls::*`), run unchanged through
//! the suite's own TLS and unix-socket client. The full conformance suite over these transports is stamped by the
//! client side's tests; these check the servers' side on their own.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use conformance::Target;
use serve::{App, Config, Impl, RunningServer};
use support::tls::{self, TlsLines};

per_variant!(
    echo_over_unix,
    chat_over_unix,
    echo_over_tls,
    echo_over_tls_streams_megabytes,
    chat_over_tls
);

/// Stamps work conformance cases over one transport: a module `$transport` with one module per server
/// configuration (`$mode = $config: [cases]`), each stamped per variant ([`per_variant!`]) with one
/// test per case, which `$run`s the case from `conformance::work` with that configuration.
macro_rules! work_cases_over {
    ($transport:ident, $run:ident; $($mode:ident = $config:expr => [$($case:ident),+ $(,)?]),+ $(,)?) => {
        mod $transport {$(
            mod $mode {
                $(
                    fn $case(imp: serve::Impl) {
                        crate::$run(imp, $config, conformance::work::$case);
                    }
                )+
                crate::per_variant!($($case),+);
            }
        )+}
    };
}

/// The work cases over each transport: every case inline, a representative few offloaded (the
/// pool's completions must reach a connection through the transport's wrapper too).
macro_rules! work_over {
    ($transport:ident, $run:ident) => {
        work_cases_over!(
            $transport, $run;
            inline = crate::support::test_config() => [
                values,
                pipelined_in_order,
                bounds_and_bad_args,
                unknown_command,
                control_characters,
                crlf_and_empty_lines,
                bad_utf8_keeps_connection,
                line_too_long_closes,
                half_close,
                pipelined_flood_with_late_reader,
            ],
            offloaded = crate::support::offload_test_config() => [
                values,
                pipelined_in_order,
                line_too_long_closes,
                half_close,
            ],
        );
    };
}

work_over!(work_over_unix, work_case_over_unix);
work_over!(work_over_tls, work_case_over_tls);

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

/// Whether `imp` serves `app` over TLS; if not, says so on stderr so the test passes without pretending.
fn tls_skipped(imp: Impl, app: App) -> bool {
    match imp.tls_unsupported_reason(app) {
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
    if tls_skipped(imp, App::Echo) {
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

/// Several megabytes echoed over TLS while the client reads at the same time: byte-exact, many
/// records each way and partial sends on the server (its socket fills), then a clean end.
fn echo_over_tls_streams_megabytes(imp: Impl) {
    if tls_skipped(imp, App::Echo) {
        return;
    }
    let server =
        RunningServer::start_tls(imp, App::Echo, support::test_config()).expect("start over TLS");
    let config = tls::client_config(&server.tls_certificate().expect("self-signed").cert_der);
    let client = tls::connect(server.addr(), &config).expect("handshake");
    let data: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    tls::echo_streaming(client, &data);
    support::stop_within_limit(server, &format!("{imp} echo of megabytes over TLS"));
}

/// A chat session over TLS: HELLO, a message between two clients, QUIT.
fn chat_over_tls(imp: Impl) {
    if tls_skipped(imp, App::Chat) {
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

/// A work conformance case against `imp` serving over a unix socket.
fn work_case_over_unix(imp: Impl, config: Config, case: fn(&Target) -> anyhow::Result<()>) {
    support::run_case_over_with(support::Transport::Unix, imp, App::Work, config, case);
}

/// A work conformance case against `imp` serving over TLS.
fn work_case_over_tls(imp: Impl, config: Config, case: fn(&Target) -> anyhow::Result<()>) {
    support::run_case_over_with(support::Transport::Tls, imp, App::Work, config, case);
}
