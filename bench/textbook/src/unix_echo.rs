//! Textbook echo on a unix-domain socket (tokio's echo example with `UnixListener`): the multi-thread
//! runtime with its defaults, a task per connection, read and write back.

use std::io;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// Serves echo on the unix socket `path` (which must not exist) forever.
pub fn serve(path: &Path) -> io::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = UnixListener::bind(path)?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(echo(stream));
        }
    })
}

async fn echo(mut stream: UnixStream) {
    let mut buf = vec![0; crate::BUF_SIZE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
