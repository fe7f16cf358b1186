//! The connection ceiling's report: how many connections a server served, and the limit that
//! stopped it.

use serde::{Deserialize, Serialize};

use super::conns::ConnsReport;

/// Highest figures seen while the connections were being opened and held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeilingPeaks {
    /// The server's threads.
    pub server_threads: u64,
    /// The server's open fds.
    pub server_fds: u64,
    /// The server's memory mappings.
    pub server_maps: u64,
    /// Threads alive machine-wide.
    pub system_threads: u64,
}

/// The limits in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeilingLimits {
    /// The server's soft `RLIMIT_NOFILE`.
    pub server_open_files: u64,
    /// `vm.max_map_count`.
    pub max_map_count: u64,
    /// `kernel.pid_max`.
    pub pid_max: u64,
    /// `kernel.threads-max`.
    pub threads_max: u64,
    /// The server's `--max-conns`, if given.
    pub max_conns: Option<usize>,
}

/// Results of a ceiling run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CeilingReport {
    /// The conns run that opened and probed the connections.
    pub conns: ConnsReport,
    /// Connections that answered their echo probe.
    pub served: usize,
    /// Highest figures seen.
    pub peaks: CeilingPeaks,
    /// The limits in force.
    pub limits: CeilingLimits,
    /// What stopped it, named (`none` when every connection asked for was served).
    pub stopped_by: String,
    /// What an operator would raise to go further.
    pub to_go_further: String,
}
