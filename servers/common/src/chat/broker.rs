//! The chat broker, written once for every variant: it owns the [`ChatState`], each client's queue and
//! byte budget, applies each event, and delivers without ever blocking.
//!
//! It lives in `server-common`, not in the sans-IO core, because it shares each client's budget and
//! close instruction with that client's writer, which may run on another thread ([`Outlet`]: atomics
//! and a wake-up latch) — concurrency glue the core must not contain. It performs no I/O and names no
//! runtime. What a variant plugs in is a [`Mailbox`]: the sending end of the queue its writer drains,
//! which also wakes the writer.
//!
//! - Threads, tokio, async-std (and smol): a broker thread or task owns a `Broker` and feeds it
//!   [`BrokerEvent`]s from a bounded inbox with [`Broker::handle`]; the mailbox is a channel sender.
//! - A hand-rolled event loop (mio, io_uring) owns a `Broker` directly and calls [`Broker::connect`],
//!   [`Broker::input`] (with the framer's borrowed frame: no copy), [`Broker::disconnect`] and
//!   [`Broker::shutdown`] inside its loop — no broker task, no channels; its mailbox pushes onto the
//!   connection's queue and marks the connection for writing.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use chat_core::{ChatState, ClientId, Closing, Frame, Input, Line, Outbox, Outgoing, Queued};

use super::Outlet;
use super::batch::BROKER_BATCH;

/// The sending end of one client's outbound queue, as a variant implements it.
pub trait Mailbox {
    /// Queues `line` for the client's writer and wakes the writer if it waits. Must not block: the
    /// broker has already reserved the line's bytes in the client's [`Outlet`], which bounds the queue.
    /// A writer that is gone may drop the line.
    fn post(&mut self, line: Line);

    /// The broker is done with the client; its [`Outlet`] already holds the close instruction. The
    /// writer must be woken to execute it once it has written what is queued. A channel sender does
    /// both by being dropped, which is what the default does.
    fn close(self)
    where
        Self: Sized,
    {
    }
}

/// What readers (and the server, at shutdown) tell a broker that runs as its own thread or task.
#[derive(Debug)]
pub enum BrokerEvent<M> {
    /// A new client, the mailbox of its writer's queue, and the outlet it shares with that writer.
    Connect {
        /// The client.
        id: ClientId,
        /// Where its lines go.
        mailbox: M,
        /// Its budget and close instruction.
        outlet: Arc<Outlet>,
    },
    /// One input from the client's reader.
    Input {
        /// The client.
        id: ClientId,
        /// The line, or why there is none.
        input: Input,
    },
    /// The client's connection ended (EOF, reset, idle timeout).
    Gone {
        /// The client.
        id: ClientId,
    },
    /// The server is shutting down: every client is told and closed; the broker stops.
    Shutdown,
}

/// The broker's handle on one client.
#[derive(Debug)]
struct Member<M> {
    mailbox: M,
    outlet: Arc<Outlet>,
    /// A line did not fit: nothing more is queued; the client is being cut off.
    overflowed: bool,
}

/// The chat state machine plus every client's queue and budget: a plain synchronous struct.
#[derive(Debug)]
pub struct Broker<M> {
    state: ChatState,
    out: Outbox,
    members: HashMap<ClientId, Member<M>>,
    overflowed: Vec<ClientId>,
    handled: u64,
}

impl<M: Mailbox> Broker<M> {
    /// A broker for a server that names itself `impl_name` in `HELLO`.
    pub fn new(impl_name: &str) -> Self {
        Broker {
            state: ChatState::new(impl_name),
            out: Outbox::new(),
            members: HashMap::new(),
            overflowed: Vec::new(),
            handled: 0,
        }
    }

    /// Applies one event; `Break` after [`BrokerEvent::Shutdown`], when the broker is done.
    pub fn handle(&mut self, event: BrokerEvent<M>) -> ControlFlow<()> {
        self.handled = self.handled.wrapping_add(1);
        match event {
            BrokerEvent::Connect {
                id,
                mailbox,
                outlet,
            } => self.connect(id, mailbox, outlet),
            BrokerEvent::Input { id, input } => self.input(id, input.as_frame()),
            BrokerEvent::Gone { id } => self.disconnect(id),
            BrokerEvent::Shutdown => {
                self.shutdown();
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// Whether an async broker should yield to its runtime now: once every [`BROKER_BATCH`] events.
    pub fn yield_due(&self) -> bool {
        self.handled % BROKER_BATCH == 0
    }

    /// A new client: it is greeted through `mailbox`, within `outlet`'s budget.
    pub fn connect(&mut self, id: ClientId, mailbox: M, outlet: Arc<Outlet>) {
        let member = Member {
            mailbox,
            outlet,
            overflowed: false,
        };
        self.members.insert(id, member);
        self.state.connect(id, &mut self.out);
        self.deliver();
    }

    /// One input from the client's reader.
    pub fn input(&mut self, id: ClientId, frame: Frame<'_>) {
        self.state.frame(id, frame, &mut self.out);
        self.deliver();
    }

    /// The client's connection ended: its rooms are told, its writer finishes what is queued.
    pub fn disconnect(&mut self, id: ClientId) {
        self.state.disconnect(id, &mut self.out);
        self.deliver();
    }

    /// Server shutdown: every client gets its last line after what is queued, and is closed.
    pub fn shutdown(&mut self) {
        self.state.shutdown(&mut self.out);
        self.deliver();
    }

    /// The number of clients whose writer still has this broker's mailbox.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Queues every outgoing line without blocking and executes every close. A client whose budget
    /// overflows is handed to the core as a slow consumer, which closes it and may queue `LEFT` lines
    /// to others, hence the loop.
    fn deliver(&mut self) {
        loop {
            for Outgoing { to, line } in self.out.sends.drain(..) {
                let Some(member) = self.members.get_mut(&to) else {
                    continue;
                };
                if member.overflowed {
                    continue;
                }
                if member.outlet.try_reserve(line.len()) {
                    member.mailbox.post(line);
                } else {
                    member.overflowed = true;
                    self.overflowed.push(to);
                }
            }
            for id in self.overflowed.drain(..) {
                self.state.slow_consumer(id, &mut self.out);
            }
            for Closing { to, mut close } in self.out.closes.drain(..) {
                let Some(member) = self.members.remove(&to) else {
                    continue;
                };
                if member.overflowed {
                    // Closed in the same batch that overflowed it: what is queued is stale either way.
                    close.queued = Queued::Discard;
                }
                member.outlet.close(close);
                member.mailbox.close();
            }
            if self.out.sends.is_empty() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A mailbox for a synchronous loop: lines land in a shared list, closes are recorded.
    #[derive(Debug, Clone, Default)]
    struct Recorder {
        lines: Rc<RefCell<Vec<String>>>,
        closed: Rc<RefCell<bool>>,
    }

    impl Mailbox for Recorder {
        fn post(&mut self, line: Line) {
            let text = String::from_utf8_lossy(&line).into_owned();
            self.lines.borrow_mut().push(text);
        }

        fn close(self) {
            *self.closed.borrow_mut() = true;
        }
    }

    fn join(broker: &mut Broker<Recorder>, id: ClientId, limit: usize) -> (Recorder, Arc<Outlet>) {
        let mailbox = Recorder::default();
        let outlet = Arc::new(Outlet::new(limit));
        broker.connect(id, mailbox.clone(), Arc::clone(&outlet));
        broker.input(id, Frame::Line("JOIN r"));
        (mailbox, outlet)
    }

    #[test]
    fn delivers_within_budget_and_cuts_off_a_slow_consumer() {
        let mut broker = Broker::new("test");
        let (sender, _) = join(&mut broker, 1, 1 << 20);
        let (slow, slow_outlet) = join(&mut broker, 2, 64);
        assert_eq!(
            *slow.lines.borrow(),
            ["HELLO chat/1 test guest2\n", "OK JOIN r\n"]
        );
        for _ in 0..3 {
            broker.input(1, Frame::Line("MSG r 0123456789abcdef"));
        }
        // 2 had 64 bytes: HELLO and OK JOIN (35) plus one MSG (34) do not fit.
        assert_eq!(slow.lines.borrow().len(), 2);
        assert!(*slow.closed.borrow());
        assert!(slow_outlet.is_cut());
        let close = slow_outlet.close_instruction().expect("closed");
        assert_eq!(close.queued, Queued::Discard);
        assert_eq!(
            close.last_line.as_deref(),
            Some(&b"ERR slow-consumer\n"[..])
        );
        assert_eq!(
            sender.lines.borrow().last().map(String::as_str),
            Some("LEFT r guest2\n")
        );
        assert_eq!(broker.member_count(), 1);
    }

    #[test]
    fn quit_and_shutdown_close_with_their_last_line_after_the_queue() {
        let mut broker = Broker::new("test");
        let (_, quitter) = join(&mut broker, 1, 1024);
        let (stayer_box, stayer) = join(&mut broker, 2, 1024);
        let _ = broker.handle(BrokerEvent::Input {
            id: 1,
            input: Input::Line("QUIT".into()),
        });
        let close = quitter.close_instruction().expect("closed");
        assert_eq!(close.queued, Queued::Flush);
        assert_eq!(close.last_line.as_deref(), Some(&b"BYE\n"[..]));
        assert!(broker.handle(BrokerEvent::Shutdown).is_break());
        let close = stayer.close_instruction().expect("closed");
        assert_eq!(
            close.last_line.as_deref(),
            Some(&b"ERR shutting-down\n"[..])
        );
        assert!(!stayer.is_cut());
        assert!(*stayer_box.closed.borrow());
        assert_eq!(broker.member_count(), 0);
    }
}
