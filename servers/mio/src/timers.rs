//! The timer structure: a min-heap of deadlines, each naming the connection that armed it.
//!
//! The loop sleeps in `epoll_wait` until the earliest deadline at most (the poll timeout), then
//! pops every deadline that has passed. Entries are never removed early: a connection that closed,
//! or whose deadline moved, leaves a stale entry behind, recognised on pop by its serial number
//! (slab slots are reused) and by the connection's own check of its deadlines. An idle timeout is
//! re-armed lazily: a read only stores the time of the input; when the old deadline pops, the
//! connection computes the real one and arms that. So the heap holds about one entry per
//! connection, and no read touches it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One armed deadline: when, and which connection (slab key and serial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline {
    /// When it passes.
    pub(crate) at: Instant,
    /// The connection's slab key.
    pub(crate) key: usize,
    /// The connection's serial number (tells a reused slot from the one that armed this).
    pub(crate) serial: u64,
}

/// Every armed deadline of one loop, earliest first.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl Timers {
    /// Arms `deadline`.
    pub(crate) fn arm(&mut self, deadline: Deadline) {
        self.heap.push(Reverse(deadline));
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    /// Moves every deadline that has passed by `now` into `due`, earliest first.
    pub(crate) fn take_due(&mut self, now: Instant, due: &mut Vec<Deadline>) {
        while let Some(Reverse(d)) = self.heap.peek() {
            if d.at > now {
                break;
            }
            due.push(*d);
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_due_deadlines_in_order() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for (ms, key) in [(30, 3), (10, 1), (20, 2)] {
            let at = t0 + Duration::from_millis(ms);
            timers.arm(Deadline { at, key, serial: 0 });
        }
        assert_eq!(timers.next(), Some(t0 + Duration::from_millis(10)));
        let mut due = Vec::new();
        timers.take_due(t0 + Duration::from_millis(25), &mut due);
        assert_eq!(due.iter().map(|d| d.key).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(timers.next(), Some(t0 + Duration::from_millis(30)));
    }
}
