//! The **tokio** variant: the tokio multi-thread runtime, one task per connection.
//!
//! `Config::workers` worker threads (default: one per core) run every connection's task; the accept
//! loop runs on the thread that called [`run`]. Shutdown cancels each echo connection's task at its
//! next `.await` (see `Shutdown::or_cancel`); chat and work connections run on to tell their clients
//! (see `chat`, `work`).

mod accept;
mod chat;
mod echo;
mod idle;
mod polled;
mod tls;
mod transport;
mod work;

use std::time::Duration;

use server_common::{App, Config, ConnLimit, DrainDeadline, Listener, ServerError, Shutdown};

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "tokio";

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and returns
/// once they have all ended or `config.drain_timeout` has passed. Blocks the calling thread.
pub fn run(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(config.worker_threads())
        .thread_name("tokio-worker")
        .enable_all();
    if app == App::Work {
        // The work app's offload pool is tokio's blocking pool (`spawn_blocking`).
        builder.max_blocking_threads(config.offload_threads.max(1));
    }
    let runtime = builder.build().map_err(|source| ServerError::Runtime {
        runtime: "tokio",
        source,
    })?;
    let served = runtime.block_on(serve(listener, app, config, shutdown));
    // Tasks still running after the drain timeout are dropped here.
    runtime.shutdown_timeout(Duration::from_millis(100));
    served
}

async fn serve(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    let listener = transport::Listener::from_std(listener).map_err(ServerError::Listener)?;
    let tls = config.tls.as_ref().map(tls::Handshaker::new);
    let limit = ConnLimit::new(config.max_conns);
    let acceptor = accept::Acceptor {
        listener: &listener,
        limit: &limit,
        shutdown: &shutdown,
        tls: tls.as_ref(),
    };
    let deadline = match app {
        App::Echo => {
            let idle = config.idle_timeout;
            let handler = move |stream| echo::serve_conn(stream, idle);
            accept::accept_loop(acceptor, app.over_limit_reply(), handler).await;
            DrainDeadline::start(config.drain_timeout)
        }
        App::Chat => chat::serve(acceptor, &config).await,
        App::Work => work::serve(acceptor, &config).await,
    };
    shutdown.trigger();
    if tokio::time::timeout(deadline.remaining(), limit.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(
            open = limit.active(),
            "drain timeout: leaving connections behind"
        );
    }
    Ok(())
}
