//! Settings every variant honours. One struct, so that the same flags mean the same thing everywhere.

use std::time::Duration;

use crate::Tls;

/// Default `--max-conns`.
pub const DEFAULT_MAX_CONNS: usize = 10_000;
/// Default `--max-line` (bytes, terminator excluded).
pub const DEFAULT_MAX_LINE: usize = 4096;
/// Default `--queue-bytes`: the bound on one chat client's outbound queue.
pub const DEFAULT_QUEUE_BYTES: usize = 256 * 1024;
/// Default `--drain-timeout`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Default stack size of a connection thread in the `threads` variant. Small, because a
/// thread-per-connection server with 10 000 clients reserves this 10 000 times; the handlers keep their
/// buffers on the heap, so 64 KiB is plenty.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
/// Size of the read buffer each echo connection owns (allocated once per connection, never per message).
/// The same in every variant so that memory per connection compares like with like.
pub const ECHO_BUF_SIZE: usize = 16 * 1024;

/// Server settings shared by all variants and both apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// At most this many client connections at once; more are accepted and closed at once.
    pub max_conns: usize,
    /// After SIGINT/SIGTERM, give connections this long to finish before `run` returns.
    pub drain_timeout: Duration,
    /// Chat: the longest accepted line in bytes, terminator excluded.
    pub max_line: usize,
    /// Chat: the bound, in bytes, on each client's outbound queue.
    pub queue_bytes: usize,
    /// Close a connection that sent nothing for this long (`None`: never, the default). Off by default
    /// because a benchmark's idle connections must stay open; a public server wants it on.
    pub idle_timeout: Option<Duration>,
    /// threads: stack size of each connection thread, in bytes.
    pub stack_size: usize,
    /// tokio / async-std / smol: number of worker threads (`None`: one per core).
    pub workers: Option<usize>,
    /// TLS on every connection (`None`: plaintext, the default). Never a fallback: with TLS set, a
    /// connection that does not complete a handshake is closed.
    pub tls: Option<Tls>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_conns: DEFAULT_MAX_CONNS,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_line: DEFAULT_MAX_LINE,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            idle_timeout: None,
            stack_size: DEFAULT_STACK_SIZE,
            workers: None,
            tls: None,
        }
    }
}

impl Config {
    /// The number of async worker threads to start: `workers`, or one per available core.
    pub fn worker_threads(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }
}
