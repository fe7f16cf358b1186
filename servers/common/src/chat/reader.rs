//! A chat connection's reading half, runtime-free: the variant reads bytes, this turns them into
//! broker events.

use std::sync::Arc;

use chat_core::{ClientId, Framer};

use super::{BrokerEvent, Outlet};
use crate::Latch;

/// One client's input side: its id, its framer, and the latches it shares with its writer. Made by
/// [`ChatHub::open`](super::ChatHub::open). Dropping it tells the writer the reader is done (which
/// ends the writer's linger at once).
#[derive(Debug)]
pub struct ClientReader {
    id: ClientId,
    framer: Framer,
    outlet: Arc<Outlet>,
    done: Latch,
    released: Latch,
}

impl ClientReader {
    pub(super) fn new(id: ClientId, max_line: usize, outlet: Arc<Outlet>) -> Self {
        ClientReader {
            id,
            framer: Framer::new(max_line),
            outlet,
            done: Latch::new(),
            released: Latch::new(),
        }
    }

    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// The event that introduces this client to the broker, with the mailbox its writer drains.
    pub fn connect<M>(&self, mailbox: M) -> BrokerEvent<M> {
        BrokerEvent::Connect {
            id: self.id,
            mailbox,
            outlet: Arc::clone(&self.outlet),
        }
    }

    /// Where to read the socket's next bytes into.
    pub fn spare(&mut self) -> &mut [u8] {
        self.framer.spare()
    }

    /// Records that `n` bytes were read into [`spare`](Self::spare); `false` at EOF (`n == 0`). Then
    /// drain [`next_event`](Self::next_event).
    pub fn filled(&mut self, n: usize) -> bool {
        self.framer.filled(n);
        n > 0
    }

    /// The next complete input for the broker, or `None` when more bytes are needed.
    pub fn next_event<M>(&mut self) -> Option<BrokerEvent<M>> {
        let input = self.framer.next_frame()?.into();
        Some(BrokerEvent::Input { id: self.id, input })
    }

    /// The latch the writer triggers once it has closed the connection and lingered: an async reader
    /// stops reading then (wrap the read loop in its [`or_cancel`](Latch::or_cancel)); a blocking one is
    /// woken by the socket's shutdown instead.
    pub fn released(&self) -> Latch {
        self.released.clone()
    }

    pub(super) fn latches(&self) -> (Latch, Latch) {
        (self.done.clone(), self.released.clone())
    }
}

impl Drop for ClientReader {
    fn drop(&mut self) {
        self.done.trigger();
    }
}
