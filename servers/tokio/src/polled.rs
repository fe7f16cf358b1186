//! A tokio stream as the shared [`PollRead`] / [`PollWrite`], for reading into the worker's buffer
//! (`server_common::poll_io`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use server_common::poll_io::{PollRead, PollWrite};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A borrowed tokio stream (or half) seen through its `poll_read` / `poll_write`.
pub(crate) struct Polled<'a, S>(pub &'a mut S);

impl<S: AsyncRead + Unpin> PollRead for Polled<'_, S> {
    fn poll_read_into(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        match Pin::new(&mut *self.0).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> PollWrite for Polled<'_, S> {
    fn poll_write_from(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
}
