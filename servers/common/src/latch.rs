//! A one-way flag that blocking threads and async tasks of any runtime can wait on.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use event_listener::{Event, Listener};

/// A one-way latch: once triggered it stays triggered. Cloning shares it. It depends on no runtime
/// (it is built on `event-listener`), so the same value drives the threads, tokio, async-std and smol
/// variants. The server's [`Shutdown`](crate::Shutdown) is one; so are a chat writer's "client cut
/// off" and "reader done" flags.
#[derive(Debug, Clone, Default)]
pub struct Latch {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    triggered: AtomicBool,
    event: Event,
}

impl Latch {
    /// A latch that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers the latch and wakes every waiter. Idempotent.
    pub fn trigger(&self) {
        if !self.inner.triggered.swap(true, Ordering::AcqRel) {
            self.inner.event.notify(usize::MAX);
        }
    }

    /// Whether the latch has been triggered.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::Acquire)
    }

    /// Blocks the calling thread until the latch is triggered.
    pub fn wait_blocking(&self) {
        while !self.is_triggered() {
            let listener = self.inner.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.wait();
        }
    }

    /// Blocks until the latch is triggered or `deadline` passes; returns whether it was triggered.
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

    /// Resolves once the latch is triggered.
    pub async fn triggered(&self) {
        while !self.is_triggered() {
            let listener = self.inner.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }

    /// Runs `fut` until it completes (`Some`) or the latch is triggered (`None`, and `fut` is dropped).
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
        let latch = Latch::new();
        let waiter = {
            let latch = latch.clone();
            std::thread::spawn(move || latch.wait_blocking())
        };
        std::thread::sleep(Duration::from_millis(10));
        latch.trigger();
        waiter.join().expect("waiter thread");
        assert!(latch.is_triggered());
    }

    #[test]
    fn wait_until_times_out_when_not_triggered() {
        let latch = Latch::new();
        assert!(!latch.wait_blocking_until(Instant::now() + Duration::from_millis(5)));
        latch.trigger();
        assert!(latch.wait_blocking_until(Instant::now()));
    }

    #[test]
    fn or_cancel_drops_the_future_on_trigger() {
        let latch = Latch::new();
        latch.trigger();
        let out = futures_lite::future::block_on(latch.or_cancel(std::future::pending::<()>()));
        assert_eq!(out, None);
        let latch = Latch::new();
        let out = futures_lite::future::block_on(latch.or_cancel(async { 7 }));
        assert_eq!(out, Some(7));
    }
}
