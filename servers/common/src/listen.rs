//! The listening socket and the `listening` line.

use std::fmt::Display;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use crate::App;

/// Listen backlog. Large, so that connection storms (10 000 clients) and the accept back-off during fd
/// exhaustion queue in the kernel instead of being refused. The kernel caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 4096;

/// Binds a blocking TCP listener with `SO_REUSEADDR` and a deep backlog.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The `listening <impl> <app> <addr>` line, exactly as the protocol states it.
pub fn listening_line(impl_name: &str, app: App, addr: impl Display) -> String {
    format!("listening {impl_name} {app} {addr}")
}

/// Prints the `listening` line on stdout and flushes it. The only thing a server writes to stdout.
pub fn announce(impl_name: &str, app: App, addr: impl Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", listening_line(impl_name, app, addr))?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line_carries_the_chosen_port() {
        let listener = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        assert_ne!(addr.port(), 0);
        assert_eq!(
            listening_line("tokio", App::Chat, addr),
            format!("listening tokio chat 127.0.0.1:{}", addr.port())
        );
    }
}
