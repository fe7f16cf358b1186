//! One connection's state on its ring, and the slab of connections a ring owns.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use server_common::ConnGuard;

use crate::chat::ChatConn;
use crate::echo::EchoConn;
use crate::tls::TlsConn;
use crate::work::WorkConn;

/// What the application keeps per connection.
#[derive(Debug)]
pub(crate) enum AppConn {
    /// Echo: the received buffers waiting to be sent back.
    Echo(EchoConn),
    /// Chat: the framer, the queue the broker fills, the batch being written.
    Chat(Box<ChatConn>),
    /// Work: the session, and received buffers its framer could not take yet.
    Work(Box<WorkConn>),
}

/// One connection: its socket, its slot in the connection limit, and where its operations stand.
/// The slot is freed only once no operation of it is in flight (`recv_armed`, `send_inflight`), so a
/// completion never finds a slot reused under it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) fd: OwnedFd,
    _guard: ConnGuard,
    /// The multishot receive is armed (its final completion has not arrived).
    pub(crate) recv_armed: bool,
    /// A cancel for the receive was submitted.
    pub(crate) recv_cancelled: bool,
    /// The receive ended for want of buffers: re-armed once buffers come back.
    pub(crate) starved: bool,
    /// A send is in flight.
    pub(crate) send_inflight: bool,
    /// A cancel for the send was submitted.
    pub(crate) send_cancelled: bool,
    /// Work: an offloaded job is out for it; the slot is not freed before its outcome is back.
    pub(crate) job_inflight: bool,
    /// No more input will be read (EOF, error, idle timeout).
    pub(crate) read_closed: bool,
    /// The connection is done: cancel what is in flight, then free the slot (closing the socket).
    pub(crate) closing: bool,
    /// When the peer last sent something.
    pub(crate) last_input: Instant,
    pub(crate) app: AppConn,
    /// The TLS session, on a TLS server (boxed: a plaintext connection carries only the pointer).
    pub(crate) tls: Option<Box<TlsConn>>,
}

impl Conn {
    /// A fresh connection.
    pub(crate) fn new(fd: OwnedFd, guard: ConnGuard, app: AppConn) -> Self {
        Conn {
            fd,
            _guard: guard,
            recv_armed: false,
            recv_cancelled: false,
            starved: false,
            send_inflight: false,
            send_cancelled: false,
            job_inflight: false,
            read_closed: false,
            closing: false,
            last_input: Instant::now(),
            app,
            tls: None,
        }
    }

    /// The socket's descriptor.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Shuts the connection down in direction `how` (`libc::SHUT_*`). Over TLS a write shutdown
    /// queues `close_notify` and the FIN follows it once every record is out (`tls_ring.rs`).
    pub(crate) fn shutdown(&mut self, how: i32) {
        if how == libc::SHUT_WR
            && let Some(tls) = self.tls.as_deref_mut()
            && tls.defer_fin()
        {
            return;
        }
        self.shutdown_socket(how);
    }

    /// Shuts the socket down in direction `how`; errors (not connected) are moot.
    pub(crate) fn shutdown_socket(&self, how: i32) {
        // SAFETY: a plain system call on a descriptor this connection owns.
        unsafe { libc::shutdown(self.raw_fd(), how) };
    }

    /// Sends `bytes` best effort without waiting (a cut-off client's last line). Over TLS they are
    /// encrypted into the session and go out with the next records.
    pub(crate) fn send_now(&mut self, bytes: &[u8]) {
        match self.tls.as_deref_mut() {
            Some(tls) => tls.queue_plaintext(bytes),
            None => send_now(self.raw_fd(), bytes),
        }
    }
}

/// Sends `bytes` on `fd` best effort, without waiting and without SIGPIPE.
pub(crate) fn send_now(fd: RawFd, bytes: &[u8]) {
    // SAFETY: `bytes` is valid for its length during the call.
    unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
}

/// The connections of one ring, by slot number.
#[derive(Debug, Default)]
pub(crate) struct Slab {
    slots: Vec<Option<Conn>>,
    free: Vec<u32>,
    live: usize,
}

impl Slab {
    /// Stores `conn` and returns its slot.
    pub(crate) fn insert(&mut self, conn: Conn) -> u32 {
        self.live += 1;
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(conn);
            return slot;
        }
        self.slots.push(Some(conn));
        (self.slots.len() - 1) as u32
    }

    /// The connection in `slot`, if any.
    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Conn> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Takes the connection out of `slot`.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<Conn> {
        let conn = self.slots.get_mut(slot as usize)?.take()?;
        self.live -= 1;
        self.free.push(slot);
        Some(conn)
    }

    /// Whether no connection is live.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The occupied slots.
    pub(crate) fn occupied(&self) -> Vec<u32> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| i as u32)
            .collect()
    }
}
