//! One worker thread's event loop: its ring, its buffer ring, its connections; accept, receive, send,
//! tick and wake-up completions, for either application.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use server_common::{AcceptBackoff, App, Config, ConnLimit, DrainDeadline, Shutdown};

use crate::bufring::{self, BufRing};
use crate::chat::ChatSide;
use crate::conn::{AppConn, Conn, Slab, send_now};
use crate::echo::EchoConn;
use crate::ring::{self, Mode};
use crate::tls_ring::TlsSide;
use crate::token::Op;
use crate::work::{Pool, WorkConn, WorkSide};

/// Buffers in an echo ring's provided buffer ring: echo holds each buffer until it is sent back.
const ECHO_BUFFERS: u16 = 1024;
/// Buffers in the chat ring's provided buffer ring: chat frames each buffer and returns it in the same
/// turn of the loop, so few are ever out at once.
const CHAT_BUFFERS: u16 = 256;
/// Size of each provided buffer: 1024 × 4 KiB = 4 MiB per echo ring, 1 MiB for chat.
const BUFFER_SIZE: usize = 4096;
/// The tick: how often idle timeouts, lingering closes, the drain deadline and the accept back-off
/// are checked (a shorter idle timeout shortens it). No busy loop: the ring sleeps in between.
const TICK: Duration = Duration::from_millis(50);
/// After the drain deadline, how long the loop waits for the kernel to finish the cancelled operations
/// before it gives up on them (and leaks their buffers rather than free memory the kernel may use).
const HARD_STOP_GRACE: Duration = Duration::from_secs(1);

/// What a worker needs from `run`: its share of the server.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) listener: OwnedFd,
    pub(crate) wake: OwnedFd,
    pub(crate) app: App,
    pub(crate) config: Config,
    pub(crate) limit: ConnLimit,
    pub(crate) shutdown: Shutdown,
    /// Work, offloaded: the pool every ring shares.
    pub(crate) work_pool: Option<Pool>,
}

/// Where the application state of a ring lives.
#[derive(Debug)]
pub(crate) enum AppSide {
    /// Echo keeps nothing ring-wide.
    Echo,
    /// Chat: the broker and its delivery list.
    Chat(Box<ChatSide>),
    /// Work: the offload pool and the channel its outcomes come back on.
    Work(Box<WorkSide>),
}

/// One ring and everything it serves. Field order matters: the ring is dropped first, so no operation
/// can use the buffers after they are freed.
pub(crate) struct Worker {
    pub(crate) ring: IoUring,
    pub(crate) bufs: BufRing,
    pub(crate) conns: Slab,
    pub(crate) side: AppSide,
    /// TLS on every connection of this ring (`None`: plaintext). Ring-wide, so the plaintext paths
    /// test this field, not the connection.
    pub(crate) tls: Option<TlsSide>,
    listener: OwnedFd,
    wake: OwnedFd,
    tick: types::Timespec,
    pub(crate) config: Config,
    limit: ConnLimit,
    pub(crate) shutdown: Shutdown,
    reject: &'static [u8],
    accept_armed: bool,
    accept_resume: Option<Instant>,
    backoff: AcceptBackoff,
    pub(crate) stopping: bool,
    pub(crate) drain: Option<DrainDeadline>,
    pub(crate) hard_stopped: bool,
    starved: Vec<u32>,
    completions: Vec<(u64, i32, u32)>,
}

impl Worker {
    /// Builds the ring (on the calling thread, which alone may submit to it) and the buffer ring.
    pub(crate) fn new(setup: Setup) -> io::Result<(Worker, Mode)> {
        let (ring, mode) = ring::build()?;
        let count = match setup.app {
            App::Echo => ECHO_BUFFERS,
            App::Chat | App::Work => CHAT_BUFFERS,
        };
        let bufs = BufRing::new(&ring.submitter(), count, BUFFER_SIZE)?;
        let tick_period = match setup.config.idle_timeout {
            Some(idle) => (idle / 4).clamp(Duration::from_millis(1), TICK),
            None => TICK,
        };
        let side = match setup.app {
            App::Echo => AppSide::Echo,
            App::Chat => AppSide::Chat(Box::new(ChatSide::new())),
            App::Work => {
                let wake = setup.wake.try_clone()?;
                AppSide::Work(Box::new(WorkSide::new(
                    &setup.config,
                    setup.work_pool,
                    wake,
                )))
            }
        };
        let worker = Worker {
            ring,
            bufs,
            conns: Slab::default(),
            side,
            tls: setup.config.tls.clone().map(TlsSide::new),
            listener: setup.listener,
            wake: setup.wake,
            tick: types::Timespec::from(tick_period),
            // Over TLS nothing is ever sent in plaintext: over the limit, the connection is closed.
            reject: match setup.config.tls {
                Some(_) => b"",
                None => setup.app.over_limit_reply(),
            },
            config: setup.config,
            limit: setup.limit,
            shutdown: setup.shutdown,
            accept_armed: false,
            accept_resume: None,
            backoff: AcceptBackoff::new(),
            stopping: false,
            drain: None,
            hard_stopped: false,
            starved: Vec::new(),
            completions: Vec::with_capacity(ring::SQ_ENTRIES as usize),
        };
        Ok((worker, mode))
    }

    /// Runs until shutdown has closed every connection (or the drain deadline has passed).
    pub(crate) fn run(mut self) -> io::Result<()> {
        self.arm_accept()?;
        self.arm_wake()?;
        self.arm_tick()?;
        loop {
            if self.stopping && !self.accept_armed && self.conns.is_empty() {
                return Ok(());
            }
            if self.given_up() {
                tracing::warn!("drain timeout: leaving connections behind");
                // The kernel may still write into the buffers: leak them rather than free them.
                std::mem::forget(self.bufs);
                return Ok(());
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(err) if matches!(err.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(err) => return Err(err),
            }
            let mut completions = std::mem::take(&mut self.completions);
            completions.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for &(user_data, result, flags) in &completions {
                self.complete(user_data, result, flags)?;
            }
            completions.clear();
            self.completions = completions;
            self.after_batch()?;
        }
    }

    fn complete(&mut self, user_data: u64, result: i32, flags: u32) -> io::Result<()> {
        let Some((op, slot)) = Op::parse(user_data) else {
            return Ok(());
        };
        match op {
            Op::Accept => self.on_accept(result, flags)?,
            Op::Wake => self.on_wake()?,
            Op::Tick => self.on_tick()?,
            Op::Recv => {
                self.on_recv(slot, result, flags);
                self.settle(slot)?;
            }
            Op::Send => {
                self.on_send(slot, result);
                self.settle(slot)?;
            }
            Op::Cancel => {}
        }
        Ok(())
    }

    /// After a batch of completions: chat delivers what the broker queued; recycled buffers are
    /// published and connections starved of buffers receive again.
    fn after_batch(&mut self) -> io::Result<()> {
        self.deliver()?;
        if self.bufs.commit() > 0 {
            for slot in std::mem::take(&mut self.starved) {
                if let Some(conn) = self.conns.get_mut(slot) {
                    conn.starved = false;
                }
                self.settle(slot)?;
            }
        }
        Ok(())
    }

    /// Queues `entry`.
    ///
    /// # Safety
    /// As [`ring::push`]: what `entry` points to outlives the operation.
    pub(crate) unsafe fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: passed on from the caller.
        unsafe { ring::push(&mut self.ring, &entry) }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(types::Fd(self.listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(Op::Accept.token(0));
        // SAFETY: a multishot accept without an address buffer points to no memory of ours.
        unsafe { self.push(entry)? };
        self.accept_armed = true;
        Ok(())
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        let entry = opcode::PollAdd::new(types::Fd(self.wake.as_raw_fd()), libc::POLLIN as u32)
            .build()
            .user_data(Op::Wake.token(0));
        // SAFETY: a poll points to no memory of ours.
        unsafe { self.push(entry) }
    }

    fn arm_tick(&mut self) -> io::Result<()> {
        let entry = opcode::Timeout::new(&self.tick)
            .build()
            .user_data(Op::Tick.token(0));
        // SAFETY: the kernel copies the timespec when it prepares the operation; it also lives in
        // `self`, which outlives the ring.
        unsafe { self.push(entry) }
    }

    fn on_wake(&mut self) -> io::Result<()> {
        let mut counter = [0u8; 8];
        // SAFETY: reads 8 bytes into an 8-byte buffer; clears the eventfd.
        unsafe { libc::read(self.wake.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
        if self.shutdown.is_triggered() {
            self.begin_stop()?;
        }
        // Work's offload pool wakes the ring through the same eventfd, also while it drains.
        if !self.stopping || matches!(self.side, AppSide::Work(_)) {
            self.arm_wake()?;
        }
        Ok(())
    }

    fn on_accept(&mut self, result: i32, flags: u32) -> io::Result<()> {
        if !cqueue::more(flags) {
            self.accept_armed = false;
        }
        if result >= 0 {
            // SAFETY: a successful accept returns a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(result) };
            self.backoff.on_success();
            if !self.stopping {
                self.admit(fd)?;
            }
        } else if result != -libc::ECANCELED {
            let pause = self
                .backoff
                .on_error(&io::Error::from_raw_os_error(-result));
            if !pause.is_zero() {
                self.accept_resume = Some(Instant::now() + pause);
                if self.accept_armed {
                    self.cancel(Op::Accept.token(0))?;
                }
            }
        }
        if !self.accept_armed && !self.stopping && self.accept_resume.is_none() {
            self.arm_accept()?;
        }
        Ok(())
    }

    /// A new connection: over the limit it gets the app's reply and is closed; else it is served.
    fn admit(&mut self, fd: OwnedFd) -> io::Result<()> {
        let Some(guard) = self.limit.try_acquire() else {
            if !self.reject.is_empty() {
                send_now(fd.as_raw_fd(), self.reject);
            }
            return Ok(());
        };
        let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
        let app = match self.side {
            AppSide::Echo => AppConn::Echo(EchoConn::default()),
            AppSide::Chat(ref mut chat) => AppConn::Chat(Box::new(chat.open(&self.config))),
            AppSide::Work(_) => AppConn::Work(Box::new(WorkConn::new(&self.config))),
        };
        let mut conn = Conn::new(fd, guard, app);
        if let Some(tls) = &self.tls {
            match tls.accept() {
                Ok(session) => conn.tls = Some(session),
                Err(err) => {
                    tracing::warn!(error = %err, "TLS connection not served");
                    return Ok(());
                }
            }
        }
        let handshaking = conn.tls.is_some();
        let slot = self.conns.insert(conn);
        if !handshaking {
            self.on_open(slot); // over TLS, once the handshake completes
        }
        self.settle(slot)
    }

    fn on_tick(&mut self) -> io::Result<()> {
        let now = Instant::now();
        if !self.stopping && self.shutdown.is_triggered() {
            self.begin_stop()?;
        }
        if let Some(at) = self.accept_resume
            && now >= at
        {
            self.accept_resume = None;
            if !self.stopping && !self.accept_armed {
                self.arm_accept()?;
            }
        }
        if let Some(drain) = self.drain
            && !self.hard_stopped
            && drain.remaining().is_zero()
        {
            self.hard_stop()?;
        }
        let idle = self.config.idle_timeout;
        for slot in self.conns.occupied() {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if idle.is_some_and(|limit| !conn.read_closed && now - conn.last_input >= limit) {
                self.on_idle(slot);
            }
            self.on_timer(slot, now);
            self.settle(slot)?;
        }
        self.deliver()?;
        self.arm_tick()
    }

    /// Shutdown: stop accepting, and let the app close its connections.
    fn begin_stop(&mut self) -> io::Result<()> {
        if self.stopping {
            return Ok(());
        }
        self.stopping = true;
        self.drain = Some(DrainDeadline::start(self.config.drain_timeout));
        self.accept_resume = None;
        if self.accept_armed {
            self.cancel(Op::Accept.token(0))?;
        }
        self.on_stop();
        for slot in self.conns.occupied() {
            self.settle(slot)?;
        }
        self.deliver()
    }

    /// The drain deadline passed: every connection is shut down and closed, whatever is queued.
    fn hard_stop(&mut self) -> io::Result<()> {
        self.hard_stopped = true;
        for slot in self.conns.occupied() {
            if let Some(conn) = self.conns.get_mut(slot) {
                conn.closing = true;
                conn.shutdown(libc::SHUT_RDWR);
            }
            self.settle(slot)?;
        }
        Ok(())
    }

    fn given_up(&self) -> bool {
        self.hard_stopped
            && self
                .drain
                .is_some_and(|d| Instant::now() > d.instant() + HARD_STOP_GRACE)
    }

    /// Submits a cancel for the operation with `user_data`.
    pub(crate) fn cancel(&mut self, user_data: u64) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(Op::Cancel.token(0));
        // SAFETY: a cancel points to no memory of ours.
        unsafe { self.push(entry) }
    }

    /// Arms the connection's multishot receive into the buffer ring.
    fn arm_recv(&mut self, slot: u32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        conn.recv_armed = true;
        conn.recv_cancelled = false;
        let entry = opcode::RecvMulti::new(types::Fd(conn.raw_fd()), bufring::GROUP)
            .build()
            .user_data(Op::Recv.token(slot));
        // SAFETY: the receive writes only into provided buffers, which live in `self.bufs` until the
        // ring is gone; the socket stays open until its slot is freed, after the final completion.
        unsafe { self.push(entry) }
    }

    fn on_recv(&mut self, slot: u32, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        let bid = cqueue::buffer_select(flags);
        let Some(conn) = self.conns.get_mut(slot) else {
            if let Some(bid) = bid {
                self.bufs.recycle(bid);
            }
            return;
        };
        if !more {
            conn.recv_armed = false;
        }
        match (result, bid) {
            (n, Some(bid)) if n > 0 => {
                if self.config.idle_timeout.is_some() {
                    conn.last_input = Instant::now(); // only read when an idle timeout is set
                }
                self.on_data(slot, bid, n as usize);
            }
            (0, _) => self.on_read_end(slot),
            (n, _) if n == -libc::ENOBUFS => {
                if !more {
                    conn.starved = true;
                    self.starved.push(slot);
                }
            }
            (n, _) if n == -libc::ECANCELED => {}
            (n, _) => {
                if let Some(bid) = bid {
                    self.bufs.recycle(bid);
                }
                tracing::debug!(error = %io::Error::from_raw_os_error(-n), "receive failed");
                self.on_read_error(slot);
            }
        }
    }

    /// Submits a send of `len` bytes at `ptr` for `slot`.
    ///
    /// # Safety
    /// `ptr..ptr + len` stays valid and unmoved until the send completes.
    pub(crate) unsafe fn send(&mut self, slot: u32, ptr: *const u8, len: usize) -> io::Result<()> {
        if self.tls.is_some() {
            // SAFETY: the caller guarantees the bytes are valid; they are only read, during the call.
            let plain = unsafe { std::slice::from_raw_parts(ptr, len) };
            return self.tls_send(slot, &[io::IoSlice::new(plain)]);
        }
        // SAFETY: passed on from the caller.
        unsafe { self.submit_send(slot, ptr, len) }
    }

    /// Submits a send of `len` bytes at `ptr` for `slot`, as they are (over TLS: the records).
    ///
    /// # Safety
    /// `ptr..ptr + len` stays valid and unmoved until the send completes.
    pub(crate) unsafe fn submit_send(
        &mut self,
        slot: u32,
        ptr: *const u8,
        len: usize,
    ) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        conn.send_inflight = true;
        conn.send_cancelled = false;
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(types::Fd(conn.raw_fd()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(Op::Send.token(slot));
        // SAFETY: passed on from the caller.
        unsafe { self.push(entry) }
    }

    /// Submits a vectored send described by `msg` for `slot`.
    ///
    /// # Safety
    /// `msg`, its iovec array and every buffer it names stay valid and unmoved until the send completes.
    pub(crate) unsafe fn send_msg(
        &mut self,
        slot: u32,
        msg: *const libc::msghdr,
    ) -> io::Result<()> {
        if self.tls.is_some() {
            // SAFETY: the caller guarantees `msg` and its iovecs are valid; `IoSlice` is ABI
            // compatible with `iovec` on Unix; the bytes are only read, during the call.
            let bufs = unsafe {
                let msg = &*msg;
                std::slice::from_raw_parts(msg.msg_iov.cast::<io::IoSlice<'_>>(), msg.msg_iovlen)
            };
            return self.tls_send(slot, bufs);
        }
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        conn.send_inflight = true;
        conn.send_cancelled = false;
        let entry = opcode::SendMsg::new(types::Fd(conn.raw_fd()), msg)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
            .user_data(Op::Send.token(slot));
        // SAFETY: passed on from the caller.
        unsafe { self.push(entry) }
    }

    /// Brings the connection in `slot` up to date after an event: re-arms or cancels its receive,
    /// starts its next send, and frees it once it is closing with nothing in flight.
    pub(crate) fn settle(&mut self, slot: u32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if !conn.closing && !conn.send_inflight {
            self.pump(slot)?;
        }
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        let wants_recv = !conn.closing && !conn.read_closed && !self.paused(slot);
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if wants_recv && !conn.recv_armed && !conn.starved {
            return self.arm_recv(slot);
        }
        if !wants_recv && conn.recv_armed && !conn.recv_cancelled {
            conn.recv_cancelled = true;
            self.cancel(Op::Recv.token(slot))?;
        }
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if conn.closing {
            if conn.send_inflight && !conn.send_cancelled {
                conn.send_cancelled = true;
                self.cancel(Op::Send.token(slot))?;
            }
            let Some(conn) = self.conns.get_mut(slot) else {
                return Ok(());
            };
            if !conn.recv_armed && !conn.send_inflight && !conn.job_inflight {
                self.free(slot);
            }
        }
        Ok(())
    }

    fn free(&mut self, slot: u32) {
        if let Some(mut conn) = self.conns.remove(slot) {
            if let AppConn::Echo(echo) = &mut conn.app {
                for bid in echo.take_buffers() {
                    self.bufs.recycle(bid);
                }
            }
            if let AppConn::Work(work) = &mut conn.app {
                for bid in work.take_buffers() {
                    self.bufs.recycle(bid);
                }
            }
            if conn.starved {
                self.starved.retain(|&s| s != slot);
            }
            self.on_free(&conn);
        }
    }

    pub(crate) fn on_open(&mut self, slot: u32) {
        if let AppSide::Chat(_) = self.side {
            self.chat_open(slot);
        }
    }

    fn on_free(&mut self, conn: &Conn) {
        if let (AppSide::Chat(_), AppConn::Chat(chat)) = (&self.side, &conn.app) {
            self.chat_freed(chat);
        }
    }

    fn on_data(&mut self, slot: u32, bid: u16, len: usize) {
        if self.tls.is_some() {
            return self.tls_data(slot, bid, len);
        }
        match self.side {
            AppSide::Echo => self.echo_data(slot, bid, len),
            AppSide::Chat(_) => {
                self.chat_data(slot, bid, len);
                self.bufs.recycle(bid);
            }
            AppSide::Work(_) => self.work_data(slot, bid, len),
        }
    }

    fn on_read_end(&mut self, slot: u32) {
        if self.tls.is_some() && self.tls_handshaking(slot) {
            return self.on_read_error(slot); // EOF before the handshake completed
        }
        self.app_read_end(slot);
    }

    /// The application hears the end of the input (over TLS: `close_notify`, or EOF without it).
    pub(crate) fn app_read_end(&mut self, slot: u32) {
        match self.side {
            AppSide::Echo => self.echo_read_end(slot),
            AppSide::Chat(_) => self.chat_read_end(slot),
            AppSide::Work(_) => self.work_read_end(slot),
        }
    }

    pub(crate) fn on_read_error(&mut self, slot: u32) {
        match self.side {
            AppSide::Echo => self.echo_error(slot),
            AppSide::Chat(_) => self.chat_error(slot),
            AppSide::Work(_) => self.work_error(slot),
        }
    }

    fn on_idle(&mut self, slot: u32) {
        match self.side {
            AppSide::Echo => self.echo_error(slot),
            AppSide::Chat(_) => {
                self.chat_read_end(slot);
                if let Some(conn) = self.conns.get_mut(slot) {
                    conn.shutdown(libc::SHUT_RD);
                }
            }
            AppSide::Work(_) => self.work_idle(slot),
        }
    }

    fn on_timer(&mut self, slot: u32, now: Instant) {
        if self.tls.is_some() {
            self.tls_timer(slot, now);
        }
        match self.side {
            AppSide::Echo => {}
            AppSide::Chat(_) => self.chat_timer(slot, now),
            AppSide::Work(_) => self.work_timer(slot, now),
        }
    }

    fn on_stop(&mut self) {
        if self.tls.is_some() {
            self.tls_stop();
        }
        match self.side {
            AppSide::Echo => {
                for slot in self.conns.occupied() {
                    if let Some(conn) = self.conns.get_mut(slot) {
                        conn.closing = true;
                    }
                }
            }
            AppSide::Chat(_) => self.chat_stop(),
            AppSide::Work(_) => self.work_stop(),
        }
    }

    fn pump(&mut self, slot: u32) -> io::Result<()> {
        if self.tls.is_some() {
            return self.tls_pump(slot);
        }
        self.app_pump(slot)
    }

    /// The application's next send (over TLS, called by `tls_pump` when the records are out).
    pub(crate) fn app_pump(&mut self, slot: u32) -> io::Result<()> {
        match self.side {
            AppSide::Echo => self.echo_pump(slot),
            AppSide::Chat(_) => self.chat_pump(slot),
            AppSide::Work(_) => self.work_pump(slot),
        }
    }

    fn paused(&mut self, slot: u32) -> bool {
        if self.tls.is_some() {
            return match self.side {
                AppSide::Echo => self.tls_echo_full(slot),
                AppSide::Work(_) => matches!(
                    self.conns.get_mut(slot).map(|c| &c.app),
                    Some(AppConn::Work(work)) if work.is_full()
                ),
                AppSide::Chat(_) => false,
            };
        }
        match self.conns.get_mut(slot).map(|c| &c.app) {
            Some(AppConn::Echo(echo)) => echo.is_full(),
            Some(AppConn::Work(work)) => work.is_full(),
            _ => false,
        }
    }

    fn on_send(&mut self, slot: u32, result: i32) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        conn.send_inflight = false;
        if conn.closing {
            return;
        }
        if result <= 0 {
            if result < 0 {
                tracing::debug!(error = %io::Error::from_raw_os_error(-result), "send failed");
            }
            self.on_send_error(slot);
            return;
        }
        let n = result as usize;
        if self.tls.is_some() {
            return self.tls_sent(slot, n);
        }
        self.app_sent(slot, n);
    }

    /// The application's send of `n` bytes (over TLS: plaintext bytes) completed.
    pub(crate) fn app_sent(&mut self, slot: u32, n: usize) {
        match self.side {
            AppSide::Echo => self.echo_sent(slot, n),
            AppSide::Chat(_) => self.chat_sent(slot, n),
            AppSide::Work(_) => self.work_sent(slot, n),
        }
    }

    fn on_send_error(&mut self, slot: u32) {
        match self.side {
            AppSide::Echo => self.echo_error(slot),
            AppSide::Chat(_) => self.chat_error(slot),
            AppSide::Work(_) => self.work_error(slot),
        }
    }

    fn deliver(&mut self) -> io::Result<()> {
        match self.side {
            AppSide::Echo => Ok(()),
            AppSide::Chat(_) => self.chat_deliver(),
            AppSide::Work(_) => self.work_deliver(),
        }
    }
}
