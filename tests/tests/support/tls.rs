//! A TLS test client on rustls (ring): a client configuration trusting one certificate, a connect
//! that completes the handshake, and a real ClientHello's bytes for hostile cases.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A client TLS stream over TCP.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A client configuration that trusts `cert` alone.
pub fn client_config(cert: &CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("trust the certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Reads the PEM certificate at `path` (as `--tls-cert-out` wrote it).
pub fn cert_from_pem_file(path: &std::path::Path) -> CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path).expect("read the certificate")
}

/// Connects to `addr` for `localhost` and completes the handshake (10 s timeouts on every call).
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<TlsStream> {
    let tcp = conformance::client::connect(addr).map_err(io::Error::other)?;
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Sends `data` and reads the same number of bytes back, checking they are equal.
pub fn roundtrip(stream: &mut TlsStream, data: &[u8]) {
    stream.write_all(data).expect("write");
    stream.flush().expect("flush");
    let mut back = vec![0; data.len()];
    stream.read_exact(&mut back).expect("read the echo");
    assert_eq!(back, data, "echo over TLS differs");
}

/// Sends `close_notify` and half-closes; the server's echo must then end with its own
/// `close_notify` (a clean end of stream), with nothing more before it.
pub fn close_and_expect_clean_end(mut stream: TlsStream) {
    stream.conn.send_close_notify();
    stream.flush().expect("send close_notify");
    let _ = stream.sock.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("a clean end of stream (the server's close_notify)");
    assert!(rest.is_empty(), "unexpected bytes before the end: {rest:?}");
}

/// A line reader over a TLS stream, for chat.
pub struct TlsLines(BufReader<TlsStream>);

impl TlsLines {
    /// Wraps `stream`.
    pub fn new(stream: TlsStream) -> TlsLines {
        TlsLines(BufReader::new(stream))
    }

    /// Sends one line (`\n` appended).
    pub fn send(&mut self, line: &str) {
        let stream = self.0.get_mut();
        stream
            .write_all(format!("{line}\n").as_bytes())
            .expect("write");
        stream.flush().expect("flush");
    }

    /// The next line, without its `\n`.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).expect("read a line");
        assert!(line.ends_with('\n'), "no complete line: {line:?}");
        line.pop();
        line
    }
}

/// The bytes of a real TLS ClientHello for `localhost`, as a client sends them first.
pub fn client_hello(config: &Arc<ClientConfig>) -> Vec<u8> {
    let name = ServerName::try_from("localhost").expect("server name");
    let mut conn = ClientConnection::new(Arc::clone(config), name).expect("client");
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).expect("client hello");
    }
    hello
}

/// Sends `data` and reads its echo at the same time (the socket non-blocking, writing and reading
/// in turn as each can proceed, so neither side's buffers have to hold the whole stream), checking
/// the echo byte for byte; then ends cleanly as [`close_and_expect_clean_end`].
pub fn echo_streaming(mut stream: TlsStream, data: &[u8]) {
    const CHUNK: usize = 64 * 1024;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    stream.sock.set_nonblocking(true).expect("non-blocking");
    let (mut written, mut back) = (0, Vec::with_capacity(data.len()));
    let mut buf = vec![0; CHUNK];
    while back.len() < data.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "echo stalled: {written} bytes written, {} read back",
            back.len()
        );
        let mut progressed = false;
        if written < data.len() && !stream.conn.wants_write() {
            let end = (written + CHUNK).min(data.len());
            written += stream
                .conn
                .writer()
                .write(&data[written..end])
                .expect("encrypt");
        }
        while stream.conn.wants_write() {
            match stream.conn.write_tls(&mut stream.sock) {
                Ok(_) => progressed = true,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("write: {err}"),
            }
        }
        match stream.conn.read_tls(&mut stream.sock) {
            Ok(0) => panic!(
                "the server closed after {} of {} bytes",
                back.len(),
                data.len()
            ),
            Ok(_) => {
                progressed = true;
                stream.conn.process_new_packets().expect("server records");
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => panic!("read: {err}"),
        }
        loop {
            match stream.conn.reader().read(&mut buf) {
                Ok(0) => panic!("close_notify after {} of {} bytes", back.len(), data.len()),
                Ok(n) => back.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("plaintext: {err}"),
            }
        }
        if !progressed {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    assert!(back == data, "the echo differs from what was sent");
    stream.sock.set_nonblocking(false).expect("blocking");
    close_and_expect_clean_end(stream);
}
