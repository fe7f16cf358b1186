//! Chat, tokio: a broker task drives the shared [`Broker`](server_common::chat::Broker); each
//! connection is one task (`server_common::chat::tasks::Connection`, the same for every async runtime)
//! that reads the client's input and writes what the broker queued for it. This file supplies
//! tokio's primitives.
//!
//! Shutdown: the accept loop stops; the connections' tasks run on (readers that end now do not tell
//! the broker: no `LEFT` is broadcast): the broker closes every client with `ERR shutting-down`, and
//! they flush and close until the drain deadline.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use server_common::chat::tasks::{self, ChatEvent, HubOf, TaskRuntime, TrySend};
use server_common::chat::{BROKER_INBOX, ChatHub};
use server_common::poll_io::PollRead;
use server_common::{App, Config, ConnGuard, DrainDeadline};
use tokio::io::{AsyncWrite, AsyncWriteExt};
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
        move |stream: Conn, slot: ConnGuard| {
            let (read_half, write_half) = stream.into_split();
            tasks::start_conn::<Tokio>(read_half, write_half, Arc::clone(&chat), slot);
        }
    };
    let reject = App::Chat.over_limit_reply();
    accept::accept_each(acceptor, reject, handler).await;
    tasks::drain::<Tokio>(&chat, broker, config.drain_timeout).await
}

/// tokio's primitives for the chat loop: tokio's mpsc channel (the broker's inbox), the stream's owned halves, tokio's
/// timer and `tokio::spawn`.
struct Tokio;

impl TaskRuntime for Tokio {
    type Inbox = mpsc::Sender<ChatEvent>;
    type Events = mpsc::Receiver<ChatEvent>;
    type ReadHalf = ReadHalf;
    type WriteHalf = WriteHalf;
    const NAME: &'static str = crate::NAME;

    async fn send(inbox: &Self::Inbox, event: ChatEvent) -> bool {
        inbox.send(event).await.is_ok()
    }

    fn try_send(inbox: &Self::Inbox, event: ChatEvent) -> Result<(), TrySend<ChatEvent>> {
        inbox.try_send(event).map_err(|err| match err {
            mpsc::error::TrySendError::Full(event) => TrySend::Full(event),
            mpsc::error::TrySendError::Closed(_) => TrySend::Closed,
        })
    }

    async fn next_event(events: &mut Self::Events) -> Option<ChatEvent> {
        events.recv().await
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

    fn poll_write_vectored(
        half: &mut Self::WriteHalf,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(half).poll_write_vectored(cx, bufs)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's task holds this future: it must stay a few hundred bytes (issue 17).
    #[test]
    fn a_connection_is_small() {
        let size = std::mem::size_of::<tasks::Connection<Tokio>>();
        println!("Connection<Tokio>: {size} B");
        assert!(size <= 640, "Connection<Tokio> is {size} B");
    }
}
