//! Echo, blocking: read, write back, repeat; on EOF close after everything was sent.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use server_common::config::ECHO_BUF_SIZE;

use crate::transport::{HalfClose, ReadHalf, WriteHalf};

/// Echoes every byte back as soon as it is read; on EOF (the client half-closed) closes the connection
/// once everything has been sent back. The idle timeout, if set, is the socket's read timeout (see
/// `accept.rs`), so an idle client makes `read` fail and the connection close.
pub(crate) fn serve_conn(mut reader: ReadHalf, mut writer: WriteHalf) -> io::Result<()> {
    let mut buf = vec![0; ECHO_BUF_SIZE];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        writer.write_all(&buf[..n])?;
        writer.flush()?; // TLS: every record out before the next read (plaintext: nothing to do)
    }
    writer.shutdown(Shutdown::Write)
}
