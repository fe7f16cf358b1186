//! A chat connection's reading half, runtime-free: the variant reads bytes into a buffer of its
//! choosing (a worker's or event loop's, shared between connections, or the thread's own), this turns
//! them into broker events. Between reads it holds only an unterminated line's bytes ([`Lines`]).

use std::sync::Arc;

use chat_core::{ClientId, Lines};

use super::{BrokerEvent, Outlet};
use crate::Latch;

/// One client's input side: its id, its line framer, and (when its writer runs apart from it) the
/// latch it shares with its writer. Made by [`ChatHub::open`](super::ChatHub::open) or
/// [`ChatHub::open_one`](super::ChatHub::open_one). Dropping it tells a writer of its own that the
/// reader is done (which ends the writer's linger at once).
#[derive(Debug)]
pub struct ClientReader {
    id: ClientId,
    lines: Lines,
    outlet: Arc<Outlet>,
    /// `None` when reader and writer are one task, which knows when its reading ended.
    done: Option<Latch>,
}

impl ClientReader {
    pub(super) fn new(
        id: ClientId,
        max_line: usize,
        outlet: Arc<Outlet>,
        done: Option<Latch>,
    ) -> Self {
        ClientReader {
            id,
            lines: Lines::new(max_line),
            outlet,
            done,
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

    /// The next complete input for the broker taken from the front of `input` (the bytes just read,
    /// which is advanced past it), or `None` once `input` is used up (its unterminated rest is kept).
    pub fn next_event<M>(&mut self, input: &mut &[u8]) -> Option<BrokerEvent<M>> {
        let input = self.lines.next_frame(input)?.into();
        Some(BrokerEvent::Input { id: self.id, input })
    }

    /// Bytes of memory the framer holds between reads: 0 unless a line is split across reads.
    pub fn held_bytes(&self) -> usize {
        self.lines.held_bytes()
    }
}

impl Drop for ClientReader {
    fn drop(&mut self) {
        if let Some(done) = &self.done {
            done.trigger();
        }
    }
}
