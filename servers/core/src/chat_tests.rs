//! Unit tests of the chat state machine, one per rule of `chat/1`.

use crate::chat::{ChatState, ClientId, MAX_ROOMS_PER_CLIENT};
use crate::framing::{Frame, Input};
use crate::outbox::{Closing, Outbox, Queued};

struct H {
    state: ChatState,
    out: Outbox,
}

type Sent = Vec<(ClientId, String)>;

impl H {
    fn new() -> Self {
        H {
            state: ChatState::new("test"),
            out: Outbox::new(),
        }
    }

    /// What the last event produced: every line each client is sent, its close's last line included
    /// (sorted by recipient, stable within one), and the clients closed.
    fn take(&mut self) -> (Sent, Vec<ClientId>) {
        let text = |line: &[u8]| String::from_utf8(line.to_vec()).unwrap();
        let mut sends: Sent = self
            .out
            .sends
            .drain(..)
            .map(|s| (s.to, text(&s.line)))
            .collect();
        let mut closes = Vec::new();
        for Closing { to, close } in self.out.closes.drain(..) {
            sends.extend(close.last_line.map(|line| (to, text(&line))));
            closes.push(to);
        }
        sends.sort_by_key(|s| s.0);
        self.state.check_invariants().unwrap();
        (sends, closes)
    }

    fn connect(&mut self, id: ClientId) -> Sent {
        self.state.connect(id, &mut self.out);
        self.take().0
    }

    /// Sends a line; returns the sends sorted by recipient (stable within one recipient).
    fn line(&mut self, id: ClientId, line: &str) -> Sent {
        self.state.line(id, line, &mut self.out);
        let (mut sends, closes) = self.take();
        assert!(closes.is_empty(), "unexpected close after {line:?}");
        sends.sort_by_key(|s| s.0);
        sends
    }

    fn only(&mut self, id: ClientId, line: &str, reply: &str) {
        assert_eq!(
            self.line(id, line),
            vec![(id, format!("{reply}\n"))],
            "{line:?}"
        );
    }

    /// Connects clients 1..=n, names them, and returns nothing.
    fn with_clients(n: u64) -> Self {
        let mut h = H::new();
        for id in 1..=n {
            h.connect(id);
            h.only(id, &format!("NICK c{id}"), &format!("OK NICK c{id}"));
        }
        h
    }
}

fn s(id: ClientId, line: &str) -> (ClientId, String) {
    (id, format!("{line}\n"))
}

#[test]
fn hello_assigns_unique_guest_nicks() {
    let mut h = H::new();
    assert_eq!(h.connect(7), vec![s(7, "HELLO chat/1 test guest1")]);
    assert_eq!(h.connect(8), vec![s(8, "HELLO chat/1 test guest2")]);
    // A client takes the next guest name; a newcomer skips it.
    h.only(7, "NICK guest3", "OK NICK guest3");
    assert_eq!(h.connect(9), vec![s(9, "HELLO chat/1 test guest4")]);
    // A duplicate connect is ignored.
    assert_eq!(h.connect(9), vec![]);
}

#[test]
fn nick_rename_and_taken() {
    let mut h = H::with_clients(2);
    h.only(1, "NICK c2", "ERR nick-taken");
    h.only(1, "NICK c1", "OK NICK c1");
    h.only(1, "NICK x", "OK NICK x");
    h.only(2, "NICK c1", "OK NICK c1");
    h.only(2, "NICK bad!", "ERR bad-name");
    assert_eq!(h.state.nick(1), Some("x"));
}

#[test]
fn nick_is_broadcast_once_per_peer_sharing_a_room() {
    let mut h = H::with_clients(4);
    for room in ["a", "b"] {
        for id in [1, 2] {
            h.line(id, &format!("JOIN {room}"));
        }
    }
    h.line(3, "JOIN b");
    assert_eq!(
        h.line(1, "NICK new"),
        vec![
            s(1, "OK NICK new"),
            s(2, "NICK c1 new"),
            s(3, "NICK c1 new")
        ]
    );
    // Unchanged: nobody is told.
    h.only(1, "NICK new", "OK NICK new");
}

#[test]
fn join_replies_and_broadcasts() {
    let mut h = H::with_clients(3);
    h.only(1, "JOIN r", "OK JOIN r");
    assert_eq!(
        h.line(2, "JOIN r"),
        vec![s(1, "JOINED r c2"), s(2, "OK JOIN r")]
    );
    // Re-join: only the reply.
    h.only(2, "JOIN r", "OK JOIN r");
    h.only(3, "JOIN r!", "ERR bad-name");
}

#[test]
fn room_limit_is_64_and_rejoin_does_not_count() {
    let mut h = H::with_clients(1);
    for i in 0..MAX_ROOMS_PER_CLIENT {
        h.only(1, &format!("JOIN r{i}"), &format!("OK JOIN r{i}"));
    }
    h.only(1, "JOIN r0", "OK JOIN r0");
    h.only(1, "JOIN extra", "ERR too-many-rooms");
    h.only(1, "LEAVE r5", "OK LEAVE r5");
    h.only(1, "JOIN extra", "OK JOIN extra");
    // bad-name takes precedence over too-many-rooms.
    h.only(1, "JOIN bad!", "ERR bad-name");
}

#[test]
fn leave_replies_and_broadcasts() {
    let mut h = H::with_clients(2);
    h.only(1, "LEAVE r", "ERR not-in-room");
    h.line(1, "JOIN r");
    h.line(2, "JOIN r");
    assert_eq!(
        h.line(2, "LEAVE r"),
        vec![s(1, "LEFT r c2"), s(2, "OK LEAVE r")]
    );
    h.only(2, "LEAVE r", "ERR not-in-room");
    h.only(2, "LEAVE -", "ERR not-in-room");
    h.only(2, "LEAVE r/", "ERR bad-name");
    h.only(1, "LEAVE r", "OK LEAVE r");
    h.only(1, "ROOMS", "ROOMS");
}

#[test]
fn msg_goes_to_other_members_only() {
    let mut h = H::with_clients(3);
    h.line(1, "JOIN r");
    h.line(2, "JOIN r");
    assert_eq!(
        h.line(1, "MSG r hi  there\t!"),
        vec![s(2, "MSG r c1 hi  there\t!")]
    );
    h.only(3, "MSG r hi", "ERR not-in-room");
    h.only(3, "MSG nowhere hi", "ERR not-in-room");
    h.only(3, "MSG r", "ERR bad-args");
    h.only(3, "MSG r! \u{1}", "ERR bad-name");
    h.only(3, "MSG r \u{1}", "ERR bad-text");
    // Alone in a room: nothing at all.
    h.line(3, "JOIN solo");
    assert_eq!(h.line(3, "MSG solo hi"), vec![]);
}

#[test]
fn msg_line_is_shared_between_recipients() {
    let mut h = H::with_clients(3);
    for id in 1..=3 {
        h.line(id, "JOIN r");
    }
    h.state.line(1, "MSG r x", &mut h.out);
    let [a, b] = &h.out.sends[..] else {
        panic!("two sends expected")
    };
    assert!(std::ptr::eq(a.line.as_bytes(), b.line.as_bytes()));
}

#[test]
fn rooms_and_who_are_sorted() {
    let mut h = H::with_clients(3);
    h.only(1, "ROOMS", "ROOMS");
    h.only(1, "NICK zed", "OK NICK zed");
    h.only(2, "NICK Alice", "OK NICK Alice");
    h.only(3, "NICK alice", "OK NICK alice");
    for (id, room) in [(1, "b"), (2, "B"), (3, "a"), (1, "a"), (2, "a")] {
        h.line(id, &format!("JOIN {room}"));
    }
    h.only(3, "ROOMS", "ROOMS B a b");
    h.only(3, "WHO a", "WHO a Alice alice zed");
    h.only(3, "WHO empty", "WHO empty");
    h.only(3, "WHO a b", "ERR bad-args");
    h.only(3, "WHO *", "ERR bad-name");
    h.only(3, "rooms x", "ERR bad-args");
}

#[test]
fn ping_pong() {
    let mut h = H::with_clients(1);
    h.only(1, "PING", "PONG");
    h.only(1, "ping", "PONG");
    h.only(1, "PING ", "PONG ");
    h.only(1, "PING a b  c", "PONG a b  c");
}

#[test]
fn unknown_command() {
    let mut h = H::with_clients(1);
    h.only(1, "HELP", "ERR unknown-command");
    h.only(1, "QUITX", "ERR unknown-command");
}

#[test]
fn quit_says_bye_closes_and_tells_rooms() {
    let mut h = H::with_clients(2);
    h.line(1, "JOIN r");
    h.line(2, "JOIN r");
    h.state.line(1, "QUIT", &mut h.out);
    let (sends, closes) = h.take();
    assert_eq!(sends, vec![s(1, "BYE"), s(2, "LEFT r c1")]);
    assert_eq!(closes, vec![1]);
    assert!(!h.state.is_connected(1));
    // The nick is free again; late lines from the closed client are ignored.
    assert_eq!(h.line(1, "PING"), vec![]);
    h.only(2, "NICK c1", "OK NICK c1");
    h.only(2, "quit now", "ERR bad-args");
}

#[test]
fn disconnect_tells_every_room_and_frees_the_nick() {
    let mut h = H::with_clients(3);
    for (id, room) in [(1, "a"), (1, "b"), (2, "a"), (3, "b"), (2, "solo")] {
        h.line(id, &format!("JOIN {room}"));
    }
    h.state.disconnect(2, &mut h.out);
    let (sends, closes) = h.take();
    assert_eq!(sends, vec![s(1, "LEFT a c2")]);
    assert_eq!(closes, vec![2]);
    h.only(1, "ROOMS", "ROOMS a b");
    h.state.disconnect(2, &mut h.out);
    assert_eq!(h.take(), (vec![], vec![]));
}

#[test]
fn frames_bad_utf8_and_too_long() {
    let mut h = H::with_clients(2);
    h.line(1, "JOIN r");
    h.line(2, "JOIN r");
    h.state.frame(1, Frame::BadUtf8, &mut h.out);
    assert_eq!(h.take(), (vec![s(1, "ERR bad-utf8")], vec![]));
    h.state.frame(1, Frame::Line("PING"), &mut h.out);
    assert_eq!(h.take(), (vec![s(1, "PONG")], vec![]));
    h.state.frame(1, Frame::TooLong, &mut h.out);
    assert_eq!(
        h.take(),
        (vec![s(1, "ERR line-too-long"), s(2, "LEFT r c1")], vec![1])
    );
}

#[test]
fn slow_consumer_is_cut_off_and_rooms_told() {
    let mut h = H::with_clients(2);
    h.line(1, "JOIN r");
    h.line(2, "JOIN r");
    h.state.slow_consumer(2, &mut h.out);
    assert_eq!(h.out.closes[0].close.queued, Queued::Discard);
    assert_eq!(
        h.take(),
        (vec![s(1, "LEFT r c2"), s(2, "ERR slow-consumer")], vec![2])
    );
}

#[test]
fn closes_carry_the_last_line() {
    let mut h = H::with_clients(4);
    let last = |h: &mut H| {
        assert!(h.out.sends.iter().all(|s| s.to != 1), "no plain send");
        let close = &h.out.closes[0].close;
        let line = close
            .last_line
            .as_ref()
            .map(|l| String::from_utf8_lossy(l).into_owned());
        let queued = close.queued;
        h.out.clear();
        (line, queued)
    };
    h.state.line(1, "QUIT", &mut h.out);
    assert_eq!(last(&mut h), (Some("BYE\n".into()), Queued::Flush));
    h.state.input(2, &Input::TooLong, &mut h.out);
    assert_eq!(last(&mut h).0.as_deref(), Some("ERR line-too-long\n"));
    h.state.disconnect(3, &mut h.out);
    assert_eq!(last(&mut h), (None, Queued::Flush));
    h.state.shutdown(&mut h.out);
    assert_eq!(
        last(&mut h),
        (Some("ERR shutting-down\n".into()), Queued::Flush)
    );
}

#[test]
fn input_is_applied_like_its_frame() {
    let mut h = H::with_clients(1);
    h.state.input(1, &Input::Line("PING x".into()), &mut h.out);
    assert_eq!(h.take(), (vec![s(1, "PONG x")], vec![]));
    h.state.input(1, &Input::BadUtf8, &mut h.out);
    assert_eq!(h.take(), (vec![s(1, "ERR bad-utf8")], vec![]));
    assert_eq!(Input::from(Frame::Line("a")).as_frame(), Frame::Line("a"));
}

#[test]
fn shutdown_tells_everyone_without_left() {
    let mut h = H::with_clients(3);
    h.line(1, "JOIN r");
    h.line(2, "JOIN r");
    h.state.shutdown(&mut h.out);
    let (mut sends, mut closes) = h.take();
    sends.sort();
    closes.sort();
    assert_eq!(
        sends,
        vec![
            s(1, "ERR shutting-down"),
            s(2, "ERR shutting-down"),
            s(3, "ERR shutting-down")
        ]
    );
    assert_eq!(closes, vec![1, 2, 3]);
    assert_eq!(h.state.client_count(), 0);
    assert_eq!(h.state.room_count(), 0);
}

#[test]
fn state_errors_come_after_syntax_errors() {
    let mut h = H::with_clients(2);
    h.only(1, "NICK c2 x", "ERR bad-args");
    h.only(1, "MSG nowhere \u{7f}", "ERR bad-text");
    h.only(1, "LEAVE nowhere!", "ERR bad-name");
}
