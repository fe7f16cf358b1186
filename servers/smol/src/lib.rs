//! The **smol** variant: one shared smol executor, one task per connection.
//!
//! `Config::workers` threads (default: one per core) run one [`smol::Executor`], each thread
//! `block_on(executor.run(..))` as smol's documentation runs a multi-threaded executor; the accept
//! loop runs on the thread that called [`run`]. smol spawns onto an executor value, not an ambient
//! runtime, so the server's threads enter theirs (see `executor`). Shutdown cancels each echo
//! connection's task at its next `.await` (see `Shutdown::or_cancel`); chat and work connections run
//! on to tell their clients (see `chat`, `work`); tasks still running after the drain timeout
//! are dropped with the executor.
//!
//! Echo costs what the textbook smol server (`bench/textbook`) costs: 7.41 server CPU-µs per message
//! against 7.41 at 100 connections, with the same system calls per message (`results/README.md`, "smol
//! against the textbook smol server", for the runs, ranges and commands).

mod accept;
mod chat;
mod echo;
mod executor;
mod idle;
mod tls;
mod transport;
mod work;

use std::sync::Arc;

use server_common::{App, Config, ConnLimit, DrainDeadline, Listener, ServerError, Shutdown};
use smol::Executor;
use smol::future::FutureExt;

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "smol";

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and returns
/// once they have all ended or `config.drain_timeout` has passed. Blocks the calling thread.
pub fn run(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    let executor = Arc::new(Executor::new());
    let workers =
        executor::Workers::start(&executor, config.worker_threads()).map_err(|source| {
            ServerError::Runtime {
                runtime: "smol",
                source,
            }
        })?;
    let served = {
        let _entered = executor::enter(&executor);
        smol::block_on(serve(listener, app, config, shutdown))
    };
    workers.stop();
    // Tasks still running after the drain timeout are dropped here, with the executor.
    drop(executor);
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
    let drained = async {
        limit.wait_idle().await;
        true
    };
    let timed_out = async {
        smol::Timer::after(deadline.remaining()).await;
        false
    };
    if !drained.or(timed_out).await {
        tracing::warn!(
            open = limit.active(),
            "drain timeout: leaving connections behind"
        );
    }
    Ok(())
}
