//! Chat, async-std: one broker task owns the [`ChatState`]; each connection has a reader (its connection
//! task) and one writer task fed by an unbounded queue bounded in bytes by an [`OutboundBudget`].
//!
//! Readers frame their socket's bytes and send owned lines to the broker's bounded inbox. The broker
//! applies each event to the state machine and queues the resulting lines without ever blocking: a line
//! that does not fit in a client's budget cuts that client off as a slow consumer. Writers gather queued
//! lines into vectored writes. The shared lines are `Arc`s: a broadcast allocates once.
//!
//! Shutdown: the accept loop stops and cancels every connection task, so readers end without telling
//! the broker (no `LEFT` is broadcast); the broker queues `ERR shutting-down` to everyone and closes
//! every queue; writers flush and close. Writers still stuck at the drain deadline are stopped.
//! The three variants' `chat.rs` read alike; only the concurrency primitives differ.

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_std::channel::{self, Receiver, Sender};
use async_std::future::timeout;
use async_std::io::WriteExt;
use async_std::net::{TcpListener, TcpStream};
use chat_core::{ChatState, ClientId, ErrorCode, Frame, Framer, Line, Outbox, Outgoing};
use futures_lite::future;
use server_common::outbound::{BROKER_BATCH, BROKER_INBOX, CLOSE_LINGER, STALL_TICK, WRITE_BATCH};
use server_common::{
    Config, ConnGuard, ConnLimit, OutboundBudget, ServerError, Shutdown, WriteBatch,
};
use std::net::Shutdown as SocketShutdown;
use std::time::Instant;

use crate::{accept, idle};

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
    idle_timeout: Option<std::time::Duration>,
    shutdown: Shutdown,
    /// Triggered at the drain deadline: writers give up on clients that do not read.
    hard_stop: Shutdown,
    /// Counts live writers, so that shutdown can wait until everything queued is flushed.
    writers: ConnLimit,
}

/// Serves chat until `shutdown`, then has every client told and flushed within the drain timeout.
pub(crate) async fn serve(
    listener: &TcpListener,
    limit: &ConnLimit,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<(), ServerError> {
    let (inbox, events) = channel::bounded(BROKER_INBOX);
    let broker = async_std::task::spawn(run_broker(events));
    let chat = Arc::new(Chat {
        inbox,
        next_id: AtomicU64::new(0),
        max_line: config.max_line,
        queue_bytes: config.queue_bytes,
        idle_timeout: config.idle_timeout,
        shutdown: shutdown.clone(),
        hard_stop: Shutdown::new(),
        writers: ConnLimit::new(usize::MAX),
    });
    let handler = {
        let chat = Arc::clone(&chat);
        move |stream| serve_conn(stream, Arc::clone(&chat))
    };
    let reject = ErrorCode::ServerFull.line().as_bytes();
    accept::accept_loop(listener, limit, shutdown, reject, handler).await;
    let deadline = Instant::now() + config.drain_timeout;
    let _ = chat.inbox.send(Event::Shutdown).await;
    broker.await;
    let left = deadline.saturating_duration_since(Instant::now());
    if timeout(left, chat.writers.wait_idle()).await.is_err() {
        chat.hard_stop.trigger();
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

async fn run_broker(events: Receiver<Event>) {
    let mut broker = Broker {
        state: ChatState::new(crate::NAME),
        out: Outbox::new(),
        clients: HashMap::new(),
        slow: Vec::new(),
    };
    let mut handled: u64 = 0;
    while let Ok(event) = events.recv().await {
        let last = matches!(event, Event::Shutdown);
        broker.handle(event);
        if last {
            break;
        }
        handled += 1;
        if handled % BROKER_BATCH == 0 {
            // Let the writers this broker woke run on this worker too.
            async_std::task::yield_now().await;
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
async fn serve_conn(stream: TcpStream, chat: Arc<Chat>) -> io::Result<()> {
    let id = chat.next_id.fetch_add(1, Ordering::Relaxed);
    let (queue, outbound) = channel::unbounded();
    let budget = Arc::new(OutboundBudget::new(chat.queue_bytes));
    let reader_done = Shutdown::new();
    let wake_reader = Shutdown::new();
    let (read_half, write_half) = (stream.clone(), stream);
    let writer = {
        let budget = Arc::clone(&budget);
        let reader_done = reader_done.clone();
        let wake_reader = wake_reader.clone();
        let hard_stop = chat.hard_stop.clone();
        let guard = chat.writers.try_acquire();
        async_std::task::spawn(async move {
            write_side(
                write_half,
                outbound,
                &budget,
                &reader_done,
                &wake_reader,
                &hard_stop,
                guard,
            )
            .await
        })
    };
    let reading = TriggerOnDrop(reader_done);
    if chat
        .inbox
        .send(Event::Connect { id, queue, budget })
        .await
        .is_ok()
    {
        if let Some(Err(err)) = wake_reader.or_cancel(read_loop(read_half, id, &chat)).await {
            tracing::debug!(error = %err, "chat read failed");
        }
        if !chat.shutdown.is_triggered() {
            let _ = chat.inbox.send(Event::Gone { id }).await;
        }
    }
    drop(reading);
    writer.await;
    Ok(())
}

/// Frames the socket's bytes and sends each line to the broker, until EOF (or the broker is gone).
async fn read_loop(mut stream: TcpStream, id: ClientId, chat: &Chat) -> io::Result<()> {
    let mut framer = Framer::new(chat.max_line);
    loop {
        let n = match idle::read(&mut stream, framer.spare(), chat.idle_timeout).await {
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
            if chat.inbox.send(event).await.is_err() {
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
async fn write_side(
    mut stream: TcpStream,
    queue: Receiver<Line>,
    budget: &OutboundBudget,
    reader_done: &Shutdown,
    wake_reader: &Shutdown,
    hard_stop: &Shutdown,
    guard: Option<ConnGuard>,
) {
    let stopped = async {
        future::or(budget.aborted(), hard_stop.triggered()).await;
        Err(io::Error::other("writer stopped"))
    };
    match future::or(write_loop(&mut stream, &queue, budget, hard_stop), stopped).await {
        Ok(End::Cut) if budget.is_aborted() => {
            // Best effort, bounded like the blocking variant's write timeout.
            let slow = ErrorCode::SlowConsumer.line().as_bytes();
            let _ = timeout(STALL_TICK, stream.write_all(slow)).await;
        }
        Ok(_) => {}
        Err(err) => tracing::debug!(error = %err, "chat write ended"),
    }
    let _ = stream.shutdown(SocketShutdown::Write);
    let _ = timeout(CLOSE_LINGER, reader_done.triggered()).await;
    wake_reader.trigger();
    drop(guard);
}

/// Writes queued lines in batches until the queue is closed and empty, or the client is cut off.
async fn write_loop(
    stream: &mut TcpStream,
    queue: &Receiver<Line>,
    budget: &OutboundBudget,
    hard_stop: &Shutdown,
) -> io::Result<End> {
    let mut batch = WriteBatch::new();
    while let Ok(line) = queue.recv().await {
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
        write_batch(stream, &batch).await?;
        budget.release(batch.clear());
    }
    Ok(End::Drained)
}

/// Writes one batch with vectored writes. A writer stuck on a client that does not read is stopped by
/// the race in [`write_side`].
async fn write_batch(stream: &mut TcpStream, batch: &WriteBatch<Line>) -> io::Result<()> {
    let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
    let mut bufs = batch.io_slices(&mut slices);
    while !bufs.is_empty() {
        match stream.write_vectored(bufs).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Triggers its latch when dropped, however the owner ends (tasks can be cancelled).
struct TriggerOnDrop(Shutdown);

impl Drop for TriggerOnDrop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}
