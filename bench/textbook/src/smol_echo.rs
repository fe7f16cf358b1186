//! Textbook smol echo (smol's `tcp-server` example, with the read and write-back loop of the other
//! textbook servers in place of `io::copy`): `smol::block_on` runs the accept loop, `smol::spawn` puts
//! a task per connection on smol's global executor with its defaults (one executor thread unless
//! `SMOL_THREADS` says otherwise).

use std::io;
use std::net::SocketAddr;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

/// Serves echo on `addr` forever.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    smol::block_on(async {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            smol::spawn(echo(stream)).detach();
        }
    })
}

async fn echo(mut stream: TcpStream) {
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
