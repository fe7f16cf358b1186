//! The TLS setting every variant honours (`Config::tls`): a rustls server configuration with the
//! `ring` crypto provider, made from PEM files or from a self-signed certificate made at start-up,
//! and the handshake timeout. The variants only drive a `rustls::ServerConnection` over their I/O.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Default `--tls-handshake-timeout`: a handshake not completed in this time is closed.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The names a self-signed certificate is made for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why a TLS configuration cannot be made. Each message names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A certificate or key file could not be read.
    #[error("{path}: cannot read the {what}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// "certificate" or "private key".
        what: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but holds no usable PEM item of the expected kind.
    #[error("{path}: {problem}")]
    BadPem {
        /// Which file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },
    /// rustls refused the certificate and key (e.g. the key does not belong to the certificate).
    #[error("{cert} with {key}: {source}")]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why rustls refused them.
        #[source]
        source: rustls::Error,
    },
    /// A self-signed certificate could not be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[source] rcgen::Error),
    /// The configuration could not be built from a generated certificate.
    #[error("cannot configure TLS: {0}")]
    Config(#[source] rustls::Error),
}

/// TLS on a listener: the rustls server configuration and the handshake timeout. Cheap to clone (the
/// configuration is shared).
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

/// A certificate made at start-up, with the TLS setting that serves it.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The TLS setting serving the certificate.
    pub tls: Tls,
    /// The certificate, PEM-encoded (what `--tls-cert-out` writes).
    pub cert_pem: String,
    /// The certificate, DER-encoded (what a rustls client's root store takes).
    pub cert_der: CertificateDer<'static>,
}

impl Tls {
    /// TLS with the certificate chain in `cert` and the private key in `key` (both PEM).
    pub fn from_pem_files(
        cert: &Path,
        key: &Path,
        handshake_timeout: Duration,
    ) -> Result<Tls, TlsSetupError> {
        let chain = read_cert_chain(cert)?;
        let private_key = read_private_key(key)?;
        let config =
            server_config(chain, private_key).map_err(|source| TlsSetupError::Rejected {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                source,
            })?;
        Ok(Tls::new(config, handshake_timeout))
    }

    /// TLS with a certificate for `localhost`, 127.0.0.1 and ::1 made now, signed by itself.
    pub fn self_signed(handshake_timeout: Duration) -> Result<SelfSigned, TlsSetupError> {
        let names = SELF_SIGNED_NAMES.map(str::to_owned).to_vec();
        let made = rcgen::generate_simple_self_signed(names).map_err(TlsSetupError::Generate)?;
        let cert_der = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
        let config = server_config(vec![cert_der.clone()], key).map_err(TlsSetupError::Config)?;
        Ok(SelfSigned {
            tls: Tls::new(config, handshake_timeout),
            cert_pem: made.cert.pem(),
            cert_der,
        })
    }

    /// TLS with a ready rustls configuration.
    pub fn new(config: Arc<ServerConfig>, handshake_timeout: Duration) -> Tls {
        Tls {
            config,
            handshake_timeout,
        }
    }

    /// The shared rustls server configuration.
    pub fn server_config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// How long a handshake may take before the connection is closed.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// A new server-side TLS connection state for one accepted socket.
    pub fn new_connection(&self) -> Result<rustls::ServerConnection, rustls::Error> {
        rustls::ServerConnection::new(Arc::clone(&self.config))
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Two settings are equal when they share the same rustls configuration and timeout.
impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
            && self.handshake_timeout == other.handshake_timeout
    }
}

impl Eq for Tls {}

/// A server configuration on the `ring` provider, TLS 1.2 and 1.3, no client authentication, with
/// stateless session tickets so that resumed handshakes work without a server-side cache.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|source| TlsSetupError::Read {
        path: path.to_path_buf(),
        what,
        source,
    })
}

fn read_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read_file(path, "certificate")?;
    let bad = |problem: String| TlsSetupError::BadPem {
        path: path.to_path_buf(),
        problem,
    };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(format!("not a valid PEM certificate file: {err}")))?;
    if chain.is_empty() {
        return Err(bad(
            "no PEM certificate (BEGIN CERTIFICATE) in the file".into()
        ));
    }
    Ok(chain)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let pem = read_file(path, "private key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| TlsSetupError::BadPem {
        path: path.to_path_buf(),
        problem: match err {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in the file"
                    .into()
            }
            err => format!("not a valid PEM private key file: {err}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tls-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn self_signed_certificate_loads_back_from_pem_files() {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("gen");
        let dir = temp_dir("roundtrip");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).expect("write cert");
        std::fs::write(&key, made.key_pair.serialize_pem()).expect("write key");
        assert!(Tls::from_pem_files(&cert, &key, DEFAULT_HANDSHAKE_TIMEOUT).is_ok());
        assert!(Tls::self_signed(DEFAULT_HANDSHAKE_TIMEOUT).is_ok());
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = temp_dir("bad");
        let missing = dir.join("missing.pem");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, b"not pem at all\n").expect("write");
        let err = Tls::from_pem_files(&missing, &junk, DEFAULT_HANDSHAKE_TIMEOUT)
            .expect_err("missing cert");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let err =
            Tls::from_pem_files(&junk, &junk, DEFAULT_HANDSHAKE_TIMEOUT).expect_err("junk cert");
        assert!(err.to_string().contains("junk.pem"), "{err}");
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let one = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("gen");
        let two = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("gen");
        let dir = temp_dir("mismatch");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, one.cert.pem()).expect("write cert");
        std::fs::write(&key, two.key_pair.serialize_pem()).expect("write key");
        let err =
            Tls::from_pem_files(&cert, &key, DEFAULT_HANDSHAKE_TIMEOUT).expect_err("mismatch");
        assert!(err.to_string().contains("key.pem"), "{err}");
    }
}
