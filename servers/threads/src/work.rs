//! Work, blocking: the connection thread reads a request, executes it, writes the reply, in order.
//! Inline (the default) the job runs on the connection's own thread, so a slow request blocks only
//! its own client; offloaded (`--offload`) the thread hands it to the bounded pool (`offload.rs`) and
//! blocks until the result comes back, which adds the hand-off and nothing else. Protocol and order
//! are the core's [`WorkSession`]; this file moves bytes.
//!
//! Shutdown: the registry shuts every socket's reading side, so a thread blocked in `read` sees EOF;
//! a thread executing a job finishes it and writes its reply; every connection then gets
//! `ERR shutting-down` and closes. Offloaded jobs still queued are answered `ERR shutting-down`.

use std::io::{self, Read, Write};
use std::net::Shutdown as SocketShutdown;
use std::time::Instant;

use chat_core::{Step, WorkSession};
use server_common::chat::CLOSE_LINGER;
use server_common::{App, Config, ConnLimit, DrainDeadline, Listener, ServerError, Shutdown};

use crate::accept;
use crate::offload::{Pool, Replies};
use crate::registry::Registry;
use crate::transport::{HalfClose, ReadHalf, Stream, WriteHalf};

/// Serves work until `shutdown`; returns the drain deadline.
pub(crate) fn serve(
    listener: &Listener,
    limit: &ConnLimit,
    registry: &Registry,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<DrainDeadline, ServerError> {
    let pool = config
        .offload
        .then(|| Pool::start(config, "work-offload"))
        .transpose()?;
    let handler = {
        let pool = pool.clone();
        let max_line = config.max_line;
        let shutdown = shutdown.clone();
        move |reader, writer| serve_conn(reader, writer, max_line, pool.as_ref(), &shutdown)
    };
    let reject = App::Work.over_limit_reply();
    accept::accept_loop(listener, limit, registry, config, shutdown, reject, handler);
    if let Some(pool) = &pool {
        pool.close();
    }
    Ok(DrainDeadline::start(config.drain_timeout))
}

/// One connection (over any transport): steps its session until it closes, then half-closes and
/// lingers.
fn serve_conn(
    mut reader: ReadHalf,
    mut writer: WriteHalf,
    max_line: usize,
    pool: Option<&Pool>,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let mut session = WorkSession::new(max_line);
    let replies = pool.map(|_| Replies::new());
    loop {
        match session.next_step(shutdown.is_triggered()) {
            Step::Write => {
                let output = session.output();
                writer.write_all(output)?;
                writer.flush()?; // TLS: the reply's records out now (plaintext: nothing to do)
                let n = output.len();
                session.written(n);
            }
            Step::Execute(job) => session.finish(match (pool, &replies) {
                (Some(pool), Some(replies)) => replies.execute(pool, job),
                _ => Ok(job.run()),
            }),
            Step::Read => match reader.read(session.spare()) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                read => session.filled(read?),
            },
            Step::Close => break,
        }
    }
    writer.shutdown(SocketShutdown::Write)?;
    linger(&mut reader, writer.socket());
    Ok(())
}

/// After the FIN: reads and discards the client's input until its EOF, at most [`CLOSE_LINGER`], so
/// that closing with unread input does not reset the connection under the last reply.
fn linger(reader: &mut ReadHalf, socket: &Stream) {
    let deadline = Instant::now() + CLOSE_LINGER;
    let mut sink = [0; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match reader.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
