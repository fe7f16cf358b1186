//! A wait group: "wait until every member is done", for blocking threads and async tasks alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use event_listener::{Event, Listener};

/// Counts live members (each one a [`WaitGroupGuard`]) and lets anyone wait until none is left.
/// Cloning shares the count. A chat server waits on one for its writers to flush; the connection
/// limit ([`ConnLimit`](crate::ConnLimit)) is one with a maximum.
#[derive(Debug, Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    count: AtomicUsize,
    /// Notified whenever the count drops to zero.
    idle: Event,
}

/// One member of a [`WaitGroup`]; it leaves the group when dropped.
#[derive(Debug)]
pub struct WaitGroupGuard {
    inner: Arc<Inner>,
}

impl WaitGroup {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a member.
    pub fn enter(&self) -> WaitGroupGuard {
        self.inner.count.fetch_add(1, Ordering::AcqRel);
        self.guard()
    }

    /// Adds a member only while fewer than `max` are live.
    pub fn try_enter_below(&self, max: usize) -> Option<WaitGroupGuard> {
        self.inner
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| self.guard())
    }

    fn guard(&self) -> WaitGroupGuard {
        WaitGroupGuard {
            inner: Arc::clone(&self.inner),
        }
    }

    /// The number of live members.
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Blocks until no member is live or `deadline` passes; returns whether the group emptied.
    pub fn wait_blocking_until(&self, deadline: Instant) -> bool {
        loop {
            if self.count() == 0 {
                return true;
            }
            let listener = self.inner.idle.listen();
            if self.count() == 0 {
                return true;
            }
            if listener.wait_deadline(deadline).is_none() {
                return self.count() == 0;
            }
        }
    }

    /// Resolves once no member is live (wrap it in the runtime's timeout).
    pub async fn wait(&self) {
        loop {
            if self.count() == 0 {
                return;
            }
            let listener = self.inner.idle.listen();
            if self.count() == 0 {
                return;
            }
            listener.await;
        }
    }
}

impl Drop for WaitGroupGuard {
    fn drop(&mut self) {
        if self.inner.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify(usize::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wait_returns_when_the_last_member_leaves() {
        let group = WaitGroup::new();
        let guard = group.enter();
        let second = group.enter();
        assert_eq!(group.count(), 2);
        drop(second);
        let leaver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(guard);
        });
        assert!(group.wait_blocking_until(Instant::now() + Duration::from_secs(10)));
        leaver.join().expect("leaver thread");
        futures_lite::future::block_on(group.wait());
    }

    #[test]
    fn wait_times_out_while_a_member_lives() {
        let group = WaitGroup::new();
        let _guard = group.enter();
        assert!(!group.wait_blocking_until(Instant::now() + Duration::from_millis(10)));
    }

    #[test]
    fn enter_below_respects_the_maximum() {
        let group = WaitGroup::new();
        let a = group.try_enter_below(1).expect("first");
        assert!(group.try_enter_below(1).is_none());
        drop(a);
        assert!(group.try_enter_below(1).is_some());
    }
}
