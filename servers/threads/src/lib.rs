//! The **threads** variant: blocking `std::net`, one OS thread per connection, no async runtime.
//!
//! Each accepted connection gets a thread of its own (with a small stack, `Config::stack_size`) that
//! blocks in `read` and `write`. Shutdown wakes blocked threads by shutting their sockets down
//! (see [`registry`]), since a blocked system call cannot be cancelled any other way.

mod accept;
mod chat;
mod echo;
mod registry;

use std::net::{Shutdown as SocketShutdown, TcpListener};
use std::time::Instant;

use server_common::{App, Config, ConnLimit, ServerError, Shutdown};

use crate::registry::Registry;

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "threads";

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and returns
/// once they have all ended or `config.drain_timeout` has passed. Blocks the calling thread.
pub fn run(
    listener: TcpListener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    listener
        .set_nonblocking(false)
        .map_err(ServerError::Listener)?;
    let limit = ConnLimit::new(config.max_conns);
    let registry = Registry::default();
    let how = match app {
        App::Echo => SocketShutdown::Both,
        App::Chat => SocketShutdown::Read,
    };
    let waker = registry::spawn_shutdown_waker(&listener, &registry, &shutdown, how)?;
    match app {
        App::Echo => accept::accept_loop(
            &listener,
            &limit,
            &registry,
            &config,
            &shutdown,
            b"",
            echo::serve_conn,
        ),
        App::Chat => chat::serve(&listener, &limit, &registry, &config, &shutdown)?,
    }
    shutdown.trigger();
    let _ = waker.join();
    let deadline = Instant::now() + config.drain_timeout;
    if !limit.wait_idle_blocking(deadline) {
        tracing::warn!(
            open = limit.active(),
            "drain timeout: leaving connections behind"
        );
    }
    Ok(())
}
