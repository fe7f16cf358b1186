//! Work on a ring: each connection steps the core's [`WorkSession`]; received buffers are copied into
//! its framer and returned to the buffer ring at once, and its replies go out as one `Send` from the
//! session's output.
//!
//! **Inline** (the default) a job runs on the ring's thread, inside the completion loop: while a `FIB`
//! computes or a `SLEEP` sleeps, nothing else on that ring progresses (other rings go on) — a
//! thread-per-core design's worst case, and what the work app measures.
//!
//! **Offloaded** the job goes to the shared [`OffloadPool`] with a reply route back to this ring: the
//! pool thread puts the outcome on the ring's completion channel and writes the ring's eventfd, which
//! the ring's `PollAdd` (the shutdown wake-up's) reports; every turn of the loop drains the channel
//! ([`Worker::work_deliver`]). Per request: a channel send each way and an eventfd write and poll
//! completion; no allocation. A connection whose job is out is not freed before the outcome is back
//! (`Conn::job_inflight`), so an outcome never reaches a later connection in the same slot.
//!
//! Backpressure: a connection executes one job at a time and its session reads only when every
//! buffered request is answered. Received bytes the framer cannot take yet stay in their provided
//! buffers (`held`), and the connection's receive is cancelled until they are taken, so a client that
//! pipelines without reading waits in the kernel, not in our memory.
//!
//! Shutdown: every connection steps with `stopping`; one whose job is executing finishes it first (a
//! queued offloaded one comes back `shutting-down`); each sends `ERR shutting-down`, half-closes and
//! lingers until the client's EOF ([`CLOSE_LINGER`]).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use chat_core::{Step, WorkSession};
use crossbeam_channel::{Receiver, Sender, bounded};
use server_common::chat::CLOSE_LINGER;
use server_common::{Config, OffloadPool, Outcome, ReplyTo};

use crate::conn::AppConn;
use crate::worker::{AppSide, Worker};

/// The server's offload pool, replying to the ring that submitted each job.
pub(crate) type Pool = OffloadPool<RingReply>;

/// A finished job: its connection's slot and its outcome.
type Completion = (u32, Outcome);

/// Where an offloaded job's outcome goes: the connection's slot on its ring, that ring's completion
/// channel, and the ring's eventfd.
#[derive(Debug)]
pub(crate) struct RingReply {
    slot: u32,
    completions: Sender<Completion>,
    wake: Arc<OwnedFd>,
}

impl ReplyTo for RingReply {
    fn reply(self, outcome: Outcome) {
        // The channel holds as many outcomes as the pool admits jobs: this never waits. A ring that is
        // gone (drain deadline) no longer needs it.
        if self.completions.send((self.slot, outcome)).is_ok() {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writes 8 bytes from an 8-byte buffer to an eventfd this reply keeps open.
            unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    }
}

/// The ring-wide work state: the pool (offloaded) and the way its outcomes come back.
#[derive(Debug)]
pub(crate) struct WorkSide {
    pool: Option<Pool>,
    wake: Arc<OwnedFd>,
    completions: (Sender<Completion>, Receiver<Completion>),
}

impl WorkSide {
    /// Work on a ring whose wake-up eventfd is `wake`, offloaded to `pool` if there is one.
    pub(crate) fn new(config: &Config, pool: Option<Pool>, wake: OwnedFd) -> Self {
        WorkSide {
            pool,
            wake: Arc::new(wake),
            completions: bounded(config.offload_threads + config.offload_queue),
        }
    }
}

/// One work connection on the ring.
#[derive(Debug)]
pub(crate) struct WorkConn {
    session: WorkSession,
    /// Received bytes the framer could not take yet: `(buffer id, length, bytes taken)`, oldest first.
    held: VecDeque<(u16, usize, usize)>,
    /// Plaintext out of a TLS session that the framer could not take yet, in order (the session's
    /// buffers return to the ring at once, so the bytes wait here instead; empty and unallocated
    /// otherwise). The receive stays paused while it holds any.
    tls_pending: Vec<u8>,
    /// The client's EOF arrived (applied to the session once `held` is empty).
    eof: bool,
    wrote_fin: bool,
    linger_until: Option<Instant>,
}

impl WorkConn {
    /// A new connection's state.
    pub(crate) fn new(config: &Config) -> Self {
        WorkConn {
            session: WorkSession::new(config.max_line),
            held: VecDeque::new(),
            tls_pending: Vec::new(),
            eof: false,
            wrote_fin: false,
            linger_until: None,
        }
    }

    /// Whether received bytes wait for the framer: the receive pauses meanwhile.
    pub(crate) fn is_full(&self) -> bool {
        !self.held.is_empty() || !self.tls_pending.is_empty()
    }

    /// Plaintext out of a TLS session: into the framer, the rest kept (in order) until it can take it.
    pub(crate) fn tls_input(&mut self, data: &[u8]) {
        if self.wrote_fin {
            return; // lingering: input is drained and dropped
        }
        let taken = if self.tls_pending.is_empty() {
            self.session.push(data)
        } else {
            0
        };
        self.tls_pending.extend_from_slice(&data[taken..]);
    }

    /// Gives up every held buffer (the connection is being freed).
    pub(crate) fn take_buffers(&mut self) -> impl Iterator<Item = u16> + '_ {
        self.held.drain(..).map(|(bid, _, _)| bid)
    }
}

impl Worker {
    fn work(&mut self, slot: u32) -> Option<&mut WorkConn> {
        match &mut self.conns.get_mut(slot)?.app {
            AppConn::Work(work) => Some(work),
            _ => None,
        }
    }

    /// Received bytes: into the framer, or held (in order) until it can take them.
    pub(crate) fn work_data(&mut self, slot: u32, bid: u16, len: usize) {
        let Some(AppConn::Work(work)) = self.conns.get_mut(slot).map(|c| &mut c.app) else {
            self.bufs.recycle(bid);
            return;
        };
        if work.wrote_fin {
            self.bufs.recycle(bid); // lingering: input is drained and dropped
            return;
        }
        work.held.push_back((bid, len, 0));
        self.work_feed(slot);
    }

    /// Moves held bytes into the framer as far as it takes them, recycling emptied buffers; applies the
    /// EOF once nothing is held.
    fn work_feed(&mut self, slot: u32) {
        let Some(AppConn::Work(work)) = self.conns.get_mut(slot).map(|c| &mut c.app) else {
            return;
        };
        if !work.tls_pending.is_empty() {
            let taken = work.session.push(&work.tls_pending);
            work.tls_pending.drain(..taken);
            if !work.tls_pending.is_empty() {
                return;
            }
            work.tls_pending = Vec::new(); // hold no storage while nothing is pending
        }
        while let Some(&mut (bid, len, ref mut taken)) = work.held.front_mut() {
            let data = &self.bufs.filled(bid, len)[*taken..];
            *taken += work.session.push(data);
            if *taken < len {
                return;
            }
            work.held.pop_front();
            self.bufs.recycle(bid);
        }
        if work.eof {
            work.session.eof();
        }
    }

    pub(crate) fn work_read_end(&mut self, slot: u32) {
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.read_closed = true;
        }
        if let Some(work) = self.work(slot) {
            work.eof = true;
        }
        self.work_feed(slot);
        if let Some(conn) = self.conns.get_mut(slot)
            && matches!(&conn.app, AppConn::Work(work) if work.wrote_fin)
        {
            conn.closing = true;
        }
    }

    pub(crate) fn work_error(&mut self, slot: u32) {
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.read_closed = true;
            conn.closing = true;
        }
    }

    /// The idle timeout: closes a connection the client left idle (not one whose job is running).
    pub(crate) fn work_idle(&mut self, slot: u32) {
        if self.work(slot).is_some_and(|w| !w.session.is_executing()) {
            self.work_error(slot);
        }
    }

    /// The tick: a connection that half-closed and lingered long enough is closed.
    pub(crate) fn work_timer(&mut self, slot: u32, now: Instant) {
        let done = self
            .work(slot)
            .is_some_and(|w| w.linger_until.is_some_and(|at| now >= at));
        if done && let Some(conn) = self.conns.get_mut(slot) {
            conn.closing = true;
        }
    }

    /// Shutdown: queued offloaded jobs will come back `shutting-down`; every connection steps on with
    /// `stopping` (from `settle`).
    pub(crate) fn work_stop(&mut self) {
        if let AppSide::Work(side) = &self.side
            && let Some(pool) = &side.pool
        {
            pool.close();
        }
    }

    /// Every turn: hands each finished offloaded job's outcome to its connection.
    pub(crate) fn work_deliver(&mut self) -> io::Result<()> {
        loop {
            let AppSide::Work(side) = &self.side else {
                return Ok(());
            };
            let Ok((slot, outcome)) = side.completions.1.try_recv() else {
                return Ok(());
            };
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            conn.job_inflight = false;
            conn.last_input = Instant::now(); // idle time counts from the last executed request
            if let AppConn::Work(work) = &mut conn.app
                && work.session.is_executing()
            {
                work.session.finish(outcome);
            }
            self.settle(slot)?;
        }
    }

    /// With no send in flight and no job out: steps the session until it sends, hands a job to the
    /// pool, waits for input, or closes.
    pub(crate) fn work_pump(&mut self, slot: u32) -> io::Result<()> {
        if self
            .conns
            .get_mut(slot)
            .is_none_or(|conn| conn.job_inflight)
        {
            return Ok(());
        }
        loop {
            // Checked at every step: an inline job may have run long, and the ring notices the
            // signal only after this call.
            let stopping = self.stopping || self.shutdown.is_triggered();
            let Some(work) = self.work(slot) else {
                return Ok(());
            };
            if work.wrote_fin {
                return Ok(());
            }
            match work.session.next_step(stopping) {
                Step::Write => {
                    let output = work.session.output();
                    let (ptr, len) = (output.as_ptr(), output.len());
                    // SAFETY: the bytes are the session's output, which nothing changes until the send
                    // completed (`work_sent`): no step runs while a send is in flight and no job is out
                    // during one; the session lives in the connection, which is not freed before the
                    // send's completion arrives.
                    return unsafe { self.send(slot, ptr, len) };
                }
                Step::Execute(job) => {
                    let outcome = match &self.side {
                        AppSide::Work(side) if side.pool.is_some() => {
                            let reply = RingReply {
                                slot,
                                completions: side.completions.0.clone(),
                                wake: Arc::clone(&side.wake),
                            };
                            let submitted = side.pool.as_ref().map(|pool| pool.submit(job, reply));
                            match submitted {
                                Some(Ok(())) => {
                                    if let Some(conn) = self.conns.get_mut(slot) {
                                        conn.job_inflight = true;
                                    }
                                    return Ok(());
                                }
                                Some(Err(refused)) => Err(refused),
                                None => Ok(job.run()),
                            }
                        }
                        _ => Ok(job.run()),
                    };
                    let Some(conn) = self.conns.get_mut(slot) else {
                        return Ok(());
                    };
                    conn.last_input = Instant::now();
                    if let AppConn::Work(work) = &mut conn.app {
                        work.session.finish(outcome);
                    }
                }
                Step::Read => {
                    self.work_feed(slot);
                    if self
                        .work(slot)
                        .is_none_or(|work| !work.is_full() && !work.eof)
                    {
                        return Ok(()); // the receive (re-armed by settle) brings more
                    }
                }
                Step::Close => return self.work_finish(slot),
            }
        }
    }

    /// `n` bytes of the output went out.
    pub(crate) fn work_sent(&mut self, slot: u32, n: usize) {
        if let Some(work) = self.work(slot) {
            work.session.written(n);
        }
    }

    /// Everything owed was written: half-close, then close at the client's EOF or after the linger.
    fn work_finish(&mut self, slot: u32) -> io::Result<()> {
        let drain = self.drain.map(|d| d.instant());
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        conn.shutdown(libc::SHUT_WR);
        let read_closed = conn.read_closed;
        if let AppConn::Work(work) = &mut conn.app {
            work.wrote_fin = true;
            let linger = Instant::now() + CLOSE_LINGER;
            work.linger_until = Some(drain.map_or(linger, |d| d.min(linger)));
            for bid in work.take_buffers() {
                self.bufs.recycle(bid);
            }
            work.tls_pending = Vec::new();
        }
        if read_closed && let Some(conn) = self.conns.get_mut(slot) {
            conn.closing = true;
        }
        Ok(())
    }
}
