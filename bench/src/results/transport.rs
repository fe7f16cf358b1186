//! The transport a run used, as recorded in its settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Over which transport the generator reaches the server: plain TCP to the settings' `addr` (the
/// default, and what results written before transports existed mean), TLS to that address, or a
/// unix-domain socket (the `addr` is then unused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Transport {
    /// Plain TCP.
    #[default]
    Tcp,
    /// TLS (rustls, ring) over TCP.
    Tls {
        /// The certificate to trust (PEM); `None`: no verification (`--insecure`).
        ca: Option<PathBuf>,
        /// The name the client sends and verifies (the host of `tls://HOST:PORT`).
        server_name: String,
        /// Connections share a session cache and resume earlier sessions (`--tls-resume`).
        resume: bool,
    },
    /// A unix-domain stream socket.
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
}

impl Transport {
    /// The transport's name: `tcp`, `tls` or `unix`.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls { .. } => "tls",
            Transport::Unix { .. } => "unix",
        }
    }

    /// The address as a user writes it: `IP:PORT`, `tls://HOST:PORT` or `unix:PATH`.
    pub fn address(&self, addr: std::net::SocketAddr) -> String {
        match self {
            Transport::Tcp => addr.to_string(),
            Transport::Tls { server_name, .. } => {
                format!("tls://{}", with_port(server_name, addr.port()))
            }
            Transport::Unix { path } => format!("unix:{}", path.display()),
        }
    }
}

fn with_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
