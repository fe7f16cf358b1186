//! The work app's offload pool for the variants that have no blocking pool of their own (threads,
//! mio, uring): `--offload-threads` threads fed by a bounded crossbeam channel. Each job carries where
//! its result goes ([`ReplyTo`]): a blocked connection thread's channel, or an event loop's completion
//! queue plus the loop's wake-up. Admission ([`OffloadSlots`]) bounds what is queued, so the channel
//! never fills and a request beyond `threads + queue` is refused `busy` at once.
//!
//! Per request: one channel send and receive, and one thread wake-up each way; nothing is allocated
//! (the channel's slots are allocated once, the reply route is cloned, not boxed).

use chat_core::{Done, ErrorCode, Job};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::{Admitted, Config, OffloadSlots, ServerError};

/// An offloaded job's result: the reply, or why it was not executed (`busy`, `shutting-down`).
pub type Outcome = Result<Done, ErrorCode>;

/// Where a job's [`Outcome`] goes once a pool thread has produced it.
pub trait ReplyTo: Send + 'static {
    /// Delivers the outcome (on the pool thread: must not block for long).
    fn reply(self, outcome: Outcome);
}

impl ReplyTo for Sender<Outcome> {
    fn reply(self, outcome: Outcome) {
        // A connection that is gone (abandoned at the drain deadline) no longer needs it.
        let _ = self.send(outcome);
    }
}

/// One offloaded request: its slot, the job, and where its outcome goes.
struct Task<R> {
    admitted: Admitted,
    job: Job,
    reply: R,
}

/// The pool's handle (cloning shares the pool). The threads end, after their current job, once every
/// handle is dropped.
#[derive(Debug)]
pub struct OffloadPool<R> {
    slots: OffloadSlots,
    tasks: Sender<Task<R>>,
}

impl<R> Clone for OffloadPool<R> {
    fn clone(&self) -> Self {
        OffloadPool {
            slots: self.slots.clone(),
            tasks: self.tasks.clone(),
        }
    }
}

impl<R> std::fmt::Debug for Task<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("job", &self.job).finish()
    }
}

impl<R: ReplyTo> OffloadPool<R> {
    /// Starts `config.offload_threads` threads named `name`, with `config.offload_queue` places to
    /// wait in.
    pub fn start(config: &Config, name: &str) -> Result<Self, ServerError> {
        let slots = OffloadSlots::from_config(config);
        // Admission keeps at most threads + queue tasks in the pool, so this channel never fills.
        let (tasks, queue) = bounded(slots.threads() + config.offload_queue);
        for _ in 0..slots.threads() {
            let queue: Receiver<Task<R>> = queue.clone();
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    for task in queue {
                        let outcome = task.admitted.run(task.job);
                        task.reply.reply(outcome);
                    }
                })
                .map_err(|source| ServerError::Spawn {
                    what: "work offload pool",
                    source,
                })?;
        }
        Ok(OffloadPool { slots, tasks })
    }

    /// Hands `job` to the pool; its outcome goes to `reply`. `Err(busy)` at once when the pool and its
    /// queue are full, `Err(shutting-down)` once closed: then `reply` is dropped unused.
    pub fn submit(&self, job: Job, reply: R) -> Result<(), ErrorCode> {
        let admitted = self.slots.try_admit()?;
        let task = Task {
            admitted,
            job,
            reply,
        };
        match self.tasks.try_send(task) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ErrorCode::Busy),
            Err(TrySendError::Disconnected(_)) => Err(ErrorCode::ShuttingDown),
        }
    }

    /// Shutdown: queued jobs are answered `shutting-down` (see [`OffloadSlots::close`]).
    pub fn close(&self) {
        self.slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jobs_run_on_the_pool_and_reply() {
        let config = Config {
            offload_threads: 2,
            offload_queue: 1,
            ..Config::default()
        };
        let pool = OffloadPool::start(&config, "test-pool").expect("pool");
        let (tx, rx) = bounded(4);
        for n in [5, 6, 7] {
            pool.submit(Job::Fib(n), tx.clone()).expect("admitted");
        }
        let mut got: Vec<String> = (0..3)
            .map(|_| {
                let done = rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("a reply within 10 s")
                    .expect("executed");
                let mut line = Vec::new();
                done.write_reply(&mut line);
                String::from_utf8(line).expect("utf8")
            })
            .collect();
        got.sort();
        assert_eq!(got, ["FIB 5 5\n", "FIB 6 8\n", "FIB 7 13\n"]);
        pool.close();
        assert_eq!(pool.submit(Job::Fib(1), tx), Err(ErrorCode::ShuttingDown));
    }
}
