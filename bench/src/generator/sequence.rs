//! Classifies one sender's sequence numbers as one receiver sees them:
//! each number is new, a duplicate, or new but late (after a higher one).
//!
//! A dropped number is only missing (lost, counted at the end as sent −
//! unique); a swapped pair is one late arrival (reordered) and nothing else;
//! a repeated number is a duplicate. Numbers seen are kept in a fixed
//! bitmap of [`WINDOW`] numbers above the lowest one not yet seen, allocated
//! once: a number that arrives more than [`WINDOW`] behind the highest one
//! seen has been given up as missing and is counted as a duplicate.

/// How far behind the highest number seen a late number is still recognised.
pub(crate) const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// What one arriving sequence number was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The first time, in order (no higher number seen before).
    InOrder,
    /// The first time, after a higher number (reordered).
    Late,
    /// Seen before.
    Duplicate,
}

/// One sender's numbers as one receiver has seen them.
#[derive(Debug, Clone)]
pub(crate) struct SequenceTracker {
    /// Every number below this was seen (or given up).
    low: u64,
    /// One more than the highest number seen (0: none yet).
    high: u64,
    /// Distinct numbers seen.
    unique: u64,
    /// Bit `s % WINDOW` is set when `s` (in `low..low + WINDOW`) was seen.
    seen: Box<[u64; WORDS]>,
    /// (number, intended send time) of the first and of the highest
    /// number seen: the sender's schedule is uniform, so they give the
    /// intended time of any number.
    first: Option<(u64, u64)>,
    highest: Option<(u64, u64)>,
}

impl Default for SequenceTracker {
    fn default() -> Self {
        SequenceTracker {
            low: 0,
            high: 0,
            unique: 0,
            seen: Box::new([0; WORDS]),
            first: None,
            highest: None,
        }
    }
}

impl SequenceTracker {
    /// Distinct numbers seen.
    pub(crate) fn unique(&self) -> u64 {
        self.unique
    }

    /// Distinct numbers seen below `n` (the numbers that were sent).
    pub(crate) fn unique_below(&self, n: u64) -> u64 {
        self.unique.min(n)
    }

    fn bit(s: u64) -> (usize, u64) {
        let i = s % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    fn is_set(&self, s: u64) -> bool {
        let (w, m) = Self::bit(s);
        self.seen[w] & m != 0
    }

    fn set(&mut self, s: u64, on: bool) {
        let (w, m) = Self::bit(s);
        if on {
            self.seen[w] |= m;
        } else {
            self.seen[w] &= !m;
        }
    }

    /// The intended send time of number `k`, from two numbers seen on the
    /// sender's uniform schedule (`None` before two distinct ones arrived).
    pub(crate) fn intended_of(&self, k: u64) -> Option<u64> {
        let ((k1, i1), (k2, i2)) = (self.first?, self.highest?);
        if k2 == k1 {
            return None;
        }
        let per = (i2 as f64 - i1 as f64) / (k2 as f64 - k1 as f64);
        let t = i1 as f64 + (k as f64 - k1 as f64) * per;
        (t >= 0.0).then(|| t.round() as u64)
    }

    /// The numbers below `sent` never seen (except those given up more than
    /// [`WINDOW`] behind, which are not known one by one).
    pub(crate) fn missing_below(&self, sent: u64) -> impl Iterator<Item = u64> + '_ {
        let top = self.low.saturating_add(WINDOW);
        (self.low..sent).filter(move |&k| k >= top || !self.is_set(k))
    }

    /// Records number `s`, intended to be sent at `intended_ns`, and says
    /// what it was.
    pub(crate) fn arrive_at(&mut self, s: u64, intended_ns: u64) -> Arrival {
        let a = self.arrive(s);
        if a != Arrival::Duplicate {
            self.first.get_or_insert((s, intended_ns));
            if a == Arrival::InOrder {
                self.highest = Some((s, intended_ns));
            }
        }
        a
    }

    /// Records number `s` and says what it was.
    pub(crate) fn arrive(&mut self, s: u64) -> Arrival {
        let top = self.low.saturating_add(WINDOW);
        if s < self.low || (s < top && self.is_set(s)) {
            return Arrival::Duplicate;
        }
        if s >= top {
            // Give up the oldest missing numbers to make room for `s`.
            let new_low = s.saturating_add(1) - WINDOW;
            if new_low - self.low >= WINDOW {
                self.seen.fill(0);
            } else {
                for x in self.low..new_low {
                    self.set(x, false);
                }
            }
            self.low = new_low;
        }
        self.set(s, true);
        self.unique += 1;
        let arrival = if s < self.high {
            Arrival::Late
        } else {
            self.high = s.saturating_add(1);
            Arrival::InOrder
        };
        while self.is_set(self.low) {
            self.set(self.low, false);
            self.low += 1;
        }
        arrival
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(seqs: &[u64]) -> (u64, u64, u64) {
        let mut t = SequenceTracker::default();
        let (mut late, mut dup) = (0, 0);
        for &s in seqs {
            match t.arrive(s) {
                Arrival::InOrder => {}
                Arrival::Late => late += 1,
                Arrival::Duplicate => dup += 1,
            }
        }
        (t.unique(), late, dup)
    }

    #[test]
    fn each_fault_falls_in_its_one_class() {
        assert_eq!(classify(&[0, 1, 2, 3]), (4, 0, 0));
        // Dropped 2: missing only (4 sent − 3 unique), not reordered.
        assert_eq!(classify(&[0, 1, 3]), (3, 0, 0));
        // Swapped 1 and 2: one late arrival, nothing duplicated or missing.
        assert_eq!(classify(&[0, 2, 1, 3]), (4, 1, 0));
        // Duplicated 1.
        assert_eq!(classify(&[0, 1, 1, 2]), (3, 0, 1));
        // A late one after a gap that is later filled.
        assert_eq!(classify(&[0, 3, 1, 2, 2, 4]), (5, 2, 1));
    }

    #[test]
    fn intended_times_and_missing_numbers() {
        let mut t = SequenceTracker::default();
        assert_eq!(t.intended_of(3), None);
        for s in [0u64, 1, 3, 5] {
            t.arrive_at(s, 1_000 + 10 * s);
        }
        assert_eq!(t.intended_of(2), Some(1_020));
        assert_eq!(t.intended_of(7), Some(1_070));
        assert_eq!(t.missing_below(8).collect::<Vec<_>>(), [2, 4, 6, 7]);
    }

    #[test]
    fn numbers_far_behind_are_given_up_and_far_ahead_do_not_overflow() {
        let mut t = SequenceTracker::default();
        assert_eq!(t.arrive(5 * WINDOW), Arrival::InOrder);
        assert_eq!(t.arrive(1), Arrival::Duplicate);
        assert_eq!(t.arrive(5 * WINDOW - 1), Arrival::Late);
        assert_eq!(t.arrive(5 * WINDOW + 1), Arrival::InOrder);
        assert_eq!(t.arrive(u64::MAX - 1), Arrival::InOrder);
        assert_eq!(t.unique(), 4);
        assert_eq!(t.unique_below(2), 2);
    }
}
