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
use std::time::Duration;

use chat_core::Line;

use super::{
    Broker, BrokerEvent, CLOSE_LINGER, ChatHub, ClientReader, ClientWriter, Mailbox, STALL_TICK,
    WRITE_BATCH, WriteBatch,
};
use crate::DrainDeadline;

/// The broker event type of a runtime.
pub type EventOf<R> = BrokerEvent<<R as TaskRuntime>::Mailbox>;

/// What an async runtime plugs into the task-per-connection chat server: its primitives, nothing else.
pub trait TaskRuntime: Send + Sync + 'static {
    /// The readers' end of the broker's bounded inbox.
    type Inbox: Send + Sync + 'static;
    /// The broker's end of its inbox.
    type Events: Send + 'static;
    /// The broker's end of one writer's unbounded queue.
    type Mailbox: Mailbox + Send + 'static;
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
    /// The broker's next event; `None` once every sender is gone.
    fn next_event(
        events: &mut Self::Events,
    ) -> impl Future<Output = Option<EventOf<Self>>> + Send + '_;
    /// Lets other tasks on this worker run.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// A new writer queue: the broker's end and the writer's end.
    fn queue() -> (Self::Mailbox, Self::Queue);
    /// The writer's next queued line; `None` once the broker closed the queue and it is empty.
    fn next_line(queue: &mut Self::Queue) -> impl Future<Output = Option<Line>> + Send + '_;
    /// A queued line if one is ready.
    fn try_next_line(queue: &mut Self::Queue) -> Option<Line>;
    /// Reads into `buf` (0 at EOF), failing with `TimedOut` after `idle` without input.
    fn read<'a>(
        half: &'a mut Self::ReadHalf,
        buf: &'a mut [u8],
        idle: Option<Duration>,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// One vectored write.
    fn write_vectored<'a>(
        half: &'a mut Self::WriteHalf,
        bufs: &'a [IoSlice<'a>],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Writes all of `buf`, giving up after `limit`.
    fn write_all_within<'a>(
        half: &'a mut Self::WriteHalf,
        buf: &'a [u8],
        limit: Duration,
    ) -> impl Future<Output = ()> + Send + 'a;
    /// Half-closes: shuts the writing side down (FIN).
    fn shutdown_write(half: &mut Self::WriteHalf) -> impl Future<Output = ()> + Send + '_;
    /// Resolves after `duration`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
    /// Spawns a writer task.
    fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self::Task;
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
    let (mailbox, queue) = R::queue();
    let writer = R::spawn(write_side::<R>(write_half, queue, writer));
    if R::send(chat.inbox(), reader.connect(mailbox)).await {
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

/// Reads and frames the socket's bytes, sending each input to the broker, until EOF.
async fn read_loop<R: TaskRuntime>(
    mut half: R::ReadHalf,
    reader: &mut ClientReader,
    chat: &HubOf<R>,
) -> io::Result<()> {
    loop {
        let n = R::read(&mut half, reader.spare(), chat.config().idle_timeout).await?;
        if !reader.filled(n) {
            return Ok(());
        }
        while let Some(event) = reader.next_event() {
            if !R::send(chat.inbox(), event).await {
                return Ok(()); // the broker is gone: shutting down
            }
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
                R::write_all_within(&mut half, &line, STALL_TICK).await;
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
