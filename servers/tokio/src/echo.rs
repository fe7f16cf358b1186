//! Echo, tokio: wait until readable, read into the worker's buffer and write back, repeat; on EOF
//! close after everything was sent.

use std::future;
use std::io;
use std::time::Duration;

use server_common::poll_io::{self, Echoed};

use crate::idle;
use crate::polled::Polled;
use tokio::io::AsyncWriteExt;

use crate::transport::Conn;

/// Echoes every byte back as soon as it is read; on EOF (the client half-closed) closes the connection
/// once everything has been sent back. Closes it when nothing arrives for `idle` (if set). Holds no
/// buffer while it waits: bytes are read into the worker's buffer and written back in the same poll;
/// only what the send buffer does not take is kept, until it is written.
pub(crate) async fn serve_conn(mut stream: Conn, idle: Option<Duration>) -> io::Result<()> {
    loop {
        let step = future::poll_fn(|cx| poll_io::poll_echo(&mut Polled(&mut stream), cx));
        match idle::within(idle, step).await? {
            Echoed::Eof => break,
            Echoed::All => {}
            Echoed::Unsent(rest) => stream.write_all(&rest).await?,
        }
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `make` returns.
    fn future_size<F>(_make: impl Fn(Conn) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// An idle connection's task holds this future: it must stay a few hundred bytes (issue 17).
    #[test]
    fn an_echo_connection_is_small() {
        let size = future_size(|conn| serve_conn(conn, None));
        println!("echo serve_conn future: {size} B");
        assert!(size <= 512, "the echo future is {size} B");
    }
}
