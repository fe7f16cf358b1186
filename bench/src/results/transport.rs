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

/// The transport points of a comparison (`compare`'s matrix `transports`): echo closed loop over
/// TCP, TLS and a unix socket at one connection count, and TLS connection churn with full and with
/// resumed handshakes, every variant, interleaved per point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportPlan {
    /// Echo: connections.
    pub conns: usize,
    /// Echo: message size, bytes.
    pub size: usize,
    /// Echo: warm-up.
    #[serde(with = "crate::util::serde_secs")]
    pub warmup: std::time::Duration,
    /// Echo: measured window.
    #[serde(with = "crate::util::serde_secs")]
    pub duration: std::time::Duration,
    /// Churn: offered new TLS connections per second.
    pub churn_rate: f64,
    /// Churn: how long they are offered.
    #[serde(with = "crate::util::serde_secs")]
    pub churn_duration: std::time::Duration,
    /// Runs per point and variant.
    pub repeats: u32,
}

impl TransportPlan {
    /// The standard plan: 100 connections of 64 B; churn at 400 new connections/s for 2 s.
    pub fn standard(
        repeats: u32,
        warmup: std::time::Duration,
        duration: std::time::Duration,
    ) -> Self {
        TransportPlan {
            conns: 100,
            size: 64,
            warmup,
            duration,
            churn_rate: 400.0,
            churn_duration: std::time::Duration::from_secs(2),
            repeats,
        }
    }
}

/// One run of a transport point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportRun {
    /// The point's id (`transport-echo-tls-100`, `transport-churn-tls-resumed`, ...).
    pub point: String,
    /// The variant.
    pub variant: String,
    /// Which repeat.
    pub repeat: u32,
    /// The server process.
    pub server: Option<super::comparison::ServerRun>,
    /// What the run measured, or why there is nothing.
    pub outcome: TransportOutcome,
}

/// What a transport run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TransportOutcome {
    /// An echo run.
    Echo(Box<super::echo::EchoReport>),
    /// A churn run.
    Churn(Box<super::churn::ChurnReport>),
    /// Not run (e.g. the variant does not serve TLS).
    Skipped {
        /// Why.
        reason: String,
    },
    /// The run or its server failed.
    Failed {
        /// What happened.
        error: String,
    },
}
