//! Echo, smol: read, write back, repeat; on EOF close after everything was sent.

use std::io;
use std::time::Duration;

use server_common::config::ECHO_BUF_SIZE;
use smol::io::AsyncWriteExt;

use crate::idle;
use crate::transport::Conn;

/// Echoes every byte back as soon as it is read; on EOF (the client half-closed) closes the connection
/// once everything has been sent back. Closes it when nothing arrives for `idle` (if set).
pub(crate) async fn serve_conn(mut stream: Conn, idle: Option<Duration>) -> io::Result<()> {
    let mut buf = vec![0; ECHO_BUF_SIZE];
    loop {
        let n = idle::read(&mut stream, &mut buf, idle).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    stream.shutdown_write().await
}
