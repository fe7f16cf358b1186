//! The **threads** variant: blocking `std::net`, one OS thread per connection, no async runtime.
//!
//! Each accepted connection gets a thread of its own (with a small stack, `Config::stack_size`) that
//! blocks in `read` and `write`. Shutdown wakes blocked threads by shutting their sockets down
//! (see [`registry`]), since a blocked system call cannot be cancelled any other way.

mod accept;
mod chat;
mod echo;
mod map_budget;
mod offload;
mod registry;
mod tls;
mod transport;
mod work;

use std::net::Shutdown as SocketShutdown;

use server_common::{App, Config, ConnLimit, DrainDeadline, Listener, ServerError, Shutdown};

use crate::registry::Registry;

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "threads";

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and returns
/// once they have all ended or `config.drain_timeout` has passed. Blocks the calling thread.
pub fn run(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    listener
        .set_nonblocking(false)
        .map_err(ServerError::Listener)?;
    let threads_per_conn = match app {
        App::Echo | App::Work => 1, // the offload pool's threads are few and fixed: in the reserve
        App::Chat => 2,             // a reader and a writer
    };
    let limit = ConnLimit::new(map_budget::cap_max_conns(
        config.max_conns,
        threads_per_conn,
    ));
    let registry = Registry::default();
    let how = match app {
        App::Echo => SocketShutdown::Both,
        App::Chat | App::Work => SocketShutdown::Read,
    };
    let waker = registry::spawn_shutdown_waker(&listener, &registry, &shutdown, how)?;
    let deadline = match app {
        App::Echo => {
            let serve_conn = echo::serve_conn;
            accept::accept_loop(
                &listener, &limit, &registry, &config, &shutdown, b"", serve_conn,
            );
            DrainDeadline::start(config.drain_timeout)
        }
        App::Chat => chat::serve(&listener, &limit, &registry, &config, &shutdown)?,
        App::Work => work::serve(&listener, &limit, &registry, &config, &shutdown)?,
    };
    shutdown.trigger();
    let _ = waker.join();
    if !limit.wait_idle_blocking(deadline.instant()) {
        tracing::warn!(
            open = limit.active(),
            "drain timeout: leaving connections behind"
        );
    }
    Ok(())
}
