//! A one-way flag that blocking threads and async tasks of any runtime can wait on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use event_listener::{Event, EventListener, Listener};

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
    /// `fut` is polled first. A hand-written future: `fut` is laid out once inside it (an `async`
    /// wrapper would hold it twice, which a connection's task pays for as long as it lives).
    pub fn or_cancel<F: Future>(&self, fut: F) -> OrCancel<'_, F> {
        OrCancel {
            fut,
            latch: self,
            listener: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Latch::or_cancel`].
    #[must_use = "futures do nothing unless polled"]
    pub struct OrCancel<'a, F> {
        #[pin]
        fut: F,
        latch: &'a Latch,
        // Registered once `fut` first waits.
        listener: Option<EventListener>,
    }
}

impl<F: Future> Future for OrCancel<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Some(out));
        }
        loop {
            if this.latch.is_triggered() {
                return Poll::Ready(None);
            }
            match this.listener {
                // Checked again after listening: a trigger in between is not missed.
                None => *this.listener = Some(this.latch.inner.event.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *this.listener = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn trigger_wakes_a_blocked_thread() {
        let latch = Latch::new();
        let (woken_tx, woken) = std::sync::mpsc::channel();
        {
            let latch = latch.clone();
            std::thread::spawn(move || {
                latch.wait_blocking();
                let _ = woken_tx.send(());
            });
        }
        // Not woken before the trigger (bounded: 50 ms of not being woken is the evidence).
        assert!(woken.recv_timeout(Duration::from_millis(50)).is_err());
        latch.trigger();
        woken
            .recv_timeout(Duration::from_secs(10))
            .expect("the blocked waiter was not woken within 10 s of the trigger");
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

    #[test]
    fn or_cancel_wakes_a_waiting_future_on_trigger() {
        let latch = Latch::new();
        let trigger = latch.clone();
        let (dropped_tx, dropped) = std::sync::mpsc::channel();
        /// Tells when the cancelled future is dropped.
        struct Dropped(std::sync::mpsc::Sender<()>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let guard = Dropped(dropped_tx);
        let waiting = async move {
            let _guard = guard;
            std::future::pending::<()>().await
        };
        let trigger_thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            trigger.trigger();
        });
        // Bounded: a missed wake-up would hang, so the wait runs under a 10 s deadline.
        let out = futures_lite::future::block_on(futures_lite::future::or(
            async { Some(latch.or_cancel(waiting).await) },
            async {
                sleep_on_a_thread(Duration::from_secs(10)).await;
                None
            },
        ));
        assert_eq!(out, Some(None), "not woken by the trigger within 10 s");
        assert!(
            dropped.try_recv().is_ok(),
            "the cancelled future was not dropped"
        );
        trigger_thread.join().expect("trigger thread");
    }

    /// A sleep for tests without a runtime: a thread wakes the task after `d`.
    async fn sleep_on_a_thread(d: Duration) {
        let done = Latch::new();
        let waker = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            waker.trigger();
        });
        done.triggered().await;
    }
}
