//! The connection limit (`--max-conns`), which doubles as the count of live connections that shutdown
//! waits on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use event_listener::{Event, Listener};

/// Counts live connections and refuses more than the configured maximum. Cloning shares the count.
#[derive(Debug, Clone)]
pub struct ConnLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    active: AtomicUsize,
    /// Notified whenever the count drops to zero.
    idle: Event,
}

/// Proof that a connection holds one slot; the slot is freed when this is dropped.
#[derive(Debug)]
pub struct ConnGuard {
    inner: Arc<Inner>,
}

impl ConnLimit {
    /// A limit of `max` simultaneous connections.
    pub fn new(max: usize) -> Self {
        ConnLimit {
            inner: Arc::new(Inner {
                max,
                active: AtomicUsize::new(0),
                idle: Event::new(),
            }),
        }
    }

    /// Takes a slot, or returns `None` when `max` connections are already live.
    pub fn try_acquire(&self) -> Option<ConnGuard> {
        let inner = &self.inner;
        inner
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnGuard {
                inner: Arc::clone(inner),
            })
    }

    /// The number of live connections.
    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Blocks until no connection is live or `deadline` passes; returns whether all connections ended.
    pub fn wait_idle_blocking(&self, deadline: Instant) -> bool {
        loop {
            if self.active() == 0 {
                return true;
            }
            let listener = self.inner.idle.listen();
            if self.active() == 0 {
                return true;
            }
            if listener.wait_deadline(deadline).is_none() {
                return self.active() == 0;
            }
        }
    }

    /// Resolves once no connection is live (wrap it in the runtime's timeout).
    pub async fn wait_idle(&self) {
        loop {
            if self.active() == 0 {
                return;
            }
            let listener = self.inner.idle.listen();
            if self.active() == 0 {
                return;
            }
            listener.await;
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.inner.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify(usize::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refuses_past_the_maximum_and_frees_on_drop() {
        let limit = ConnLimit::new(2);
        let a = limit.try_acquire().expect("first slot");
        let b = limit.try_acquire().expect("second slot");
        assert!(limit.try_acquire().is_none());
        drop(a);
        assert_eq!(limit.active(), 1);
        let c = limit.try_acquire().expect("freed slot");
        drop((b, c));
        assert_eq!(limit.active(), 0);
    }

    #[test]
    fn wait_idle_returns_when_the_last_guard_drops() {
        let limit = ConnLimit::new(4);
        let guard = limit.try_acquire().expect("slot");
        let dropper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(guard);
        });
        assert!(limit.wait_idle_blocking(Instant::now() + Duration::from_secs(10)));
        dropper.join().expect("dropper thread");
    }

    #[test]
    fn wait_idle_times_out_while_a_connection_lives() {
        let limit = ConnLimit::new(4);
        let _guard = limit.try_acquire().expect("slot");
        assert!(!limit.wait_idle_blocking(Instant::now() + Duration::from_millis(10)));
    }
}
