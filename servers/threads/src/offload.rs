//! The work app's offload pool, blocking: `--offload-threads` threads fed by a bounded crossbeam
//! channel. A connection thread hands over its job and blocks on its own reply channel, so the hand-off
//! (two channel operations and two thread wake-ups per request) is all that offloading adds here.

use chat_core::{Done, ErrorCode, Job};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use server_common::{Admitted, Config, OffloadSlots, ServerError};

/// A job's result, sent back to the connection thread that handed it over.
pub(crate) type Outcome = Result<Done, ErrorCode>;

/// One offloaded request: its admission slot, the job, and where its result goes.
struct Task {
    admitted: Admitted,
    job: Job,
    reply: Sender<Outcome>,
}

/// The pool's handle: admission slots and the queue's sending end. Dropping every handle ends the
/// pool threads after their current job.
#[derive(Clone)]
pub(crate) struct Pool {
    slots: OffloadSlots,
    tasks: Sender<Task>,
}

impl Pool {
    /// Starts `config.offload_threads` pool threads.
    pub(crate) fn start(config: &Config) -> Result<Pool, ServerError> {
        let slots = OffloadSlots::from_config(config);
        // Admission bounds what is queued to threads + queue, so the channel never fills.
        let (tasks, queue) = bounded(config.offload_threads + config.offload_queue);
        for _ in 0..slots.threads() {
            let queue: Receiver<Task> = queue.clone();
            std::thread::Builder::new()
                .name("work-offload".into())
                .spawn(move || {
                    for Task {
                        admitted,
                        job,
                        reply,
                    } in queue
                    {
                        let _ = reply.send(admitted.run(job));
                    }
                })
                .map_err(|source| ServerError::Spawn {
                    what: "work offload pool",
                    source,
                })?;
        }
        Ok(Pool { slots, tasks })
    }

    /// Runs `job` on the pool and blocks until its result, which `replies` (this connection's own
    /// channel, made once per connection by [`replies`]) carries back; `busy` at once when the pool and
    /// its queue are full.
    pub(crate) fn execute(
        &self,
        job: Job,
        replies: &(Sender<Outcome>, Receiver<Outcome>),
    ) -> Outcome {
        let admitted = self.slots.try_admit()?;
        let task = Task {
            admitted,
            job,
            reply: replies.0.clone(),
        };
        match self.tasks.try_send(task) {
            Ok(()) => replies.1.recv().unwrap_or(Err(ErrorCode::ShuttingDown)),
            Err(TrySendError::Full(_)) => Err(ErrorCode::Busy),
            Err(TrySendError::Disconnected(_)) => Err(ErrorCode::ShuttingDown),
        }
    }

    /// Shutdown: jobs that have not started are answered `shutting-down`.
    pub(crate) fn close(&self) {
        self.slots.close();
    }
}

/// A connection's reply channel, made once per connection (it holds one result at a time).
pub(crate) fn replies() -> (Sender<Outcome>, Receiver<Outcome>) {
    bounded(1)
}
