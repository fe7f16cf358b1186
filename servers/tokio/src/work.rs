//! Work, tokio: each connection is a task that reads a request, executes it, writes the reply, in
//! order. The loop is `server_common::work_tasks`, the same for every async runtime; this file supplies
//! tokio's primitives.
//!
//! Inline (the default) a job runs inside the connection's task: a `FIB` or `SLEEP` holds its worker
//! thread, and every other task queued on that worker waits (until another worker steals it).
//! Offloaded, it runs on tokio's blocking pool (`spawn_blocking`, at most `--offload-threads` threads:
//! `max_blocking_threads`), which costs a task allocation and two thread hand-offs per request.
//! `block_in_place` would instead turn the current worker into a blocking thread for the job's length
//! and move its queued tasks to a new worker: no hand-off of the job, but a worker thread per running
//! job, no bound but the blocking pool's, and nothing for `ERR busy` to count.
//!
//! Shutdown: a connection must write its running job's reply and `ERR shutting-down` after the signal,
//! so its task is not cancelled by the accept loop (see `work_tasks`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{Done, ErrorCode, Job};
use server_common::work_tasks::{self, WorkHub, WorkRuntime};
use server_common::{Admitted, App, Config, ConnGuard, DrainDeadline};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::accept::{self, Acceptor};
use crate::transport::Conn;

/// Serves work until the acceptor's shutdown signal; returns the drain deadline once every connection
/// ended (or the deadline passed).
pub(crate) async fn serve(acceptor: Acceptor<'_>, config: &Config) -> DrainDeadline {
    let hub = Arc::new(WorkHub::new(config, acceptor.shutdown));
    let handler = {
        let hub = Arc::clone(&hub);
        move |stream: Conn, slot: ConnGuard| {
            let (hub, live) = (Arc::clone(&hub), hub.enter());
            // The connection's future is made inside its task, so that the task lays it out once.
            tokio::spawn(async move {
                if let Err(err) = work_tasks::serve_conn::<Tokio>(stream, hub, live).await {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                drop(slot);
            });
        }
    };
    accept::accept_each(acceptor, App::Work.over_limit_reply(), handler).await;
    let deadline = DrainDeadline::start(config.drain_timeout);
    if !hub.drain::<Tokio>(deadline).await {
        tracing::warn!("drain timeout: leaving work connections behind");
    }
    deadline
}

/// tokio's primitives for the work loop.
struct Tokio;

impl WorkRuntime for Tokio {
    type Stream = Conn;

    async fn read(stream: &mut Conn, buf: &mut [u8]) -> io::Result<usize> {
        stream.read(buf).await
    }

    async fn write_all(stream: &mut Conn, buf: &[u8]) -> io::Result<()> {
        stream.write_all(buf).await?;
        stream.flush().await // TLS: the reply's records out now (plaintext: nothing to do)
    }

    async fn shutdown_write(stream: &mut Conn) {
        let _ = stream.shutdown().await;
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    async fn offload(admitted: Admitted, job: Job) -> Result<Done, ErrorCode> {
        tokio::task::spawn_blocking(move || admitted.run(job))
            .await
            .unwrap_or(Err(ErrorCode::ShuttingDown))
    }
}
