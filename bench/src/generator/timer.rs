//! A `timerfd` registered with a worker's `mio::Poll`, for wake-ups finer
//! than epoll's timeout, which is rounded up to whole milliseconds and would
//! otherwise make every scheduled send up to 1 ms late.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::{Interest, Poll, Token};

/// Token of a worker's timerfd (connections and clients use their index).
pub(crate) const TIMER: Token = Token(usize::MAX);

/// A one-shot `CLOCK_MONOTONIC` timer delivered as a readable event on
/// [`TIMER`].
pub(crate) struct Timer {
    fd: OwnedFd,
    /// Deadline currently armed (ns since the worker's base instant).
    armed: Option<u64>,
}

impl Timer {
    /// Creates the timer and registers it with `poll` under [`TIMER`].
    pub(crate) fn new(poll: &Poll) -> io::Result<Timer> {
        // SAFETY: plain syscall; the returned fd is owned from here on.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        poll.registry().register(
            &mut mio::unix::SourceFd(&fd.as_raw_fd()),
            TIMER,
            Interest::READABLE,
        )?;
        Ok(Timer { fd, armed: None })
    }

    /// Arms the timer to fire at `deadline_ns`, `now_ns` being the present
    /// (both after the worker's base instant). Re-arming the same deadline
    /// costs nothing.
    pub(crate) fn arm(&mut self, deadline_ns: u64, now_ns: u64) {
        if self.armed == Some(deadline_ns) {
            return;
        }
        let rel = deadline_ns.saturating_sub(now_ns).max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (rel / 1_000_000_000) as libc::time_t,
                tv_nsec: (rel % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: valid fd and itimerspec; on failure the epoll timeout is
        // the fallback.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        self.armed = (rc == 0).then_some(deadline_ns);
    }

    /// Consumes an expiration.
    pub(crate) fn fired(&mut self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into `buf`; EAGAIN is harmless.
        unsafe {
            libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
        }
        self.armed = None;
    }
}
