//! Blocking test clients: connections with timeouts and reads that fail instead of hanging. The
//! helpers take any stream (`TcpStream`, or a [`Conn`] over any transport).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::transport::Conn;

/// The longest any single read or write of a case may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `addr` over plain TCP with [`IO_TIMEOUT`] on connect, reads and writes, and
/// `TCP_NODELAY` (a case connects through [`crate::Target::connect`], over any transport).
pub fn connect(addr: SocketAddr) -> Result<TcpStream> {
    connect_with_timeout(addr, IO_TIMEOUT)
}

/// Connects to `addr` with `timeout` on connect, reads and writes, and `TCP_NODELAY`.
pub fn connect_with_timeout(addr: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads exactly `len` bytes (failing on EOF or timeout).
pub fn read_exact_vec(stream: &mut impl Read, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => bail!("EOF after {filled} of {len} bytes"),
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("read failed after {filled} of {len} bytes"));
            }
        }
    }
    Ok(buf)
}

/// Writes `data` and expects exactly `data` back.
pub fn roundtrip<S: Read + Write>(stream: &mut S, data: &[u8]) -> Result<()> {
    stream.write_all(data).context("write failed")?;
    let back = read_exact_vec(stream, data.len())?;
    if back != data {
        bail!(
            "echo differs: sent {:?}, got {:?}",
            preview(data),
            preview(&back)
        );
    }
    Ok(())
}

/// How the peer closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// An orderly close (FIN).
    Eof,
    /// A reset (RST).
    Reset,
}

/// Reads until the peer closes the connection, appending to `into`; fails if the read timeout passes
/// first. The one read-until-closed of the suite.
pub fn read_until_closed(stream: &mut impl Read, into: &mut Vec<u8>) -> Result<Closed> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(Closed::Eof),
            Ok(n) => into.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => return Ok(Closed::Reset),
            Err(err) if is_timeout(&err) => {
                bail!(
                    "not closed by the peer within the read timeout, after {} bytes",
                    into.len()
                )
            }
            Err(err) => {
                return Err(err).with_context(|| format!("read failed after {} bytes", into.len()));
            }
        }
    }
}

/// Reads until an orderly EOF (bounded by the read timeout; a reset is an error); returns everything
/// read.
pub fn read_to_eof(stream: &mut impl Read) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match read_until_closed(stream, &mut out)? {
        Closed::Eof => Ok(out),
        Closed::Reset => bail!("reset after {} bytes instead of EOF", out.len()),
    }
}

/// Waits at most `timeout` until one of `streams` is readable (data, EOF or an error); returns which
/// are. The one readiness wait of the suite.
#[allow(unsafe_code)]
pub fn readable<S: std::os::fd::AsRawFd>(streams: &[&S], timeout: Duration) -> Vec<bool> {
    let mut fds: Vec<libc::pollfd> = streams
        .iter()
        .map(|stream| libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let count = libc::nfds_t::try_from(fds.len()).expect("fd count fits nfds_t");
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is a valid, exclusively borrowed array of `count` pollfd structs.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), count, millis) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "poll failed: {err}");
    }
    fds.iter().map(|fd| fd.revents != 0).collect()
}

/// Whether the peer has closed the connection: EOF or a reset, with nothing read before it.
pub fn is_closed_by_peer(stream: &mut impl Read) -> Result<bool> {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => Ok(true),
        Ok(_) => Ok(false),
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => Ok(true),
        Err(err) if is_timeout(&err) => Ok(false),
        Err(err) => Err(err).context("read failed"),
    }
}

/// Whether an I/O error is a read/write timeout.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Closes `stream` abruptly, as a crashing client would: a TCP reset instead of a FIN (SO_LINGER 0),
/// also under TLS; a unix socket is just closed (see [`Conn::reset`]).
pub fn reset(stream: impl Into<Conn>) -> Result<()> {
    stream.into().reset().context("cannot reset the connection")
}

/// Deterministic pseudo-random bytes for payloads (seeded, so failures reproduce).
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut data = vec![0; len];
    rng.fill_bytes(&mut data);
    data
}

/// A short printable preview of bytes for error messages.
pub fn preview(data: &[u8]) -> String {
    const MAX: usize = 64;
    let shown = String::from_utf8_lossy(&data[..data.len().min(MAX)]).into_owned();
    if data.len() > MAX {
        format!("{shown:?}... ({} bytes)", data.len())
    } else {
        format!("{shown:?}")
    }
}
