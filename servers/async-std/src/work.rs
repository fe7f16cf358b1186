//! Work, async-std: each connection is a task that reads a request, executes it, writes the reply, in
//! order. The loop is `server_common::work_tasks`, the same for every async runtime; this file supplies
//! async-std's primitives.
//!
//! Inline (the default) a job runs inside the connection's task and holds its executor thread.
//! Offloaded, it runs through `async_std::task::spawn_blocking`, which is `blocking::unblock` (the
//! `blocking` crate's process-wide pool, sized by `BLOCKING_MAX_THREADS`, default 500) wrapped in one
//! more async task: two task allocations and two thread hand-offs per request. As with smol, the
//! shared `OffloadSlots` bound the queue (`ERR busy`) and how many jobs run at once.
//!
//! Shutdown: a connection must write its running job's reply and `ERR shutting-down` after the signal,
//! so its task is not cancelled by the accept loop (see `work_tasks`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_std::io::{ReadExt, WriteExt};
use chat_core::{Done, ErrorCode, Job};
use server_common::work_tasks::{self, WorkHub, WorkRuntime};
use server_common::{Admitted, App, Config, ConnGuard, DrainDeadline};

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
            async_std::task::spawn(async move {
                if let Err(err) = work_tasks::serve_conn::<AsyncStd>(stream, hub, live).await {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                drop(slot);
            });
        }
    };
    accept::accept_each(acceptor, App::Work.over_limit_reply(), handler).await;
    let deadline = DrainDeadline::start(config.drain_timeout);
    if !hub.drain::<AsyncStd>(deadline).await {
        tracing::warn!("drain timeout: leaving work connections behind");
    }
    deadline
}

/// async-std's primitives for the work loop.
struct AsyncStd;

impl WorkRuntime for AsyncStd {
    type Stream = Conn;

    async fn read(stream: &mut Conn, buf: &mut [u8]) -> io::Result<usize> {
        stream.read(buf).await
    }

    async fn write_all(stream: &mut Conn, buf: &[u8]) -> io::Result<()> {
        stream.write_all(buf).await?;
        stream.flush().await // TLS: the reply's records out now (plaintext: nothing to do)
    }

    async fn shutdown_write(stream: &mut Conn) {
        let _ = stream.shutdown_write().await;
    }

    async fn sleep(duration: Duration) {
        async_std::task::sleep(duration).await;
    }

    async fn offload(admitted: Admitted, job: Job) -> Result<Done, ErrorCode> {
        async_std::task::spawn_blocking(move || admitted.run(job)).await
    }
}
