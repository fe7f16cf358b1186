//! Echo, async-std: wait until readable, read into the worker's buffer and write back, repeat; on
//! EOF close after everything was sent.

use std::future;
use std::io;
use std::time::Duration;

use async_std::io::WriteExt;
use server_common::poll_io::{self, Echoed, FuturesIo};

use crate::idle;
use crate::transport::Conn;

/// Echoes every byte back as soon as it is read; on EOF (the client half-closed) closes the connection
/// once everything has been sent back. Closes it when nothing arrives for `idle` (if set). Holds no
/// buffer while it waits: bytes are read into the worker's buffer and written back in the same poll;
/// only what the send buffer does not take is kept, until it is written.
pub(crate) async fn serve_conn(mut stream: Conn, idle: Option<Duration>) -> io::Result<()> {
    loop {
        let step = future::poll_fn(|cx| poll_io::poll_echo(&mut FuturesIo(&mut stream), cx));
        match idle::within(idle, step).await? {
            Echoed::Eof => break,
            Echoed::All => {}
            Echoed::Unsent(rest) => stream.write_all(&rest).await?,
        }
    }
    stream.shutdown_write().await
}
