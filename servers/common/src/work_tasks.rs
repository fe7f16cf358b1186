//! Work for any async runtime that runs one task per connection (tokio, async-std, smol), written once
//! over the runtime's primitives ([`WorkRuntime`]), like the chat loops in [`chat::tasks`](crate::chat::tasks).
//!
//! A connection task steps the core's [`WorkSession`]: it reads, writes, and executes each job either
//! inline — inside the task, holding its worker thread for as long as the job computes or sleeps,
//! which is the behaviour the work app measures — or offloaded, on the runtime's blocking pool
//! ([`WorkRuntime::offload`]) after taking a slot from the [`OffloadSlots`]; a request that finds the
//! pool and its queue full is answered `ERR busy` at once.
//!
//! Shutdown: the task races each read against the shutdown latch, so an idle connection is told
//! `ERR shutting-down` at once; a job being executed is awaited (a queued offloaded one comes back
//! `shutting-down`, see [`OffloadSlots::close`]), its reply written, then `ERR shutting-down`. Because a
//! connection must outlive the shutdown signal to do that, the variant spawns it as a task that the
//! accept loop does not cancel, and waits for [`WorkHub::drain`].

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{Done, ErrorCode, Job, Step, WorkSession};
use futures_lite::future;

use crate::chat::CLOSE_LINGER;
use crate::{Admitted, Config, DrainDeadline, OffloadSlots, Shutdown, WaitGroup, WaitGroupGuard};

/// What an async runtime plugs into the work server: its primitives, nothing else.
pub trait WorkRuntime: Sized + Send + Sync + 'static {
    /// A connection's socket.
    type Stream: Send + 'static;

    /// One read into `buf` (0 at EOF).
    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Writes all of `buf`.
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// Half-closes: shuts the writing side down (FIN).
    fn shutdown_write(stream: &mut Self::Stream) -> impl Future<Output = ()> + Send + '_;
    /// Resolves after `duration`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
    /// Runs `admitted.run(job)` on the runtime's blocking pool and resolves to its result (a job the
    /// pool dropped unrun, at runtime shutdown, is `shutting-down`).
    fn offload(
        admitted: Admitted,
        job: Job,
    ) -> impl Future<Output = Result<Done, ErrorCode>> + Send;
}

/// What every work connection of a server shares: the limits, the shutdown signal, the offload slots
/// (`None`: inline), and the count of live connections that shutdown waits for.
#[derive(Debug)]
pub struct WorkHub {
    max_line: usize,
    idle_timeout: Option<Duration>,
    shutdown: Shutdown,
    slots: Option<OffloadSlots>,
    live: WaitGroup,
}

impl WorkHub {
    /// A hub for a server with `config` (offloaded when `config.offload`) and `shutdown`.
    pub fn new(config: &Config, shutdown: &Shutdown) -> Self {
        WorkHub {
            max_line: config.max_line,
            idle_timeout: config.idle_timeout,
            shutdown: shutdown.clone(),
            slots: config.offload.then(|| OffloadSlots::from_config(config)),
            live: WaitGroup::new(),
        }
    }

    /// Counts a connection as live until the guard is dropped (take it before spawning its task).
    pub fn enter(&self) -> WaitGroupGuard {
        self.live.enter()
    }

    /// After the accept loop ended: queued offloaded jobs will be answered `shutting-down`; waits for
    /// every connection until `deadline`. Returns whether all ended.
    pub async fn drain<R: WorkRuntime>(&self, deadline: DrainDeadline) -> bool {
        if let Some(slots) = &self.slots {
            slots.close();
        }
        future::or(
            async {
                self.live.wait().await;
                true
            },
            async {
                R::sleep(deadline.remaining()).await;
                false
            },
        )
        .await
    }
}

/// One connection, until its session closes; then half-closes and lingers until the client's EOF (at
/// most [`CLOSE_LINGER`]), so that closing does not reset the connection under the last reply.
pub async fn serve_conn<R: WorkRuntime>(
    mut stream: R::Stream,
    hub: Arc<WorkHub>,
    live: WaitGroupGuard,
) -> io::Result<()> {
    let mut session = WorkSession::new(hub.max_line);
    loop {
        match session.next_step(hub.shutdown.is_triggered()) {
            Step::Write => {
                let output = session.output();
                R::write_all(&mut stream, output).await?;
                let n = output.len();
                session.written(n);
            }
            Step::Execute(job) => {
                let outcome = match &hub.slots {
                    None => Ok(job.run()),
                    Some(slots) => match slots.try_admit() {
                        Ok(admitted) => R::offload(admitted, job).await,
                        Err(refused) => Err(refused),
                    },
                };
                session.finish(outcome);
            }
            Step::Read => {
                let read = read_within::<R>(&mut stream, session.spare(), hub.idle_timeout);
                // Cancelled by shutdown: the next step answers `ERR shutting-down`.
                if let Some(read) = hub.shutdown.or_cancel(read).await {
                    session.filled(read?);
                }
            }
            Step::Close => break,
        }
    }
    R::shutdown_write(&mut stream).await;
    future::or(discard_until_eof::<R>(&mut stream), R::sleep(CLOSE_LINGER)).await;
    drop(live);
    Ok(())
}

/// One read (retried when interrupted); with an idle timeout, fails with `TimedOut` when nothing
/// arrives for that long.
async fn read_within<R: WorkRuntime>(
    stream: &mut R::Stream,
    buf: &mut [u8],
    idle: Option<Duration>,
) -> io::Result<usize> {
    loop {
        let read = match idle {
            None => R::read(stream, &mut *buf).await,
            Some(limit) => {
                let timed_out = async {
                    R::sleep(limit).await;
                    Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))
                };
                future::or(R::read(stream, &mut *buf), timed_out).await
            }
        };
        match read {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}

/// Reads and drops the client's input until its EOF (or an error).
async fn discard_until_eof<R: WorkRuntime>(stream: &mut R::Stream) {
    let mut sink = [0; 1024];
    loop {
        match R::read(stream, &mut sink).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
