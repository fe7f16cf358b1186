//! The **async-std** variant: async-std's global executor, one task per connection.
//!
//! async-std is deprecated upstream in favour of smol; it stays here because comparing it is part of
//! the job. Its executor is process-global, so the worker count (`Config::workers`, default one per
//! core) is fixed by the first server started in a process. The accept loop runs on the thread that
//! called [`run`]. Shutdown cancels each echo connection's task at its next `.await`; chat and work
//! connections run on to tell their clients (see `chat`, `work`).

mod accept;
mod chat;
mod echo;
mod idle;
mod tls;
mod transport;
mod work;

use std::sync::Once;

use server_common::{App, Config, ConnLimit, DrainDeadline, Listener, ServerError, Shutdown};

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "async-std";

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and returns
/// once they have all ended or `config.drain_timeout` has passed. Blocks the calling thread.
pub fn run(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    init_executor(config.worker_threads());
    async_std::task::block_on(serve(listener, app, config, shutdown))
}

/// Sizes async-std's global executor; only the first call in a process has an effect.
fn init_executor(workers: usize) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        async_global_executor::init_with_config(
            async_global_executor::GlobalExecutorConfig::default()
                .with_min_threads(workers)
                .with_max_threads(workers)
                .with_thread_name_fn(|| "async-std-worker".into()),
        );
    });
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
    if async_std::future::timeout(deadline.remaining(), limit.wait_idle())
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
