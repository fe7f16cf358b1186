//! Start-up: everything `serve` sets up before it announces itself — TLS (certificate and key, or a
//! self-signed certificate) and the listening socket (TCP or unix). A failure here is the user's
//! configuration, not a bug: it comes back as one line naming what and why, and `serve` exits 2.
//!
//! The `serve` binary, the in-process [`RunningServer::start_listening`](crate::RunningServer) and
//! the criterion benches' child server all set up their listener here, from the same
//! [`ListenOptions`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use server_common::tls::DEFAULT_HANDSHAKE_TIMEOUT;
use server_common::unix_socket::{SocketFile, bind_unix};
use server_common::{ListenAddr, Listener, Tls};

/// Where and how to listen: `serve`'s transport flags (`--addr`, `--unix`, `--tls-cert`, `--tls-key`,
/// `--tls-self-signed`, `--tls-cert-out`, `--tls-handshake-timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// The TCP address (`--addr`), unless `unix` is set.
    pub addr: SocketAddr,
    /// A unix-domain socket to listen on instead of TCP (`--unix PATH`).
    pub unix: Option<PathBuf>,
    /// TLS: the certificate chain (`--tls-cert`, PEM); with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// TLS: the private key (`--tls-key`, PEM); with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// TLS with a certificate made at start-up and signed by itself (`--tls-self-signed`).
    pub tls_self_signed: bool,
    /// With `tls_self_signed`: where to write the certificate (PEM) for clients to trust
    /// (`--tls-cert-out`).
    pub tls_cert_out: Option<PathBuf>,
    /// TLS: how long a client gets to complete its handshake (`--tls-handshake-timeout`).
    pub tls_handshake_timeout: Duration,
}

impl Default for ListenOptions {
    /// Plain TCP on 127.0.0.1, port chosen by the kernel.
    fn default() -> ListenOptions {
        ListenOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            unix: None,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            tls_cert_out: None,
            tls_handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl ListenOptions {
    /// Whether TLS is asked for (a certificate, or a self-signed one).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }

    /// Why these options cannot be used together, if they cannot (one line, as `serve` prints it
    /// before exiting 2).
    pub fn refusal(&self) -> Option<String> {
        if self.tls() && self.unix.is_some() {
            return Some(
                "--unix with TLS: the protocol defines TLS over TCP only (tls://IP:PORT)"
                    .to_owned(),
            );
        }
        if self.tls() && self.tls_handshake_timeout.is_zero() {
            return Some("--tls-handshake-timeout must be more than 0".to_owned());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Some("--tls-cert and --tls-key go together".to_owned());
        }
        if self.tls_cert_out.is_some() && !self.tls_self_signed {
            return Some("--tls-cert-out needs --tls-self-signed".to_owned());
        }
        None
    }
}

/// What start-up made: the bound listener, its address for the listening line, TLS if asked for, and
/// the unix socket's file (removed when dropped).
#[derive(Debug)]
pub struct Started {
    /// The bound listener.
    pub listener: Listener,
    /// Its address as the listening line prints it (`IP:PORT`, `tls://IP:PORT` or `unix:PATH`).
    pub addr: ListenAddr,
    /// The server's TLS setting, for [`Config::tls`](crate::Config).
    pub tls: Option<Tls>,
    /// The unix socket's file, removed when dropped: keep it until the server has stopped.
    pub socket_file: Option<SocketFile>,
}

/// Sets up TLS (writing a self-signed certificate to `tls_cert_out` if asked) and binds the listener;
/// on failure, the one line to print after `serve: `.
pub fn start(options: &ListenOptions) -> Result<Started, String> {
    if let Some(refusal) = options.refusal() {
        return Err(refusal);
    }
    let tls = tls(options)?;
    let (listener, socket_file) = match &options.unix {
        Some(path) => {
            let (listener, file) = bind_unix(path).map_err(|err| format!("--unix {err}"))?;
            (Listener::Unix(listener), Some(file))
        }
        None => {
            let listener = server_common::bind(options.addr).map_err(|err| {
                format!("cannot listen on {}: {}", options.addr, explain_bind(&err))
            })?;
            (Listener::Tcp(listener), None)
        }
    };
    let mut addr = listener
        .local_addr()
        .map_err(|err| format!("cannot read the bound address: {err}"))?;
    if tls.is_some() {
        addr = addr.with_tls();
    }
    Ok(Started {
        listener,
        addr,
        tls,
        socket_file,
    })
}

/// The TLS setting the options ask for, if any.
fn tls(options: &ListenOptions) -> Result<Option<Tls>, String> {
    let timeout = options.tls_handshake_timeout;
    if let (Some(cert), Some(key)) = (&options.tls_cert, &options.tls_key) {
        return Tls::from_pem_files(cert, key, timeout)
            .map(Some)
            .map_err(|err| format!("TLS: {err}"));
    }
    if !options.tls_self_signed {
        return Ok(None);
    }
    let made = Tls::self_signed(timeout).map_err(|err| format!("TLS: {err}"))?;
    if let Some(out) = &options.tls_cert_out {
        write_cert(out, &made.cert_pem)?;
    }
    Ok(Some(made.tls))
}

fn write_cert(path: &Path, pem: &str) -> Result<(), String> {
    std::fs::write(path, pem).map_err(|err| {
        format!(
            "--tls-cert-out {}: cannot write the certificate: {err}",
            path.display()
        )
    })
}

/// A bind error in words a user acts on.
fn explain_bind(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "no interface of this machine has that address".to_owned()
        }
        _ => err.to_string(),
    }
}
