//! The read buffer a worker thread shares between all its connections.
//!
//! An async connection that waits for readiness holds no buffer of its own: once its socket is
//! readable, it reads into its worker thread's buffer and is done with the bytes (echoed, framed)
//! before it yields again. So the buffer is allocated once per worker thread, not once per
//! connection, and an idle connection costs only its task and socket.

use std::cell::RefCell;

use crate::config::ECHO_BUF_SIZE;

thread_local! {
    static WORKER_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; ECHO_BUF_SIZE].into_boxed_slice());
}

/// Runs `f` with this thread's read buffer (`ECHO_BUF_SIZE` bytes). `f` must not wait: the buffer is
/// the worker's, and the next connection the worker runs reads into it too. A nested call (which the
/// connection loops never make) gets a fresh buffer rather than a panic.
pub fn with<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    WORKER_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut vec![0; ECHO_BUF_SIZE]),
    })
}
