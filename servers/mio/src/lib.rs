//! The **mio** variant: a hand-rolled event loop on [`mio`] (epoll), with no async anywhere — no
//! futures, no tasks, no wakers, no runtime. This crate is also the explanation of what tokio,
//! async-std and smol do underneath; it is written to be read in this order:
//!
//! 1. **This file**: the threads, and how shutdown reaches them.
//! 2. `event_loop.rs`: one turn of the loop — wait for readiness, dispatch, accept, timers, wakes.
//! 3. `accept.rs`: accepting in batches, `--max-conns`, the back-off on EMFILE.
//! 4. `timers.rs`: the deadline heap behind `--idle-timeout`, the drain deadline and chat's linger.
//! 5. `echo.rs`: the smallest state machine: read, write back, keep the rest only when the socket
//!    is full.
//! 6. `chat.rs` and `chat_conn.rs`: the shared broker driven synchronously from the loop, and a
//!    chat connection's queue, close and linger.
//!
//! # The model
//!
//! Every socket is non-blocking and registered with one `epoll` instance per loop,
//! **edge-triggered**: the kernel reports a socket once when it *becomes* readable or writable, not
//! for as long as it is. That makes each report cheap and puts one duty on the loop: after an edge,
//! it must work the socket until the kernel says `WouldBlock` (or a read returns less than asked,
//! which on epoll proves the receive buffer empty — what tokio relies on too), or else remember by
//! itself that work is left (the wake list), because no second report will come. Everything else
//! follows:
//!
//! - **Read interest always, write interest only while output is pending.** A connection writes as
//!   soon as it has something to write; only when the socket takes less than offered (the send
//!   buffer is full) does it keep the rest and add write interest, and it removes it once the rest
//!   is written. On the hot path (the socket takes everything) no `epoll_ctl` is made.
//! - **Partial writes** keep their rest: echo's unsent bytes, chat's queue with an offset into its
//!   first line.
//! - **Half-close**: a read of 0 bytes is the client's FIN; echo writes back what is left and then
//!   shuts its own side down; chat processes the complete lines, tells the broker, flushes and
//!   closes.
//! - **Resets** (`ECONNRESET`, `EPIPE`) and epoll's error and hang-up flags: the next read or write
//!   reports them, and the connection is closed (chat: its rooms are told it left).
//! - **Fairness**: a connection reads at most a budget (16 reads) at a time; with input left it
//!   goes on the wake list, behind the other connections that are ready, and the loop comes back to
//!   it before it sleeps again — tokio's cooperative budget.
//! - **No busy loop**: the loop sleeps in `epoll_wait` until an event or the earliest deadline.
//!   After an accept error for want of descriptors (EMFILE) it stops accepting for the back-off's
//!   pause (5 ms doubling to 100 ms) instead of retrying on every turn.
//!
//! # Threads
//!
//! - **Echo**: `--workers` loops (default: one per core), each on its own thread with its own epoll
//!   instance, **sharing the one listening socket** (each loop registers a duplicate of it). Every
//!   loop is woken when a connection arrives, and whichever accepts it serves it from then on. Why
//!   shared rather than one `SO_REUSEPORT` listener per loop: the server is handed one bound socket
//!   (tests bind port 0 and pass it in, as for every variant), and joining a reuse-port group needs
//!   the option set before that bind; and with a shared listener a busy loop simply accepts less
//!   while an idle one takes the next connection, whereas reuse-port hashes each connection to a
//!   fixed listener whatever its loop is doing (and drops that listener's backlog when it closes).
//!   The cost is a wasted wake-up per new connection on the loops that lose the race (mio exposes
//!   no `EPOLLEXCLUSIVE`): per connection, not per message. A connection never moves between loops:
//!   no locks, no work stealing. The flip side: in a burst of connections the loop that wakes first
//!   would take them all (seen without a remedy: 1 : 3.3 of CPU between two loops in one of three
//!   100-connection bursts), and a connection stays on its loop for good; tokio evens such things
//!   out by stealing tasks, a loop cannot. So a loop that serves a few more connections than
//!   another gives the others a millisecond's head start on each new connection (nginx's
//!   `accept_disabled`; see `accept.rs`).
//! - **Chat**: one loop owns the broker and every chat connection (see `chat.rs` for why one).
//! - **The calling thread** waits on the [`Shutdown`] latch, then wakes every loop through its
//!   [`mio::Waker`] (an eventfd in the epoll set), and joins them. SIGINT/SIGTERM arrive the same
//!   way: the `serve` binary's signal thread triggers the latch, exactly as a test's `stop` does.
//!
//! # Shutdown
//!
//! A woken loop closes its listener, stops taking input on every connection, and starts the drain
//! deadline (`--drain-timeout`). Echo connections close at once. Chat has the broker close every
//! client with `ERR shutting-down` after what is queued for it; each connection flushes,
//! half-closes and lingers. The loop ends when its last connection closed, or at the drain
//! deadline, when it closes the rest.
//!
//! # What it costs
//!
//! Per echo message on a busy loop: one `recvfrom`, one `sendto`, and a share of one `epoll_wait`
//! (which returns many events at once); no allocation, no copy beyond the kernel's. An idle echo
//! connection holds its socket and a slab entry of about a hundred bytes.
//!
//! Measured (`results/README.md`, "mio, the hand-rolled event loop": three runs of 5 interleaved
//! repeats on a 2-CPU AMD EPYC VM shared with builds, server on CPU 0, `loadgen echo --conns 100
//! --size 64 --duration 10s --cpus 1`): server CPU per message, median, 5.73 / 7.09 / 6.31 µs for
//! mio against 6.47 / 7.64 / 7.31 µs for tokio and 6.76 / 6.72 / 7.18 µs for the textbook mio loop
//! (per-repeat ratio mio / tokio 0.91–0.94), of which user space 0.21–0.25 µs against tokio's
//! 0.49–0.52 µs; RSS per idle connection (`loadgen conns --conns 9000`) 102 bytes against tokio's
//! 10 KiB.

mod accept;
mod chat;
mod chat_conn;
mod echo;
mod event_loop;
mod timers;
mod tls;
mod transport;

use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};
use server_common::{App, Config, ConnLimit, Listener, ServerError, Shutdown};

use crate::accept::Loads;
use crate::chat::Chat;
use crate::echo::Echo;
use crate::event_loop::{EventLoop, LoopConfig, WAKER};
use crate::tls::TlsProtocol;

/// The name this variant goes by on the command line and in the `listening` line.
pub const NAME: &str = "mio";

/// Serves `app` on `listener` until `shutdown` is triggered, then closes every connection and
/// returns once they have all ended or `config.drain_timeout` has passed. Blocks the calling
/// thread, which waits for the shutdown signal and wakes the loops.
pub fn run(
    listener: Listener,
    app: App,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    listener
        .set_nonblocking(true)
        .map_err(ServerError::Listener)?;
    let loops = match app {
        App::Echo => config.worker_threads(),
        App::Chat => 1,
    };
    let loop_config = LoopConfig {
        limit: ConnLimit::new(config.max_conns),
        loads: (Loads::new(loops), 0),
        shutdown: shutdown.clone(),
        drain_timeout: config.drain_timeout,
    };
    let mut running = Vec::with_capacity(loops);
    let mut started = Ok(());
    for index in 0..loops {
        match start_loop(index, &listener, app, &config, &loop_config) {
            Ok(handle) => running.push(handle),
            Err(err) => {
                started = Err(err);
                shutdown.trigger();
                break;
            }
        }
    }
    drop(listener);
    shutdown.wait_blocking();
    for (waker, _) in &running {
        if let Err(err) = waker.wake() {
            tracing::warn!(error = %err, "cannot wake an event loop");
        }
    }
    let mut result = started;
    for (_, thread) in running {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                if result.is_ok() {
                    result = Err(err);
                }
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    result
}

/// A loop's waker and thread.
type Running = (Arc<Waker>, JoinHandle<Result<(), ServerError>>);

/// Makes loop `index`'s poll instance and waker here (so that failures are reported at once), then
/// runs the loop on a thread of its own. A loop that fails triggers the shutdown, so that the
/// others stop too.
fn start_loop(
    index: usize,
    listener: &Listener,
    app: App,
    config: &Config,
    loop_config: &LoopConfig,
) -> Result<Running, ServerError> {
    let runtime = |source| ServerError::Runtime {
        runtime: "mio",
        source,
    };
    let poll = Poll::new().map_err(runtime)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(runtime)?);
    let listener = listener.try_clone().map_err(ServerError::Listener)?;
    let listener = transport::Listener::from_std(listener);
    let (config, mut loop_config) = (config.clone(), loop_config.clone());
    loop_config.loads.1 = index;
    let keep_waker = Arc::clone(&waker);
    let thread = std::thread::Builder::new()
        .name(format!("mio-loop-{index}"))
        .spawn(move || {
            let _waker = keep_waker; // events from a waker come only while it lives
            let shutdown = loop_config.shutdown.clone();
            let served = match (app, config.tls.clone()) {
                (App::Echo, None) => {
                    let echo = Echo::new(config.idle_timeout);
                    serve(poll, listener, echo, loop_config)
                }
                (App::Chat, None) => serve(poll, listener, Chat::new(&config, NAME), loop_config),
                (App::Echo, Some(tls)) => {
                    let echo = TlsProtocol::new(Echo::new(config.idle_timeout), tls);
                    serve(poll, listener, echo, loop_config)
                }
                (App::Chat, Some(tls)) => {
                    let chat = TlsProtocol::new(Chat::new(&config, NAME), tls);
                    serve(poll, listener, chat, loop_config)
                }
            };
            if served.is_err() {
                shutdown.trigger();
            }
            served
        })
        .map_err(|source| ServerError::Spawn {
            what: "event loop",
            source,
        })?;
    Ok((waker, thread))
}

fn serve<P: event_loop::Protocol>(
    poll: Poll,
    listener: transport::Listener,
    protocol: P,
    config: LoopConfig,
) -> Result<(), ServerError> {
    EventLoop::new(poll, listener, protocol, config)
        .map_err(ServerError::Listener)?
        .run()
        .map_err(ServerError::EventLoop)
}
