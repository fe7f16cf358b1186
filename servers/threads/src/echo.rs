//! Echo, blocking: read, write back, repeat; on EOF close after everything was sent.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use server_common::config::ECHO_BUF_SIZE;

/// Echoes every byte back as soon as it is read; on EOF (the client half-closed) closes the connection
/// once everything has been sent back. The idle timeout, if set, is the socket's read timeout (see
/// `accept.rs`), so an idle client makes `read` fail and the connection close.
pub(crate) fn serve_conn(stream: Arc<TcpStream>) -> io::Result<()> {
    let mut stream = &*stream;
    let mut buf = vec![0; ECHO_BUF_SIZE];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n])?;
    }
    stream.shutdown(Shutdown::Write)
}
