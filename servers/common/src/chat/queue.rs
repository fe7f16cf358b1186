//! One client's outbound queue for the task-per-connection async runtimes: the lines the broker
//! posted, and the wake-ups of the connection's one task.
//!
//! The connection task is both the client's reader and its writer, so it is woken for two reasons:
//! lines were posted (or the broker closed the client), or its socket became readable. Both go
//! through here. The broker's [`QueueSender`] pushes lines under a mutex and wakes the task once per
//! batch of posts; the socket's readiness wakes the task through [`LineQueue::read_waker`], which also
//! marks the read side as due, so that a wake-up for lines does not make the task try a read (a
//! system call on some runtimes) and a wake-up for input does not make it look at the queue for
//! nothing.
//!
//! The queue allocates nothing until lines arrive and keeps little room once drained: the broker's
//! byte budget ([`Outlet`](super::Outlet)) bounds what it holds, as it bounded the channel it replaces.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Wake, Waker};

use chat_core::Line;

use super::{ClientWriter, Mailbox, WriteBatch};

/// Queues `line` at the back of a client's queue. The queue's first allocation holds one line, not a
/// `VecDeque`'s usual four: most clients are sent a line at a time (an idle one its `HELLO` and its
/// `OK JOIN`), and the queue keeps what it once allocated; one that is sent more grows as usual.
pub fn push_line(lines: &mut VecDeque<Line>, line: Line) {
    if lines.capacity() == 0 {
        lines.reserve_exact(1);
    }
    lines.push_back(line);
}

/// The room (in lines) a drained queue keeps; more is freed, so that one burst does not stay resident.
const KEEP_LINES: usize = 8;

/// The queue and wake-up state one connection task shares with the broker (and with its socket's
/// readiness). Made by [`LineQueue::new`]; the broker's end is a [`QueueSender`].
#[derive(Debug, Default)]
pub struct LineQueue {
    state: Mutex<State>,
    /// The socket woke the task since the read side last looked.
    readable: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    lines: VecDeque<Line>,
    /// The broker is done with the client (or dropped its end): no more lines will come.
    closed: bool,
    /// The connection task is gone: posted lines are dropped.
    gone: bool,
    /// The connection task's waker, from its latest poll.
    task: Option<Waker>,
    /// The task was woken for lines and has not looked at the queue since.
    notified: bool,
}

/// What [`LineQueue::next_batch`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// The writer holds a batch to write.
    Batch,
    /// The writer is done (queue closed and drained, or it must stop): what is queued is dropped.
    Done,
    /// Nothing queued yet; the task is woken when lines are posted or the queue is closed.
    Empty,
}

impl LineQueue {
    /// An empty, open queue; the read side starts out due (nothing has been read yet).
    pub fn new() -> Arc<Self> {
        Arc::new(LineQueue {
            state: Mutex::default(),
            readable: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The broker's end of this queue.
    pub fn sender(self: &Arc<Self>) -> QueueSender {
        QueueSender(Arc::clone(self))
    }

    /// The waker to read the socket with: it marks the read side due and wakes the task.
    pub fn read_waker(self: &Arc<Self>) -> Waker {
        Waker::from(Arc::clone(self))
    }

    /// Whether the socket woke the task since the last call (the read side is due); clears the mark.
    pub fn take_readable(&self) -> bool {
        self.readable.swap(false, Ordering::AcqRel)
    }

    /// Marks the read side due (after a read that returned bytes: read again until it would block).
    pub fn set_readable(&self) {
        self.readable.store(true, Ordering::Release);
    }

    /// Records the task's waker (once per task: a task's waker stays valid across its polls).
    pub fn register(&self, task: &Waker) {
        let mut state = self.lock();
        match &state.task {
            Some(known) if known.will_wake(task) => {}
            _ => state.task = Some(task.clone()),
        }
    }

    /// Has `writer` take the next batch: the queued lines, up to one
    /// batch, or the close instruction's last line once the queue is closed and drained (see
    /// [`ClientWriter::next_batch`]).
    pub fn next_batch(&self, writer: &mut ClientWriter) -> Taken {
        let mut state = self.lock();
        state.notified = false;
        let first = match state.lines.pop_front() {
            Some(line) => Some(line),
            None if state.closed => None,
            None => return Taken::Empty,
        };
        let taken = match writer.next_batch(first, || state.lines.pop_front()) {
            Some(_) => Taken::Batch,
            None => Taken::Done,
        };
        if state.lines.is_empty() && state.lines.capacity() > KEEP_LINES {
            state.lines = VecDeque::new();
        }
        taken
    }
}

impl Wake for LineQueue {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.readable.store(true, Ordering::Release);
        if let Some(task) = &self.lock().task {
            task.wake_by_ref();
        }
    }
}

/// The broker's end of a [`LineQueue`]. Dropping it closes the queue (as [`Mailbox::close`] does).
#[derive(Debug)]
pub struct QueueSender(Arc<LineQueue>);

impl Mailbox for QueueSender {
    fn post(&mut self, line: Line) {
        let mut state = self.0.lock();
        if state.gone {
            return;
        }
        push_line(&mut state.lines, line);
        if !state.notified {
            state.notified = true;
            if let Some(task) = &state.task {
                task.wake_by_ref();
            }
        }
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.closed = true;
        if let Some(task) = &state.task {
            task.wake_by_ref();
        }
    }
}

/// The connection task's hold on its [`LineQueue`]: dropped with the task, it makes later posts drop
/// their lines and frees what is queued.
#[derive(Debug)]
pub struct QueueReceiver(pub Arc<LineQueue>);

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.gone = true;
        state.lines = VecDeque::new();
        state.task = None;
    }
}

impl std::ops::Deref for QueueReceiver {
    type Target = LineQueue;

    fn deref(&self) -> &LineQueue {
        &self.0
    }
}

/// A one-line batch (the cut-off's parting line), kept apart from the writer's.
pub(super) fn single(line: Line) -> WriteBatch<Line> {
    let mut batch = WriteBatch::new();
    batch.push(line);
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn posts_wake_once_per_batch_and_close_wakes() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let queue = LineQueue::new();
        let mut sender = queue.sender();
        queue.register(&task);
        sender.post(Line::new(b"a\n"));
        sender.post(Line::new(b"b\n"));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(queue.take_readable());
        assert!(!queue.take_readable());
        queue.read_waker().wake_by_ref();
        assert!(queue.take_readable());
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        drop(sender);
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        assert!(queue.lock().closed);
        assert_eq!(queue.lock().lines.len(), 2);
        let receiver = QueueReceiver(Arc::clone(&queue));
        drop(receiver);
        assert!(queue.lock().lines.is_empty());
    }
}
