//! Admission to a work server's offload pool: at most `threads + queue` offloaded requests at once
//! (running plus waiting), so that a flood of slow requests gets `ERR busy` at once instead of
//! growing a queue. The same type bounds every variant's pool, whatever the pool is (a pool of our own
//! threads, tokio's `spawn_blocking`, the `blocking` crate behind async-std and smol).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use chat_core::{Done, ErrorCode, Job};

use crate::Config;

/// The offload pool's admission count, shared by every connection (cloning shares it).
///
/// A connection takes an [`Admitted`] with [`try_admit`](Self::try_admit) before it hands a job to
/// the pool, and moves it into what the pool runs; [`Admitted::run`] executes the job there and the
/// slot is free again once the reply is produced. [`Admitted::run`] also lets at most `threads` jobs
/// run at once: a pool of exactly `threads` threads never waits there, a larger pool (the `blocking`
/// crate's, sized by `BLOCKING_MAX_THREADS`) parks the extra threads until a job ends, so
/// `--offload-threads` means the same in every variant.
///
/// Shutdown ([`close`](Self::close)): jobs running finish, and so do jobs admitted that had a free
/// thread waiting for them (at most `threads` in all: a job whose pool thread had not picked it up yet
/// counts as running, so the outcome does not depend on how quickly a pool thread wakes); every other
/// admitted job is queued, and is answered `ERR shutting-down` without running.
#[derive(Debug, Clone)]
pub struct OffloadSlots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    threads: usize,
    capacity: usize,
    state: Mutex<State>,
    /// Signalled when a running job ends (or at close) while some job waits to start.
    started: Condvar,
}

#[derive(Debug, Default)]
struct State {
    admitted: usize,
    running: usize,
    waiting: usize,
    closed: bool,
    /// After close: how many more jobs may still start (those that had a free thread at close).
    grace: usize,
}

/// One admitted request's slot; moved into the pool's closure and freed when dropped (after the
/// reply is produced, or when the job is dropped unrun).
#[derive(Debug)]
pub struct Admitted {
    slots: OffloadSlots,
}

impl OffloadSlots {
    /// Slots for a pool of `threads` threads (at least 1) and `queue` waiting requests.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        OffloadSlots {
            inner: Arc::new(Inner {
                threads,
                capacity: threads + queue,
                state: Mutex::new(State::default()),
                started: Condvar::new(),
            }),
        }
    }

    /// Slots sized by `--offload-threads` and `--offload-queue`.
    pub fn from_config(config: &Config) -> Self {
        Self::new(config.offload_threads, config.offload_queue)
    }

    /// The number of threads the pool runs jobs on.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The counters are updated in single statements: a panic cannot leave them half-changed.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for one request: `Err(Busy)` when `threads + queue` requests are already admitted,
    /// `Err(ShuttingDown)` once [`close`](Self::close)d.
    pub fn try_admit(&self) -> Result<Admitted, ErrorCode> {
        let mut state = self.lock();
        if state.closed {
            return Err(ErrorCode::ShuttingDown);
        }
        if state.admitted >= self.inner.capacity {
            return Err(ErrorCode::Busy);
        }
        state.admitted += 1;
        Ok(Admitted {
            slots: self.clone(),
        })
    }

    /// Shutdown: admits nothing more; running jobs finish, and so do admitted jobs a free thread was
    /// waiting for; the queued rest is answered `shutting-down` instead of running.
    pub fn close(&self) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        let free_threads = self.inner.threads.saturating_sub(state.running);
        state.grace = free_threads.min(state.admitted - state.running);
        if state.waiting > 0 {
            self.inner.started.notify_all();
        }
    }

    /// Requests admitted and not yet answered (running or waiting).
    pub fn admitted(&self) -> usize {
        self.lock().admitted
    }
}

impl Admitted {
    /// On a pool thread: waits until fewer than `threads` jobs run (never, in a pool of exactly
    /// `threads` threads), then runs `job` and returns its result; `Err(ShuttingDown)` without
    /// running it if it was still queued when the slots were closed. The slot is freed on return.
    pub fn run(self, job: Job) -> Result<Done, ErrorCode> {
        let inner = &self.slots.inner;
        {
            let mut state = self.slots.lock();
            while state.running >= inner.threads && !state.closed {
                state.waiting += 1;
                state = inner
                    .started
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.waiting -= 1;
            }
            if state.closed {
                if state.grace == 0 {
                    return Err(ErrorCode::ShuttingDown);
                }
                state.grace -= 1;
            }
            state.running += 1;
        }
        let done = job.run();
        let mut state = self.slots.lock();
        state.running -= 1;
        if state.waiting > 0 {
            inner.started.notify_one();
        }
        Ok(done)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.slots.lock().admitted -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn admits_threads_plus_queue_then_busy() {
        let slots = OffloadSlots::new(1, 1);
        let a = slots.try_admit().expect("running slot");
        let b = slots.try_admit().expect("queued slot");
        assert_eq!(slots.try_admit().err(), Some(ErrorCode::Busy));
        drop(a);
        let c = slots.try_admit().expect("freed slot");
        assert_eq!(slots.admitted(), 2);
        drop((b, c));
        assert_eq!(slots.admitted(), 0);
    }

    #[test]
    fn run_frees_the_slot_and_closed_slots_refuse() {
        let slots = OffloadSlots::new(2, 0);
        let admitted = slots.try_admit().expect("slot");
        assert_eq!(
            admitted.run(Job::Fib(10)).map(|d| d.job()),
            Ok(Job::Fib(10))
        );
        assert_eq!(slots.admitted(), 0);
        // Admitted with a free thread waiting for it: it still runs after close; one more does not.
        let first = slots.try_admit().expect("slot");
        let second = slots.try_admit().expect("slot");
        let third = slots.try_admit().err();
        assert_eq!(third, Some(ErrorCode::Busy));
        slots.close();
        assert!(first.run(Job::Sleep(0)).is_ok());
        assert!(second.run(Job::Sleep(0)).is_ok());
        let slots = OffloadSlots::new(1, 1);
        let (first, second) = (
            slots.try_admit().expect("slot"),
            slots.try_admit().expect("slot"),
        );
        slots.close();
        assert!(first.run(Job::Sleep(0)).is_ok());
        assert_eq!(second.run(Job::Sleep(0)), Err(ErrorCode::ShuttingDown));
        assert_eq!(slots.try_admit().err(), Some(ErrorCode::ShuttingDown));
        assert_eq!(slots.admitted(), 0);
    }

    fn wait_until(condition: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(
                std::time::Instant::now() < deadline,
                "condition not met within 10 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn at_most_threads_run_at_once_and_close_wakes_waiters() {
        let slots = OffloadSlots::new(1, 4);
        let first = slots.try_admit().expect("slot");
        let second = slots.try_admit().expect("slot");
        let (tx, rx) = std::sync::mpsc::channel();
        let running = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(("first", first.run(Job::Sleep(200)))))
        };
        // Once the first job runs, the second must wait for it; close wakes it unrun.
        wait_until(|| slots.lock().running == 1);
        let waiting = std::thread::spawn(move || tx.send(("second", second.run(Job::Sleep(0)))));
        wait_until(|| slots.lock().waiting == 1);
        slots.close();
        let (which, outcome) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the waiting job was not woken by close within 10 s");
        assert_eq!((which, outcome), ("second", Err(ErrorCode::ShuttingDown)));
        let (which, outcome) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("first ends");
        assert_eq!(which, "first");
        assert!(outcome.is_ok());
        let _ = (running.join(), waiting.join());
    }
}
