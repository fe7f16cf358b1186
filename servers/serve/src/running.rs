//! An in-process server on an ephemeral loopback port, for tests and benchmarks.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use server_common::{App, Config, ServerError, Shutdown};

use crate::Impl;

/// A server running on a thread of this process. Dropping it triggers shutdown and waits for `run` to
/// return (at most the drain timeout).
#[derive(Debug)]
pub struct RunningServer {
    imp: Impl,
    app: App,
    addr: SocketAddr,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// Binds 127.0.0.1:0 and starts `imp` serving `app` there.
    pub fn start(imp: Impl, app: App, config: Config) -> io::Result<RunningServer> {
        let listener = server_common::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
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
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Err(err) = self.stop_inner() {
            tracing::warn!(error = %err, "server ended with an error");
        }
    }
}
