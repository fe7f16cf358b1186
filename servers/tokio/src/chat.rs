//! Chat, tokio: a broker task drives the shared [`Broker`](server_common::chat::Broker); each
//! connection is a reader (its connection task) and a writer task fed by an unbounded tokio channel,
//! bounded in bytes by the broker. The loops are `server_common::chat::tasks`, the same for every
//! async runtime; this file supplies tokio's primitives.
//!
//! Shutdown: the accept loop stops and cancels every connection task, so readers end without telling
//! the broker (no `LEFT` is broadcast); the broker closes every client with `ERR shutting-down`;
//! writers flush and close until the drain deadline.

use std::future::Future;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use chat_core::{ErrorCode, Line};
use server_common::chat::tasks::{self, EventOf, HubOf, TaskRuntime};
use server_common::chat::{BROKER_INBOX, ChatHub, Mailbox};
use server_common::{Config, ConnLimit, DrainDeadline, ServerError, Shutdown};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{self, Receiver, Sender, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::{accept, idle};

/// Serves chat until `shutdown`, then has every client told and flushed by the returned deadline.
pub(crate) async fn serve(
    listener: &TcpListener,
    limit: &ConnLimit,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<DrainDeadline, ServerError> {
    let (inbox, events) = mpsc::channel(BROKER_INBOX);
    let broker = tokio::spawn(tasks::run_broker::<Tokio>(events));
    let chat: Arc<HubOf<Tokio>> = Arc::new(ChatHub::new(inbox, config, shutdown));
    let handler = {
        let chat = Arc::clone(&chat);
        move |stream: TcpStream| {
            let (read_half, write_half) = stream.into_split();
            tasks::serve_conn::<Tokio>(read_half, write_half, Arc::clone(&chat))
        }
    };
    let reject = ErrorCode::ServerFull.line().as_bytes();
    accept::accept_loop(listener, limit, shutdown, reject, handler).await;
    Ok(tasks::drain::<Tokio>(&chat, broker, config.drain_timeout).await)
}

/// tokio's primitives for the chat loops.
struct Tokio;

/// The broker's end of one writer's queue.
struct Queue(UnboundedSender<Line>);

impl Mailbox for Queue {
    fn post(&mut self, line: Line) {
        let _ = self.0.send(line); // unbounded: never waits; fails only once the writer is gone
    }
}

impl TaskRuntime for Tokio {
    type Inbox = Sender<EventOf<Self>>;
    type Events = Receiver<EventOf<Self>>;
    type Mailbox = Queue;
    type Queue = UnboundedReceiver<Line>;
    type ReadHalf = OwnedReadHalf;
    type WriteHalf = OwnedWriteHalf;
    type Task = TaskDone;
    const NAME: &'static str = crate::NAME;

    async fn send(inbox: &Self::Inbox, event: EventOf<Self>) -> bool {
        inbox.send(event).await.is_ok()
    }

    async fn next_event(events: &mut Self::Events) -> Option<EventOf<Self>> {
        events.recv().await
    }

    async fn yield_now() {
        tokio::task::yield_now().await;
    }

    fn queue() -> (Queue, Self::Queue) {
        let (mailbox, queue) = mpsc::unbounded_channel();
        (Queue(mailbox), queue)
    }

    async fn next_line(queue: &mut Self::Queue) -> Option<Line> {
        queue.recv().await
    }

    fn try_next_line(queue: &mut Self::Queue) -> Option<Line> {
        queue.try_recv().ok()
    }

    async fn read(
        half: &mut OwnedReadHalf,
        buf: &mut [u8],
        idle: Option<Duration>,
    ) -> io::Result<usize> {
        idle::read(half, buf, idle).await
    }

    async fn write_vectored(half: &mut OwnedWriteHalf, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        half.write_vectored(bufs).await
    }

    async fn write_all_within(half: &mut OwnedWriteHalf, buf: &[u8], limit: Duration) {
        let _ = tokio::time::timeout(limit, half.write_all(buf)).await;
    }

    async fn shutdown_write(half: &mut OwnedWriteHalf) {
        let _ = half.shutdown().await;
    }

    async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) -> TaskDone {
        TaskDone(tokio::spawn(task))
    }
}

/// A spawned task's handle that resolves once the task ended, however it ended.
struct TaskDone(JoinHandle<()>);

impl Future for TaskDone {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
