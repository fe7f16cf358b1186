//! One chat client's outbound side as its broker and its writer share it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use chat_core::{Close, Queued};
use event_listener::Event;

/// What the broker and one client's writer share: the byte budget of the client's queue and, once the
/// client is closed, the close instruction.
///
/// The broker [reserves](Outlet::try_reserve) a line's bytes before queueing it (never blocking: a line
/// that does not fit makes the client a slow consumer); the writer [releases](Outlet::release) them
/// once written. The broker [closes](Outlet::close) the outlet exactly once, with the [`Close`] the
/// chat core decided; a [`Queued::Discard`] close also [cuts](Outlet::is_cut) the writer off at once.
/// The close's last line is not counted against the budget (it is one short line).
///
/// One is allocated per client, so being cut off is read from the close instruction itself, and
/// waited for with an event that allocates only once a writer waits on it, rather than with a
/// [`Latch`](crate::Latch) of its own.
#[derive(Debug)]
pub struct Outlet {
    limit: usize,
    used: AtomicUsize,
    close: OnceLock<Close>,
    cut_event: Event,
}

impl Outlet {
    /// An open outlet whose queue holds at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Outlet {
            limit,
            used: AtomicUsize::new(0),
            close: OnceLock::new(),
            cut_event: Event::new(),
        }
    }

    /// Reserves `n` bytes if they fit within the limit; never blocks.
    pub fn try_reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Returns `n` bytes reserved earlier (the writer calls this once they are written).
    pub fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bytes reserved and not yet released.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Hands the writer its close instruction (the broker does, once; later calls are ignored). Set
    /// before the broker lets go of the client's queue, so a writer that sees its queue end finds it.
    pub fn close(&self, close: Close) {
        let discard = close.queued == Queued::Discard;
        if self.close.set(close).is_ok() && discard {
            self.cut_event.notify(usize::MAX);
        }
    }

    /// The close instruction, once the broker has closed the client.
    pub fn close_instruction(&self) -> Option<&Close> {
        self.close.get()
    }

    /// Whether the client was cut off (a [`Queued::Discard`] close): its writer drops what is queued.
    pub fn is_cut(&self) -> bool {
        self.close
            .get()
            .is_some_and(|close| close.queued == Queued::Discard)
    }

    /// Resolves once the client is cut off, for writers that wait on it.
    pub async fn cut_off(&self) {
        while !self.is_cut() {
            let listener = self.cut_event.listen();
            if self.is_cut() {
                return;
            }
            listener.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::Line;

    #[test]
    fn reserve_up_to_the_limit_and_release() {
        let outlet = Outlet::new(10);
        assert!(outlet.try_reserve(6));
        assert!(outlet.try_reserve(4));
        assert!(!outlet.try_reserve(1));
        assert_eq!(outlet.used(), 10);
        outlet.release(5);
        assert!(outlet.try_reserve(5));
        assert!(!outlet.try_reserve(usize::MAX));
    }

    #[test]
    fn only_a_discarding_close_cuts_and_the_first_close_wins() {
        let outlet = Outlet::new(1);
        let bye = Some(Line::new(b"BYE\n"));
        outlet.close(Close {
            queued: Queued::Flush,
            last_line: bye.clone(),
        });
        outlet.close(Close {
            queued: Queued::Discard,
            last_line: None,
        });
        assert!(!outlet.is_cut());
        assert_eq!(outlet.close_instruction().map(|c| &c.last_line), Some(&bye));
        let outlet = Outlet::new(1);
        outlet.close(Close {
            queued: Queued::Discard,
            last_line: None,
        });
        assert!(outlet.is_cut());
    }
}
