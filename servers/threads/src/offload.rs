//! The work app's offload pool, blocking: the shared [`OffloadPool`] (`--offload-threads` threads fed
//! by a bounded crossbeam channel). A connection thread hands over its job and blocks on its own reply
//! channel, so the hand-off (two channel operations and two thread wake-ups per request) is all that
//! offloading adds here.

use chat_core::{ErrorCode, Job};
use crossbeam_channel::{Receiver, Sender, bounded};
use server_common::{OffloadPool, Outcome};

/// The pool, replying on each connection's own channel.
pub(crate) type Pool = OffloadPool<Sender<Outcome>>;

/// A connection's reply channel, made once per connection (it holds one result at a time).
pub(crate) struct Replies(Sender<Outcome>, Receiver<Outcome>);

impl Replies {
    /// A new channel.
    pub(crate) fn new() -> Self {
        let (sender, receiver) = bounded(1);
        Replies(sender, receiver)
    }

    /// Runs `job` on `pool` and blocks until its outcome; `busy` at once when the pool and its queue
    /// are full.
    pub(crate) fn execute(&self, pool: &Pool, job: Job) -> Outcome {
        pool.submit(job, self.0.clone())?;
        self.1.recv().unwrap_or(Err(ErrorCode::ShuttingDown))
    }
}
