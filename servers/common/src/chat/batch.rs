//! A chat writer's vectored-write batch, and the tuning constants every variant's chat shares.

use std::io::IoSlice;
use std::time::Duration;

/// The most lines one vectored write gathers.
pub const WRITE_BATCH: usize = 64;

/// The capacity, in events, of a chat broker's inbox. Readers wait when it is full.
pub const BROKER_INBOX: usize = 4096;

/// An async broker yields to its runtime after this many events in a row (see
/// [`Broker::yield_due`](super::Broker::yield_due)), so that the writers it wakes get to run on its
/// worker thread too.
pub const BROKER_BATCH: u64 = 64;

/// How often a blocked writer in a blocking variant wakes to check whether it was aborted, and how long
/// any writer tries to deliver its best-effort `ERR slow-consumer`.
pub const STALL_TICK: Duration = Duration::from_millis(100);

/// After a writer has sent its last line and half-closed, how long it lets the client's remaining input
/// drain before closing the reading side too (closing with unread input would reset the connection and
/// could destroy the last lines in flight).
pub const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Up to [`WRITE_BATCH`] queued lines gathered for one vectored write. Reused across writes.
#[derive(Debug)]
pub struct WriteBatch<L> {
    lines: Vec<L>,
    bytes: usize,
}

impl<L: AsRef<[u8]>> WriteBatch<L> {
    /// An empty batch. It grows to the most lines a batch has held (at most [`WRITE_BATCH`]; one line
    /// at first) and keeps that room, so a client that is sent little holds little.
    pub fn new() -> Self {
        WriteBatch {
            lines: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a line.
    pub fn push(&mut self, line: L) {
        if self.lines.capacity() == 0 {
            self.lines.reserve_exact(1); // most batches are one line (see `queue::push_line`)
        }
        self.bytes += line.as_ref().len();
        self.lines.push(line);
    }

    /// Whether no more lines should be added.
    pub fn is_full(&self) -> bool {
        self.lines.len() >= WRITE_BATCH
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Total bytes of the lines held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Fills `slices` with the lines and returns the filled part, ready for `write_vectored` and
    /// `IoSlice::advance_slices`.
    pub fn io_slices<'a>(
        &'a self,
        slices: &'a mut [IoSlice<'a>; WRITE_BATCH],
    ) -> &'a mut [IoSlice<'a>] {
        let n = self.lines.len().min(WRITE_BATCH);
        for (slice, line) in slices.iter_mut().zip(&self.lines[..n]) {
            *slice = IoSlice::new(line.as_ref());
        }
        &mut slices[..n]
    }

    /// Empties the batch and returns how many bytes it held (to release from the budget).
    pub fn clear(&mut self) -> usize {
        self.lines.clear();
        std::mem::take(&mut self.bytes)
    }
}

impl<L: AsRef<[u8]>> Default for WriteBatch<L> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_gathers_slices() {
        let mut batch = WriteBatch::new();
        batch.push(b"ab\n".to_vec());
        batch.push(b"c\n".to_vec());
        assert_eq!(batch.bytes(), 5);
        let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
        let bufs = batch.io_slices(&mut slices);
        let mut bufs = &mut bufs[..];
        assert_eq!(bufs.len(), 2);
        IoSlice::advance_slices(&mut bufs, 4);
        assert_eq!(&*bufs[0], b"\n");
        assert_eq!(batch.clear(), 5);
        assert!(batch.is_empty());
        for _ in 0..WRITE_BATCH {
            batch.push(b"x\n".to_vec());
        }
        assert!(batch.is_full());
    }
}
