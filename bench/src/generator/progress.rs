//! Progress reporting hooks (the binary draws a bar; tests draw nothing).

use std::time::Duration;

/// What a run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening connections.
    Connecting,
    /// Load is on, not yet measured.
    Warmup,
    /// The measured window.
    Measuring,
    /// Waiting for the last echoes after the half-close.
    Draining,
}

impl Phase {
    /// A short label.
    pub fn label(&self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Warmup => "warm-up",
            Phase::Measuring => "measuring",
            Phase::Draining => "draining",
        }
    }
}

/// A progress update, sent about ten times per second.
#[derive(Debug, Clone, Copy)]
pub struct ProgressInfo {
    /// Current phase.
    pub phase: Phase,
    /// Time since the load started (zero while connecting).
    pub elapsed: Duration,
    /// Warm-up plus measured duration.
    pub total: Duration,
    /// Connections requested.
    pub conns: usize,
    /// Messages completed so far (all phases).
    pub messages: u64,
}

/// Receives progress updates from a running scenario.
pub trait Progress {
    /// Called periodically from the coordinating thread.
    fn update(&mut self, info: &ProgressInfo);
    /// Called once when the run is over.
    fn finish(&mut self) {}
}

/// Ignores all progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _: &ProgressInfo) {}
}
