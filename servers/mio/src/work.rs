//! Work on the event loop: each connection is a state machine around its socket and the core's
//! [`WorkSession`], which says what to do next (write, execute, read, close).
//!
//! **Inline** (the default) a job runs right there, on the loop's thread, inside [`Protocol::ready`]:
//! while a `FIB` computes or a `SLEEP` sleeps, the loop serves nobody else — every connection of that
//! loop waits (other loops go on). That is what an async task that computes does to its worker, with
//! no work stealing to soften it.
//!
//! **Offloaded** the job goes to the shared [`OffloadPool`] with a reply route back to this loop: the
//! pool thread puts the outcome on the loop's completion channel and wakes the loop through its
//! [`mio::Waker`] (an eventfd in the epoll set). The loop's [`Protocol::woken`] drains the channel into
//! a table indexed by slab key and puts each connection on the wake list, where it takes its outcome
//! and steps on. Per request that is a channel send each way and an eventfd write and read, no
//! allocation (the reply route is a cloned sender and `Arc`).
//!
//! A connection executes one job at a time and reads nothing meanwhile (its session reads only when
//! every buffered request is answered), so its input waits in the kernel: TCP backpressure.
//!
//! Shutdown: every connection is told at once ([`Protocol::stop`]); one whose job is executing finishes
//! it first (a queued offloaded one comes back `shutting-down`); each writes `ERR shutting-down`,
//! half-closes and lingers until the client's EOF ([`CLOSE_LINGER`], never past the drain deadline).

use std::io::{self, Read, Write};
use std::net::Shutdown as SocketShutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{Step, WorkSession};
use crossbeam_channel::{Receiver, Sender, bounded};
use mio::{Interest, Waker};
use server_common::chat::CLOSE_LINGER;
use server_common::{App, Config, OffloadPool, Outcome, ReplyTo, Shutdown};

use crate::echo::READ_BUDGET;
use crate::event_loop::{Cx, Protocol, Ready, Slot, Status, Wake};
use crate::transport::Stream;

/// The server's offload pool, replying to the loop that submitted each job.
pub(crate) type Pool = OffloadPool<LoopReply>;

/// A finished job: its connection and its outcome.
type Completion = (Slot, Outcome);

/// Where an offloaded job's outcome goes: its connection's slot on its loop, that loop's completion
/// channel, and the loop's waker.
#[derive(Debug)]
pub(crate) struct LoopReply {
    slot: Slot,
    completions: Sender<Completion>,
    waker: Arc<Waker>,
}

impl ReplyTo for LoopReply {
    fn reply(self, outcome: Outcome) {
        // The channel holds as many outcomes as the pool admits jobs: this never waits. A loop that is
        // gone (drain deadline) no longer needs it.
        if self.completions.send((self.slot, outcome)).is_ok()
            && let Err(err) = self.waker.wake()
        {
            tracing::warn!(error = %err, "cannot wake an event loop");
        }
    }
}

/// The work application on one loop.
#[derive(Debug)]
pub(crate) struct Work {
    max_line: usize,
    idle: Option<Duration>,
    /// Checked between two steps: a job that ends after the signal is the connection's last.
    shutdown: Shutdown,
    pool: Option<Pool>,
    waker: Arc<Waker>,
    completions: (Sender<Completion>, Receiver<Completion>),
    /// Outcomes come back here, by slab key, until their connection takes them.
    outcomes: Vec<Option<(u64, Outcome)>>,
}

impl Work {
    /// Work on the loop woken by `waker`, offloaded to `pool` if there is one.
    pub(crate) fn new(
        config: &Config,
        shutdown: Shutdown,
        pool: Option<Pool>,
        waker: Arc<Waker>,
    ) -> Self {
        Work {
            max_line: config.max_line,
            idle: config.idle_timeout,
            shutdown,
            pool,
            waker,
            completions: bounded(config.offload_threads + config.offload_queue),
            outcomes: Vec::new(),
        }
    }

    /// The outcome of the job `slot` handed to the pool, if it came back.
    fn take_outcome(&mut self, slot: Slot) -> Option<Outcome> {
        let entry = self.outcomes.get_mut(slot.key)?;
        match entry {
            Some((serial, _)) if *serial == slot.serial => entry.take().map(|(_, outcome)| outcome),
            _ => None,
        }
    }
}

/// One work connection.
#[derive(Debug)]
pub(crate) struct WorkConn {
    stream: Stream,
    session: WorkSession,
    /// Write interest is on (the send buffer filled up).
    writing: bool,
    /// A short read proved the receive buffer empty: wait for the next readable edge.
    drained: bool,
    /// Epoll reported the peer's FIN or an error: read on to the EOF even after a short read.
    peer_closed: bool,
    /// FIN sent: reading and dropping the client's input until its EOF or this instant.
    linger: Option<Instant>,
    last_input: Instant,
}

/// The outcome of writing some bytes to a non-blocking socket: how many it took.
fn write_some(stream: &mut Stream, data: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match stream.write(&data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(done)
}

impl WorkConn {
    /// Switches write interest on or off.
    fn want_write(&mut self, on: bool, slot: Slot, cx: &Cx<'_>) -> io::Result<()> {
        if self.writing != on {
            self.writing = on;
            let interest = if on {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            cx.registry
                .reregister(&mut self.stream, slot.token(), interest)?;
        }
        Ok(())
    }

    /// Steps the session until it waits for the socket, the pool, or its turn (read budget).
    fn advance(
        &mut self,
        work: &mut Work,
        slot: Slot,
        ready: Ready,
        cx: &mut Cx<'_>,
    ) -> io::Result<Status> {
        self.peer_closed |= ready.read_closed;
        self.drained &= !ready.readable;
        if self.linger.is_some() {
            return self.discard();
        }
        if self.session.is_executing() {
            match work.take_outcome(slot) {
                Some(outcome) => {
                    self.session.finish(outcome);
                    self.last_input = cx.now; // idle time counts from the last executed request
                }
                None => return Ok(Status::Open),
            }
        }
        let mut reads = 0;
        loop {
            // The loop notices the signal after this call; an inline job may have run long.
            let stopping = cx.drain.is_some() || work.shutdown.is_triggered();
            match self.session.next_step(stopping) {
                Step::Write => {
                    let n = write_some(&mut self.stream, self.session.output())?;
                    let all = n == self.session.output().len();
                    self.session.written(n);
                    self.want_write(!all, slot, cx)?;
                    if !all {
                        return Ok(Status::Open);
                    }
                }
                Step::Execute(job) => match &work.pool {
                    None => {
                        self.session.finish(Ok(job.run()));
                        self.last_input = Instant::now();
                    }
                    Some(pool) => {
                        let reply = LoopReply {
                            slot,
                            completions: work.completions.0.clone(),
                            waker: Arc::clone(&work.waker),
                        };
                        match pool.submit(job, reply) {
                            Ok(()) => return Ok(Status::Open),
                            Err(refused) => self.session.finish(Err(refused)),
                        }
                    }
                },
                Step::Read => {
                    if self.drained {
                        return Ok(Status::Open);
                    }
                    if reads == READ_BUDGET {
                        cx.wakes.push(Wake {
                            slot,
                            ready: Ready::READ,
                        });
                        return Ok(Status::Open);
                    }
                    reads += 1;
                    let spare = self.session.spare();
                    let asked = spare.len();
                    match self.stream.read(spare) {
                        Ok(n) => {
                            self.session.filled(n);
                            self.last_input = cx.now;
                            self.drained = n > 0 && n < asked && !self.peer_closed;
                        }
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            self.drained = true;
                        }
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(err),
                    }
                }
                Step::Close => {
                    let _ = self.stream.shutdown(SocketShutdown::Write);
                    let linger = cx.now + CLOSE_LINGER;
                    self.linger = Some(cx.drain.map_or(linger, |drain| drain.min(linger)));
                    return self.discard();
                }
            }
        }
    }

    /// Lingering: reads and drops input; done at the client's EOF or an error.
    fn discard(&mut self) -> io::Result<Status> {
        let mut sink = [0; 1024];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return Ok(Status::Done),
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Status::Open),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(Status::Done),
            }
        }
    }
}

impl Protocol for Work {
    type Conn = WorkConn;

    fn reject(&self) -> &'static [u8] {
        App::Work.over_limit_reply()
    }

    fn open(&mut self, mut stream: Stream, slot: Slot, cx: &mut Cx<'_>) -> io::Result<WorkConn> {
        cx.registry
            .register(&mut stream, slot.token(), Interest::READABLE)?;
        Ok(WorkConn {
            stream,
            session: WorkSession::new(self.max_line),
            writing: false,
            drained: false,
            peer_closed: false,
            linger: None,
            last_input: cx.now,
        })
    }

    fn ready(&mut self, conn: &mut WorkConn, slot: Slot, ready: Ready, cx: &mut Cx<'_>) -> Status {
        conn.advance(self, slot, ready, cx).unwrap_or_else(|err| {
            tracing::debug!(error = %err, "work connection failed");
            Status::Done
        })
    }

    fn timer(&mut self, conn: &mut WorkConn, _slot: Slot, cx: &mut Cx<'_>) -> Status {
        match self.deadline(conn) {
            Some(at) if at <= cx.now => Status::Done,
            _ => Status::Open,
        }
    }

    fn deadline(&self, conn: &WorkConn) -> Option<Instant> {
        if conn.linger.is_some() {
            return conn.linger;
        }
        if conn.session.is_executing() {
            return None; // the server is busy, not the client idle
        }
        self.idle.map(|idle| conn.last_input + idle)
    }

    fn stop(&mut self, conn: &mut WorkConn, slot: Slot, cx: &mut Cx<'_>) -> Status {
        self.ready(conn, slot, Ready::default(), cx)
    }

    fn stopped(&mut self, _cx: &mut Cx<'_>) {
        if let Some(pool) = &self.pool {
            pool.close();
        }
    }

    fn woken(&mut self, cx: &mut Cx<'_>) {
        while let Ok((slot, outcome)) = self.completions.1.try_recv() {
            if self.outcomes.len() <= slot.key {
                self.outcomes.resize_with(slot.key + 1, || None);
            }
            self.outcomes[slot.key] = Some((slot.serial, outcome));
            cx.wakes.push(Wake {
                slot,
                ready: Ready::default(),
            });
        }
    }
}

impl crate::tls::OwnsStream for WorkConn {
    fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }
}
