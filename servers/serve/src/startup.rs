//! Start-up: everything `serve` sets up before it announces itself — TLS (certificate and key, or a
//! self-signed certificate) and the listening socket (TCP or unix). A failure here is the user's
//! configuration, not a bug: it comes back as one line naming what and why, and `serve` exits 2.

use std::path::Path;
use std::time::Duration;

use serve::{ListenAddr, Listener, Tls};
use server_common::unix_socket::{SocketFile, bind_unix};

use crate::Args;

/// What start-up made: the bound listener, its address for the listening line, TLS if asked for, and
/// the unix socket's file (removed when dropped).
pub(crate) struct Started {
    pub(crate) listener: Listener,
    pub(crate) addr: ListenAddr,
    pub(crate) tls: Option<Tls>,
    pub(crate) socket_file: Option<SocketFile>,
}

/// Sets up TLS and binds the listener; on failure, the one line to print after `serve: `.
pub(crate) fn start(args: &Args) -> Result<Started, String> {
    let tls = tls(args)?;
    let (listener, socket_file) = match &args.unix {
        Some(path) => {
            let (listener, file) = bind_unix(path).map_err(|err| format!("--unix {err}"))?;
            (Listener::Unix(listener), Some(file))
        }
        None => {
            let listener = server_common::bind(args.addr)
                .map_err(|err| format!("cannot listen on {}: {}", args.addr, explain_bind(&err)))?;
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

/// The TLS setting the flags ask for, if any.
fn tls(args: &Args) -> Result<Option<Tls>, String> {
    let timeout = Duration::from_secs_f64(args.tls_handshake_timeout);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Tls::from_pem_files(cert, key, timeout)
            .map(Some)
            .map_err(|err| format!("TLS: {err}"));
    }
    if !args.tls_self_signed {
        return Ok(None);
    }
    let made = Tls::self_signed(timeout).map_err(|err| format!("TLS: {err}"))?;
    if let Some(out) = &args.tls_cert_out {
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
