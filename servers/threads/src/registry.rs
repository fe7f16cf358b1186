//! The open connections, kept so that shutdown can wake threads blocked in `read` or `write`.
//!
//! A blocked system call cannot be cancelled, but shutting the socket down makes it return: `read` sees
//! EOF and `write` fails. The same trick (`shutdown(SHUT_RD)` on the listening socket) wakes `accept`.
//!
//! The registry shares each socket through an `Arc` rather than a `dup`ed descriptor, so a connection
//! costs one file descriptor (10 000 connections must fit under a 20 000 fd limit), and a descriptor
//! number can never be reused by another socket while the registry still refers to it.

use std::collections::HashMap;
use std::net::Shutdown as SocketShutdown;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use server_common::{Listener, ServerError, Shutdown};

use crate::transport::Stream;

/// Every open connection's socket. Touched once at connect and once at disconnect, never per
/// message.
#[derive(Debug, Default, Clone)]
pub(crate) struct Registry {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    closed: bool,
    next_id: u64,
    conns: HashMap<u64, Arc<Stream>>,
}

/// Removes its connection from the registry when dropped.
#[derive(Debug)]
pub(crate) struct Registered {
    registry: Registry,
    id: u64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map inconsistent, so poisoning is ignored.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `stream`; `None` once shutdown has closed the registry.
    pub(crate) fn register(&self, stream: &Arc<Stream>) -> Option<Registered> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.conns.insert(id, Arc::clone(stream));
        Some(Registered {
            registry: self.clone(),
            id,
        })
    }

    /// Shuts down `how` of every registered socket (waking its thread) and refuses later registrations.
    pub(crate) fn close_all(&self, how: SocketShutdown) {
        let mut inner = self.lock();
        inner.closed = true;
        for stream in inner.conns.values() {
            let _ = stream.shutdown(how);
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().conns.remove(&self.id);
    }
}

/// Spawns the thread that, once `shutdown` is triggered, wakes the accept loop and every connection by
/// shutting down `how` of its socket (`Both` for echo; `Read` for chat, whose writers still flush
/// `ERR shutting-down`).
pub(crate) fn spawn_shutdown_waker(
    listener: &Listener,
    registry: &Registry,
    shutdown: &Shutdown,
    how: SocketShutdown,
) -> Result<JoinHandle<()>, ServerError> {
    let listener = socket2::Socket::from(
        std::os::fd::AsFd::as_fd(listener)
            .try_clone_to_owned()
            .map_err(ServerError::Listener)?,
    );
    let registry = registry.clone();
    let shutdown = shutdown.clone();
    std::thread::Builder::new()
        .name("shutdown-waker".into())
        .spawn(move || {
            shutdown.wait_blocking();
            // Makes a blocked accept() return EINVAL.
            let _ = listener.shutdown(SocketShutdown::Read);
            registry.close_all(how);
        })
        .map_err(|source| ServerError::Spawn {
            what: "shutdown waker",
            source,
        })
}
