//! What every chat connection of one server shares, and how a connection's two halves are made.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chat_core::ClientId;
use futures_lite::future;

use super::{BrokerEvent, ClientReader, ClientWriter, Outlet};
use crate::{Config, DrainDeadline, Latch, Shutdown, WaitGroup};

/// A chat server's shared state outside the broker: the broker's inbox (`I`, the variant's sender),
/// the settings, the shutdown signal, the drain's hard stop, and the writers still running.
#[derive(Debug)]
pub struct ChatHub<I> {
    inbox: I,
    next_id: AtomicU64,
    config: Config,
    shutdown: Shutdown,
    /// Triggered at the drain deadline: writers give up on clients that do not read.
    hard_stop: Latch,
    /// Every live writer, so that shutdown can wait until everything queued is flushed.
    writers: WaitGroup,
}

impl<I> ChatHub<I> {
    /// A hub around the broker's `inbox`.
    pub fn new(inbox: I, config: &Config, shutdown: &Shutdown) -> Self {
        ChatHub {
            inbox,
            next_id: AtomicU64::new(0),
            config: config.clone(),
            shutdown: shutdown.clone(),
            hard_stop: Latch::new(),
            writers: WaitGroup::new(),
        }
    }

    /// The broker's inbox.
    pub fn inbox(&self) -> &I {
        &self.inbox
    }

    /// The server's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new connection's reader and writer, sharing a fresh [`Outlet`] and a new client id, for a
    /// reader and a writer that run apart (the writer lingers until the reader is dropped).
    pub fn open(&self) -> (ClientReader, ClientWriter) {
        self.open_with(Some(Latch::new()))
    }

    /// [`open`](Self::open) for a reader and a writer that are one task, which itself knows when its
    /// reading ended: no latch links them.
    pub fn open_one(&self) -> (ClientReader, ClientWriter) {
        self.open_with(None)
    }

    fn open_with(&self, reader_done: Option<Latch>) -> (ClientReader, ClientWriter) {
        let id: ClientId = self.next_id.fetch_add(1, Ordering::Relaxed);
        let outlet = Arc::new(Outlet::new(self.config.queue_bytes));
        let reader = ClientReader::new(
            id,
            self.config.max_line,
            Arc::clone(&outlet),
            reader_done.clone(),
        );
        let live = self.writers.enter();
        let writer = ClientWriter::new(outlet, self.hard_stop.clone(), reader_done, live);
        (reader, writer)
    }

    /// The event for a reader whose connection ended; `None` during shutdown, when no `LEFT` is
    /// broadcast (the broker's shutdown closes everyone).
    pub fn gone<M>(&self, reader: &ClientReader) -> Option<BrokerEvent<M>> {
        let id = reader.id();
        (!self.shutdown.is_triggered()).then_some(BrokerEvent::Gone { id })
    }

    /// After the broker handled [`BrokerEvent::Shutdown`]: blocks until every writer is done or the
    /// deadline passes, then stops the rest. Returns whether every writer finished.
    pub fn drain_blocking(&self, deadline: DrainDeadline) -> bool {
        let drained = self.writers.wait_blocking_until(deadline.instant());
        if !drained {
            self.hard_stop.trigger();
        }
        drained
    }

    /// The async [`drain_blocking`](Self::drain_blocking): `deadline` is the runtime's sleep until the
    /// drain deadline.
    pub async fn drain(&self, deadline: impl Future<Output = ()>) -> bool {
        let drained = future::or(
            async {
                self.writers.wait().await;
                true
            },
            async {
                deadline.await;
                false
            },
        )
        .await;
        if !drained {
            self.hard_stop.trigger();
        }
        drained
    }
}
