//! Counters shared by the echo and conns reports.

use serde::{Deserialize, Serialize};

/// Per-connection failures after the connection was established. Each one
/// closes the affected connection; the run goes on with the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Echoed bytes that differ from the bytes sent (or more bytes than sent).
    pub mismatches: u64,
    /// Connections reset by the peer (ECONNRESET, EPIPE, ECONNABORTED).
    pub resets: u64,
    /// Connections the server closed before the generator half-closed them.
    pub unexpected_eof: u64,
    /// Messages not echoed within `--timeout`.
    pub timeouts: u64,
    /// Connections that reached end-of-stream after the half-close with
    /// bytes still missing.
    pub incomplete: u64,
    /// Connections whose echo did not complete, or that were not closed by
    /// the server, within the drain timeout after the half-close.
    pub drain_timeouts: u64,
    /// Other I/O errors.
    pub other_io: u64,
    /// Sessions the server ended in-band (e.g. `ERR ...` after joining).
    #[serde(default)]
    pub refused: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.mismatches
            + self.resets
            + self.unexpected_eof
            + self.timeouts
            + self.incomplete
            + self.drain_timeouts
            + self.other_io
            + self.refused
    }

    /// Adds another set of counts.
    pub fn add(&mut self, o: &ErrorCounts) {
        self.mismatches += o.mismatches;
        self.resets += o.resets;
        self.unexpected_eof += o.unexpected_eof;
        self.timeouts += o.timeouts;
        self.incomplete += o.incomplete;
        self.drain_timeouts += o.drain_timeouts;
        self.other_io += o.other_io;
        self.refused += o.refused;
    }
}

/// Why connection attempts failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectFailures {
    /// ECONNREFUSED (nothing listening, or the backlog overflowed with
    /// `tcp_abort_on_overflow`).
    pub refused: u64,
    /// No answer within `--connect-timeout` (or ETIMEDOUT).
    pub timed_out: u64,
    /// EADDRNOTAVAIL: out of local ports for this source address.
    pub addr_unavailable: u64,
    /// EMFILE/ENFILE: out of file descriptors.
    pub fd_limit: u64,
    /// Anything else.
    pub other: u64,
    /// Connected, but the server refused the handshake (e.g. `ERR
    /// server-full`) or closed the connection during it.
    #[serde(default)]
    pub rejected: u64,
}

impl ConnectFailures {
    /// All failures.
    pub fn total(&self) -> u64 {
        self.refused
            + self.timed_out
            + self.addr_unavailable
            + self.fd_limit
            + self.other
            + self.rejected
    }

    /// Adds another set of counts.
    pub fn add(&mut self, o: &ConnectFailures) {
        self.refused += o.refused;
        self.timed_out += o.timed_out;
        self.addr_unavailable += o.addr_unavailable;
        self.fd_limit += o.fd_limit;
        self.other += o.other;
        self.rejected += o.rejected;
    }

    /// Counts one failure by its OS error.
    pub fn count(&mut self, e: &std::io::Error) {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => self.refused += 1,
            Some(libc::ETIMEDOUT) => self.timed_out += 1,
            Some(libc::EADDRNOTAVAIL) => self.addr_unavailable += 1,
            Some(libc::EMFILE) | Some(libc::ENFILE) => self.fd_limit += 1,
            _ => self.other += 1,
        }
    }
}

/// Connection establishment figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectStats {
    /// Connections asked for.
    pub requested: usize,
    /// Connections established.
    pub established: usize,
    /// Failed attempts, by cause.
    pub failures: ConnectFailures,
    /// Seconds from the first attempt to the last establishment.
    pub elapsed_s: f64,
    /// Established connections per second over `elapsed_s`.
    pub rate_per_s: f64,
    /// The requested pacing (`--connect-rate`), if any.
    pub target_rate_per_s: Option<f64>,
    /// Connect latency (from `connect()` to writable; over TLS, to the end of the handshake), µs.
    pub latency: crate::results::hist::HistogramReport,
    /// TLS runs: the handshakes completed, full and resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsHandshakes>,
}

/// TLS handshakes completed by a run, by kind (rustls's `handshake_kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsHandshakes {
    /// Full handshakes (a HelloRetryRequest included).
    pub full: u64,
    /// Resumed handshakes (a session from the client's cache, `--tls-resume`).
    pub resumed: u64,
}

impl TlsHandshakes {
    /// Adds another worker's counts.
    pub fn add(&mut self, other: &TlsHandshakes) {
        self.full += other.full;
        self.resumed += other.resumed;
    }
}
