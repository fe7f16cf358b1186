//! Textbook async-std echo (the async-std book's accept loop): the global executor, a task per
//! connection, read and write back.

use std::io;
use std::net::SocketAddr;

use async_std::net::{TcpListener, TcpStream};
use async_std::prelude::*;

/// Serves echo on `addr` forever.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    async_std::task::block_on(async {
        let listener = TcpListener::bind(addr).await?;
        let mut incoming = listener.incoming();
        while let Some(stream) = incoming.next().await {
            let Ok(stream) = stream else { continue };
            async_std::task::spawn(echo(stream));
        }
        Ok(())
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
