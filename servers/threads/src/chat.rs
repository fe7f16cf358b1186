//! Chat, blocking: one broker thread owns the [`ChatState`]; each connection has a reader (its
//! connection thread) and one writer thread fed by an unbounded queue bounded in bytes by an
//! [`OutboundBudget`].
//!
//! Readers frame their socket's bytes and send owned lines to the broker's bounded inbox. The broker
//! applies each event to the state machine and queues the resulting lines without ever blocking: a line
//! that does not fit in a client's budget cuts that client off as a slow consumer. Writers gather queued
//! lines into vectored writes. The shared lines are `Arc`s: a broadcast allocates once.
//!
//! Shutdown: the accept loop stops, the registry shuts every socket's reading side (readers end without
//! telling the broker, so no `LEFT` is broadcast), the broker queues `ERR shutting-down` to everyone and
//! closes every queue; writers flush and close. Writers still stuck at the drain deadline are stopped.
//! The three variants' `chat.rs` read alike; only the concurrency primitives differ.

use std::collections::HashMap;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown as SocketShutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chat_core::{ChatState, ClientId, ErrorCode, Frame, Framer, Line, Outbox, Outgoing};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use server_common::outbound::{BROKER_INBOX, CLOSE_LINGER, STALL_TICK, WRITE_BATCH};
use server_common::{
    Config, ConnGuard, ConnLimit, OutboundBudget, ServerError, Shutdown, WriteBatch,
};

use crate::accept;
use crate::registry::Registry;

/// What readers (and the server, at shutdown) tell the broker.
enum Event {
    /// A new client and the queue its writer drains.
    Connect {
        id: ClientId,
        queue: Sender<Line>,
        budget: Arc<OutboundBudget>,
    },
    /// One complete line.
    Line { id: ClientId, line: Box<str> },
    /// A line that was not UTF-8.
    BadUtf8 { id: ClientId },
    /// A line over the limit: the client is closed.
    TooLong { id: ClientId },
    /// The client's connection ended (EOF, reset).
    Gone { id: ClientId },
    /// The server is shutting down.
    Shutdown,
}

/// What every connection shares.
struct Chat {
    inbox: Sender<Event>,
    next_id: AtomicU64,
    max_line: usize,
    queue_bytes: usize,
    stack_size: usize,
    shutdown: Shutdown,
    /// Triggered at the drain deadline: writers give up on clients that do not read.
    hard_stop: Shutdown,
    /// Counts live writers, so that shutdown can wait until everything queued is flushed.
    writers: ConnLimit,
}

/// Serves chat until `shutdown`, then has every client told and flushed within the drain timeout.
pub(crate) fn serve(
    listener: &TcpListener,
    limit: &ConnLimit,
    registry: &Registry,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<(), ServerError> {
    let (inbox, events) = bounded(BROKER_INBOX);
    let broker = std::thread::Builder::new()
        .name("chat-broker".into())
        .spawn(move || run_broker(events))
        .map_err(|source| ServerError::Spawn {
            what: "chat broker",
            source,
        })?;
    let chat = Arc::new(Chat {
        inbox,
        next_id: AtomicU64::new(0),
        max_line: config.max_line,
        queue_bytes: config.queue_bytes,
        stack_size: config.stack_size,
        shutdown: shutdown.clone(),
        hard_stop: Shutdown::new(),
        writers: ConnLimit::new(usize::MAX),
    });
    let handler = {
        let chat = Arc::clone(&chat);
        move |stream| serve_conn(stream, &chat)
    };
    let reject = ErrorCode::ServerFull.line().as_bytes();
    accept::accept_loop(listener, limit, registry, config, shutdown, reject, handler);
    let deadline = Instant::now() + config.drain_timeout;
    let _ = chat.inbox.send(Event::Shutdown);
    let _ = broker.join();
    if !chat.writers.wait_idle_blocking(deadline) {
        chat.hard_stop.trigger();
        // Writers blocked on clients that do not read fail at once instead of at their next tick.
        registry.close_all(SocketShutdown::Both);
    }
    Ok(())
}

/// The broker's state: the chat state machine plus each client's queue.
struct Broker {
    state: ChatState,
    out: Outbox,
    clients: HashMap<ClientId, Client>,
    slow: Vec<ClientId>,
}

/// The broker's handle on one client's writer.
struct Client {
    queue: Sender<Line>,
    budget: Arc<OutboundBudget>,
}

fn run_broker(events: Receiver<Event>) {
    let mut broker = Broker {
        state: ChatState::new(crate::NAME),
        out: Outbox::new(),
        clients: HashMap::new(),
        slow: Vec::new(),
    };
    for event in events {
        let last = matches!(event, Event::Shutdown);
        broker.handle(event);
        if last {
            break;
        }
    }
}

impl Broker {
    fn handle(&mut self, event: Event) {
        match event {
            Event::Connect { id, queue, budget } => {
                self.clients.insert(id, Client { queue, budget });
                self.state.connect(id, &mut self.out);
            }
            Event::Line { id, line } => self.state.line(id, &line, &mut self.out),
            Event::BadUtf8 { id } => self.state.frame(id, Frame::BadUtf8, &mut self.out),
            Event::TooLong { id } => self.state.frame(id, Frame::TooLong, &mut self.out),
            Event::Gone { id } => self.state.disconnect(id, &mut self.out),
            Event::Shutdown => self.state.shutdown(&mut self.out),
        }
        self.deliver();
    }

    /// Queues every outgoing line without blocking. A client whose budget overflows is aborted and
    /// removed, which may queue `LEFT` lines to others, hence the loop.
    fn deliver(&mut self) {
        loop {
            for Outgoing { to, line } in self.out.sends.drain(..) {
                let Some(client) = self.clients.get(&to) else {
                    continue;
                };
                if client.budget.is_aborted() {
                    continue;
                }
                if client.budget.try_reserve(line.len()) {
                    // Unbounded: never blocks; fails only once the writer is gone.
                    let _ = client.queue.try_send(line);
                } else {
                    client.budget.abort();
                    self.slow.push(to);
                }
            }
            for id in self.out.closes.drain(..) {
                // Dropping the queue's sender lets the writer flush what is queued and close.
                self.clients.remove(&id);
            }
            if self.slow.is_empty() {
                return;
            }
            for id in self.slow.drain(..) {
                self.state.slow_consumer(id, &mut self.out);
            }
        }
    }
}

/// One connection: starts its writer, reads until EOF, then waits for the writer.
fn serve_conn(stream: Arc<TcpStream>, chat: &Chat) -> io::Result<()> {
    let id = chat.next_id.fetch_add(1, Ordering::Relaxed);
    let (queue, outbound) = unbounded();
    let budget = Arc::new(OutboundBudget::new(chat.queue_bytes));
    let reader_done = Shutdown::new();
    let writer = {
        let stream = Arc::clone(&stream);
        let budget = Arc::clone(&budget);
        let reader_done = reader_done.clone();
        let hard_stop = chat.hard_stop.clone();
        let guard = chat.writers.try_acquire();
        std::thread::Builder::new()
            .name("chat-writer".into())
            .stack_size(chat.stack_size)
            .spawn(move || {
                write_side(&stream, &outbound, &budget, &reader_done, &hard_stop, guard)
            })?
    };
    let reading = TriggerOnDrop(reader_done);
    if chat
        .inbox
        .send(Event::Connect { id, queue, budget })
        .is_ok()
    {
        if let Err(err) = read_loop(&stream, id, chat) {
            tracing::debug!(error = %err, "chat read failed");
        }
        if !chat.shutdown.is_triggered() {
            let _ = chat.inbox.send(Event::Gone { id });
        }
    }
    drop(reading);
    writer
        .join()
        .map_err(|_| io::Error::other("chat writer panicked"))
}

/// Frames the socket's bytes and sends each line to the broker, until EOF (or the broker is gone).
fn read_loop(mut stream: &TcpStream, id: ClientId, chat: &Chat) -> io::Result<()> {
    let mut framer = Framer::new(chat.max_line);
    loop {
        let n = match stream.read(framer.spare()) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        framer.filled(n);
        while let Some(frame) = framer.next_frame() {
            let event = match frame {
                Frame::Line(line) => Event::Line {
                    id,
                    line: line.into(),
                },
                Frame::BadUtf8 => Event::BadUtf8 { id },
                Frame::TooLong => Event::TooLong { id },
            };
            if chat.inbox.send(event).is_err() {
                return Ok(());
            }
        }
    }
}

/// How a write loop ended.
enum End {
    /// The queue was closed and everything in it written.
    Drained,
    /// Aborted or hard-stopped between two writes.
    Cut,
}

/// The writer: writes what is queued, then half-closes, lets the client's input drain for a moment,
/// and wakes the reader.
fn write_side(
    stream: &TcpStream,
    queue: &Receiver<Line>,
    budget: &OutboundBudget,
    reader_done: &Shutdown,
    hard_stop: &Shutdown,
    guard: Option<ConnGuard>,
) {
    match write_loop(stream, queue, budget, hard_stop) {
        Ok(End::Cut) if budget.is_aborted() => {
            // Best effort, bounded by the write timeout.
            let _ = (&*stream).write_all(ErrorCode::SlowConsumer.line().as_bytes());
        }
        Ok(_) => {}
        Err(err) => tracing::debug!(error = %err, "chat write ended"),
    }
    let _ = stream.shutdown(SocketShutdown::Write);
    reader_done.wait_blocking_until(Instant::now() + CLOSE_LINGER);
    let _ = stream.shutdown(SocketShutdown::Read);
    drop(guard);
}

/// Writes queued lines in batches until the queue is closed and empty, or the client is cut off.
fn write_loop(
    stream: &TcpStream,
    queue: &Receiver<Line>,
    budget: &OutboundBudget,
    hard_stop: &Shutdown,
) -> io::Result<End> {
    stream.set_write_timeout(Some(STALL_TICK))?;
    let mut batch = WriteBatch::new();
    while let Ok(line) = queue.recv() {
        batch.push(line);
        while !batch.is_full() {
            match queue.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        if budget.is_aborted() || hard_stop.is_triggered() {
            return Ok(End::Cut);
        }
        write_batch(stream, &batch, budget, hard_stop)?;
        budget.release(batch.clear());
    }
    Ok(End::Drained)
}

/// Writes one batch with vectored writes. The write timeout wakes a writer stuck on a client that does
/// not read, so that it notices an abort or the hard stop.
fn write_batch(
    mut stream: &TcpStream,
    batch: &WriteBatch<Line>,
    budget: &OutboundBudget,
    hard_stop: &Shutdown,
) -> io::Result<()> {
    let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
    let mut bufs = batch.io_slices(&mut slices);
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(err) if is_timeout(&err) => {
                if budget.is_aborted() || hard_stop.is_triggered() {
                    return Err(io::Error::other("writer stopped"));
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Triggers its latch when dropped, however the owner ends.
struct TriggerOnDrop(Shutdown);

impl Drop for TriggerOnDrop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}
