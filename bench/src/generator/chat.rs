//! The `chat` scenario: fan-out through chat rooms (`chat/1`, see
//! docs/PROTOCOL.md), on the same engine as every other scenario.
//!
//! `rooms × members` clients connect, read `HELLO`, `JOIN` their room and
//! wait for `OK JOIN` (the protocol's handshake); only then does the load
//! start. `senders` of them (spread evenly over the rooms) send `MSG <room>
//! <text>` on the engine's open-loop schedule (`rate` messages/s over all
//! senders). The text carries, in fixed-width fields, the sender id, its
//! sequence number, the actual and the intended send time, padded to `size`
//! bytes, so every line of a sender has the same length. Every receiver
//! checks, per sender, that sequence numbers arrive in order, once, and
//! completely; fan-out latency is the time from the send to each receipt.
//! Lines are parsed where they were read; only a line split across two
//! reads is copied (into a per-client buffer allocated once).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::results::chat::{ChatReport, ChatSettings};

use super::engine::protocol::{Fault, Outgoing, Protocol, Receipts, Tally};
use super::engine::{self, LoadSpec, Spec};
use super::progress::{NoProgress, Progress};
use super::sequence::{Arrival, SequenceTracker};
use crate::error::{Error, Result};
use crate::results::hist::HistogramReport;

/// Bytes of the fixed-width header of a message text:
/// `SSSSS:QQQQQQQQQQ:TTTTTTTTTTTTTTTT:IIIIIIIIIIIIIIII:` (sender id, sequence
/// number, actual and intended send time in ns after the start of the load).
pub const HEADER_LEN: usize = 5 + 1 + 10 + 1 + 16 + 1 + 16 + 1;

const ID_DIGITS: usize = 5;

const SEQ_DIGITS: usize = 10;

const TIME_DIGITS: usize = 16;

/// Longest line a client accepts (the server's default `--max-line` is
/// 4096 bytes of text plus the `MSG <room> <nick> ` prefix).
const MAX_LINE: usize = 8192;

impl ChatSettings {
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidSettings(m.to_string()));
        let name_ok = |n: &str| {
            (1..=32).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        };
        if !name_ok(&format!(
            "{}{}",
            self.room_prefix,
            self.rooms.saturating_sub(1)
        )) {
            return bad("the room prefix must make names of 1-32 bytes of A-Za-z0-9_-.");
        }
        if self.rooms == 0 || self.members == 0 {
            return bad("--rooms and --members must be at least 1");
        }
        if self.senders == 0 || self.senders > self.clients() {
            return bad("--senders must be between 1 and rooms × members");
        }
        if self.senders >= 10usize.pow(ID_DIGITS as u32) {
            return bad("--senders must be below 100000");
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return bad("--rate must be a positive number of messages per second");
        }
        if self.duration.is_zero() {
            return bad("--duration must be positive");
        }
        if self.size > 4000 {
            return bad("--size must fit a chat line (at most 4000 bytes)");
        }
        Ok(())
    }

    /// The room of sender `j` (senders are spread round-robin over rooms).
    fn sender_room(&self, j: usize) -> usize {
        j % self.rooms
    }

    /// The client index of sender `j`: member `j / rooms` of its room.
    fn sender_client(&self, j: usize) -> usize {
        self.sender_room(j) * self.members + j / self.rooms
    }

    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            addr: self.addr,
            endpoint: super::transport::endpoint(&self.transport, self.addr)?,
            conns: self.clients(),
            threads: self.threads,
            cpus: self.cpus.clone(),
            source_ips: self.source_ips.clone(),
            connect_rate: self.connect_rate,
            connect_timeout: self.join_timeout,
            load: LoadSpec::Open {
                rate: self.rate,
                max_inflight: 1,
            },
            warmup: self.warmup,
            duration: self.duration,
            timeout: self.drain_timeout,
            drain_timeout: self.drain_timeout,
            record: true,
            server_pid: self.server_pid,
            sample_interval: self.sample_interval,
            interval: self.interval,
        })
    }
}

/// The chat protocol, shared by every worker: who sends in which room, and
/// each sender's final count once the load stops.
#[derive(Debug)]
pub(crate) struct ChatProtocol {
    room_prefix: String,
    members: usize,
    senders: usize,
    /// Text length of every message (`max(size, HEADER_LEN)`).
    text_len: usize,
    /// Per client: its sender id, if it sends.
    client_sender: Vec<Option<usize>>,
    /// Per room: its senders, in position order.
    room_senders: Vec<Vec<usize>>,
    /// Per sender: its position among its room's senders.
    sender_pos: Vec<usize>,
    /// Per sender: messages started when the load stopped.
    final_sent: Vec<AtomicU64>,
    /// Senders whose final count is known.
    senders_done: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Hello,
    Joining,
    Joined,
}

/// One chat client's state.
#[derive(Debug)]
pub(crate) struct ChatClient {
    index: usize,
    room: usize,
    join: Join,
    sender: Option<usize>,
    /// `MSG <room name> `.
    prefix: Vec<u8>,
    /// Bytes of one line this client sends (0: it does not send).
    line_len: usize,
    /// A line split across reads (allocated once).
    partial: Vec<u8>,
    /// Per sender of the room (by position): the sequence numbers seen.
    seqs: Vec<SequenceTracker>,
    cut_off: bool,
    deliveries: u64,
    duplicated: u64,
    reordered: u64,
    corrupt: u64,
}

/// The chat protocol's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChatTally {
    deliveries: u64,
    expected: u64,
    unique: u64,
    cut_expected: u64,
    cut_unique: u64,
    duplicated: u64,
    reordered: u64,
    corrupt: u64,
    cutoffs: u64,
}

impl Tally for ChatTally {
    fn add(&mut self, o: &Self) {
        self.deliveries += o.deliveries;
        self.expected += o.expected;
        self.unique += o.unique;
        self.cut_expected += o.cut_expected;
        self.cut_unique += o.cut_unique;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.corrupt += o.corrupt;
        self.cutoffs += o.cutoffs;
    }
}

impl ChatProtocol {
    fn new(s: &ChatSettings) -> ChatProtocol {
        let mut room_senders = vec![Vec::new(); s.rooms];
        let mut sender_pos = vec![0; s.senders];
        let mut client_sender = vec![None; s.clients()];
        for (j, pos) in sender_pos.iter_mut().enumerate() {
            let r = s.sender_room(j);
            *pos = room_senders[r].len();
            room_senders[r].push(j);
            client_sender[s.sender_client(j)] = Some(j);
        }
        ChatProtocol {
            room_prefix: s.room_prefix.clone(),
            members: s.members,
            senders: s.senders,
            text_len: s.size.max(HEADER_LEN),
            client_sender,
            room_senders,
            sender_pos,
            final_sent: (0..s.senders).map(|_| AtomicU64::new(0)).collect(),
            senders_done: AtomicU64::new(0),
        }
    }

    /// Handles one complete line (without its LF).
    fn line<R: Receipts>(&self, c: &mut ChatClient, line: &[u8], rx: &mut R) -> Result<(), Fault> {
        if let Some(rest) = line.strip_prefix(b"MSG ") {
            self.message(c, rest, rx);
            return Ok(());
        }
        match c.join {
            Join::Hello if line.starts_with(b"HELLO ") => {
                c.join = Join::Joining;
                rx.reply(b"JOIN ");
                rx.reply(&c.prefix[4..c.prefix.len() - 1]);
                rx.reply(b"\n");
            }
            Join::Joining if line.starts_with(b"OK JOIN ") => {
                c.join = Join::Joined;
                rx.ready();
            }
            _ if line.starts_with(b"ERR slow-consumer") => c.cut_off = true,
            _ if line.starts_with(b"ERR ") => {
                return Err(Fault::Refused(format!(
                    "client {}: server said {:?}",
                    c.index,
                    String::from_utf8_lossy(line)
                )));
            }
            // JOINED / LEFT / NICK lines of other members.
            _ => {}
        }
        Ok(())
    }

    /// Handles `<room> <nick> <text>` of a MSG line.
    fn message<R: Receipts>(&self, c: &mut ChatClient, rest: &[u8], rx: &mut R) {
        let mut it = rest.splitn(3, |&b| b == b' ');
        let (_, _, text) = (it.next(), it.next(), it.next());
        let parsed = text
            .filter(|t| t.len() == self.text_len)
            .and_then(parse_text);
        let Some(m) = parsed else {
            c.corrupt += 1;
            return;
        };
        let pos = match self.sender_pos.get(m.sender) {
            Some(&p) if self.room_senders[c.room].get(p) == Some(&m.sender) => p,
            _ => {
                c.corrupt += 1;
                return;
            }
        };
        c.deliveries += 1;
        match c.seqs[pos].arrive_at(m.seq, m.intended_ns) {
            Arrival::InOrder => {}
            Arrival::Late => c.reordered += 1,
            Arrival::Duplicate => c.duplicated += 1,
        }
        rx.delivered(m.sent_ns, m.intended_ns);
    }
}

impl Protocol for ChatProtocol {
    type Conn = ChatClient;
    type Tally = ChatTally;
    const REPLIES: bool = false;
    const HALF_CLOSE: bool = false;

    fn sends(&self, id: usize) -> bool {
        self.client_sender.get(id).is_some_and(|s| s.is_some())
    }

    fn open(&self, id: usize) -> ChatClient {
        let room = id / self.members;
        let prefix = format!("MSG {}{room} ", self.room_prefix).into_bytes();
        let sender = self.client_sender.get(id).copied().flatten();
        let n = self.room_senders.get(room).map_or(0, Vec::len);
        ChatClient {
            index: id,
            room,
            join: Join::Hello,
            sender,
            line_len: if sender.is_some() {
                prefix.len() + self.text_len + 1
            } else {
                0
            },
            prefix,
            partial: Vec::with_capacity(MAX_LINE),
            seqs: vec![SequenceTracker::default(); n],
            cut_off: false,
            deliveries: 0,
            duplicated: 0,
            reordered: 0,
            corrupt: 0,
        }
    }

    fn ready_on_connect(&self) -> bool {
        false
    }

    fn message_len(&self, c: &ChatClient) -> usize {
        c.line_len
    }

    fn fill(&self, c: &ChatClient, m: &Outgoing, within: usize, out: &mut [u8]) {
        let mut header = [0u8; HEADER_LEN];
        let id = c.sender.unwrap_or(0) as u64;
        write_header(&mut header, id, m.index, m.sent_ns, m.intended_ns);
        let p = c.prefix.len();
        let pad_end = p + self.text_len; // the LF's position
        for (i, b) in out.iter_mut().enumerate() {
            let at = within + i;
            *b = if at < p {
                c.prefix[at]
            } else if at < p + HEADER_LEN {
                header[at - p]
            } else if at < pad_end {
                b'x'
            } else {
                b'\n'
            };
        }
    }

    fn receive<R: Receipts>(
        &self,
        c: &mut ChatClient,
        data: &[u8],
        rx: &mut R,
    ) -> Result<(), Fault> {
        let mut rest = data;
        while !rest.is_empty() {
            let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                append(&mut c.partial, rest, c.index)?;
                break;
            };
            let (head, tail) = (&rest[..lf], &rest[lf + 1..]);
            if c.partial.is_empty() {
                self.line(c, head, rx)?;
            } else {
                append(&mut c.partial, head, c.index)?;
                let mut line = std::mem::take(&mut c.partial);
                let r = self.line(c, &line, rx);
                line.clear();
                c.partial = line;
                r?;
            }
            rest = tail;
        }
        Ok(())
    }

    fn stop_sending(&self, c: &ChatClient, sent: u64) {
        if let Some(j) = c.sender {
            self.final_sent[j].store(sent, Ordering::Release);
            self.senders_done.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn unfinished(&self, c: &ChatClient, alive: bool, each: &mut dyn FnMut(u64, u64)) {
        if !(alive || c.cut_off) {
            return;
        }
        for (pos, &j) in self.room_senders[c.room].iter().enumerate() {
            if c.sender == Some(j) {
                continue;
            }
            let sent = self.final_sent[j].load(Ordering::Acquire);
            let seqs = &c.seqs[pos];
            for k in seqs.missing_below(sent) {
                if let Some(t) = seqs.intended_of(k) {
                    each(t, 1);
                }
            }
        }
    }

    fn receipts_per_message(&self, _c: &ChatClient) -> u64 {
        self.members.saturating_sub(1) as u64
    }

    fn complete(&self, c: &ChatClient, _written: u64) -> bool {
        if self.senders_done.load(Ordering::Acquire) < self.senders as u64 {
            return false;
        }
        self.room_senders[c.room]
            .iter()
            .enumerate()
            .all(|(pos, &j)| {
                c.sender == Some(j)
                    || c.seqs[pos].unique() >= self.final_sent[j].load(Ordering::Acquire)
            })
    }

    fn eof_expected(&self, c: &ChatClient) -> bool {
        c.cut_off
    }

    fn tally(&self, c: &ChatClient, alive: bool, t: &mut ChatTally) {
        t.deliveries += c.deliveries;
        t.duplicated += c.duplicated;
        t.reordered += c.reordered;
        t.corrupt += c.corrupt;
        t.cutoffs += u64::from(c.cut_off);
        for (pos, &j) in self.room_senders[c.room].iter().enumerate() {
            if c.sender == Some(j) {
                continue;
            }
            let sent = self.final_sent[j].load(Ordering::Acquire);
            if c.cut_off {
                t.cut_expected += sent;
                t.cut_unique += c.seqs[pos].unique_below(sent);
            } else if alive {
                t.expected += sent;
                t.unique += c.seqs[pos].unique_below(sent);
            }
        }
    }
}

/// Appends to a client's split-line buffer without growing it.
fn append(buf: &mut Vec<u8>, bytes: &[u8], client: usize) -> Result<(), Fault> {
    if buf.len() + bytes.len() > buf.capacity().max(MAX_LINE) {
        return Err(Fault::Mismatch(format!(
            "client {client}: a line longer than {MAX_LINE} bytes"
        )));
    }
    buf.extend_from_slice(bytes);
    Ok(())
}

/// Writes `v` as `digits` decimal digits (the lowest ones if it has more).
fn write_digits(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn write_header(out: &mut [u8; HEADER_LEN], id: u64, seq: u64, sent_ns: u64, intended_ns: u64) {
    let mut at = 0;
    for (v, n) in [
        (id, ID_DIGITS),
        (seq, SEQ_DIGITS),
        (sent_ns, TIME_DIGITS),
        (intended_ns, TIME_DIGITS),
    ] {
        write_digits(&mut out[at..at + n], v);
        out[at + n] = b':';
        at += n + 1;
    }
}

/// The fields of a message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageText {
    /// Sender id.
    pub sender: usize,
    /// Sequence number of the sender's message.
    pub seq: u64,
    /// Actual send time, ns after the start of the load.
    pub sent_ns: u64,
    /// Intended send time, ns after the start of the load.
    pub intended_ns: u64,
}

/// Formats the text of a message, padded with `x` to `size` bytes (or the
/// header alone if `size` is smaller), appending to `out`.
pub fn format_text(out: &mut Vec<u8>, m: &MessageText, size: usize) {
    let mut header = [0u8; HEADER_LEN];
    write_header(
        &mut header,
        m.sender as u64,
        m.seq,
        m.sent_ns,
        m.intended_ns,
    );
    out.extend_from_slice(&header);
    out.resize(out.len() + size.saturating_sub(HEADER_LEN), b'x');
}

/// Parses a text made by [`format_text`].
pub fn parse_text(text: &[u8]) -> Option<MessageText> {
    let header = text.get(..HEADER_LEN)?;
    if !text[HEADER_LEN..].iter().all(|&b| b == b'x') {
        return None;
    }
    let mut at = 0;
    let mut field = |n: usize| -> Option<u64> {
        let digits = header.get(at..at + n)?;
        if header.get(at + n) != Some(&b':') {
            return None;
        }
        at += n + 1;
        digits.iter().try_fold(0u64, |v, &d| {
            d.is_ascii_digit().then(|| v * 10 + u64::from(d - b'0'))
        })
    };
    Some(MessageText {
        sender: usize::try_from(field(ID_DIGITS)?).ok()?,
        seq: field(SEQ_DIGITS)?,
        sent_ns: field(TIME_DIGITS)?,
        intended_ns: field(TIME_DIGITS)?,
    })
}

/// Runs a chat scenario.
pub fn run(settings: &ChatSettings) -> Result<ChatReport> {
    run_with(settings, &mut NoProgress)
}

/// Runs a chat scenario, reporting progress.
pub fn run_with(settings: &ChatSettings, progress: &mut dyn Progress) -> Result<ChatReport> {
    settings.check()?;
    let proto = Arc::new(ChatProtocol::new(settings));
    let o = engine::run(&settings.spec()?, proto, progress)?;
    let t = o.tally;
    let per_s = |x: u64| {
        if o.window_s > 0.0 {
            x as f64 / o.window_s
        } else {
            0.0
        }
    };
    let e = &o.errors;
    Ok(ChatReport {
        settings: settings.clone(),
        threads: o.threads,
        clients: settings.clients(),
        joined: o.ready,
        join_failures: settings.clients() - o.ready,
        join_s: o.ready_s,
        window_s: o.window_s,
        sent: o.sent,
        sent_total: o.sent_total,
        unsent: o.unsent,
        deliveries: o.messages,
        deliveries_total: t.deliveries,
        deliveries_expected: t.expected,
        deliveries_per_s: per_s(o.received),
        latency_lower_bounds: o.lower_bounds,
        send_lag: Some(HistogramReport::of(&o.send_lag)?),
        msgs_per_s: per_s(o.sent),
        latency: HistogramReport::of(&o.latency)?,
        latency_corrected: HistogramReport::of(&o.corrected)?,
        lost: t.expected.saturating_sub(t.unique),
        duplicated: t.duplicated,
        reordered: t.reordered,
        corrupt: t.corrupt + e.mismatches,
        slow_consumer_cutoffs: t.cutoffs,
        lost_to_cutoffs: t.cut_expected.saturating_sub(t.cut_unique),
        disconnects: e.resets
            + e.unexpected_eof
            + e.other_io
            + e.refused
            + e.timeouts
            + e.incomplete,
        first_error: o.first_error,
        drained: e.drain_timeouts == 0,
        fairness: crate::results::fairness::Fairness::of(&o.per_conn, o.window_s),
        cost: o.cost,
        series: o.series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let m = MessageText {
            sender: 7,
            seq: 42,
            sent_ns: 123_456_789,
            intended_ns: 123_000_000,
        };
        let mut v = Vec::new();
        format_text(&mut v, &m, 64);
        assert_eq!(v.len(), 64);
        assert_eq!(parse_text(&v), Some(m));
        let mut short = Vec::new();
        format_text(&mut short, &m, 4);
        assert_eq!(short.len(), HEADER_LEN);
        assert_eq!(parse_text(&short), Some(m));
        v[HEADER_LEN + 1] = b'y';
        assert_eq!(parse_text(&v), None);
        assert_eq!(parse_text(b"7:42:1:xxy"), None);
        assert_eq!(parse_text(b"hello"), None);
    }

    #[test]
    fn fill_writes_the_line_in_any_pieces() {
        let mut s = ChatSettings::new("127.0.0.1:1".parse().unwrap());
        s.rooms = 2;
        s.members = 3;
        s.senders = 2;
        let p = ChatProtocol::new(&s);
        let c = p.open(s.sender_client(1));
        let len = p.message_len(&c);
        let m = Outgoing {
            index: 3,
            sent_ns: 10,
            intended_ns: 9,
        };
        let mut whole = vec![0u8; len];
        p.fill(&c, &m, 0, &mut whole);
        assert!(whole.starts_with(b"MSG r1 00001:0000000003:"));
        assert_eq!(whole.last(), Some(&b'\n'));
        let text = &whole[7..len - 1];
        assert_eq!(
            parse_text(text),
            Some(MessageText {
                sender: 1,
                seq: 3,
                sent_ns: 10,
                intended_ns: 9
            })
        );
        let mut pieces = vec![0u8; len];
        for (a, b) in [(0, 5), (5, 40), (40, len)] {
            p.fill(&c, &m, a, &mut pieces[a..b]);
        }
        assert_eq!(pieces, whole);
        assert_eq!(p.message_len(&p.open(2)), 0);
    }

    #[test]
    fn senders_spread_over_rooms() {
        let mut s = ChatSettings::new("127.0.0.1:1".parse().unwrap());
        s.rooms = 3;
        s.members = 4;
        s.senders = 5;
        let clients: Vec<usize> = (0..5).map(|j| s.sender_client(j)).collect();
        assert_eq!(clients, vec![0, 4, 8, 1, 5]);
        assert!(s.check().is_ok());
        s.senders = 13;
        assert!(s.check().is_err());
    }

    #[derive(Default)]
    struct Seen {
        delivered: Vec<(u64, u64)>,
        ready: bool,
        replies: Vec<u8>,
    }

    impl Receipts for Seen {
        fn completed(&mut self, _n: u64) {}
        fn declined(&mut self) {}
        fn delivered(&mut self, sent_ns: u64, intended_ns: u64) {
            self.delivered.push((sent_ns, intended_ns));
        }
        fn ready(&mut self) {
            self.ready = true;
        }
        fn reply(&mut self, bytes: &[u8]) {
            self.replies.extend_from_slice(bytes);
        }
        fn written(&self) -> u64 {
            0
        }
    }

    #[test]
    fn lines_split_anywhere_across_reads_are_handled_alike() {
        let mut s = ChatSettings::new("127.0.0.1:1".parse().unwrap());
        s.members = 3;
        s.senders = 2;
        let p = ChatProtocol::new(&s);
        // Client 2 receives from senders 0 and 1.
        let mut stream = b"HELLO chat/1\nOK JOIN r0\nJOINED r0 x\n".to_vec();
        for (sender, seq) in [(0, 0), (1, 0), (0, 1), (1, 1), (0, 1)] {
            stream.extend_from_slice(b"MSG r0 nick ");
            let m = MessageText {
                sender,
                seq,
                sent_ns: 100 + seq,
                intended_ns: 90 + seq,
            };
            format_text(&mut stream, &m, s.size);
            stream.push(b'\n');
        }
        for cut in [1, 7, 13, 40, 64, 100] {
            let mut c = p.open(2);
            let mut seen = Seen::default();
            for piece in stream.chunks(cut) {
                p.receive(&mut c, piece, &mut seen).unwrap();
            }
            assert!(seen.ready, "{cut}");
            assert_eq!(seen.replies, b"JOIN r0\n", "{cut}");
            assert_eq!(seen.delivered.len(), 5, "{cut}");
            assert_eq!(seen.delivered[2], (101, 91), "{cut}");
            assert_eq!((c.duplicated, c.reordered, c.corrupt), (1, 0, 0), "{cut}");
            let unique: Vec<u64> = c.seqs.iter().map(SequenceTracker::unique).collect();
            assert_eq!(unique, [2, 2], "{cut}");
        }
    }
}
