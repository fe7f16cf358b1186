//! Chat on the event loop: the loop owns the [`Broker`] and calls it synchronously — no broker
//! task, no channels, no locks.
//!
//! When a connection's input yields a line, the loop hands the frame, borrowed from the loop's read buffer, straight to
//! [`Broker::input`] (no copy). The broker queues each line it produces through the recipient's
//! [`Postbox`]: the line (a shared `Arc`, so a broadcast to N members is N pointer copies) goes
//! onto that connection's own queue, and the connection goes on the loop's wake list, once per
//! turn. At the end of the turn every woken connection writes what is queued for it, in as few
//! vectored writes as the socket takes; what it does not take waits in the queue, bounded by the
//! broker's byte budget (`--queue-bytes`; overflow makes the client a slow consumer), and write
//! interest is switched on until the queue is empty. How a connection ends is in
//! [`crate::chat_conn`].
//!
//! Chat runs on **one** loop, whatever `--workers` says. The chat state is one shared thing (every
//! room may have members anywhere), and one loop owning it is what makes it lock-free and
//! channel-free; several loops would have to share the broker behind a lock or a channel, which is
//! exactly the cost this model exists to avoid (the task variants pay it: a bounded channel into a
//! broker task). The price is one core for all of chat — the classic single-threaded chat server.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{Line, Lines};
use mio::Interest;
use server_common::chat::{Broker, Mailbox, Outlet};
use server_common::{App, Config};

use crate::chat_conn::{ChatConn, Reading};
use crate::event_loop::{Cx, Protocol, Ready, Slot, Status, Wake, WakeList};
use crate::transport::Stream;

/// The chat application on its loop.
#[derive(Debug)]
pub(crate) struct Chat {
    broker: Broker<Postbox>,
    /// The loop's one read buffer: every connection reads into it and frames its lines from it, so an
    /// idle connection holds no buffer (only a line split across reads is kept, by its [`Lines`]).
    scratch: Box<[u8]>,
    max_line: usize,
    queue_bytes: usize,
    idle: Option<Duration>,
}

impl Chat {
    /// Chat with `config`'s limits; the broker names itself `impl_name` in `HELLO`.
    pub(crate) fn new(config: &Config, impl_name: &str) -> Self {
        Chat {
            broker: Broker::new(impl_name),
            scratch: vec![0; server_common::config::ECHO_BUF_SIZE].into_boxed_slice(),
            max_line: config.max_line,
            queue_bytes: config.queue_bytes,
            idle: config.idle_timeout,
        }
    }
}

/// One connection's outbound queue, shared by the connection (which writes it out) and its
/// [`Postbox`] in the broker (which fills it). Its bound is the client's [`Outlet`] budget.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// The lines waiting to be written, the first one possibly in part.
    pub(crate) lines: RefCell<VecDeque<Line>>,
    /// The connection is on the wake list already.
    pub(crate) woken: Cell<bool>,
}

/// The broker's end of one connection's queue: posting a line queues it and wakes the connection.
#[derive(Debug)]
pub(crate) struct Postbox {
    outbound: Rc<Outbound>,
    wakes: WakeList,
    slot: Slot,
}

impl Postbox {
    fn wake(&self) {
        if !self.outbound.woken.replace(true) {
            self.wakes.push(Wake {
                slot: self.slot,
                ready: Ready::WRITE,
            });
        }
    }
}

impl Mailbox for Postbox {
    fn post(&mut self, line: Line) {
        server_common::chat::queue::push_line(&mut self.outbound.lines.borrow_mut(), line);
        self.wake();
    }

    fn close(self) {
        // The outlet holds the close instruction; the connection executes it once it has written
        // what is queued.
        self.wake();
    }
}

impl Chat {
    /// The connection's status; one that is closing while still in the chat (its socket failed on a
    /// write) leaves the chat first, so that the broker never keeps a client whose connection is
    /// gone.
    fn settle(&mut self, conn: &mut ChatConn) -> Status {
        let status = conn.status();
        if status == Status::Done {
            conn.input_ended(&mut self.broker);
        }
        status
    }
}

impl Protocol for Chat {
    type Conn = ChatConn;

    fn reject(&self) -> &'static [u8] {
        App::Chat.over_limit_reply()
    }

    fn open(&mut self, mut stream: Stream, slot: Slot, cx: &mut Cx<'_>) -> io::Result<ChatConn> {
        cx.registry
            .register(&mut stream, slot.token(), Interest::READABLE)?;
        let outlet = Arc::new(Outlet::new(self.queue_bytes));
        let outbound = Rc::new(Outbound::default());
        let postbox = Postbox {
            outbound: Rc::clone(&outbound),
            wakes: cx.wakes.clone(),
            slot,
        };
        self.broker
            .connect(slot.serial, postbox, Arc::clone(&outlet));
        Ok(ChatConn::new(
            stream,
            slot,
            Lines::new(self.max_line),
            outbound,
            outlet,
            cx.now,
        ))
    }

    fn ready(&mut self, conn: &mut ChatConn, slot: Slot, ready: Ready, cx: &mut Cx<'_>) -> Status {
        if ready.readable {
            conn.read(&mut self.broker, &mut self.scratch, slot, ready, cx);
        }
        if ready.writable {
            conn.write(cx);
        }
        self.settle(conn)
    }

    fn timer(&mut self, conn: &mut ChatConn, _slot: Slot, cx: &mut Cx<'_>) -> Status {
        if let Some(idle) = self.idle
            && conn.is_idle(idle, cx.now)
        {
            // As if the client had reset: its rooms are told it left.
            conn.input_ended(&mut self.broker);
        }
        conn.expire(cx);
        self.settle(conn)
    }

    fn deadline(&self, conn: &ChatConn) -> Option<Instant> {
        let idle = self
            .idle
            .filter(|_| conn.reading() == Reading::Open)
            .map(|idle| conn.last_input() + idle);
        [idle, conn.deadline()].into_iter().flatten().min()
    }

    fn stop(&mut self, conn: &mut ChatConn, _slot: Slot, _cx: &mut Cx<'_>) -> Status {
        conn.stop_input();
        conn.status()
    }

    fn stopped(&mut self, _cx: &mut Cx<'_>) {
        // Every client gets `ERR shutting-down` after what is queued for it; no `LEFT` is sent.
        self.broker.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postbox_queues_every_line_and_wakes_its_connection_once() {
        let wakes = WakeList::default();
        let outbound = Rc::new(Outbound::default());
        let slot = Slot { key: 3, serial: 7 };
        let mut postbox = Postbox {
            outbound: Rc::clone(&outbound),
            wakes: wakes.clone(),
            slot,
        };
        postbox.post(Line::new(b"HELLO\n"));
        postbox.post(Line::new(b"OK JOIN r\n"));
        assert_eq!(outbound.lines.borrow().len(), 2);
        let mut woken = Vec::new();
        wakes.take(&mut woken);
        assert_eq!(woken.len(), 1);
        assert_eq!(woken[0].slot, slot);
        assert_eq!(woken[0].ready, Ready::WRITE);
        // Once the connection wrote (clearing the flag), the next post wakes it again.
        outbound.woken.set(false);
        postbox.close();
        woken.clear();
        wakes.take(&mut woken);
        assert_eq!(woken.len(), 1);
    }
}
