//! Textbook TLS echo on tokio (the server example of tokio-rustls): the multi-thread runtime with its
//! defaults, a task per connection, the handshake, then read and write back. The certificate is made
//! at start-up (rcgen, self-signed for `localhost` and `127.0.0.1`) and written as PEM to a path the
//! client trusts; rustls's defaults otherwise (TLS 1.3 and 1.2, in-memory session cache for
//! resumption).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Serves TLS echo on `addr` forever, its certificate written to `cert_out` first.
pub fn serve(addr: SocketAddr, cert_out: &Path) -> io::Result<()> {
    let config = Arc::new(server_config(cert_out)?);
    tokio::runtime::Runtime::new()?.block_on(async {
        let acceptor = TlsAcceptor::from(config);
        let listener = TcpListener::bind(addr).await?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(echo(acceptor.clone(), stream));
        }
    })
}

fn server_config(cert_out: &Path) -> io::Result<rustls::ServerConfig> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(io::Error::other)?;
    std::fs::write(cert_out, made.cert.pem())?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .map_err(io::Error::other)
}

async fn echo(acceptor: TlsAcceptor, stream: TcpStream) {
    let Ok(mut stream) = acceptor.accept(stream).await else {
        return;
    };
    let mut buf = vec![0; crate::BUF_SIZE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}
