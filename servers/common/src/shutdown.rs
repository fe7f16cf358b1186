//! A shutdown signal that blocking threads and async tasks of any runtime can wait on.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use event_listener::{Event, Listener};

/// A one-way latch: once triggered it stays triggered. Cloning shares it. It depends on no runtime
/// (it is built on `event-listener`), so the same value drives the threads, tokio and async-std variants.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    triggered: AtomicBool,
    event: Event,
}

impl Shutdown {
    /// A latch that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers shutdown and wakes every waiter. Idempotent.
    pub fn trigger(&self) {
        if !self.inner.triggered.swap(true, Ordering::AcqRel) {
            self.inner.event.notify(usize::MAX);
        }
    }

    /// Whether shutdown has been triggered.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::Acquire)
    }

    /// Blocks the calling thread until shutdown is triggered.
    pub fn wait_blocking(&self) {
        while !self.is_triggered() {
            let listener = self.inner.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.wait();
        }
    }

    /// Blocks until shutdown is triggered or `deadline` passes; returns whether it was triggered.
    pub fn wait_blocking_until(&self, deadline: Instant) -> bool {
        while !self.is_triggered() {
            let listener = self.inner.event.listen();
            if self.is_triggered() {
                return true;
            }
            if listener.wait_deadline(deadline).is_none() {
                return self.is_triggered();
            }
        }
        true
    }

    /// Resolves once shutdown is triggered.
    pub async fn triggered(&self) {
        while !self.is_triggered() {
            let listener = self.inner.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }

    /// Runs `fut` until it completes (`Some`) or shutdown is triggered (`None`, and `fut` is dropped).
    /// Async variants wrap a whole connection in this once, not each read, so the hot path pays nothing.
    pub async fn or_cancel<F: Future>(&self, fut: F) -> Option<F::Output> {
        futures_lite::future::or(async { Some(fut.await) }, async {
            self.triggered().await;
            None
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn trigger_wakes_a_blocked_thread() {
        let shutdown = Shutdown::new();
        let waiter = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || shutdown.wait_blocking())
        };
        std::thread::sleep(Duration::from_millis(10));
        shutdown.trigger();
        waiter.join().expect("waiter thread");
        assert!(shutdown.is_triggered());
    }

    #[test]
    fn wait_until_times_out_when_not_triggered() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.wait_blocking_until(Instant::now() + Duration::from_millis(5)));
        shutdown.trigger();
        assert!(shutdown.wait_blocking_until(Instant::now()));
    }

    #[test]
    fn or_cancel_drops_the_future_on_trigger() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let out = futures_lite::future::block_on(shutdown.or_cancel(std::future::pending::<()>()));
        assert_eq!(out, None);
        let shutdown = Shutdown::new();
        let out = futures_lite::future::block_on(shutdown.or_cancel(async { 7 }));
        assert_eq!(out, Some(7));
    }
}
