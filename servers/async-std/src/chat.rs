//! Chat, async-std: a broker task drives the shared [`Broker`](server_common::chat::Broker); each
//! connection is one task (`server_common::chat::tasks::Connection`, the same for every async runtime)
//! that reads the client's input and writes what the broker queued for it. This file supplies
//! async-std's primitives.
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

use async_std::channel::{self, Receiver, Sender};
use async_std::io::Write as AsyncWrite;
use server_common::chat::tasks::{self, ChatEvent, HubOf, TaskRuntime, TrySend};
use server_common::chat::{BROKER_INBOX, ChatHub};
use server_common::poll_io::{FuturesIo, PollRead};
use server_common::{App, Config, ConnGuard, DrainDeadline};

use crate::accept::{self, Acceptor};
use crate::transport::{Conn, ReadHalf, WriteHalf};

/// Serves chat until the acceptor's shutdown signal, then has every client told and flushed by the
/// returned deadline.
pub(crate) async fn serve(acceptor: Acceptor<'_>, config: &Config) -> DrainDeadline {
    let (inbox, events) = channel::bounded(BROKER_INBOX);
    let broker = async_std::task::spawn(tasks::run_broker::<AsyncStd>(events));
    let chat: Arc<HubOf<AsyncStd>> = Arc::new(ChatHub::new(inbox, config, acceptor.shutdown));
    let handler = {
        let chat = Arc::clone(&chat);
        // A plaintext async-std stream is shared by its clones: one reads, the other writes.
        move |stream: Conn, slot: ConnGuard| {
            let (read_half, write_half) = stream.into_split();
            tasks::start_conn::<AsyncStd>(read_half, write_half, Arc::clone(&chat), slot);
        }
    };
    let reject = App::Chat.over_limit_reply();
    accept::accept_each(acceptor, reject, handler).await;
    tasks::drain::<AsyncStd>(&chat, broker, config.drain_timeout).await
}

/// async-std's primitives for the chat loop: async-std's channel (the broker's inbox), the stream and a clone of it,
/// async-std's timer and `task::spawn`.
struct AsyncStd;

impl TaskRuntime for AsyncStd {
    type Inbox = Sender<ChatEvent>;
    type Events = Receiver<ChatEvent>;
    type ReadHalf = ReadHalf;
    type WriteHalf = WriteHalf;
    const NAME: &'static str = crate::NAME;

    async fn send(inbox: &Self::Inbox, event: ChatEvent) -> bool {
        inbox.send(event).await.is_ok()
    }

    fn try_send(inbox: &Self::Inbox, event: ChatEvent) -> Result<(), TrySend<ChatEvent>> {
        inbox.try_send(event).map_err(|err| match err {
            async_std::channel::TrySendError::Full(event) => TrySend::Full(event),
            async_std::channel::TrySendError::Closed(_) => TrySend::Closed,
        })
    }

    async fn next_event(events: &mut Self::Events) -> Option<ChatEvent> {
        events.recv().await.ok()
    }

    fn poll_read(
        half: &mut Self::ReadHalf,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        FuturesIo(half).poll_read_into(cx, buf)
    }

    async fn shutdown_write(half: &mut Self::WriteHalf) {
        let _ = half.shutdown_write().await;
    }

    fn poll_write_vectored(
        half: &mut Self::WriteHalf,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(half).poll_write_vectored(cx, bufs)
    }

    async fn yield_now() {
        async_std::task::yield_now().await;
    }

    async fn sleep(duration: Duration) {
        async_std::task::sleep(duration).await;
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        async_std::task::spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's task holds this future: it must stay a few hundred bytes (issue 17).
    #[test]
    fn a_connection_is_small() {
        let size = std::mem::size_of::<tasks::Connection<AsyncStd>>();
        println!("Connection<AsyncStd>: {size} B");
        assert!(size <= 640, "Connection<AsyncStd> is {size} B");
    }
}
