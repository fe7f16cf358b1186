//! What a scenario supplies to the engine: its protocol on one connection.
//!
//! The engine owns the sockets, the schedule (closed or open loop), the
//! timestamps, the histograms and every cost measurement; a [`Protocol`]
//! only says what the bytes of a message are, what arriving bytes mean, and
//! when a connection has everything it expects. One value of the protocol is
//! shared by every worker (it may hold run-wide state such as the chat
//! senders' final counts); per-connection state lives in [`Protocol::Conn`].
//!
//! The per-message methods ([`Protocol::fill`], [`Protocol::receive`]) must
//! not allocate: the hot path of every scenario is allocation-free.

/// A message being written, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    /// Index of the message on its connection (0, 1, 2, ...).
    pub index: u64,
    /// When its first byte was handed to the socket, ns after the run's base
    /// instant (the wake-up time when recording is off).
    pub sent_ns: u64,
    /// When it should have been sent (open loop: its scheduled time; closed
    /// loop: `sent_ns`), ns after the run's base instant.
    pub intended_ns: u64,
}

/// A fatal problem on one connection; the engine closes it and counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The bytes received are not what the protocol expects.
    Mismatch(String),
    /// The server refused or ended the session in-band (e.g. `ERR ...`).
    Refused(String),
}

/// Scenario-specific counters, summed over connections and workers.
pub trait Tally: Default + Send + 'static {
    /// Adds another worker's counters.
    fn add(&mut self, other: &Self);
}

impl Tally for () {
    fn add(&mut self, _: &Self) {}
}

/// What [`Protocol::receive`] reports back to the engine.
pub trait Receipts {
    /// `n` more messages of this connection came back complete (protocols
    /// whose replies come on the sending connection: [`Protocol::REPLIES`]).
    fn completed(&mut self, n: u64);
    /// A message sent on some connection (`sent_ns`, `intended_ns` as in
    /// [`Outgoing`]) was received here.
    fn delivered(&mut self, sent_ns: u64, intended_ns: u64);
    /// The connection's handshake is over: it may take load.
    fn ready(&mut self);
    /// Queue `bytes` to send now, before any message (handshake lines).
    fn reply(&mut self, bytes: &[u8]);
    /// Bytes of messages written on this connection so far.
    fn written(&self) -> u64;
}

/// A scenario's protocol.
pub trait Protocol: Send + Sync + 'static {
    /// Per-connection state.
    type Conn: Send;
    /// Scenario-specific counters.
    type Tally: Tally;

    /// Messages come back on the connection that sent them (echo): the
    /// engine then tracks each one from send to completion (in-flight cap,
    /// timeouts, loss, closed loop).
    const REPLIES: bool;
    /// At the end, half-close and read to the end of stream (echo) rather
    /// than close once [`Protocol::complete`] holds (chat).
    const HALF_CLOSE: bool;

    /// One-shot connections (churn): a connection's whole life is its
    /// handshake. The engine starts them on the connect schedule (open loop:
    /// `connect_rate`), closes each as soon as its handshake is over, and
    /// records the time from its intended start to then
    /// (`Outcome::round_trip`); they carry no messages.
    const ONE_SHOT: bool = false;

    /// Whether global connection `id` sends messages (decides the share of
    /// the open-loop rate of each worker).
    fn sends(&self, id: usize) -> bool;
    /// The state of global connection `id`, before it connects.
    fn open(&self, id: usize) -> Self::Conn;
    /// Whether the connection may take load as soon as it is connected;
    /// otherwise it waits for [`Receipts::ready`].
    fn ready_on_connect(&self) -> bool;
    /// Bytes to send as soon as the connection is established, before
    /// anything arrives (a handshake the client opens, e.g. churn's one
    /// echo); only for protocols that are not [`Protocol::ready_on_connect`].
    fn greeting(&self, _c: &Self::Conn, _out: &mut Vec<u8>) {}
    /// Bytes per message this connection sends (0: it sends none).
    fn message_len(&self, c: &Self::Conn) -> usize;
    /// Writes bytes `within..within + out.len()` of message `m` into `out`.
    fn fill(&self, c: &Self::Conn, m: &Outgoing, within: usize, out: &mut [u8]);
    /// Handles bytes read from the connection.
    fn receive<R: Receipts>(
        &self,
        c: &mut Self::Conn,
        data: &[u8],
        rx: &mut R,
    ) -> Result<(), Fault>;
    /// The connection stops sending after `sent` messages (called once per
    /// connection at the end of the load, whatever its state).
    fn stop_sending(&self, _c: &Self::Conn, _sent: u64) {}
    /// Calls `each(intended_ns, n)` for the receipts `c` expected and never
    /// got (lost, or cut off), by their intended send time, so that the
    /// engine records them as lower bounds; `alive`: as for `tally`.
    fn unfinished(&self, _c: &Self::Conn, _alive: bool, _each: &mut dyn FnMut(u64, u64)) {}
    /// Receipts one message of `c` makes when all goes well (chat: one per
    /// other member of the room), for the messages that were never sent.
    fn receipts_per_message(&self, _c: &Self::Conn) -> u64 {
        1
    }
    /// Whether everything this connection expects has arrived, `written`
    /// message bytes having been sent on it.
    fn complete(&self, c: &Self::Conn, written: u64) -> bool;
    /// Whether an end of stream before the half-close is expected (e.g.
    /// the server cut a slow consumer off, and said so).
    fn eof_expected(&self, _c: &Self::Conn) -> bool {
        false
    }
    /// Adds the connection's final figures; `alive`: it was still open (not
    /// failed) at the end of the run.
    fn tally(&self, c: &Self::Conn, alive: bool, t: &mut Self::Tally);
}
