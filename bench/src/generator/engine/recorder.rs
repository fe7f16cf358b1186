//! What a worker records per message: window membership, latency
//! histograms, and the per-interval counts and histograms of the time series.
//!
//! Times are ns after the run's base instant (the common start of the load).
//! A message belongs to the measured window when its intended send time
//! (closed loop: its actual send time) is inside `[warm, end)`; it is counted
//! in the interval of its *receipt*. Interval histograms are created when an
//! interval receives its first message (one allocation per interval, never
//! per message).

use hdrhistogram::Histogram;

use crate::results::hist;

/// One interval of a worker's time series.
#[derive(Debug, Clone)]
pub(crate) struct IntervalCounts {
    /// Messages received in the interval (any phase).
    pub messages: u64,
    /// Their latency from the intended send time (`None`: none yet, or not
    /// recording).
    pub latency: Option<Histogram<u64>>,
}

/// What one connection received in the measured window, for the fairness
/// figures (spread across connections).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ConnCounts {
    /// Window messages (chat: deliveries) this connection received.
    pub messages: u64,
    /// The sum of their latencies from the actual send, ns.
    pub latency_ns: u64,
}

/// A worker's recording state.
#[derive(Debug)]
pub(crate) struct Recorder {
    record: bool,
    /// Whether intended times differ from send times (open loop), so that
    /// the corrected histogram is worth keeping.
    open: bool,
    warm_ns: u64,
    end_ns: u64,
    interval_ns: u64,
    /// The interval receiving now, and its bounds (ns), so that finding the
    /// interval of a receipt takes no division.
    current: (usize, u64, u64),
    /// Latency from the actual send, window messages.
    pub latency: Histogram<u64>,
    /// Latency from the intended send, window messages (open loop only:
    /// in a closed loop it would repeat `latency`).
    pub corrected: Histogram<u64>,
    /// Window messages received.
    pub messages: u64,
    /// Messages (any) received inside the window by receipt time: the
    /// achieved rate, over the same interval as the cost bracket.
    pub received_in_window: u64,
    /// Open loop: how late each window message's first byte was written
    /// (actual − intended send time), the generator's own lag.
    pub send_lag: Histogram<u64>,
    /// Window messages never completed (unsent, lost, timed out) whose
    /// latency from the intended time is in `corrected` as a lower bound.
    pub lower_bounds: u64,
    /// All messages received.
    pub total: u64,
    /// Window messages the server declined (a refusal that is a valid
    /// answer, e.g. `ERR busy`): complete, but in no latency histogram.
    pub declined: u64,
    /// Declined messages received inside the window by receipt time.
    pub declined_in_window: u64,
    /// All declined messages.
    pub declined_total: u64,
    /// The time series, by receipt time.
    pub intervals: Vec<IntervalCounts>,
    /// Per connection of the worker (its local index): window messages and
    /// their latency, for the fairness figures.
    pub per_conn: Vec<ConnCounts>,
}

impl Recorder {
    /// A recorder for a window `[warm_ns, end_ns)` and intervals of
    /// `interval_ns` (0: no time series); `open`: an open loop.
    pub fn new(record: bool, open: bool, warm_ns: u64, end_ns: u64, interval_ns: u64) -> Recorder {
        let slots = if interval_ns == 0 {
            0
        } else {
            end_ns.div_ceil(interval_ns) as usize
        };
        Recorder {
            record,
            open,
            warm_ns,
            end_ns,
            interval_ns,
            current: (0, 0, interval_ns),
            latency: hist::new_latency(),
            corrected: hist::new_latency(),
            messages: 0,
            received_in_window: 0,
            send_lag: hist::new_latency(),
            lower_bounds: 0,
            total: 0,
            declined: 0,
            declined_in_window: 0,
            declined_total: 0,
            intervals: (0..slots)
                .map(|_| IntervalCounts {
                    messages: 0,
                    latency: None,
                })
                .collect(),
            per_conn: Vec::new(),
        }
    }

    /// The same recorder, counting per connection for `conns` connections.
    pub fn with_conns(mut self, conns: usize) -> Recorder {
        self.per_conn = vec![ConnCounts::default(); conns];
        self
    }

    /// Whether an intended send time is inside the window.
    #[inline]
    pub fn in_window(&self, intended_ns: u64) -> bool {
        intended_ns >= self.warm_ns && intended_ns < self.end_ns
    }

    /// Records a message received at `now_ns` on the worker's connection
    /// `conn`.
    #[inline]
    pub fn record(&mut self, conn: usize, now_ns: u64, sent_ns: u64, intended_ns: u64) {
        self.total += 1;
        self.received_in_window += u64::from(now_ns >= self.warm_ns && now_ns < self.end_ns);
        let corrected_ns = now_ns.saturating_sub(intended_ns);
        if self.interval_ns > 0 {
            let (_, start, end) = self.current;
            if now_ns < start || now_ns >= end {
                let i = now_ns.checked_div(self.interval_ns).unwrap_or(0);
                let start = i * self.interval_ns;
                self.current = (i as usize, start, start + self.interval_ns);
            }
            // Receipts after the load (drain) are not part of the series.
            if let Some(slot) = self.intervals.get_mut(self.current.0) {
                slot.messages += 1;
                if self.record {
                    let h = slot.latency.get_or_insert_with(hist::new_latency);
                    hist::record_ns(h, corrected_ns);
                }
            }
        }
        if self.in_window(intended_ns) {
            self.messages += 1;
            if let Some(c) = self.per_conn.get_mut(conn) {
                c.messages += 1;
                c.latency_ns += now_ns.saturating_sub(sent_ns);
            }
            if self.record {
                hist::record_ns(&mut self.latency, now_ns.saturating_sub(sent_ns));
                if self.open {
                    hist::record_ns(&mut self.corrected, corrected_ns);
                }
            }
        }
    }
}

impl Recorder {
    /// Records a message intended at `intended_ns` that the server declined
    /// (answered with a refusal that is valid under overload), received at
    /// `now_ns`: counted apart, never in a latency histogram.
    #[inline]
    pub fn record_declined(&mut self, now_ns: u64, intended_ns: u64) {
        self.declined_total += 1;
        self.declined_in_window += u64::from(now_ns >= self.warm_ns && now_ns < self.end_ns);
        self.declined += u64::from(self.in_window(intended_ns));
    }

    /// Records the send lag of a message intended at `intended_ns` whose
    /// first byte was written at `sent_ns` (window messages only).
    #[inline]
    pub fn record_send_lag(&mut self, sent_ns: u64, intended_ns: u64) {
        if self.in_window(intended_ns) {
            hist::record_ns(&mut self.send_lag, sent_ns.saturating_sub(intended_ns));
        }
    }

    /// Records `n` window messages intended at `intended_ns` that had not
    /// completed when the worker stopped waiting at `stop_ns`: their latency
    /// from the intended time is at least `stop_ns − intended_ns`, recorded
    /// as such in the corrected histogram (open loop) and counted as lower
    /// bounds. Not in the uncorrected histogram (no send, or no receipt).
    pub fn record_unfinished(&mut self, stop_ns: u64, intended_ns: u64, n: u64) {
        if !self.in_window(intended_ns) || n == 0 {
            return;
        }
        self.lower_bounds += n;
        if self.record && self.open {
            let v = hist::us_of_ns(stop_ns.saturating_sub(intended_ns));
            // The histogram's range covers every clamped value.
            let _ = self.corrected.record_n(v, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_by_intended_time_intervals_by_receipt() {
        let mut r = Recorder::new(true, true, 1_000, 3_000, 1_000).with_conns(2);
        assert_eq!(r.intervals.len(), 3);
        r.record(0, 500, 100, 100); // warm-up
        r.record(1, 1_500, 900, 900); // sent in warm-up, received in the window
        r.record(1, 2_500, 2_000, 1_200); // late: intended in the window
        r.record(0, 3_500, 2_900, 2_900); // drained after the end
        assert_eq!(r.total, 4);
        assert_eq!(r.messages, 2);
        assert_eq!(r.intervals[0].messages, 1);
        assert_eq!(r.intervals[1].messages, 1);
        assert_eq!(r.intervals[2].messages, 1);
        assert_eq!(r.corrected.len(), 2);
        assert_eq!(r.latency.len(), 2);
        assert_eq!(r.received_in_window, 2);
        let per: Vec<u64> = r.per_conn.iter().map(|c| c.messages).collect();
        assert_eq!(per, [1, 1]);
        assert_eq!(
            (r.per_conn[0].latency_ns, r.per_conn[1].latency_ns),
            (600, 500)
        );
        r.record_unfinished(5_000, 1_500, 3);
        r.record_unfinished(5_000, 500, 3); // warm-up: not the window's
        assert_eq!(r.lower_bounds, 3);
        r.record_send_lag(1_700, 1_200); // 500 ns late: rounds to 1 µs
        r.record_send_lag(700, 200); // warm-up
        assert_eq!(r.send_lag.len(), 1);
        assert_eq!(r.send_lag.max(), 1);
        assert_eq!(r.corrected.len(), 5);
        assert_eq!(r.latency.len(), 2);
        r.record_declined(2_000, 1_500); // in the window, both ways
        r.record_declined(3_200, 2_900); // intended in the window, received after
        r.record_declined(900, 800); // warm-up
        assert_eq!(r.declined, 2);
        assert_eq!(r.declined_in_window, 1);
        assert_eq!(r.declined_total, 3);
        assert_eq!((r.messages, r.latency.len(), r.corrected.len()), (2, 2, 5));
    }
}
