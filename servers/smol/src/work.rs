//! Work, smol: each connection is a task on the server's executor that reads a request, executes it,
//! writes the reply, in order. The loop is `server_common::work_tasks`, the same for every async
//! runtime; this file supplies smol's primitives.
//!
//! Inline (the default) a job runs inside the connection's task and holds its executor thread (smol's
//! other threads may steal the tasks queued behind it). Offloaded, it runs on the `blocking` crate's
//! pool (`smol::unblock`): a task allocation and two thread hand-offs per request. That pool is
//! process-wide and sized by `BLOCKING_MAX_THREADS` (default 500), not per server, so the shared
//! `OffloadSlots` bound both the queue (`ERR busy`) and how many jobs run at once (the extra pool
//! threads wait in `Admitted::run`), and `--offload-threads` means what it means elsewhere.
//!
//! Shutdown: a connection must write its running job's reply and `ERR shutting-down` after the signal,
//! so its task is detached, and the accept loop does not cancel it (see `work_tasks`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{Done, ErrorCode, Job};
use server_common::work_tasks::{self, WorkHub, WorkRuntime};
use server_common::{Admitted, App, Config, ConnGuard, DrainDeadline};
use smol::io::{AsyncReadExt, AsyncWriteExt};

use crate::accept::{self, Acceptor};
use crate::executor;
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
            executor::spawn(async move {
                if let Err(err) = work_tasks::serve_conn::<Smol>(stream, hub, live).await {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                drop(slot);
            })
            .detach();
        }
    };
    accept::accept_each(acceptor, App::Work.over_limit_reply(), handler).await;
    let deadline = DrainDeadline::start(config.drain_timeout);
    if !hub.drain::<Smol>(deadline).await {
        tracing::warn!("drain timeout: leaving work connections behind");
    }
    deadline
}

/// smol's primitives for the work loop.
struct Smol;

impl WorkRuntime for Smol {
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
        smol::Timer::after(duration).await;
    }

    async fn offload(admitted: Admitted, job: Job) -> Result<Done, ErrorCode> {
        smol::unblock(move || admitted.run(job)).await
    }
}
