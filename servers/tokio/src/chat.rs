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
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chat_core::Line;
use server_common::chat::tasks::{self, EventOf, HubOf, TaskRuntime, TrySend};
use server_common::chat::{BROKER_INBOX, ChatHub};
use server_common::poll_io::PollRead;
use server_common::{App, Config, DrainDeadline};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::accept::{self, Acceptor};
use crate::polled::Polled;
use crate::transport::{Conn, ReadHalf, WriteHalf};

/// Serves chat until the acceptor's shutdown signal, then has every client told and flushed by the
/// returned deadline.
pub(crate) async fn serve(acceptor: Acceptor<'_>, config: &Config) -> DrainDeadline {
    let (inbox, events) = mpsc::channel(BROKER_INBOX);
    let broker = tokio::spawn(tasks::run_broker::<Tokio>(events));
    let chat: Arc<HubOf<Tokio>> = Arc::new(ChatHub::new(inbox, config, acceptor.shutdown));
    let handler = {
        let chat = Arc::clone(&chat);
        move |stream: Conn| {
            let (read_half, write_half) = stream.into_split();
            tasks::serve_conn::<Tokio>(read_half, write_half, Arc::clone(&chat))
        }
    };
    let reject = App::Chat.over_limit_reply();
    accept::accept_loop(acceptor, reject, handler).await;
    tasks::drain::<Tokio>(&chat, broker, config.drain_timeout).await
}

/// tokio's primitives for the chat loops: tokio's mpsc channels, the stream's owned halves, tokio's
/// timer and `tokio::spawn`.
struct Tokio;

impl TaskRuntime for Tokio {
    type Inbox = mpsc::Sender<EventOf<Self>>;
    type Events = mpsc::Receiver<EventOf<Self>>;
    type LineSender = mpsc::UnboundedSender<Line>;
    type Queue = mpsc::UnboundedReceiver<Line>;
    type ReadHalf = ReadHalf;
    type WriteHalf = WriteHalf;
    type Task = TaskDone;
    const NAME: &'static str = crate::NAME;

    async fn send(inbox: &Self::Inbox, event: EventOf<Self>) -> bool {
        inbox.send(event).await.is_ok()
    }

    fn try_send(inbox: &Self::Inbox, event: EventOf<Self>) -> Result<(), TrySend<EventOf<Self>>> {
        inbox.try_send(event).map_err(|err| match err {
            mpsc::error::TrySendError::Full(event) => TrySend::Full(event),
            mpsc::error::TrySendError::Closed(_) => TrySend::Closed,
        })
    }

    async fn next_event(events: &mut Self::Events) -> Option<EventOf<Self>> {
        events.recv().await
    }

    fn queue() -> (Self::LineSender, Self::Queue) {
        mpsc::unbounded_channel()
    }

    fn post(sender: &mut Self::LineSender, line: Line) {
        let _ = sender.send(line); // never waits; fails only once the writer is gone
    }

    async fn next_line(queue: &mut Self::Queue) -> Option<Line> {
        queue.recv().await
    }

    fn try_next_line(queue: &mut Self::Queue) -> Option<Line> {
        queue.try_recv().ok()
    }

    fn poll_read(
        half: &mut Self::ReadHalf,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Polled(half).poll_read_into(cx, buf)
    }

    async fn shutdown_write(half: &mut Self::WriteHalf) {
        let _ = half.shutdown().await;
    }

    async fn write_vectored(half: &mut Self::WriteHalf, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        half.write_vectored(bufs).await
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) -> TaskDone {
        TaskDone(tokio::spawn(task))
    }
}

/// A spawned task's handle that resolves once the task ended, however it ended.
struct TaskDone(tokio::task::JoinHandle<()>);

impl Future for TaskDone {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}
