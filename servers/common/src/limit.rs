//! The connection limit (`--max-conns`), which doubles as the count of live connections that shutdown
//! waits on.

use std::time::Instant;

use crate::wait_group::{WaitGroup, WaitGroupGuard};

/// Proof that a connection holds one slot; the slot is freed when this is dropped.
pub type ConnGuard = WaitGroupGuard;

/// Counts live connections and refuses more than the configured maximum: a [`WaitGroup`] with a
/// maximum. Cloning shares the count.
#[derive(Debug, Clone)]
pub struct ConnLimit {
    max: usize,
    live: WaitGroup,
}

impl ConnLimit {
    /// A limit of `max` simultaneous connections.
    pub fn new(max: usize) -> Self {
        ConnLimit {
            max,
            live: WaitGroup::new(),
        }
    }

    /// Takes a slot, or returns `None` when `max` connections are already live.
    pub fn try_acquire(&self) -> Option<ConnGuard> {
        self.live.try_enter_below(self.max)
    }

    /// The number of live connections.
    pub fn active(&self) -> usize {
        self.live.count()
    }

    /// Blocks until no connection is live or `deadline` passes; returns whether all connections ended.
    pub fn wait_idle_blocking(&self, deadline: Instant) -> bool {
        self.live.wait_blocking_until(deadline)
    }

    /// Resolves once no connection is live (wrap it in the runtime's timeout).
    pub async fn wait_idle(&self) {
        self.live.wait().await;
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
    fn wait_idle_times_out_while_a_connection_lives() {
        let limit = ConnLimit::new(4);
        let _guard = limit.try_acquire().expect("slot");
        assert!(!limit.wait_idle_blocking(Instant::now() + Duration::from_millis(10)));
    }
}
