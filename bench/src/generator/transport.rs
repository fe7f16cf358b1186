//! From a run's recorded [`Transport`] to the endpoint the engine dials (the TLS client
//! configuration is built here, once per run, shared by every connection).

use std::net::SocketAddr;

use conformance::tls::Trust;
use conformance::transport::Endpoint;

use crate::error::{Error, Result};
use crate::results::transport::Transport;

/// The endpoint of `transport` at `addr`; an unusable `--ca` file is an invalid setting.
pub(crate) fn endpoint(transport: &Transport, addr: SocketAddr) -> Result<Endpoint> {
    match transport {
        Transport::Tcp => Ok(Endpoint::Tcp(addr)),
        Transport::Unix { path } => Ok(Endpoint::Unix(path.clone())),
        Transport::Tls {
            ca,
            server_name,
            resume,
        } => {
            let trust = match ca {
                Some(path) => Trust::Ca(path.clone()),
                None => Trust::Insecure,
            };
            let config = conformance::tls::client_config(&trust, *resume)
                .map_err(|e| Error::InvalidSettings(e.to_string()))?;
            let name =
                conformance::tls::server_name(server_name).map_err(Error::InvalidSettings)?;
            Ok(Endpoint::Tls { addr, name, config })
        }
    }
}
