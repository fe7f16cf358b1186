//! The **io_uring** variant: thread-per-core, one ring per worker thread, completions instead of
//! readiness.
//!
//! # Design
//! - **Rings.** Echo runs `Config::workers` threads (default: one per core), each with its own ring
//!   built with `IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER` (completions are processed
//!   only when the thread asks for them, so no task-work interrupt per completion), falling back to
//!   `COOP_TASKRUN` and then to a plain ring; the start-up log on stderr says which mode each ring got.
//!   A thread sleeps in one `submit_and_wait(1)` per loop turn, which both submits what the previous
//!   turn queued and reaps every completion ready.
//! - **Listeners.** Every ring arms one *multishot accept* on its own listening socket: the first
//!   ring on the listener `run` receives, every further ring on a socket bound to the same address
//!   with `SO_REUSEPORT` (set on the server's listener too), so the kernel hashes each new connection
//!   to one ring (100 connections opened at once: 52 / 48 over two listeners). The alternative, every
//!   ring's accept on one shared listener, was tried first and measured: the first ring woken accepted
//!   the whole backlog (100 of 100 connections on ring 0 of 2), because a multishot accept keeps
//!   accepting while connections are queued. With one core pinned (the benchmark) there is one ring
//!   and one listener. If the extra listeners cannot be bound, every ring falls back to the shared
//!   listener and the log says so.
//! - **Buffers.** Each ring registers a provided buffer ring (`IORING_REGISTER_PBUF_RING`: 1024 × 4 KiB for echo, 256 for chat, resident from the start)
//!   and every connection has one *multishot receive* (`RecvMulti`) that picks buffers from it: one
//!   submission per connection, not per message. Echo sends each received buffer back from where the
//!   kernel wrote it (no copy) and returns it to the ring when the send completes (a partial send is
//!   resubmitted from where it stopped). A connection holding 16 KiB unsent (the other variants' echo
//!   buffer) has its receive cancelled until the client reads: per-connection backpressure. When the
//!   ring runs dry the receive ends with `ENOBUFS`; the connection is re-armed when buffers come back
//!   (no retry loop). EOF half-closes after the last byte is echoed; `ECONNRESET` and other errors
//!   close at once.
//! - **Chat.** Chat runs on **one ring** that owns the shared [`Broker`](server_common::chat::Broker)
//!   and drives it directly, like a single-threaded event loop (see `chat`): no broadcast ever crosses
//!   rings, so it costs nothing beyond the vectored send each recipient gets; the price is that chat
//!   uses one core, which is what the broker (a single owner of the chat state in every variant)
//!   serialises on anyway. Cross-ring delivery (an eventfd or `IORING_OP_MSG_RING` per destination
//!   ring) would let the connections' I/O spread over cores, at one wake-up per ring per broadcast.
//! - **TLS.** With `Config::tls`, every connection carries a rustls session driven by hand over the
//!   completions (`tls_ring`): ciphertext from each provided buffer goes into the session and the
//!   buffer returns to the ring at once; the handshake comes first (its timeout checked by the tick),
//!   then echo writes the plaintext back into the session and chat frames it; the applications' sends
//!   are encrypted into the session and go out from the connection's own ciphertext buffer, one send
//!   in flight; `close_notify` precedes the FIN. Plaintext connections pay one branch per event.
//! - **Time.** One `Timeout` op per ring ticks every 50 ms (or a quarter of `--idle-timeout`, if
//!   shorter): it checks idle connections, lingering closes, the drain deadline and the accept
//!   back-off. Nothing else waits on time, so the hot path carries no timer.
//! - **Shutdown.** `run` starts a thread that waits on the shutdown latch and writes each ring's
//!   eventfd, which a `PollAdd` on every ring watches: the ring wakes at once, cancels its accept,
//!   closes echo connections (chat: the broker tells everyone `ERR shutting-down` and each connection
//!   flushes and closes), and exits once its connections are gone or the drain deadline has passed.
//! - **Limits.** `--max-conns` is the shared [`ConnLimit`]; over it, chat clients get `ERR server-full`.
//!   An accept failing for lack of descriptors is not re-armed until the [`AcceptBackoff`]'s pause has
//!   passed (checked by the tick): no busy loop.
//! - **Availability.** Where io_uring cannot be set up (old kernel, `kernel.io_uring_disabled`, a
//!   seccomp filter), [`unavailable_reason`] says why; `serve` exits 2 with that line and the tests of
//!   this variant report themselves skipped (`SKIPPED uring: <reason>` on stderr; the harness counts
//!   them as passed, having no skip state). Checked with `sysctl kernel.io_uring_disabled=2`: `serve
//!   --impl uring` exits 2 printing `serve: --impl uring: io_uring is unavailable: cannot set up a
//!   ring: Operation not permitted (os error 1) (kernel.io_uring_disabled = 2)`.
//!
//! Echo costs 0.86× the textbook tokio server's CPU per message (6.35 against 7.22 µs, 100
//! connections of 64 B, one pinned core, median of 9 interleaved pairs), with 0.2 – 0.4 system calls
//! per message against tokio's 2.0 – 2.1 (`results/README.md`, "uring against the textbook tokio
//! server").
//!
//! # Why the `io-uring` crate
//! `io-uring` (tokio-rs) is maintained, exposes every feature this design needs (multishot accept and
//! receive, `register_buf_ring_with_flags`, `SETUP_DEFER_TASKRUN`/`SINGLE_ISSUER`,
//! `submit_and_wait`) and adds no runtime: the event loop is ours, which is what thread-per-core means
//! and what the comparison measures. compio hides the buffer ring and the submission policy behind its
//! own runtime; tokio-uring has no maintainer; monoio and glommio have not released in years.
//!
//! [`ConnLimit`]: server_common::ConnLimit
//! [`AcceptBackoff`]: server_common::AcceptBackoff

mod bufring;
mod chat;
mod conn;
mod echo;
mod listeners;
mod ring;
mod tls;
mod tls_ring;
mod token;
mod work;
mod worker;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread::JoinHandle;

use server_common::{App, Config, ConnLimit, Listener, ServerError, Shutdown};

use crate::worker::{Setup, Worker};

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "uring";

/// Why io_uring cannot be used on this machine (`None`: it can). Tries what a worker does at start-up
/// (a ring and a provided buffer ring) once per process.
pub fn unavailable_reason() -> Option<String> {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    REASON.get_or_init(probe).clone()
}

fn probe() -> Option<String> {
    let explain = |what: &str, err: io::Error| {
        let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|v| format!(" (kernel.io_uring_disabled = {})", v.trim()))
            .unwrap_or_default();
        format!("io_uring is unavailable: {what}: {err}{disabled}")
    };
    let (ring, _) = match ring::build() {
        Ok(ring) => ring,
        Err(err) => return Some(explain("cannot set up a ring", err)),
    };
    match bufring::BufRing::new(&ring.submitter(), 1, 64) {
        Ok(_) => None,
        Err(err) => Some(explain("cannot register a provided buffer ring", err)),
    }
}

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and returns
/// once they have all ended or `config.drain_timeout` has passed. Blocks the calling thread.
pub fn run(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    listener
        .set_nonblocking(true)
        .map_err(ServerError::Listener)?;
    let rings = match app {
        App::Echo => config.worker_threads(),
        App::Chat => 1,
        App::Work => config.worker_threads(),
    };
    let limit = ConnLimit::new(config.max_conns);
    let mut listeners = listeners::for_rings(&listener, rings).map_err(ServerError::Listener)?;
    let (started, starts) = mpsc::channel();
    let mut wakers = Vec::with_capacity(rings);
    let mut threads: Vec<JoinHandle<io::Result<()>>> = Vec::with_capacity(rings);
    let runtime = |source| ServerError::Runtime {
        runtime: "io_uring",
        source,
    };
    // Work, offloaded: one pool for every ring; each job replies to the ring that submitted it.
    let work_pool = (app == App::Work && config.offload)
        .then(|| work::Pool::start(&config, "uring-offload"))
        .transpose()?;
    for n in 0..rings {
        let wake = eventfd().map_err(runtime)?;
        wakers.push(wake.try_clone().map_err(runtime)?);
        let setup = Setup {
            listener: listeners
                .pop()
                .ok_or_else(|| ServerError::Listener(io::Error::other("one listener per ring")))?,
            wake,
            app,
            config: config.clone(),
            limit: limit.clone(),
            shutdown: shutdown.clone(),
            work_pool: work_pool.clone(),
        };
        let started = started.clone();
        let thread = std::thread::Builder::new()
            .name(format!("uring-{n}"))
            .spawn(move || match Worker::new(setup) {
                Ok((worker, mode)) => {
                    tracing::info!(ring = n, mode = mode.describe(), "io_uring ring ready");
                    let _ = started.send(Ok(()));
                    worker.run()
                }
                Err(err) => {
                    let _ = started.send(Err(io::Error::new(err.kind(), err.to_string())));
                    Err(err)
                }
            })
            .map_err(|source| ServerError::Spawn {
                what: "io_uring worker",
                source,
            })?;
        threads.push(thread);
    }
    drop(started);
    let waker = {
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name("uring-wake".into())
            .spawn(move || {
                shutdown.wait_blocking();
                for fd in &wakers {
                    let one = 1u64.to_ne_bytes();
                    // SAFETY: writes 8 bytes from an 8-byte buffer to an eventfd this thread owns.
                    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
                }
            })
            .map_err(|source| ServerError::Spawn {
                what: "io_uring wake-up",
                source,
            })?
    };
    let mut failure = None;
    for started in starts.iter().take(rings) {
        if let Err(err) = started {
            failure.get_or_insert(err);
            shutdown.trigger();
        }
    }
    for thread in threads {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::error!(error = %err, "io_uring worker failed");
                shutdown.trigger();
                failure.get_or_insert(err);
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    shutdown.trigger();
    let _ = waker.join();
    match failure {
        Some(err) => Err(runtime(err)),
        None => Ok(()),
    }
}

/// A non-blocking eventfd.
fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: a plain system call; the result is checked before it is owned.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
