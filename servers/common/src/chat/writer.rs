//! A chat connection's writing half, runtime-free: the variant moves bytes, this decides what to
//! write, when to stop, and how the connection ends (the close instruction's last line).

use std::future::Future;
use std::sync::Arc;

use chat_core::{Line, Queued};
use futures_lite::future;

use super::Outlet;
use super::batch::{CLOSE_LINGER, WriteBatch};
use crate::{Latch, WaitGroupGuard};

/// One client's output side: its outlet, its current batch, and the latches it shares with its reader
/// and the server. Made by [`ChatHub::open`](super::ChatHub::open); the server's drain waits until every
/// `ClientWriter` is dropped.
///
/// A variant's write loop is: take the next queued line (`None` once the broker closed the queue), ask
/// [`next_batch`](Self::next_batch) what to write, write it, call [`written`](Self::written); stop when
/// `next_batch` returns `None`. Then write the [`parting_line`](Self::parting_line) if there is one, half
/// close, and [`linger`](Self::linger).
#[derive(Debug)]
pub struct ClientWriter {
    outlet: Arc<Outlet>,
    hard_stop: Latch,
    /// Triggered when a reader of its own is done (`None` when reader and writer are one task).
    reader_done: Option<Latch>,
    batch: WriteBatch<Line>,
    /// The batch holds the close's last line, whose bytes were never reserved.
    batch_is_last: bool,
    last_taken: bool,
    _live: WaitGroupGuard,
}

/// What stops a writer early: its client cut off, or the server's drain deadline. Cloned out of a
/// [`ClientWriter`] so that it can race the write loop that borrows the writer.
#[derive(Debug, Clone)]
pub struct WriterStop {
    outlet: Arc<Outlet>,
    hard_stop: Latch,
}

impl ClientWriter {
    pub(super) fn new(
        outlet: Arc<Outlet>,
        hard_stop: Latch,
        reader_done: Option<Latch>,
        live: WaitGroupGuard,
    ) -> Self {
        ClientWriter {
            outlet,
            hard_stop,
            reader_done,
            batch: WriteBatch::new(),
            batch_is_last: false,
            last_taken: false,
            _live: live,
        }
    }

    /// What to write next: `first` (the next queued line, `None` once the queue is closed and empty)
    /// and as many more as `more` yields, up to one batch; after the queue, the close instruction's last
    /// line (when it keeps the queue). `None`: the writer is done, or must stop (client cut off, drain
    /// deadline), and what is still queued is dropped.
    pub fn next_batch(
        &mut self,
        first: Option<Line>,
        mut more: impl FnMut() -> Option<Line>,
    ) -> Option<&WriteBatch<Line>> {
        if self.is_stopped() {
            return None;
        }
        match first {
            Some(line) => {
                self.batch.push(line);
                while !self.batch.is_full() {
                    let Some(line) = more() else { break };
                    self.batch.push(line);
                }
            }
            None => {
                let close = self.outlet.close_instruction()?;
                if self.last_taken || close.queued != Queued::Flush {
                    return None;
                }
                self.last_taken = true;
                self.batch_is_last = true;
                self.batch.push(close.last_line.clone()?);
            }
        }
        Some(&self.batch)
    }

    /// The batch [`next_batch`](Self::next_batch) returned last, until it is [`written`](Self::written)
    /// (empty when the writer holds none).
    pub fn batch(&self) -> &WriteBatch<Line> {
        &self.batch
    }

    /// The batch was written: its bytes leave the client's budget.
    pub fn written(&mut self) {
        let bytes = self.batch.clear();
        if !std::mem::take(&mut self.batch_is_last) {
            self.outlet.release(bytes);
        }
    }

    /// Whether the writer must stop before its next write: client cut off, or drain deadline passed.
    pub fn is_stopped(&self) -> bool {
        self.outlet.is_cut() || self.hard_stop.is_triggered()
    }

    /// A handle that resolves when the writer must stop, to race a write loop with.
    pub fn stop_signal(&self) -> WriterStop {
        WriterStop {
            outlet: Arc::clone(&self.outlet),
            hard_stop: self.hard_stop.clone(),
        }
    }

    /// For a client cut off (slow consumer) while the writer was between two writes: the close's last
    /// line, to write best effort (within [`STALL_TICK`](super::STALL_TICK)). `None` otherwise.
    pub fn parting_line(&self) -> Option<Line> {
        let close = self.outlet.close_instruction()?;
        (close.queued == Queued::Discard)
            .then(|| close.last_line.clone())
            .flatten()
    }

    /// After the writer half-closed: blocks until the reader has seen the client's EOF, at most
    /// [`CLOSE_LINGER`], so that closing does not reset the connection under its last lines.
    pub fn linger_blocking(&self) {
        if let Some(done) = &self.reader_done {
            done.wait_blocking_until(std::time::Instant::now() + CLOSE_LINGER);
        }
    }
}

impl WriterStop {
    /// Whether the writer must stop (for blocking writers, which poll).
    pub fn is_stopped(&self) -> bool {
        self.outlet.is_cut() || self.hard_stop.is_triggered()
    }

    /// Resolves once the writer must stop (to race a pending write with, owning the handle).
    pub async fn stopped(self) {
        future::or(self.outlet.cut_off(), self.hard_stop.triggered()).await;
    }

    /// Runs `fut` until it completes (`Some`) or the writer must stop (`None`, and `fut` is dropped).
    pub async fn or_stopped<F: Future>(&self, fut: F) -> Option<F::Output> {
        future::or(async { Some(fut.await) }, async {
            future::or(self.outlet.cut_off(), self.hard_stop.triggered()).await;
            None
        })
        .await
    }
}
