//! Reads bounded by the idle timeout (`Config::idle_timeout`).

use std::io;
use std::time::Duration;

use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncReadExt};

/// Reads into `buf` (retrying when interrupted); with an idle timeout, fails with `TimedOut` when
/// nothing arrives for that long. Without one (the default) this is a plain read: no timer is armed on
/// the hot path.
pub(crate) async fn read<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut [u8],
    idle: Option<Duration>,
) -> io::Result<usize> {
    loop {
        let read = match idle {
            None => stream.read(&mut *buf).await,
            Some(limit) => {
                let timed_out = async {
                    smol::Timer::after(limit).await;
                    Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"))
                };
                stream.read(&mut *buf).or(timed_out).await
            }
        };
        match read {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}
