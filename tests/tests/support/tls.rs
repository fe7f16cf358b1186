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
