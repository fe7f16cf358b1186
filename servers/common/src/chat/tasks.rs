//! Chat for any async runtime that runs one task per connection (tokio, async-std, smol), written
//! once over the runtime's primitives ([`TaskRuntime`]).
//!
//! This loop is the same line for line in every async runtime; only the primitives differ (which
//! channel, which socket halves, which timer, how a task is spawned), so a runtime implements
//! [`TaskRuntime`] with those and calls [`run_broker`], [`start_conn`] and [`drain`]. The blocking
//! variant has its own loops (a blocked thread cannot race a write against a latch; it polls with a
//! write timeout instead), and an event loop drives a [`Broker`] directly.
//!
//! Per connection: ONE task, a hand-written future ([`Connection`]) that is the client's reader and its
//! writer. Its read side reads into the worker's buffer, frames the bytes into broker events and hands
//! them to the broker's bounded inbox (when the inbox is full it stops reading until the event is
//! taken); its write side takes the lines the broker posted to the client's [`LineQueue`] and writes
//! them in vectored batches, then the close instruction's last line, half-closes, and lingers until
//! the read side saw EOF (at most [`CLOSE_LINGER`]). What it waits on while idle is its socket and its
//! queue, so an idle connection's task is a few hundred bytes; the futures it needs only now and then
//! (a send into a full inbox, the idle timer, a stalled write's stop signal, the linger) are boxed
//! while they exist.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use chat_core::Line;

use super::queue::{self, Taken};
use super::{
    Broker, BrokerEvent, CLOSE_LINGER, ChatHub, ClientReader, ClientWriter, LineQueue,
    QueueReceiver, QueueSender, STALL_TICK, WRITE_BATCH, WriteBatch,
};
use crate::poll_io::{PollRead, poll_read_with};
use crate::{ConnGuard, DrainDeadline};

/// The broker event of every task-per-connection runtime: its mailboxes are [`QueueSender`]s.
pub type ChatEvent = BrokerEvent<QueueSender>;

/// What an async runtime plugs into the task-per-connection chat server: its primitives, nothing else.
pub trait TaskRuntime: Sized + Send + Sync + 'static {
    /// The readers' end of the broker's bounded inbox.
    type Inbox: Send + Sync + 'static;
    /// The broker's end of its inbox.
    type Events: Send + 'static;
    /// A connection's reading half.
    type ReadHalf: Send + Unpin + 'static;
    /// A connection's writing half.
    type WriteHalf: Send + Unpin + 'static;
    /// The runtime's name, for the `HELLO` line.
    const NAME: &'static str;

    /// Sends one event to the broker, waiting while its inbox is full; `false` once the broker is gone.
    fn send(inbox: &Self::Inbox, event: ChatEvent) -> impl Future<Output = bool> + Send + '_;
    /// Sends one event to the broker if its inbox has room now.
    fn try_send(inbox: &Self::Inbox, event: ChatEvent) -> Result<(), TrySend<ChatEvent>>;
    /// The broker's next event; `None` once every sender is gone.
    fn next_event(events: &mut Self::Events)
    -> impl Future<Output = Option<ChatEvent>> + Send + '_;
    /// The runtime's `poll_read` of the reading half into `buf`: `Pending` (with a wake-up registered)
    /// until readable. The loop calls it with the worker's buffer
    /// ([`poll_read_with`](crate::poll_io::poll_read_with)), so a waiting reader holds no buffer.
    fn poll_read(
        half: &mut Self::ReadHalf,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>;
    /// The runtime's `poll_write_vectored` of the writing half.
    fn poll_write_vectored(
        half: &mut Self::WriteHalf,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;
    /// Half-closes: shuts the writing side down (FIN).
    fn shutdown_write(half: &mut Self::WriteHalf) -> impl Future<Output = ()> + Send + '_;
    /// Lets other tasks on this worker run.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Resolves after `duration`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static;
    /// Spawns a connection task, detached: it runs until it ends.
    fn spawn(task: impl Future<Output = ()> + Send + 'static);
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

/// The broker task: applies events until shutdown, yielding every so often so that the connections it
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
/// for `broker` (the broker task) and then for the connections until the deadline. Returns the
/// deadline.
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

/// Starts serving one connection: spawns its [`Connection`], the connection's only task, which holds
/// `slot` (its place in the connection limit) until it ends. Shutdown does not cancel it: the broker
/// closes the client, and the task writes its last lines and closes (the drain waits for it).
pub fn start_conn<R: TaskRuntime>(
    read_half: R::ReadHalf,
    write_half: R::WriteHalf,
    chat: Arc<HubOf<R>>,
    slot: ConnGuard,
) {
    R::spawn(Connection::<R>::new(read_half, write_half, chat, slot));
}

/// A boxed future, for the waits a connection needs only now and then.
type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One chat connection as one future: its read side and its write side, polled in turn.
pub struct Connection<R: TaskRuntime> {
    chat: Arc<HubOf<R>>,
    queue: QueueReceiver,
    /// The waker the socket is read with ([`LineQueue::read_waker`]).
    read_waker: Waker,
    /// The task's waker as the queue last recorded it.
    task_waker: Option<Waker>,
    read_half: R::ReadHalf,
    reader: ClientReader,
    read: ReadState,
    idle: Option<Box<Idle>>,
    /// `None` while the half-close owns it.
    write_half: Option<R::WriteHalf>,
    writer: ClientWriter,
    write: WriteState<R::WriteHalf>,
    /// The connection's place in the connection limit, freed when the connection ends.
    _slot: ConnGuard,
}

/// The read side.
enum ReadState {
    /// Waiting for input (or reading it).
    Reading,
    /// The broker's inbox was full: the connection reads nothing until this send is done.
    Sending(Box<Blocked>),
    /// Done: EOF, an error, the broker gone, or released by the write side; the broker was told.
    Done,
}

/// A send into the full inbox, and what comes after it.
struct Blocked {
    send: Boxed<bool>,
    /// The rest of the read's bytes, to frame and send once the event was taken.
    rest: Vec<u8>,
    /// The event is the last one (`Gone`): the read side is done once it is sent.
    last: bool,
}

/// The idle timeout: the connection fails when no read completed for `limit`. The timer is re-armed
/// only when it fires early, not on every read.
struct Idle {
    limit: Duration,
    last_read: Instant,
    timer: Boxed<()>,
}

/// The write side.
enum WriteState<W> {
    /// Taking queued lines and writing them; `sent` bytes of the writer's current batch are written.
    /// `stop` exists while a write waits for the socket: it resolves when the writer must stop.
    Lines {
        sent: usize,
        stop: Option<Boxed<()>>,
    },
    /// The cut-off client's parting line, best effort within [`STALL_TICK`].
    Parting(Box<Parting>),
    /// Half-closing (the future owns the writing half and hands it back).
    Closing(Boxed<W>),
    /// Half-closed: waits for the read side to end, at most [`CLOSE_LINGER`].
    Lingering(Boxed<()>),
    /// Done.
    Done,
}

/// The parting line being written.
struct Parting {
    batch: WriteBatch<Line>,
    sent: usize,
    timer: Boxed<()>,
}

/// How the lines ended.
enum LinesEnd {
    /// The writer is done: what the broker queued (and the close's last line) is written.
    Done,
    /// A write failed.
    Failed(io::Error),
    /// The writer had to stop while a write waited for the socket.
    Stopped,
}

impl<R: TaskRuntime> Connection<R> {
    /// A new client: opens its halves at the hub and introduces it to the broker. `slot` is held
    /// until the connection ends.
    pub fn new(
        read_half: R::ReadHalf,
        write_half: R::WriteHalf,
        chat: Arc<HubOf<R>>,
        slot: ConnGuard,
    ) -> Self {
        let (reader, writer) = chat.open_one();
        let queue = LineQueue::new();
        let idle = chat.config().idle_timeout.map(|limit| {
            Box::new(Idle {
                limit,
                last_read: Instant::now(),
                timer: Box::pin(R::sleep(limit)),
            })
        });
        let mut conn = Connection {
            read_waker: queue.read_waker(),
            task_waker: None,
            queue: QueueReceiver(queue),
            read_half,
            read: ReadState::Reading,
            idle,
            write_half: Some(write_half),
            writer,
            write: WriteState::Lines {
                sent: 0,
                stop: None,
            },
            reader,
            chat,
            _slot: slot,
        };
        let connect = conn.reader.connect(conn.queue.0.sender());
        conn.read = match R::try_send(conn.chat.inbox(), connect) {
            Ok(()) => ReadState::Reading,
            Err(TrySend::Full(event)) => conn.blocked(event, Vec::new(), false),
            Err(TrySend::Closed) => ReadState::Done,
        };
        conn
    }

    /// A send of `event` that waits for room in the inbox.
    fn blocked(&self, event: ChatEvent, rest: Vec<u8>, last: bool) -> ReadState {
        let chat = Arc::clone(&self.chat);
        let send = Box::pin(async move { R::send(chat.inbox(), event).await });
        ReadState::Sending(Box::new(Blocked { send, rest, last }))
    }

    /// The read side ends: tells the broker the client is gone (not during shutdown).
    fn finish_reading(&self) -> ReadState {
        let Some(gone) = self.chat.gone(&self.reader) else {
            return ReadState::Done;
        };
        match R::try_send(self.chat.inbox(), gone) {
            Ok(()) | Err(TrySend::Closed) => ReadState::Done,
            Err(TrySend::Full(event)) => self.blocked(event, Vec::new(), true),
        }
    }

    /// What the read side does after `handed`.
    fn after_handing(&mut self, handed: Handed) -> ReadState {
        match handed {
            Handed::All => {
                if let Some(idle) = &mut self.idle {
                    idle.last_read = Instant::now();
                }
                ReadState::Reading
            }
            Handed::Gone => ReadState::Done, // the broker is gone: shutting down
            Handed::Blocked(event, rest) => self.blocked(event, rest, false),
        }
    }

    /// Polls the read side until it waits.
    fn poll_read_side(&mut self, cx: &mut Context<'_>) {
        loop {
            match &mut self.read {
                ReadState::Done => return,
                ReadState::Sending(blocked) => {
                    let sent = match blocked.send.as_mut().poll(cx) {
                        Poll::Pending => return,
                        Poll::Ready(sent) => sent,
                    };
                    if !sent || blocked.last {
                        self.read = ReadState::Done;
                        continue;
                    }
                    let rest = std::mem::take(&mut blocked.rest);
                    let handed = hand_on::<R>(&mut self.reader, self.chat.inbox(), &rest);
                    self.read = self.after_handing(handed);
                }
                ReadState::Reading => {
                    if let Some(idle) = &mut self.idle
                        && idle.poll_expired::<R>(cx)
                    {
                        tracing::debug!("chat read failed: idle timeout");
                        self.read = self.finish_reading();
                        continue;
                    }
                    if !self.queue.take_readable() {
                        return;
                    }
                    let (reader, inbox) = (&mut self.reader, self.chat.inbox());
                    let mut take = |data: &[u8]| hand_on::<R>(reader, inbox, data);
                    let mut read_cx = Context::from_waker(&self.read_waker);
                    let mut half = ReadHalfOf::<R>(&mut self.read_half);
                    match poll_read_with(&mut half, &mut read_cx, &mut take) {
                        Poll::Pending => return,
                        Poll::Ready(Ok(Some(handed))) => {
                            self.queue.set_readable(); // read on until it would block
                            self.read = self.after_handing(handed);
                        }
                        Poll::Ready(Ok(None)) => self.read = self.finish_reading(),
                        Poll::Ready(Err(err)) => {
                            tracing::debug!(error = %err, "chat read failed");
                            self.read = self.finish_reading();
                        }
                    }
                }
            }
        }
    }

    /// Polls the write side until it waits or is done.
    fn poll_write_side(&mut self, cx: &mut Context<'_>) {
        loop {
            match &mut self.write {
                WriteState::Done => return,
                WriteState::Lines { sent, stop } => {
                    let end = match poll_lines::<R>(
                        &self.queue,
                        &mut self.writer,
                        self.write_half.as_mut(),
                        sent,
                        stop,
                        cx,
                    ) {
                        Poll::Pending => return,
                        Poll::Ready(end) => end,
                    };
                    self.write = match end {
                        LinesEnd::Done => match self.writer.parting_line() {
                            Some(line) => WriteState::Parting(Box::new(Parting {
                                batch: queue::single(line),
                                sent: 0,
                                timer: Box::pin(R::sleep(STALL_TICK)),
                            })),
                            None => self.closing(),
                        },
                        LinesEnd::Failed(err) => {
                            tracing::debug!(error = %err, "chat write failed");
                            self.closing()
                        }
                        LinesEnd::Stopped => {
                            tracing::debug!("chat writer stopped mid-write");
                            self.closing()
                        }
                    };
                }
                WriteState::Parting(parting) => {
                    let Parting { batch, sent, timer } = &mut **parting;
                    if let Some(half) = self.write_half.as_mut()
                        && poll_batch::<R>(half, batch, sent, cx).is_pending()
                        && timer.as_mut().poll(cx).is_pending()
                    {
                        return;
                    }
                    self.write = self.closing();
                }
                WriteState::Closing(closing) => {
                    let Poll::Ready(half) = closing.as_mut().poll(cx) else {
                        return;
                    };
                    self.write_half = Some(half);
                    self.write = WriteState::Lingering(Box::pin(R::sleep(CLOSE_LINGER)));
                }
                WriteState::Lingering(timer) => {
                    if !matches!(self.read, ReadState::Done) && timer.as_mut().poll(cx).is_pending()
                    {
                        return;
                    }
                    self.write = WriteState::Done;
                }
            }
        }
    }

    /// Starts the half-close.
    fn closing(&mut self) -> WriteState<R::WriteHalf> {
        match self.write_half.take() {
            Some(mut half) => WriteState::Closing(Box::pin(async move {
                R::shutdown_write(&mut half).await;
                half
            })),
            None => WriteState::Lingering(Box::pin(R::sleep(CLOSE_LINGER))),
        }
    }
}

impl<R: TaskRuntime> Future for Connection<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this
            .task_waker
            .as_ref()
            .is_some_and(|known| known.will_wake(cx.waker()))
        {
            this.queue.register(cx.waker());
            this.task_waker = Some(cx.waker().clone());
        }
        this.poll_read_side(cx);
        this.poll_write_side(cx);
        if !matches!(this.write, WriteState::Done) {
            return Poll::Pending;
        }
        // The write side is done: the connection stops reading (the broker is still told).
        if matches!(this.read, ReadState::Reading) {
            this.read = this.finish_reading();
        } else if let ReadState::Sending(blocked) = &this.read
            && !blocked.last
        {
            this.read = this.finish_reading();
        }
        this.poll_read_side(cx);
        match this.read {
            ReadState::Done => Poll::Ready(()),
            _ => Poll::Pending,
        }
    }
}

impl Idle {
    /// Whether no read completed for the limit; re-arms the timer when it fired early.
    fn poll_expired<R: TaskRuntime>(&mut self, cx: &mut Context<'_>) -> bool {
        while self.timer.as_mut().poll(cx).is_ready() {
            let quiet = self.last_read.elapsed();
            if quiet >= self.limit {
                return true;
            }
            self.timer = Box::pin(R::sleep(self.limit - quiet));
        }
        false
    }
}

/// The write side's lines: takes batches from the queue and writes them until the writer is done or
/// must stop.
fn poll_lines<R: TaskRuntime>(
    queue: &LineQueue,
    writer: &mut ClientWriter,
    half: Option<&mut R::WriteHalf>,
    sent: &mut usize,
    stop: &mut Option<Boxed<()>>,
    cx: &mut Context<'_>,
) -> Poll<LinesEnd> {
    let Some(half) = half else {
        return Poll::Ready(LinesEnd::Done);
    };
    loop {
        if writer.batch().is_empty() {
            match queue.next_batch(writer) {
                Taken::Batch => *sent = 0,
                Taken::Done => return Poll::Ready(LinesEnd::Done),
                Taken::Empty => return Poll::Pending,
            }
        }
        match poll_batch::<R>(half, writer.batch(), sent, cx) {
            Poll::Ready(Ok(())) => {
                writer.written();
                *stop = None;
            }
            Poll::Ready(Err(err)) => return Poll::Ready(LinesEnd::Failed(err)),
            Poll::Pending => {
                let stop = stop.get_or_insert_with(|| Box::pin(writer.stop_signal().stopped()));
                return match stop.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(LinesEnd::Stopped),
                    Poll::Pending => Poll::Pending,
                };
            }
        }
    }
}

/// Writes `batch` from byte `sent` on with vectored writes, its slices built within the poll.
fn poll_batch<R: TaskRuntime>(
    half: &mut R::WriteHalf,
    batch: &WriteBatch<Line>,
    sent: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while *sent < batch.bytes() {
        let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
        let mut bufs = batch.io_slices(&mut slices);
        IoSlice::advance_slices(&mut bufs, *sent);
        match R::poll_write_vectored(half, cx, bufs) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => *sent += n,
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(Ok(()))
}

/// A runtime's reading half as [`PollRead`].
struct ReadHalfOf<'a, R: TaskRuntime>(&'a mut R::ReadHalf);

impl<R: TaskRuntime> PollRead for ReadHalfOf<'_, R> {
    fn poll_read_into(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        R::poll_read(self.0, cx, buf)
    }
}

/// What [`hand_on`] did with a read's bytes.
enum Handed {
    /// Every complete input went to the broker (an unterminated rest stays with the reader's framer).
    All,
    /// The broker is gone.
    Gone,
    /// The broker's inbox is full: this event, then these bytes, are still to go.
    Blocked(ChatEvent, Vec<u8>),
}

/// Frames `data` and sends each input to the broker while its inbox has room. Only when it is full do
/// the rest of the bytes move into a buffer of the connection's own, until the broker took the event.
fn hand_on<R: TaskRuntime>(reader: &mut ClientReader, inbox: &R::Inbox, mut data: &[u8]) -> Handed {
    while let Some(event) = reader.next_event(&mut data) {
        match R::try_send(inbox, event) {
            Ok(()) => {}
            Err(TrySend::Full(event)) => return Handed::Blocked(event, data.to_vec()),
            Err(TrySend::Closed) => return Handed::Gone,
        }
    }
    Handed::All
}
