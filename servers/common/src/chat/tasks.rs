//! Chat for any async runtime that runs one task per connection (tokio, async-std, smol), written
//! once over the runtime's primitives ([`TaskRuntime`]).
//!
//! These loops are the same line for line in every async runtime; only the primitives differ (which
//! channel, which socket halves, which timer, how a task is spawned), so a runtime implements
//! [`TaskRuntime`] with those and calls [`run_broker`], [`serve_conn`] and [`drain`]. The blocking
//! variant has its own loops (a blocked thread cannot race a write against a latch; it polls with a
//! write timeout instead), and an event loop drives a [`Broker`] directly.
//!
//! Per connection: the connection task is the reader; it spawns a writer task that drains the
//! client's queue. The reader frames bytes into broker events; the writer writes batches, then the
//! close instruction's last line, half-closes, lingers until the reader saw EOF (at most
//! [`CLOSE_LINGER`]), and releases the reader.

use std::future::Future;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chat_core::Line;
use futures_lite::future;

use super::{
    Broker, BrokerEvent, CLOSE_LINGER, ChatHub, ClientReader, ClientWriter, Mailbox, STALL_TICK,
    WRITE_BATCH, WriteBatch,
};
use crate::DrainDeadline;
use crate::poll_io::{PollRead, poll_read_with};

/// The broker event type of a runtime.
pub type EventOf<R> = BrokerEvent<QueueMailbox<R>>;

/// The broker's end of one writer's queue, for any runtime: the runtime's sender.
pub struct QueueMailbox<R: TaskRuntime>(R::LineSender);

impl<R: TaskRuntime> Mailbox for QueueMailbox<R> {
    fn post(&mut self, line: Line) {
        R::post(&mut self.0, line);
    }
}

impl<R: TaskRuntime> std::fmt::Debug for QueueMailbox<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueMailbox")
    }
}

/// What an async runtime plugs into the task-per-connection chat server: its primitives, nothing else.
pub trait TaskRuntime: Sized + Send + Sync + 'static {
    /// The readers' end of the broker's bounded inbox.
    type Inbox: Send + Sync + 'static;
    /// The broker's end of its inbox.
    type Events: Send + 'static;
    /// The broker's end of one writer's unbounded queue.
    type LineSender: Send + 'static;
    /// The writer's end of its queue.
    type Queue: Send + 'static;
    /// A connection's reading half.
    type ReadHalf: Send + 'static;
    /// A connection's writing half.
    type WriteHalf: Send + 'static;
    /// A spawned writer task, awaited by its connection.
    type Task: Future<Output = ()> + Send + 'static;
    /// The runtime's name, for the `HELLO` line.
    const NAME: &'static str;

    /// Sends one event to the broker, waiting while its inbox is full; `false` once the broker is gone.
    fn send(inbox: &Self::Inbox, event: EventOf<Self>) -> impl Future<Output = bool> + Send + '_;
    /// Sends one event to the broker if its inbox has room now.
    fn try_send(inbox: &Self::Inbox, event: EventOf<Self>) -> Result<(), TrySend<EventOf<Self>>>;
    /// The broker's next event; `None` once every sender is gone.
    fn next_event(
        events: &mut Self::Events,
    ) -> impl Future<Output = Option<EventOf<Self>>> + Send + '_;
    /// A new unbounded writer queue: the broker's end and the writer's end.
    fn queue() -> (Self::LineSender, Self::Queue);
    /// Queues a line without waiting (the broker's budget bounds the queue); a line for a writer that
    /// is gone is dropped.
    fn post(sender: &mut Self::LineSender, line: Line);
    /// The writer's next queued line; `None` once the broker closed the queue and it is empty.
    fn next_line(queue: &mut Self::Queue) -> impl Future<Output = Option<Line>> + Send + '_;
    /// A queued line if one is ready.
    fn try_next_line(queue: &mut Self::Queue) -> Option<Line>;
    /// The runtime's `poll_read` of the reading half into `buf`: `Pending` (with a wake-up registered)
    /// until readable. The loops call it with the worker's buffer
    /// ([`poll_read_with`](crate::poll_io::poll_read_with)), so a waiting reader holds no buffer.
    fn poll_read(
        half: &mut Self::ReadHalf,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>;
    /// Half-closes: shuts the writing side down (FIN).
    fn shutdown_write(half: &mut Self::WriteHalf) -> impl Future<Output = ()> + Send + '_;
    /// One vectored write.
    fn write_vectored<'a>(
        half: &'a mut Self::WriteHalf,
        bufs: &'a [IoSlice<'a>],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Lets other tasks on this worker run.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Resolves after `duration`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
    /// Spawns a writer task.
    fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self::Task;
}

/// Why [`TaskRuntime::try_send`] did not send.
#[derive(Debug)]
pub enum TrySend<E> {
    /// The inbox is full: the event is handed back.
    Full(E),
    /// The broker is gone (shutting down).
    Closed,
}

/// The hub of a runtime's chat server.
pub type HubOf<R> = ChatHub<<R as TaskRuntime>::Inbox>;

/// The broker task: applies events until shutdown, yielding every so often so that the writers it
/// woke get to run on its worker too.
pub async fn run_broker<R: TaskRuntime>(mut events: R::Events) {
    let mut broker = Broker::new(R::NAME);
    while let Some(event) = R::next_event(&mut events).await {
        if broker.handle(event).is_break() {
            break;
        }
        if broker.yield_due() {
            R::yield_now().await;
        }
    }
}

/// After the accept loop ended: starts the drain deadline, has the broker close every client, waits
/// for `broker` (the broker task) and then for the writers until the deadline. Returns the deadline.
pub async fn drain<R: TaskRuntime>(
    chat: &HubOf<R>,
    broker: impl Future,
    drain_timeout: Duration,
) -> DrainDeadline {
    let deadline = DrainDeadline::start(drain_timeout);
    R::send(chat.inbox(), BrokerEvent::Shutdown).await;
    broker.await;
    chat.drain(R::sleep(deadline.remaining())).await;
    deadline
}

/// One connection: starts its writer, reads until EOF (or until the writer releases the reader), tells
/// the broker, then waits for the writer.
pub async fn serve_conn<R: TaskRuntime>(
    read_half: R::ReadHalf,
    write_half: R::WriteHalf,
    chat: Arc<HubOf<R>>,
) -> io::Result<()> {
    let (mut reader, writer) = chat.open();
    let (sender, queue) = R::queue();
    let writer = start_writer::<R>(write_half, queue, writer);
    if R::send(chat.inbox(), reader.connect(QueueMailbox(sender))).await {
        let released = reader.released();
        let reading = read_loop::<R>(read_half, &mut reader, &chat);
        if let Some(Err(err)) = released.or_cancel(reading).await {
            tracing::debug!(error = %err, "chat read failed");
        }
        if let Some(gone) = chat.gone(&reader) {
            R::send(chat.inbox(), gone).await;
        }
    }
    drop(reader);
    writer.await;
    Ok(())
}

/// Spawns the writer task. Not inline in [`serve_conn`]: a future built there, even one handed on at
/// once, would be laid out in the connection's own future, which lives as long as the connection
/// (the writer's future is kilobytes).
fn start_writer<R: TaskRuntime>(
    write_half: R::WriteHalf,
    queue: R::Queue,
    writer: ClientWriter,
) -> R::Task {
    R::spawn(write_side::<R>(write_half, queue, writer))
}

/// Reads and frames the socket's bytes, sending each input to the broker, until EOF. Bytes are framed
/// in the worker's buffer as they are read; only when the broker's inbox is full do the rest of a read's
/// bytes move into a buffer of this connection's own, until the broker took them.
async fn read_loop<R: TaskRuntime>(
    mut half: R::ReadHalf,
    reader: &mut ClientReader,
    chat: &HubOf<R>,
) -> io::Result<()> {
    let idle = chat.config().idle_timeout;
    let inbox = chat.inbox();
    loop {
        let mut take = |data: &[u8]| hand_on::<R>(reader, inbox, data);
        let read =
            future::poll_fn(|cx| poll_read_with(&mut ReadHalfOf::<R>(&mut half), cx, &mut take));
        let (mut event, mut rest) = match within_idle::<R, _>(read, idle).await? {
            None | Some(Handed::Gone) => return Ok(()), // EOF, or the broker is gone: shutting down
            Some(Handed::All) => continue,
            Some(Handed::Blocked(event, rest)) => (event, rest),
        };
        loop {
            if !R::send(inbox, event).await {
                return Ok(());
            }
            match hand_on::<R>(reader, inbox, &rest) {
                Handed::All => break,
                Handed::Gone => return Ok(()),
                Handed::Blocked(next, left) => (event, rest) = (next, left),
            }
        }
    }
}

/// A runtime's reading half as [`PollRead`].
struct ReadHalfOf<'a, R: TaskRuntime>(&'a mut R::ReadHalf);

impl<R: TaskRuntime> PollRead for ReadHalfOf<'_, R> {
    fn poll_read_into(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        R::poll_read(self.0, cx, buf)
    }
}

/// What [`hand_on`] did with a read's bytes.
enum Handed<E> {
    /// Every complete input went to the broker (an unterminated rest stays with the reader's framer).
    All,
    /// The broker is gone.
    Gone,
    /// The broker's inbox is full: this event, then these bytes, are still to go.
    Blocked(E, Vec<u8>),
}

/// Frames `data` and sends each input to the broker while its inbox has room.
fn hand_on<R: TaskRuntime>(
    reader: &mut ClientReader,
    inbox: &R::Inbox,
    mut data: &[u8],
) -> Handed<EventOf<R>> {
    while let Some(event) = reader.next_event(&mut data) {
        match R::try_send(inbox, event) {
            Ok(()) => {}
            Err(TrySend::Full(event)) => return Handed::Blocked(event, data.to_vec()),
            Err(TrySend::Closed) => return Handed::Gone,
        }
    }
    Handed::All
}

/// `read`; with an idle timeout, fails with `TimedOut` when it does not finish for that long. Without
/// one (the default) no timer is armed on the hot path.
async fn within_idle<R: TaskRuntime, T>(
    read: impl Future<Output = io::Result<T>>,
    idle: Option<Duration>,
) -> io::Result<T> {
    match idle {
        None => read.await,
        Some(limit) => {
            let timed_out = async {
                R::sleep(limit).await;
                Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))
            };
            future::or(read, timed_out).await
        }
    }
}

/// The writer: writes what is queued and the close's last line, then half-closes and lingers.
async fn write_side<R: TaskRuntime>(
    mut half: R::WriteHalf,
    mut queue: R::Queue,
    mut writer: ClientWriter,
) {
    let stop = writer.stop_signal();
    match stop
        .or_stopped(write_loop::<R>(&mut half, &mut queue, &mut writer))
        .await
    {
        Some(Ok(())) => {
            if let Some(line) = writer.parting_line() {
                let mut batch = WriteBatch::new();
                batch.push(line);
                let parting = write_batch::<R>(&mut half, &batch);
                future::or(async { drop(parting.await) }, R::sleep(STALL_TICK)).await;
            }
        }
        Some(Err(err)) => tracing::debug!(error = %err, "chat write failed"),
        None => tracing::debug!("chat writer stopped mid-write"),
    }
    R::shutdown_write(&mut half).await;
    writer.linger(R::sleep(CLOSE_LINGER)).await;
}

/// Writes batches until the writer is done or must stop.
async fn write_loop<R: TaskRuntime>(
    half: &mut R::WriteHalf,
    queue: &mut R::Queue,
    writer: &mut ClientWriter,
) -> io::Result<()> {
    loop {
        let first = R::next_line(queue).await;
        let Some(batch) = writer.next_batch(first, || R::try_next_line(queue)) else {
            return Ok(());
        };
        write_batch::<R>(half, batch).await?;
        writer.written();
    }
}

/// Writes one batch with vectored writes.
async fn write_batch<R: TaskRuntime>(
    half: &mut R::WriteHalf,
    batch: &WriteBatch<Line>,
) -> io::Result<()> {
    let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
    let mut bufs = batch.io_slices(&mut slices);
    while !bufs.is_empty() {
        match R::write_vectored(half, bufs).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
