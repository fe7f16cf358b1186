//! TLS on a ring, one connection's half: a rustls [`ServerConnection`] fed from the ring's provided
//! buffers and drained into an owned ciphertext buffer that one send at a time goes out from. No
//! I/O here: the worker's side (`tls_ring.rs`) submits the sends and calls the applications.
//!
//! - **In.** The bytes of each provided buffer go into the session at once ([`TlsConn::feed`]:
//!   `read_tls` from the slice, `process_new_packets`), so the buffer returns to the ring in the
//!   same turn; the plaintext is then taken out ([`TlsConn::drain_plaintext`], [`TlsConn::echo`]).
//!   Each buffer holds at most 4 KiB of ciphertext and the plaintext is always taken out after it,
//!   so the session's received-plaintext limit is never reached.
//! - **Out.** Plaintext goes into the session (its buffer limit lifted: the ring bounds what a
//!   connection holds, as it does over TCP); records are copied into [`TlsConn`]'s `out` only when
//!   no send is in flight ([`TlsConn::fill_out`]), and records made meanwhile wait in the session.
//! - **FIN.** A write shutdown first queues `close_notify` ([`TlsConn::defer_fin`]); the socket's
//!   `SHUT_WR` waits until every record before it, and it, went out.

use std::io::{self, BufRead, IoSlice, Read, Write};
use std::time::Instant;

use rustls::ServerConnection;
use server_common::Tls;

/// A ciphertext buffer larger than this after a send is freed rather than kept for the next one.
const OUT_KEEP: usize = 64 * 1024;

/// Why a TLS connection is closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsFailure {
    /// rustls could not start a session from the server configuration.
    #[error("cannot start a TLS session: {0}")]
    Start(#[source] rustls::Error),
    /// The peer broke the protocol (garbage, plaintext, a bad record, a failed handshake).
    #[error("TLS protocol error: {0}")]
    Protocol(#[source] rustls::Error),
    /// The session refused bytes (a buffer limit, a write after close).
    #[error("TLS session refused the bytes: {0}")]
    Session(#[source] io::Error),
}

/// Where a connection's write shutdown stands: over TLS it follows its `close_notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fin {
    /// Not asked for.
    NotAsked,
    /// `close_notify` is queued; `SHUT_WR` follows once every record is out, then the connection
    /// closes if `close` (the application closed it in the same step).
    Pending {
        /// Close once the FIN is sent.
        close: bool,
    },
    /// Sent.
    Sent,
}

/// One connection's TLS state.
#[derive(Debug)]
pub(crate) struct TlsConn {
    session: ServerConnection,
    /// Ciphertext of the send in flight; `out[sent..]` has not gone out yet.
    out: Vec<u8>,
    sent: usize,
    /// Set while the handshake runs: the connection is closed at this instant.
    handshake_deadline: Option<Instant>,
    /// Plaintext the application handed over in its current send; reported to it as sent once the
    /// ciphertext carrying it is out (chat releases exactly these bytes of its queue budget).
    pub(crate) owed: usize,
    /// Echo: plaintext written into the session since `out` was last filled.
    echoed: usize,
    /// The write shutdown.
    pub(crate) fin: Fin,
    /// The peer's `close_notify` arrived: nothing more is read.
    peer_closed: bool,
}

impl TlsConn {
    /// A session for a connection accepted at `now`, in its handshake.
    pub(crate) fn new(tls: &Tls, now: Instant) -> Result<TlsConn, TlsFailure> {
        let mut session = tls.new_connection().map_err(TlsFailure::Start)?;
        session.set_buffer_limit(None);
        Ok(TlsConn {
            session,
            out: Vec::new(),
            sent: 0,
            handshake_deadline: Some(now + tls.handshake_timeout()),
            owed: 0,
            echoed: 0,
            fin: Fin::NotAsked,
            peer_closed: false,
        })
    }

    /// Whether the handshake has not completed yet (the application has not started).
    pub(crate) fn handshaking(&self) -> bool {
        self.handshake_deadline.is_some()
    }

    /// Whether the handshake is still running at `now`, past its deadline.
    pub(crate) fn handshake_expired(&self, now: Instant) -> bool {
        self.handshake_deadline.is_some_and(|at| now >= at)
    }

    /// `true` once, when rustls has just completed the handshake: the application starts now.
    pub(crate) fn finish_handshake(&mut self) -> bool {
        if self.handshake_deadline.is_some() && !self.session.is_handshaking() {
            self.handshake_deadline = None;
            return true;
        }
        false
    }

    /// Hands received ciphertext to the session and processes it, stopping as soon as a record
    /// yields plaintext (drain it, then feed the rest: one more full record could overflow the
    /// session's received-plaintext limit). Returns how many bytes of `data` were taken; bytes after
    /// the peer's `close_notify` count as taken and are dropped.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<usize, TlsFailure> {
        let total = data.len();
        while !data.is_empty() && !self.peer_closed {
            match self.session.read_tls(&mut data) {
                Ok(0) => return Ok(total), // close_notify was processed: nothing more is read
                Ok(_) => {}
                Err(err) => return Err(TlsFailure::Session(err)),
            }
            let state = self
                .session
                .process_new_packets()
                .map_err(TlsFailure::Protocol)?;
            if state.plaintext_bytes_to_read() > 0 {
                break;
            }
        }
        Ok(if self.peer_closed {
            total
        } else {
            total - data.len()
        })
    }

    /// Passes each chunk of received plaintext to `input`, in order, without copying it. `Ok(true)`
    /// when the peer's `close_notify` has just been reached (its EOF).
    pub(crate) fn drain_plaintext(
        &mut self,
        mut input: impl FnMut(&[u8]),
    ) -> Result<bool, TlsFailure> {
        if self.peer_closed {
            return Ok(false);
        }
        while !self.peer_closed {
            let mut reader = self.session.reader();
            match reader.fill_buf() {
                Ok([]) => self.peer_closed = true,
                Ok(chunk) => {
                    let n = chunk.len();
                    input(chunk);
                    reader.consume(n);
                }
                Err(err) => return plaintext_end(err).map(|eof| self.eof(eof)),
            }
        }
        Ok(true)
    }

    /// Echo: writes the received plaintext straight back into the session, through `scratch`.
    /// `Ok(true)` when the peer's `close_notify` has just been reached.
    pub(crate) fn echo(&mut self, scratch: &mut [u8]) -> Result<bool, TlsFailure> {
        if self.peer_closed || scratch.is_empty() {
            return Ok(false);
        }
        while !self.peer_closed {
            match self.session.reader().read(scratch) {
                Ok(0) => self.peer_closed = true,
                Ok(n) => {
                    let plain = scratch.get(..n).unwrap_or_default();
                    self.session
                        .writer()
                        .write_all(plain)
                        .map_err(TlsFailure::Session)?;
                    self.echoed += n;
                }
                Err(err) => return plaintext_end(err).map(|eof| self.eof(eof)),
            }
        }
        Ok(true)
    }

    fn eof(&mut self, eof: bool) -> bool {
        self.peer_closed |= eof;
        eof
    }

    /// Encrypts the application's plaintext into the session; returns how much it took (all of it:
    /// the session's buffer is not limited).
    pub(crate) fn write_plaintext(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize, TlsFailure> {
        self.session
            .writer()
            .write_vectored(bufs)
            .map_err(TlsFailure::Session)
    }

    /// Queues plaintext best effort (a cut-off client's last line), sent with the next records.
    pub(crate) fn queue_plaintext(&mut self, bytes: &[u8]) {
        let _ = self.session.writer().write_all(bytes);
    }

    /// The ciphertext of the send under way that has not gone out yet (empty: none).
    pub(crate) fn unsent(&self) -> &[u8] {
        self.out.get(self.sent..).unwrap_or_default()
    }

    /// With nothing unsent: moves every record the session has into `out`. `false` if there was none.
    pub(crate) fn fill_out(&mut self) -> Result<bool, TlsFailure> {
        self.out.clear();
        self.sent = 0;
        self.echoed = 0;
        while self.session.wants_write() {
            self.session
                .write_tls(&mut self.out)
                .map_err(TlsFailure::Session)?;
        }
        Ok(!self.out.is_empty())
    }

    /// `n` bytes of `out` went out; `true` once all of it has.
    pub(crate) fn advance(&mut self, n: usize) -> bool {
        self.sent = self.sent.saturating_add(n).min(self.out.len());
        if self.sent < self.out.len() {
            return false;
        }
        self.out.clear();
        self.sent = 0;
        if self.out.capacity() > OUT_KEEP {
            self.out = Vec::new();
        }
        true
    }

    /// Echo's unsent bytes: plaintext still in the session plus ciphertext not yet sent. Past the
    /// echo buffer's size the connection stops receiving until the client reads, as over TCP.
    pub(crate) fn backlog(&self) -> usize {
        self.echoed + self.unsent().len()
    }

    /// A write shutdown was asked for: queues `close_notify` and returns `true` (the FIN waits for
    /// it), or `false` once the FIN was sent (shut down directly).
    pub(crate) fn defer_fin(&mut self) -> bool {
        match self.fin {
            Fin::NotAsked => {
                self.session.send_close_notify();
                self.fin = Fin::Pending { close: false };
                true
            }
            Fin::Pending { .. } => true,
            Fin::Sent => false,
        }
    }

    /// Takes the records queued after an error (rustls's alert), to send best effort. Empty if a
    /// send is under way: nothing may overtake its records.
    pub(crate) fn take_alert(&mut self) -> Vec<u8> {
        let mut alert = Vec::new();
        if self.unsent().is_empty() {
            while self.session.wants_write() && self.session.write_tls(&mut alert).is_ok() {}
        }
        alert
    }
}

/// What a plaintext read's error means: `Ok(false)` no more plaintext for now, `Ok(true)` the end of
/// the input (the socket's EOF; not reached in practice, since the socket's EOF is not fed).
fn plaintext_end(err: io::Error) -> Result<bool, TlsFailure> {
    match err.kind() {
        io::ErrorKind::WouldBlock => Ok(false),
        io::ErrorKind::UnexpectedEof => Ok(true),
        _ => Err(TlsFailure::Session(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore};
    use std::sync::Arc;
    use std::time::Duration;

    fn pair() -> (TlsConn, ClientConnection) {
        let made = Tls::self_signed(Duration::from_secs(10)).expect("self-signed");
        let mut roots = RootCertStore::empty();
        roots.add(made.cert_der.clone()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("name");
        let client = ClientConnection::new(Arc::new(config), name).expect("client");
        let server = TlsConn::new(&made.tls, Instant::now()).expect("server");
        (server, client)
    }

    /// Moves the client's records into the server in 4 KiB pieces, as provided buffers would.
    fn client_to_server(client: &mut ClientConnection, server: &mut TlsConn) {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).expect("client records");
        }
        for piece in wire.chunks(4096) {
            let mut rest = piece;
            while !rest.is_empty() {
                let taken = server.feed(rest).expect("server takes the records");
                assert!(taken > 0, "the server took none of the records");
                rest = &rest[taken..];
            }
        }
    }

    /// Moves what the server sends (as from `out`, one send at a time) into the client.
    fn server_to_client(server: &mut TlsConn, client: &mut ClientConnection) {
        while server.fill_out().expect("records") {
            let wire = server.unsent().to_vec();
            assert!(server.advance(wire.len()));
            let mut rest = &wire[..];
            while !rest.is_empty() {
                client.read_tls(&mut rest).expect("client reads");
                client.process_new_packets().expect("client processes");
            }
        }
    }

    fn handshake() -> (TlsConn, ClientConnection) {
        let (mut server, mut client) = pair();
        while client.is_handshaking() || server.handshaking() {
            client_to_server(&mut client, &mut server);
            server.finish_handshake();
            server_to_client(&mut server, &mut client);
        }
        (server, client)
    }

    #[test]
    fn handshake_echo_and_close_notify_both_ways() {
        let (mut server, mut client) = handshake();
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut scratch = vec![0; 16 * 1024];
        let mut back = Vec::new();
        for piece in data.chunks(4000) {
            client.writer().write_all(piece).expect("write");
            client_to_server(&mut client, &mut server);
            assert!(!server.echo(&mut scratch).expect("echo"), "no EOF yet");
            assert!(server.backlog() >= piece.len(), "echoed bytes are counted");
            server_to_client(&mut server, &mut client);
            let mut buf = vec![0; piece.len()];
            client.reader().read_exact(&mut buf).expect("echo back");
            back.extend_from_slice(&buf);
        }
        assert_eq!(back, data);

        client.send_close_notify();
        client_to_server(&mut client, &mut server);
        assert!(
            server.echo(&mut scratch).expect("echo"),
            "close_notify is the EOF"
        );
        assert!(!server.echo(&mut scratch).expect("echo"), "reported once");
        assert!(server.defer_fin(), "the FIN waits for close_notify");
        assert_eq!(server.fin, Fin::Pending { close: false });
        server_to_client(&mut server, &mut client);
        let mut rest = Vec::new();
        assert_eq!(
            client.reader().read_to_end(&mut rest).expect("clean end"),
            0
        );
    }

    #[test]
    fn chat_plaintext_is_passed_in_order_and_counted_as_plaintext() {
        let (mut server, mut client) = handshake();
        client
            .writer()
            .write_all(b"NICK a\nMSG r hi\n")
            .expect("write");
        client_to_server(&mut client, &mut server);
        let mut got = Vec::new();
        let eof = server
            .drain_plaintext(|bytes| got.extend_from_slice(bytes))
            .expect("plaintext");
        assert!(!eof);
        assert_eq!(got, b"NICK a\nMSG r hi\n");
        let lines = [IoSlice::new(b"OK NICK a\n"), IoSlice::new(b"MSG r a hi\n")];
        assert_eq!(server.write_plaintext(&lines).expect("encrypt"), 21);
    }

    #[test]
    fn garbage_and_plaintext_are_protocol_errors() {
        for junk in [
            &b"hello in plaintext\n"[..],
            &[0x16, 3, 1, 0, 4, 0xde, 0xad, 0xbe, 0xef],
        ] {
            let (mut server, _) = pair();
            let fed = server.feed(junk);
            assert!(
                matches!(fed, Err(TlsFailure::Protocol(_))),
                "{junk:?}: {fed:?}"
            );
            server.take_alert(); // an alert where rustls has one, never a panic
        }
    }

    #[test]
    fn the_handshake_deadline_expires() {
        let (server, _) = pair();
        assert!(!server.handshake_expired(Instant::now()));
        assert!(server.handshake_expired(Instant::now() + Duration::from_secs(11)));
    }
}
