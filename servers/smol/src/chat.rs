//! Chat, smol: a broker task drives the shared [`Broker`](server_common::chat::Broker); each
//! connection is one task (`server_common::chat::tasks::Connection`, the same for every async runtime)
//! that reads the client's input and writes what the broker queued for it. This file supplies
//! smol's primitives.
//!
//! Shutdown: the accept loop stops and cancels the tasks that wait for the connections, so readers end
//! without telling the broker (no `LEFT` is broadcast); the connections' own tasks run on: the broker
//! closes every client with `ERR shutting-down`, and they flush and close until the drain deadline.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use server_common::chat::tasks::{self, ChatEvent, HubOf, TaskRuntime, TrySend};
use server_common::chat::{BROKER_INBOX, ChatHub};
use server_common::poll_io::{FuturesIo, PollRead};
use server_common::{App, Config, DrainDeadline};
use smol::channel::{self, Receiver, Sender};
use smol::io::AsyncWrite;

use crate::accept::{self, Acceptor};
use crate::executor::{self, Detached};
use crate::transport::{Conn, ReadHalf, WriteHalf};

/// Serves chat until the acceptor's shutdown signal, then has every client told and flushed by the
/// returned deadline.
pub(crate) async fn serve(acceptor: Acceptor<'_>, config: &Config) -> DrainDeadline {
    let (inbox, events) = channel::bounded(BROKER_INBOX);
    let broker = Smol::spawn(tasks::run_broker::<Smol>(events));
    let chat: Arc<HubOf<Smol>> = Arc::new(ChatHub::new(inbox, config, acceptor.shutdown));
    let handler = {
        let chat = Arc::clone(&chat);
        // A plaintext smol stream is shared by its clones: one reads, the other writes.
        move |stream: Conn| {
            let (read_half, write_half) = stream.into_split();
            tasks::serve_conn::<Smol>(read_half, write_half, Arc::clone(&chat))
        }
    };
    let reject = App::Chat.over_limit_reply();
    accept::accept_loop(acceptor, reject, handler).await;
    tasks::drain::<Smol>(&chat, broker, config.drain_timeout).await
}

/// smol's primitives for the chat loop: smol's channel (the broker's inbox), the stream and a clone of it, smol's timer
/// and spawning onto the server's executor.
struct Smol;

impl TaskRuntime for Smol {
    type Inbox = Sender<ChatEvent>;
    type Events = Receiver<ChatEvent>;
    type ReadHalf = ReadHalf;
    type WriteHalf = WriteHalf;
    type Task = Detached<()>;
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

    fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Detached<()> {
        executor::spawn_detached(task)
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
