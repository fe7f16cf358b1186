//! Chat on a ring: the ring owns the shared [`Broker`] and drives it directly, like any
//! single-threaded event loop: received bytes are framed and handed to the broker (no copy of the
//! line, no channel); the broker's mailbox pushes onto the connection's queue and marks it for
//! writing; after each batch of completions every marked connection sends what is queued as one
//! vectored `SendMsg`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use chat_core::{ClientId, Line, Lines, Queued};
use server_common::Config;
use server_common::chat::{Broker, CLOSE_LINGER, Mailbox, Outlet, WRITE_BATCH};

use crate::conn::AppConn;
use crate::worker::{AppSide, Worker};

/// The ring-wide chat state: the broker, the next client id, and the slots whose queue changed.
#[derive(Debug)]
pub(crate) struct ChatSide {
    broker: Broker<RingMailbox>,
    next_id: ClientId,
    marked: Rc<RefCell<Vec<u32>>>,
}

impl ChatSide {
    /// A broker with no clients.
    pub(crate) fn new() -> Self {
        ChatSide {
            broker: Broker::new(crate::NAME),
            next_id: 0,
            marked: Rc::default(),
        }
    }

    /// A new connection's chat state (it joins the broker once it has a slot).
    pub(crate) fn open(&mut self, config: &Config) -> ChatConn {
        let id = self.next_id;
        self.next_id += 1;
        ChatConn {
            id,
            lines: Lines::new(config.max_line),
            outlet: Arc::new(Outlet::new(config.queue_bytes)),
            queue: Rc::default(),
            member: Rc::new(Cell::new(false)),
            // Grown on first use to what this client's writes need (at most WRITE_BATCH), not before:
            // a client that is sent nothing holds no batch.
            batch: Vec::new(),
            batch_bytes: 0,
            batch_is_last: false,
            last_taken: false,
            iov: Vec::new(),
            iov_start: 0,
            // SAFETY: an all-zero msghdr is a valid, empty one.
            msg: Box::new(unsafe { std::mem::zeroed() }),
            wrote_fin: false,
            reader_gone: false,
            linger_until: None,
        }
    }
}

/// The broker's end of one connection's queue: pushes the line and marks the slot for writing.
#[derive(Debug)]
pub(crate) struct RingMailbox {
    slot: u32,
    queue: Rc<RefCell<VecDeque<Line>>>,
    member: Rc<Cell<bool>>,
    marked: Rc<RefCell<Vec<u32>>>,
}

impl Mailbox for RingMailbox {
    fn post(&mut self, line: Line) {
        server_common::chat::queue::push_line(&mut self.queue.borrow_mut(), line);
        self.marked.borrow_mut().push(self.slot);
    }

    fn close(self) {
        self.member.set(false);
        self.marked.borrow_mut().push(self.slot);
    }
}

/// One chat connection on the ring.
#[derive(Debug)]
pub(crate) struct ChatConn {
    id: ClientId,
    /// Frames lines straight out of the ring's provided buffers; holds only a split line's bytes.
    lines: Lines,
    outlet: Arc<Outlet>,
    queue: Rc<RefCell<VecDeque<Line>>>,
    /// The broker still holds this client's mailbox.
    member: Rc<Cell<bool>>,
    /// The lines of the send in flight (kept alive until it completes).
    batch: Vec<Line>,
    batch_bytes: usize,
    /// The batch is the close's last line, whose bytes were never reserved.
    batch_is_last: bool,
    last_taken: bool,
    iov: Vec<libc::iovec>,
    iov_start: usize,
    msg: Box<libc::msghdr>,
    wrote_fin: bool,
    /// Nothing will be read any more (shutdown): close as soon as the writes are done.
    reader_gone: bool,
    linger_until: Option<Instant>,
}

/// Frames `data` (a provided buffer's bytes, or plaintext out of a TLS session) and hands every
/// complete line to the broker; dropped if the broker closed the client or the server is stopping.
pub(crate) fn chat_input(side: &mut ChatSide, conn: &mut ChatConn, stopping: bool, data: &[u8]) {
    if stopping || !conn.member.get() {
        return; // closed by the broker or shutting down: input is drained and dropped
    }
    let mut data = data;
    while let Some(frame) = conn.lines.next_frame(&mut data) {
        side.broker.input(conn.id, frame);
    }
}

impl Worker {
    fn chat_parts(&mut self, slot: u32) -> Option<(&mut ChatSide, &mut ChatConn)> {
        let AppSide::Chat(side) = &mut self.side else {
            return None;
        };
        match &mut self.conns.get_mut(slot)?.app {
            AppConn::Chat(conn) => Some((side, conn)),
            _ => None,
        }
    }

    fn chat_stopping(&self) -> bool {
        self.stopping
    }

    /// The new client joins the broker, which greets it.
    pub(crate) fn chat_open(&mut self, slot: u32) {
        let Some((side, conn)) = self.chat_parts(slot) else {
            return;
        };
        conn.member.set(true);
        let mailbox = RingMailbox {
            slot,
            queue: Rc::clone(&conn.queue),
            member: Rc::clone(&conn.member),
            marked: Rc::clone(&side.marked),
        };
        let outlet = Arc::clone(&conn.outlet);
        side.broker.connect(conn.id, mailbox, outlet);
    }

    /// Frames the received bytes and hands every complete line to the broker.
    pub(crate) fn chat_data(&mut self, slot: u32, bid: u16, len: usize) {
        let stopping = self.chat_stopping();
        let AppSide::Chat(side) = &mut self.side else {
            return;
        };
        let Some(AppConn::Chat(conn)) = self.conns.get_mut(slot).map(|c| &mut c.app) else {
            return;
        };
        chat_input(side, conn, stopping, self.bufs.filled(bid, len));
    }

    /// The client sent EOF (or went idle): its rooms are told; its queue is flushed and it is closed.
    pub(crate) fn chat_read_end(&mut self, slot: u32) {
        let stopping = self.chat_stopping();
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.read_closed = true;
        }
        let Some((side, conn)) = self.chat_parts(slot) else {
            return;
        };
        if conn.member.get() && !stopping {
            side.broker.disconnect(conn.id);
        }
    }

    /// The connection broke (reset, failed send): told like an EOF, then closed at once.
    pub(crate) fn chat_error(&mut self, slot: u32) {
        self.chat_read_end(slot);
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.closing = true;
        }
    }

    /// A freed connection leaves the broker if it still was a member.
    pub(crate) fn chat_freed(&mut self, conn: &ChatConn) {
        let stopping = self.chat_stopping();
        if let AppSide::Chat(side) = &mut self.side
            && conn.member.get()
            && !stopping
        {
            side.broker.disconnect(conn.id);
        }
    }

    /// Shutdown: the broker tells every client and closes it; nothing more is read.
    pub(crate) fn chat_stop(&mut self) {
        if let AppSide::Chat(side) = &mut self.side {
            side.broker.shutdown();
        }
        for slot in self.conns.occupied() {
            if let Some((_, conn)) = self.chat_parts(slot) {
                conn.reader_gone = true;
            }
        }
    }

    /// The tick: a connection that half-closed and lingered long enough is closed.
    pub(crate) fn chat_timer(&mut self, slot: u32, now: Instant) {
        let Some((_, conn)) = self.chat_parts(slot) else {
            return;
        };
        if conn.linger_until.is_some_and(|at| now >= at)
            && let Some(conn) = self.conns.get_mut(slot)
        {
            conn.closing = true;
        }
    }

    /// Starts writing every connection the broker queued lines for (or closed).
    pub(crate) fn chat_deliver(&mut self) -> io::Result<()> {
        loop {
            let marked = match &self.side {
                AppSide::Chat(side) => std::mem::take(&mut *side.marked.borrow_mut()),
                _ => return Ok(()),
            };
            if marked.is_empty() {
                return Ok(());
            }
            for slot in marked {
                self.settle(slot)?;
            }
        }
    }

    /// With no send in flight: sends the next batch of queued lines, or the close's last line, or
    /// half-closes once done (closing at once if nothing more will be read, else lingering).
    pub(crate) fn chat_pump(&mut self, slot: u32) -> io::Result<()> {
        let hard = self.hard_stopped;
        let Some((_, conn)) = self.chat_parts(slot) else {
            return Ok(());
        };
        if conn.wrote_fin {
            return self.chat_maybe_close(slot);
        }
        if conn.outlet.is_cut() || hard {
            conn.queue.borrow_mut().clear();
            let parting = conn
                .outlet
                .close_instruction()
                .filter(|c| c.queued == Queued::Discard)
                .and_then(|c| c.last_line.clone());
            if let (Some(line), Some(c)) = (parting, self.conns.get_mut(slot)) {
                c.send_now(&line);
            }
            return self.chat_finish(slot);
        }
        conn.batch.clear();
        conn.batch_bytes = 0;
        {
            let mut queue = conn.queue.borrow_mut();
            while conn.batch.len() < WRITE_BATCH {
                let Some(line) = queue.pop_front() else { break };
                conn.batch_bytes += line.len();
                conn.batch.push(line);
            }
        }
        if conn.batch.is_empty() {
            if conn.member.get() {
                return Ok(()); // nothing queued yet
            }
            match conn.outlet.close_instruction() {
                Some(close) if close.queued == Queued::Flush && !conn.last_taken => {
                    conn.last_taken = true;
                    match close.last_line.clone() {
                        Some(line) => {
                            conn.batch_bytes = line.len();
                            conn.batch.push(line);
                            conn.batch_is_last = true;
                        }
                        None => return self.chat_finish(slot),
                    }
                }
                _ => return self.chat_finish(slot),
            }
        }
        conn.iov.clear();
        conn.iov.extend(conn.batch.iter().map(|line| libc::iovec {
            iov_base: line.as_ptr() as *mut libc::c_void,
            iov_len: line.len(),
        }));
        conn.iov_start = 0;
        self.chat_send(slot)
    }

    /// Sends the batch's iovecs from `iov_start`.
    fn chat_send(&mut self, slot: u32) -> io::Result<()> {
        let Some((_, conn)) = self.chat_parts(slot) else {
            return Ok(());
        };
        let rest = &mut conn.iov[conn.iov_start..];
        conn.msg.msg_iov = rest.as_mut_ptr();
        conn.msg.msg_iovlen = rest.len() as _;
        let msg: *const libc::msghdr = &*conn.msg;
        // SAFETY: the msghdr is boxed, the iovec array is not resized while the send is in flight, and
        // the lines it points to are held in `batch`; all of it lives in the connection, whose slot is
        // not freed before the send's completion arrives.
        unsafe { self.send_msg(slot, msg) }
    }

    /// `n` bytes of the batch went out: advance, or finish the batch and release its bytes.
    pub(crate) fn chat_sent(&mut self, slot: u32, n: usize) {
        let Some((_, conn)) = self.chat_parts(slot) else {
            return;
        };
        let mut n = n;
        while n > 0 && conn.iov_start < conn.iov.len() {
            let iov = &mut conn.iov[conn.iov_start];
            if n >= iov.iov_len {
                n -= iov.iov_len;
                conn.iov_start += 1;
            } else {
                // SAFETY: advancing within the line the iovec points to.
                iov.iov_base = unsafe { iov.iov_base.cast::<u8>().add(n) }.cast();
                iov.iov_len -= n;
                n = 0;
            }
        }
        if conn.iov_start < conn.iov.len() {
            // A partial send: the rest goes out next (settle calls pump, which would restart the
            // batch), so send it now.
            let _ = self.chat_send(slot).map_err(|err| {
                tracing::warn!(error = %err, "cannot resubmit a partial chat send");
            });
            return;
        }
        if !std::mem::take(&mut conn.batch_is_last) {
            conn.outlet.release(conn.batch_bytes);
        }
        conn.batch.clear();
        conn.batch_bytes = 0;
    }

    /// Everything owed was written: half-close, then close now or after the linger.
    fn chat_finish(&mut self, slot: u32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        conn.shutdown(libc::SHUT_WR);
        if let AppConn::Chat(chat) = &mut conn.app {
            chat.wrote_fin = true;
            chat.linger_until = Some(Instant::now() + CLOSE_LINGER);
        }
        self.chat_maybe_close(slot)
    }

    fn chat_maybe_close(&mut self, slot: u32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        let gone = match &conn.app {
            AppConn::Chat(chat) => chat.reader_gone,
            _ => false,
        };
        if conn.read_closed || gone {
            conn.closing = true;
        }
        Ok(())
    }
}
