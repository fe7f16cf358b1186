//! The work app's clients (`docs/PROTOCOL.md` section 4): a fast request measured on one connection
//! ([`WorkClient`]), alone or while other connections of the same client keep slow requests in flight
//! ([`FastBesideSlow`]). Both are the conformance suite's line client over any transport, with the suite's
//! I/O timeout on every read and write; every reply is compared byte for byte with the one expected
//! (`FIB n`'s value from the suite's own fib, not the server's).

use std::time::Duration;

use conformance::chat_client::ChatClient;
use conformance::client::readable;
use conformance::transport::{Conn, Endpoint};
use conformance::work::fib_reply;

use crate::IO_TIMEOUT;
use crate::client::connect_to;
use crate::interleave::Workload;

/// One work connection sending a fast request and waiting for its reply: `FIB 1` and `FIB 2` in
/// turn, so that a reply out of turn (`FIB 1 1` where `FIB 2 1` is due) cannot pass for the right one.
#[derive(Debug)]
pub struct WorkClient {
    client: ChatClient,
    /// The two requests, LF included, and their replies.
    requests: [(Vec<u8>, Vec<u8>); 2],
    turn: usize,
}

impl WorkClient {
    /// Connects to the work server at `endpoint`.
    ///
    /// # Panics
    /// If the connection cannot be made.
    pub fn connect(endpoint: &Endpoint) -> WorkClient {
        let mut client = ChatClient::from_stream(connect_to(endpoint, "work client"));
        client.nick = "work fast client".to_owned();
        let request = |n: u32| {
            (
                format!("FIB {n}\n").into_bytes(),
                format!("{}\n", fib_reply(n)).into_bytes(),
            )
        };
        WorkClient {
            client,
            requests: [request(1), request(2)],
            turn: 0,
        }
    }

    /// One round trip: sends the next fast request and reads its reply, checking every byte
    /// (allocates nothing once the read buffer has grown).
    ///
    /// # Panics
    /// On a wrong or missing reply, an error or a timeout.
    pub fn round_trip(&mut self) {
        let (request, reply) = &self.requests[self.turn];
        self.turn ^= 1;
        self.client
            .send_raw(request)
            .unwrap_or_else(|err| panic!("work fast request: {err:#}"));
        self.client
            .expect_bytes(reply)
            .unwrap_or_else(|err| panic!("work fast reply: {err:#}"));
    }
}

/// A fast request measured on one connection ([`WorkClient`]) while other connections of the same
/// client keep one slow request each in flight (e.g. `SLEEP 5`), all from the calling thread: before
/// each fast request, every slow connection whose reply has arrived (and been checked) is sent its
/// slow request again. The slow requests thus keep pace with the fast ones as the server lets them:
/// a server that makes the fast request wait behind the slow ones answers them all in each
/// round trip (two slow requests per fast one, every time); one that answers the fast request at
/// once makes many round trips per slow reply. Either way the mix is the model's, not the luck of
/// where a fast request lands in a slow one's cycle, so the server's CPU time per round trip repeats.
///
/// Readiness is polled on the sockets, so the slow connections must be plain TCP or unix sockets
/// (a TLS session could hold a reply already decrypted).
#[derive(Debug)]
pub struct FastBesideSlow {
    fast: WorkClient,
    slow: Vec<SlowConn>,
    request: Vec<u8>,
    reply: Vec<u8>,
    replies: u64,
}

/// One slow connection and whether its request is outstanding.
#[derive(Debug)]
struct SlowConn {
    client: ChatClient,
    in_flight: bool,
}

impl FastBesideSlow {
    /// Connects the fast connection and `slow_conns` slow ones to the work server at `endpoint`; each
    /// slow one will carry `request`, whose reply must be exactly `reply`.
    ///
    /// # Panics
    /// If a connection cannot be made.
    pub fn connect(
        endpoint: &Endpoint,
        slow_conns: usize,
        request: &str,
        reply: &str,
    ) -> FastBesideSlow {
        let slow = (0..slow_conns)
            .map(|i| {
                let mut client = ChatClient::from_stream(connect_to(endpoint, "work slow client"));
                client.nick = format!("slow connection {i}");
                SlowConn {
                    client,
                    in_flight: false,
                }
            })
            .collect();
        FastBesideSlow {
            fast: WorkClient::connect(endpoint),
            slow,
            request: format!("{request}\n").into_bytes(),
            reply: format!("{reply}\n").into_bytes(),
            replies: 0,
        }
    }

    /// One round trip of the fast request, after reading the slow replies that have arrived and
    /// sending those connections their slow request again.
    ///
    /// # Panics
    /// On a wrong or missing reply, fast or slow, an error or a timeout.
    pub fn round_trip(&mut self) {
        self.collect(Duration::ZERO);
        for conn in &mut self.slow {
            if !conn.in_flight {
                conn.client.send_raw(&self.request).unwrap_or_else(|err| {
                    panic!("{}: sending the slow request: {err:#}", conn.client.nick)
                });
                conn.in_flight = true;
            }
        }
        self.fast.round_trip();
    }

    /// Reads the slow replies still due (each within [`IO_TIMEOUT`]), so that the server is idle
    /// afterwards.
    ///
    /// # Panics
    /// On a wrong or missing reply.
    pub fn settle(&mut self) {
        while self.slow.iter().any(|conn| conn.in_flight) {
            if self.collect(IO_TIMEOUT) == 0 {
                panic!("no slow reply within {IO_TIMEOUT:?}");
            }
        }
    }

    /// The slow replies received (and checked) so far.
    pub fn slow_replies(&self) -> u64 {
        self.replies
    }

    /// Reads and checks every slow reply that has arrived, waiting up to `wait` for the first;
    /// returns how many were read.
    fn collect(&mut self, wait: Duration) -> usize {
        if !self.slow.iter().any(|conn| conn.in_flight) {
            return 0;
        }
        let streams: Vec<&Conn> = self.slow.iter().map(|conn| conn.client.stream()).collect();
        let ready = readable(&streams, wait);
        let mut read = 0;
        for (conn, ready) in self.slow.iter_mut().zip(ready) {
            if !ready {
                continue;
            }
            assert!(
                conn.in_flight,
                "{}: the server sent something with no request outstanding",
                conn.client.nick
            );
            conn.client
                .expect_bytes(&self.reply)
                .unwrap_or_else(|err| panic!("{}: slow reply: {err:#}", conn.client.nick));
            conn.in_flight = false;
            read += 1;
        }
        self.replies += read as u64;
        read
    }
}

impl Workload for FastBesideSlow {
    fn iteration(&mut self) {
        self.round_trip();
    }

    /// After each batch the slow replies still due are read: nothing of this benchmark runs beside
    /// another one's batch.
    fn leave(&mut self) {
        self.settle();
    }
}

impl Drop for FastBesideSlow {
    /// Reads the slow replies still due, unless already panicking (then the connections just close).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.settle();
        }
    }
}
