//! An in-process server on an ephemeral loopback port or a temporary unix socket, for tests and
//! benchmarks, in plaintext or TLS.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::JoinHandle;

use server_common::tls::{DEFAULT_HANDSHAKE_TIMEOUT, SelfSigned};
use server_common::unix_socket::SocketFile;
use server_common::{App, Config, ListenAddr, Listener, ServerError, Shutdown, Tls};

use crate::{Impl, ListenOptions};

/// A server running on a thread of this process. Dropping it triggers shutdown and waits for `run` to
/// return (at most the drain timeout); a unix socket's file is removed then.
#[derive(Debug)]
pub struct RunningServer {
    imp: Impl,
    app: App,
    addr: ListenAddr,
    self_signed: Option<SelfSigned>,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
    socket_file: Option<SocketFile>,
}

impl RunningServer {
    /// Binds 127.0.0.1:0 and starts `imp` serving `app` there (TLS if `config.tls` is set).
    pub fn start(imp: Impl, app: App, config: Config) -> io::Result<RunningServer> {
        let listener = server_common::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        Self::start_on(imp, app, config, Listener::Tcp(listener), None, None)
    }

    /// Binds a unix-domain socket at `path` (replacing a stale socket file, refusing anything else)
    /// and starts `imp` serving `app` there in plaintext. The file is removed when the server stops.
    pub fn start_unix(
        imp: Impl,
        app: App,
        config: Config,
        path: &Path,
    ) -> io::Result<RunningServer> {
        let (listener, file) =
            server_common::unix_socket::bind_unix(path).map_err(io::Error::other)?;
        Self::start_on(imp, app, config, Listener::Unix(listener), Some(file), None)
    }

    /// Binds 127.0.0.1:0 and starts `imp` serving `app` over TLS with a certificate for
    /// `localhost`/127.0.0.1/::1 made now ([`tls_certificate`](Self::tls_certificate) gives it to the
    /// client to trust). `config.tls` is replaced; the handshake timeout is the default unless
    /// `config.tls` set one.
    pub fn start_tls(imp: Impl, app: App, mut config: Config) -> io::Result<RunningServer> {
        let timeout = config
            .tls
            .as_ref()
            .map_or(DEFAULT_HANDSHAKE_TIMEOUT, Tls::handshake_timeout);
        let made = Tls::self_signed(timeout).map_err(io::Error::other)?;
        config.tls = Some(made.tls.clone());
        let listener = server_common::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        Self::start_on(imp, app, config, Listener::Tcp(listener), None, Some(made))
    }

    /// Starts `imp` serving `app` where `listen` says (TCP, a unix socket, TLS), set up exactly as
    /// `serve` sets it up ([`startup::start`](crate::startup::start): a self-signed certificate is
    /// written to `listen.tls_cert_out` for the client to trust). `config.tls` is replaced by what
    /// `listen` asks for. The error is the line `serve` would print before exiting 2.
    pub fn start_listening(
        imp: Impl,
        app: App,
        mut config: Config,
        listen: &ListenOptions,
    ) -> io::Result<RunningServer> {
        let started = crate::startup::start(listen).map_err(io::Error::other)?;
        config.tls = started.tls;
        Self::start_on(
            imp,
            app,
            config,
            started.listener,
            started.socket_file,
            None,
        )
    }

    fn start_on(
        imp: Impl,
        app: App,
        config: Config,
        listener: Listener,
        socket_file: Option<SocketFile>,
        self_signed: Option<SelfSigned>,
    ) -> io::Result<RunningServer> {
        let mut addr = listener.local_addr()?;
        if config.tls.is_some() {
            addr = addr.with_tls();
        }
        let shutdown = Shutdown::new();
        let thread = {
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name(format!("{imp}-{app}-server"))
                .spawn(move || imp.run(listener, app, config, shutdown))?
        };
        Ok(RunningServer {
            imp,
            app,
            addr,
            self_signed,
            shutdown,
            thread: Some(thread),
            socket_file,
        })
    }

    /// The IP address and port the server listens on (plaintext or TLS).
    ///
    /// # Panics
    /// If the server listens on a unix socket: use [`listen_addr`](Self::listen_addr).
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .socket_addr()
            .unwrap_or_else(|| panic!("{} has no IP address; use listen_addr()", self.addr))
    }

    /// Where the server listens, as the `listening` line prints it (`IP:PORT`, `tls://IP:PORT` or
    /// `unix:PATH`).
    pub fn listen_addr(&self) -> &ListenAddr {
        &self.addr
    }

    /// The self-signed certificate of a server started with [`start_tls`](Self::start_tls), for the
    /// client to trust (PEM and DER).
    pub fn tls_certificate(&self) -> Option<&SelfSigned> {
        self.self_signed.as_ref()
    }

    /// The variant serving.
    pub fn imp(&self) -> Impl {
        self.imp
    }

    /// The application served.
    pub fn app(&self) -> App {
        self.app
    }

    /// A handle that can trigger this server's shutdown.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Triggers shutdown and waits for the server to drain; returns what `run` returned.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ServerError> {
        self.shutdown.trigger();
        let result = match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        self.socket_file = None; // removes the socket file
        result
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Err(err) = self.stop_inner() {
            tracing::warn!(error = %err, "server ended with an error");
        }
    }
}
