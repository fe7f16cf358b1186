//! Reading into the worker's buffer from inside a poll: the runtime-free half of "wait until
//! readable, then read" for the async variants' echo and chat.
//!
//! A runtime adapts its stream to [`PollRead`] and [`PollWrite`] (its `poll_read` / `poll_write`, which wait for
//! readiness through the runtime's reactor). [`poll_echo`] and [`poll_read_with`] borrow the worker's
//! buffer ([`worker_buf`](crate::worker_buf)) only for the duration of one poll, so a pending
//! connection holds none; bytes that cannot be handed on within the poll (an echo the send buffer
//! has no room for) move into a buffer of the connection's own, which it drops once they are written.
//! The system calls are those of a plain `read` + `write_all` loop: one read, then the writes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};

use crate::worker_buf;

/// A stream's reading side as the runtime exposes it.
pub trait PollRead {
    /// The runtime's `poll_read` into `buf`: `Pending` (and a wake-up registered) until readable.
    fn poll_read_into(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
}

/// A stream's writing side as the runtime exposes it.
pub trait PollWrite {
    /// The runtime's `poll_write` of `buf`.
    fn poll_write_from(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
}

/// A `futures-io` stream (async-std's, smol's) as [`PollRead`] / [`PollWrite`].
#[derive(Debug)]
pub struct FuturesIo<'a, S>(pub &'a mut S);

impl<S: AsyncRead + Unpin> PollRead for FuturesIo<'_, S> {
    fn poll_read_into(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> PollWrite for FuturesIo<'_, S> {
    fn poll_write_from(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
}

/// What one echo step did.
#[derive(Debug, PartialEq, Eq)]
pub enum Echoed {
    /// The client half-closed: nothing more will arrive.
    Eof,
    /// Everything read was written back.
    All,
    /// The send buffer filled up: these bytes (read, not yet written back) are the connection's to
    /// write before it reads again.
    Unsent(Vec<u8>),
}

/// One echo step: waits until readable, reads into the worker's buffer and writes the bytes back
/// within the same poll; what the socket does not take moves into [`Echoed::Unsent`].
pub fn poll_echo(
    io: &mut (impl PollRead + PollWrite),
    cx: &mut Context<'_>,
) -> Poll<io::Result<Echoed>> {
    worker_buf::with(|buf| {
        let n = match read_ready(io, cx, buf) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        };
        if n == 0 {
            return Poll::Ready(Ok(Echoed::Eof));
        }
        let mut done = 0;
        while done < n {
            match io.poll_write_from(cx, &buf[done..n]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(w)) => done += w,
                Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Ready(Ok(Echoed::Unsent(buf[done..n].to_vec()))),
            }
        }
        Poll::Ready(Ok(Echoed::All))
    })
}

/// Waits until readable, reads into the worker's buffer and hands the bytes to `take` within the same
/// poll: `Some(take(bytes))`, or `None` at EOF.
pub fn poll_read_with<T>(
    io: &mut impl PollRead,
    cx: &mut Context<'_>,
    take: &mut impl FnMut(&[u8]) -> T,
) -> Poll<io::Result<Option<T>>> {
    worker_buf::with(|buf| match read_ready(io, cx, buf) {
        Poll::Ready(Ok(0)) => Poll::Ready(Ok(None)),
        Poll::Ready(Ok(n)) => Poll::Ready(Ok(Some(take(&buf[..n])))),
        Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        Poll::Pending => Poll::Pending,
    })
}

/// One read, retried when interrupted.
fn read_ready(
    io: &mut impl PollRead,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    loop {
        match io.poll_read_into(cx, buf) {
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that reads from a script and accepts at most `room` bytes of writes.
    struct Scripted {
        input: Vec<u8>,
        written: Vec<u8>,
        room: usize,
    }

    impl PollRead for Scripted {
        fn poll_read_into(
            &mut self,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.input.len().min(buf.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Poll::Ready(Ok(n))
        }
    }

    impl PollWrite for Scripted {
        fn poll_write_from(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let n = self.room.min(buf.len());
            if n == 0 {
                return Poll::Pending;
            }
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
    }

    fn step(io: &mut Scripted) -> Poll<io::Result<Echoed>> {
        poll_echo(io, &mut Context::from_waker(std::task::Waker::noop()))
    }

    #[test]
    fn echo_writes_back_or_keeps_the_rest() {
        let mut io = Scripted {
            input: b"hello".to_vec(),
            written: Vec::new(),
            room: 3,
        };
        assert!(matches!(step(&mut io), Poll::Ready(Ok(Echoed::Unsent(rest))) if rest == b"lo"));
        assert_eq!(io.written, b"hel");
        io.input = b"x".to_vec();
        io.room = 10;
        assert!(matches!(step(&mut io), Poll::Ready(Ok(Echoed::All))));
        assert!(matches!(step(&mut io), Poll::Ready(Ok(Echoed::Eof))));
    }
}
