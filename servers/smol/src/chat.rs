//! Chat, smol: a broker task drives the shared [`Broker`](server_common::chat::Broker); each
//! connection is one task (`server_common::chat::tasks::Connection`, the same for every async runtime)
//! that reads the client's input and writes what the broker queued for it. This file supplies
//! smol's primitives.
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
use server_common::poll_io::{FuturesIo, PollRead};
use server_common::{App, Config, ConnGuard, DrainDeadline};
use smol::channel::{self, Receiver, Sender};
use smol::io::AsyncWrite;

use crate::accept::{self, Acceptor};
use crate::executor;
use crate::transport::{Conn, ReadHalf, WriteHalf};

/// Serves chat until the acceptor's shutdown signal, then has every client told and flushed by the
/// returned deadline.
pub(crate) async fn serve(acceptor: Acceptor<'_>, config: &Config) -> DrainDeadline {
    let (inbox, events) = channel::bounded(BROKER_INBOX);
    let broker = executor::spawn(tasks::run_broker::<Smol>(events));
    let chat: Arc<HubOf<Smol>> = Arc::new(ChatHub::new(inbox, config, acceptor.shutdown));
    let handler = {
        let chat = Arc::clone(&chat);
        // A plaintext smol stream is shared by its clones: one reads, the other writes.
        move |stream: Conn, slot: ConnGuard| {
            let (read_half, write_half) = stream.into_split();
            tasks::start_conn::<Smol>(read_half, write_half, Arc::clone(&chat), slot);
        }
    };
    let reject = App::Chat.over_limit_reply();
    accept::accept_each(acceptor, reject, handler).await;
    tasks::drain::<Smol>(&chat, broker, config.drain_timeout).await
}

/// smol's primitives for the chat loop: smol's channel (the broker's inbox), the stream shared by two halves, smol's timer
/// and spawning onto the server's executor.
struct Smol;

impl TaskRuntime for Smol {
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
            smol::channel::TrySendError::Full(event) => TrySend::Full(event),
            smol::channel::TrySendError::Closed(_) => TrySend::Closed,
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
        smol::future::yield_now().await;
    }

    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        executor::spawn(task).detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's task holds this future: it must stay a few hundred bytes (issue 17).
    #[test]
    fn a_connection_is_small() {
        let size = std::mem::size_of::<tasks::Connection<Smol>>();
        println!("Connection<Smol>: {size} B");
        assert!(size <= 640, "Connection<Smol> is {size} B");
    }
}
