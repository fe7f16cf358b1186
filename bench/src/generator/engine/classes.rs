//! Classes of connections: groups of a run's connections, each with a load
//! of its own (e.g. fast and slow requests side by side, each open loop at
//! its own rate), measured apart in the same run.
//!
//! A class is a contiguous range of global connection ids, run by workers of
//! its own (one per `--cpus` entry or `--threads`, as a whole run would
//! have), so each worker's schedule, recorder and protocol tally belong to
//! one class. The coordinator starts every worker at the same instant and
//! brackets the one window with the one set of cost probes; only the merge
//! groups the workers' results by class. A run without classes is one class
//! of every connection, exactly as before.

use hdrhistogram::Histogram;

use super::LoadSpec;
use super::protocol::Tally;
use super::worker::WorkerResult;
use crate::error::Result;
use crate::results::counts::ErrorCounts;
use crate::results::hist;

/// One class: the next `conns` connection ids, offered `load`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Class {
    /// Connections of the class (0: the class is empty and has no worker).
    pub conns: usize,
    /// How its messages are offered (open loop: the rate over the class's
    /// sending connections).
    pub load: LoadSpec,
}

/// A class's figures, its workers' results added up.
#[derive(Debug)]
pub(crate) struct ClassOutcome<T> {
    /// Worker threads that ran the class.
    pub threads: usize,
    /// Connections that became ready.
    pub ready: usize,
    /// Latency from the actual send, window messages.
    pub latency: Histogram<u64>,
    /// Latency from the intended send, window messages (open loop).
    pub corrected: Histogram<u64>,
    /// Open loop: actual − intended send time of the window's messages.
    pub send_lag: Histogram<u64>,
    /// Window messages completed (declined ones not included).
    pub messages: u64,
    /// Messages completed inside the window by receipt time.
    pub received: u64,
    /// Window messages the server declined (e.g. `ERR busy`).
    pub declined: u64,
    /// Declined messages received inside the window by receipt time.
    pub declined_in_window: u64,
    /// All declined messages.
    pub declined_total: u64,
    /// Window messages never completed, in `corrected` as lower bounds.
    pub lower_bounds: u64,
    /// Window messages sent.
    pub sent: u64,
    /// Messages sent over the whole run.
    pub sent_total: u64,
    /// Window messages scheduled and never sent.
    pub unsent: u64,
    /// Window messages sent and never answered.
    pub lost: u64,
    /// Failures on the class's connections.
    pub errors: ErrorCounts,
    /// The first failure, described.
    pub first_error: Option<String>,
    /// The protocol's counters over the class's connections.
    pub tally: T,
}

impl<T: Tally> ClassOutcome<T> {
    fn new() -> Self {
        ClassOutcome {
            threads: 0,
            ready: 0,
            latency: hist::new_latency(),
            corrected: hist::new_latency(),
            send_lag: hist::new_latency(),
            messages: 0,
            received: 0,
            declined: 0,
            declined_in_window: 0,
            declined_total: 0,
            lower_bounds: 0,
            sent: 0,
            sent_total: 0,
            unsent: 0,
            lost: 0,
            errors: ErrorCounts::default(),
            first_error: None,
            tally: T::default(),
        }
    }

    fn add(&mut self, r: &WorkerResult<T>) -> Result<()> {
        self.threads += 1;
        self.ready += r.ready;
        hist::merge(&mut self.latency, &r.rec.latency)?;
        hist::merge(&mut self.corrected, &r.rec.corrected)?;
        hist::merge(&mut self.send_lag, &r.rec.send_lag)?;
        self.messages += r.rec.messages;
        self.received += r.rec.received_in_window;
        self.declined += r.rec.declined;
        self.declined_in_window += r.rec.declined_in_window;
        self.declined_total += r.rec.declined_total;
        self.lower_bounds += r.rec.lower_bounds;
        self.sent += r.sent;
        self.sent_total += r.sent_total;
        self.unsent += r.unsent;
        self.lost += r.lost;
        self.errors.add(&r.errors);
        if self.first_error.is_none() {
            self.first_error.clone_from(&r.first_error);
        }
        self.tally.add(&r.tally);
        Ok(())
    }
}

/// Each class's figures from the workers' results; `class_of[w]` is the
/// class of worker `w` (results in worker order, by their index).
pub(crate) fn outcomes<T: Tally>(
    classes: usize,
    class_of: &[usize],
    results: &[WorkerResult<T>],
) -> Result<Vec<ClassOutcome<T>>> {
    let mut out: Vec<ClassOutcome<T>> = (0..classes).map(|_| ClassOutcome::new()).collect();
    for r in results {
        if let Some(c) = class_of.get(r.index).and_then(|&c| out.get_mut(c)) {
            c.add(r)?;
        }
    }
    Ok(out)
}
