//! The executor threads: one shared [`Executor`] run by `workers` threads, the way smol's documentation
//! runs a multi-threaded executor (each thread `block_on(ex.run(shutdown.recv()))`), and the spawning
//! of tasks onto it from any of the server's threads.
//!
//! smol has no ambient runtime like `tokio::spawn`, and the chat loops spawn through a plain function
//! ([`TaskRuntime::spawn`](server_common::chat::tasks::TaskRuntime::spawn)), so every thread that runs
//! the server's futures — the workers and the thread that called [`run`](crate::run) — enters the
//! executor ([`enter`]) and [`spawn`] finds it there.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use smol::channel::{self, Sender};
use smol::{Executor, Task};

thread_local! {
    /// The executor of the server this thread works for.
    static CURRENT: RefCell<Option<Arc<Executor<'static>>>> = const { RefCell::new(None) };
}

/// Makes `executor` the one [`spawn`] uses on this thread until the guard is dropped.
pub(crate) fn enter(executor: &Arc<Executor<'static>>) -> Entered {
    let previous = CURRENT.replace(Some(Arc::clone(executor)));
    Entered { previous }
}

/// Restores the thread's previous executor when dropped.
pub(crate) struct Entered {
    previous: Option<Arc<Executor<'static>>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.set(self.previous.take());
    }
}

/// Spawns `task` onto the executor this thread entered.
///
/// # Panics
/// When called on a thread that entered no executor: only the server's own threads spawn.
pub(crate) fn spawn<T: Send + 'static>(task: impl Future<Output = T> + Send + 'static) -> Task<T> {
    CURRENT.with_borrow(|executor| {
        executor
            .as_ref()
            .expect("spawn is called only on a thread that entered the executor")
            .spawn(task)
    })
}

/// The worker threads running the executor until [`stop`](Workers::stop).
pub(crate) struct Workers {
    stop: Sender<()>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` threads, each running `executor` until stopped.
    pub(crate) fn start(executor: &Arc<Executor<'static>>, count: usize) -> io::Result<Workers> {
        let (stop, stopped) = channel::bounded::<()>(1);
        let mut workers = Workers {
            stop,
            threads: Vec::with_capacity(count),
        };
        for _ in 0..count {
            let executor = Arc::clone(executor);
            let stopped = stopped.clone();
            let thread = std::thread::Builder::new()
                .name("smol-worker".into())
                .spawn(move || {
                    let _entered = enter(&executor);
                    // Ends when `stop` is closed; the tasks left in the executor then stay unpolled.
                    let _ = smol::block_on(executor.run(stopped.recv()));
                })?;
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// Stops every worker after its current task and waits for the threads to end.
    pub(crate) fn stop(self) {
        let Workers { stop, threads } = self;
        stop.close();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a smol worker thread panicked");
            }
        }
    }
}
