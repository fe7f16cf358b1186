//! The work app's clients (`docs/PROTOCOL.md` section 4): a fast request measured on one connection
//! ([`WorkClient`]) while other connections keep slow requests in flight from a background thread
//! ([`SlowLoad`]). Both are the conformance suite's line client over any transport, with the suite's
//! I/O timeout on every read and write; every reply is compared byte for byte with the one expected
//! (`FIB n`'s value from the suite's own fib, not the server's).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use conformance::chat_client::ChatClient;
use conformance::client::readable;
use conformance::transport::{Conn, Endpoint};
use conformance::work::fib_reply;

use crate::IO_TIMEOUT;
use crate::client::connect_to;

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

/// Slow requests kept in flight on connections of their own by a background thread: each connection
/// has one request outstanding, sent again as soon as its reply has arrived and been checked, until
/// the load is stopped (dropped, or [`SlowLoad::finish`]). Stopping sends nothing more, reads the
/// replies still due, closes the connections and joins the thread, so that a benchmark's load ends
/// with it and the server is idle again before it is stopped.
#[derive(Debug)]
pub struct SlowLoad {
    stop: Arc<AtomicBool>,
    replies: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<u64, String>>>,
}

impl SlowLoad {
    /// Opens `conns` connections to the work server at `endpoint` (on this thread) and starts a
    /// thread that keeps `request` (e.g. `SLEEP 5`) in flight on each, every reply required to be
    /// exactly `reply` (e.g. `SLEPT 5`).
    ///
    /// # Panics
    /// If a connection cannot be made or the thread cannot be started.
    pub fn start(endpoint: &Endpoint, conns: usize, request: &str, reply: &str) -> SlowLoad {
        assert!(conns > 0, "a slow load needs a connection");
        let clients: Vec<ChatClient> = (0..conns)
            .map(|i| {
                let mut client = ChatClient::from_stream(connect_to(endpoint, "work slow load"));
                client.nick = format!("slow connection {i}");
                client
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let replies = Arc::new(AtomicU64::new(0));
        let request = format!("{request}\n").into_bytes();
        let reply = format!("{reply}\n").into_bytes();
        let thread = {
            let (stop, replies) = (stop.clone(), replies.clone());
            std::thread::Builder::new()
                .name("slow load".to_owned())
                .spawn(move || keep_in_flight(clients, &request, &reply, &stop, &replies))
                .unwrap_or_else(|err| panic!("cannot start the slow load's thread: {err}"))
        };
        SlowLoad {
            stop,
            replies,
            thread: Some(thread),
        }
    }

    /// The slow replies received (and checked) so far.
    pub fn replies(&self) -> u64 {
        self.replies.load(Ordering::Relaxed)
    }

    /// Checks that the load is still running (cheap: call it every iteration).
    ///
    /// # Panics
    /// If the background thread has ended: a slow reply was wrong, missing or late.
    pub fn check(&mut self) {
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            let outcome = self.join();
            panic!("the slow load stopped while measuring: {outcome:?}");
        }
    }

    /// Stops the load and waits for its thread; returns the number of slow replies it received.
    ///
    /// # Panics
    /// If a slow reply was wrong, missing or late.
    pub fn finish(mut self) -> u64 {
        match self.join() {
            Ok(replies) => replies,
            Err(err) => panic!("the slow load failed: {err}"),
        }
    }

    fn join(&mut self) -> Result<u64, String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(0),
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) => Err("the slow load's thread panicked".to_owned()),
        }
    }
}

impl Drop for SlowLoad {
    fn drop(&mut self) {
        let outcome = self.join();
        if let Err(err) = outcome
            && !std::thread::panicking()
        {
            panic!("the slow load failed: {err}");
        }
    }
}

/// The background thread: sends `request` on every connection, then answers each reply (checked) with
/// the next request until `stop`; then reads the replies still due. Every wait is bounded by
/// [`IO_TIMEOUT`].
fn keep_in_flight(
    mut clients: Vec<ChatClient>,
    request: &[u8],
    reply: &[u8],
    stop: &AtomicBool,
    received: &AtomicU64,
) -> Result<u64, String> {
    let what = String::from_utf8_lossy(request).trim_end().to_owned();
    let mut in_flight = vec![false; clients.len()];
    for (client, in_flight) in clients.iter_mut().zip(&mut in_flight) {
        client
            .send_raw(request)
            .map_err(|err| format!("sending {what}: {err:#}"))?;
        *in_flight = true;
    }
    let mut replies = 0u64;
    while in_flight.contains(&true) {
        let streams: Vec<&Conn> = clients.iter().map(ChatClient::stream).collect();
        let ready = readable(&streams, IO_TIMEOUT);
        if !ready.contains(&true) {
            return Err(format!("no reply to {what} within {IO_TIMEOUT:?}"));
        }
        let stopping = stop.load(Ordering::Relaxed);
        for ((client, in_flight), ready) in clients.iter_mut().zip(&mut in_flight).zip(ready) {
            if !ready {
                continue;
            }
            if !*in_flight {
                return Err(format!(
                    "{}: the server sent something with no request outstanding",
                    client.nick
                ));
            }
            client
                .expect_bytes(reply)
                .map_err(|err| format!("reply to {what}: {err:#}"))?;
            replies += 1;
            received.store(replies, Ordering::Relaxed);
            *in_flight = false;
            if !stopping {
                client
                    .send_raw(request)
                    .map_err(|err| format!("sending {what}: {err:#}"))?;
                *in_flight = true;
            }
        }
    }
    Ok(replies)
}
