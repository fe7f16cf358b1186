//! Fixed send schedules: the open-loop message schedule and connect pacing.
//!
//! A worker owning `n` connections at `rate` messages per second sends its
//! `m`-th message at `m / rate` seconds after the start, on connection
//! `m % n`. Connection `j` therefore sends its `k`-th message at
//! `(k * n + j) / rate`: its intended time is a pure function of `k`, so a
//! connection that falls behind still knows when each message *should* have
//! left, which is what coordinated-omission correction needs.

/// A uniform schedule of events at a fixed rate, in nanoseconds from a start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate_per_s: f64,
}

impl Schedule {
    /// A schedule of `rate_per_s` events per second (must be > 0).
    pub fn new(rate_per_s: f64) -> Self {
        Schedule { rate_per_s }
    }

    /// Events per second.
    pub fn rate(&self) -> f64 {
        self.rate_per_s
    }

    /// Intended time of event `m` (0-based), in ns from the start.
    ///
    /// Computed from `m` directly rather than by accumulating an interval,
    /// so there is no drift however long the run.
    #[inline]
    pub fn at_ns(&self, m: u64) -> u64 {
        ((m as f64) * 1e9 / self.rate_per_s).round() as u64
    }

    /// Number of events due at or before `t_ns` (that is, the index of the
    /// first event still in the future).
    pub fn due_by(&self, t_ns: u64) -> u64 {
        let approx = ((t_ns as f64) * self.rate_per_s / 1e9) as u64;
        // Correct the float estimate by at most a step either way.
        let mut m = approx.saturating_sub(1);
        while self.at_ns(m) <= t_ns {
            m += 1;
        }
        m
    }
}

/// The open-loop schedule of one worker's connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenLoop {
    schedule: Schedule,
    conns: u64,
}

impl OpenLoop {
    /// `rate_per_s` messages per second spread over `conns` connections.
    pub fn new(rate_per_s: f64, conns: usize) -> Self {
        OpenLoop {
            schedule: Schedule::new(rate_per_s),
            conns: conns.max(1) as u64,
        }
    }

    /// Intended send time (ns from start) of the worker-wide message `m`.
    #[inline]
    pub fn at_ns(&self, m: u64) -> u64 {
        self.schedule.at_ns(m)
    }

    /// The connection (index within the worker) that sends message `m`.
    #[inline]
    pub fn conn_of(&self, m: u64) -> usize {
        (m % self.conns) as usize
    }

    /// Number of worker-wide messages due at or before `t_ns`.
    pub fn due_by(&self, t_ns: u64) -> u64 {
        self.schedule.due_by(t_ns)
    }

    /// Intended send time (ns from start) of message `k` of connection `j`.
    #[inline]
    pub fn conn_msg_at_ns(&self, j: usize, k: u64) -> u64 {
        self.schedule.at_ns(k * self.conns + j as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_are_exact_and_uniform() {
        let s = Schedule::new(1000.0);
        assert_eq!(s.at_ns(0), 0);
        assert_eq!(s.at_ns(1), 1_000_000);
        assert_eq!(s.at_ns(1500), 1_500_000_000);
        // No drift after many events at an awkward rate.
        let s = Schedule::new(3.0);
        assert_eq!(s.at_ns(3_000_000), 1_000_000_000_000_000);
        let s = Schedule::new(7_777.0);
        let t = s.at_ns(7_777 * 3600);
        assert!((t as i64 - 3_600_000_000_000_i64).abs() < 1000, "{t}");
    }

    #[test]
    fn due_by_counts_events_at_or_before() {
        let s = Schedule::new(1000.0);
        assert_eq!(s.due_by(0), 1); // event 0 at t=0
        assert_eq!(s.due_by(999_999), 1);
        assert_eq!(s.due_by(1_000_000), 2);
        assert_eq!(s.due_by(1_000_000_000), 1001);
        let s = Schedule::new(333.3);
        for t in (0..5_000_000_000u64).step_by(12_345_679) {
            let m = s.due_by(t);
            assert!(s.at_ns(m) > t);
            assert!(m == 0 || s.at_ns(m - 1) <= t);
        }
    }

    #[test]
    fn open_loop_round_robin_and_per_connection_times() {
        // 4 connections sharing 400 msg/s: each sends every 10 ms, staggered
        // by 2.5 ms.
        let o = OpenLoop::new(400.0, 4);
        assert_eq!(o.conn_of(0), 0);
        assert_eq!(o.conn_of(5), 1);
        assert_eq!(o.conn_msg_at_ns(0, 0), 0);
        assert_eq!(o.conn_msg_at_ns(1, 0), 2_500_000);
        assert_eq!(o.conn_msg_at_ns(1, 1), 12_500_000);
        assert_eq!(o.conn_msg_at_ns(3, 2), 27_500_000);
        for m in 0..1000u64 {
            let j = o.conn_of(m);
            let k = m / 4;
            assert_eq!(o.at_ns(m), o.conn_msg_at_ns(j, k));
        }
    }
}
