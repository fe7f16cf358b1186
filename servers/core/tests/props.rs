//! Property tests: framing is split-proof and matches a reference model; the state machine never
//! panics and keeps its invariants under random event sequences.

use std::collections::HashSet;

use chat_core::{ChatState, Frame, Framer, Lines, Outbox};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Line(String),
    BadUtf8,
    TooLong,
}

fn own(frame: Frame<'_>) -> Owned {
    match frame {
        Frame::Line(s) => Owned::Line(s.to_owned()),
        Frame::BadUtf8 => Owned::BadUtf8,
        Frame::TooLong => Owned::TooLong,
    }
}

/// The obvious, unbounded model of the framing rules.
fn reference(max: usize, mut rest: &[u8]) -> Vec<Owned> {
    let mut out = Vec::new();
    loop {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let mut line = &rest[..i];
                if let [head @ .., b'\r'] = line {
                    line = head;
                }
                if line.len() > max {
                    out.push(Owned::TooLong);
                    return out;
                }
                if !line.is_empty() {
                    out.push(match std::str::from_utf8(line) {
                        Ok(s) => Owned::Line(s.to_owned()),
                        Err(_) => Owned::BadUtf8,
                    });
                }
                rest = &rest[i + 1..];
            }
            None => {
                let n = rest.len();
                if n > max + 1 || (n == max + 1 && rest.last() != Some(&b'\r')) {
                    out.push(Owned::TooLong);
                }
                return out;
            }
        }
    }
}

/// Feeds `input` through `spare`/`filled` in pieces of the given sizes (cycled).
fn via_spare(max: usize, chunk: usize, input: &[u8], sizes: &[usize]) -> Vec<Owned> {
    let mut f = Framer::with_chunk(max, chunk);
    let mut out = Vec::new();
    let mut data = input;
    let mut i = 0;
    while !data.is_empty() && !f.is_spent() {
        let want = sizes[i % sizes.len()].max(1);
        i += 1;
        let spare = f.spare();
        assert!(spare.len() >= chunk, "spare area shrank below chunk");
        let n = want.min(spare.len()).min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        f.filled(n);
        data = &data[n..];
        while let Some(frame) = f.next_frame() {
            out.push(own(frame));
        }
        assert!(f.pending() <= max + 1 || f.is_spent());
    }
    out
}

fn via_push(max: usize, input: &[u8]) -> Vec<Owned> {
    let mut f = Framer::new(max);
    let mut out = Vec::new();
    let mut data = input;
    while !data.is_empty() {
        let n = f.push(data);
        data = &data[n..];
        while let Some(frame) = f.next_frame() {
            out.push(own(frame));
        }
    }
    out
}

/// Feeds `input` to [`Lines`] in pieces of the given sizes (cycled), as reads into a shared buffer do.
fn via_lines(max: usize, input: &[u8], sizes: &[usize]) -> Vec<Owned> {
    let mut lines = Lines::new(max);
    let mut out = Vec::new();
    let mut data = input;
    let mut i = 0;
    while !data.is_empty() {
        let n = sizes[i % sizes.len()].max(1).min(data.len());
        i += 1;
        let mut piece = &data[..n];
        data = &data[n..];
        while let Some(frame) = lines.next_frame(&mut piece) {
            out.push(own(frame));
        }
        assert!(piece.is_empty());
        assert!(lines.pending() <= max + 1);
    }
    out
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => prop::sample::select(b"ab \t".to_vec()),
        3 => Just(b'\n'),
        2 => Just(b'\r'),
        1 => prop::sample::select(vec![0xc3, 0xa9, 0xff, 0x00, 0x80]),
    ];
    prop::collection::vec(byte, 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn framing_is_split_proof(
        input in bytes(),
        max in 0usize..24,
        chunk in 1usize..9,
        sizes in prop::collection::vec(1usize..40, 1..12),
    ) {
        let expected = reference(max, &input);
        prop_assert_eq!(&via_push(max, &input), &expected);
        prop_assert_eq!(&via_spare(max, chunk, &input, &sizes), &expected);
        prop_assert_eq!(&via_lines(max, &input, &sizes), &expected);
    }
}

#[derive(Debug, Clone)]
enum Event {
    Connect(u64),
    Line(u64, String),
    Disconnect(u64),
    Slow(u64),
    BadUtf8(u64),
    TooLong(u64),
    Shutdown,
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "c", "guest1", "guest2", "x.y", "bad!", "", "é",
    ])
    .prop_map(str::to_owned)
}

fn line() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "NICK", "JOIN", "LEAVE", "MSG", "ROOMS", "WHO", "PING", "QUIT", "join", "msg", "FOO",
    ]);
    let text = prop::sample::select(vec!["hi", " ", "a\tb", "\u{1}", "\u{85}", ""]);
    (
        word,
        prop::collection::vec(name(), 0..3),
        text,
        any::<bool>(),
    )
        .prop_map(|(word, args, text, with_text)| {
            let mut line = word.to_owned();
            for arg in args {
                line.push(' ');
                line.push_str(&arg);
            }
            if with_text {
                line.push(' ');
                line.push_str(text);
            }
            line
        })
}

fn event() -> impl Strategy<Value = Event> {
    let id = 0u64..6;
    prop_oneof![
        3 => id.clone().prop_map(Event::Connect),
        12 => (id.clone(), line()).prop_map(|(id, l)| Event::Line(id, l)),
        1 => id.clone().prop_map(Event::Disconnect),
        1 => id.clone().prop_map(Event::Slow),
        1 => id.clone().prop_map(Event::BadUtf8),
        1 => id.prop_map(Event::TooLong),
        1 => Just(Event::Shutdown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn state_machine_keeps_invariants(events in prop::collection::vec(event(), 0..80)) {
        let mut state = ChatState::new("prop");
        let mut out = Outbox::new();
        for event in events {
            let before: HashSet<u64> = (0..6).filter(|&id| state.is_connected(id)).collect();
            out.clear();
            match &event {
                Event::Connect(id) => state.connect(*id, &mut out),
                Event::Line(id, l) => state.line(*id, l, &mut out),
                Event::Disconnect(id) => state.disconnect(*id, &mut out),
                Event::Slow(id) => state.slow_consumer(*id, &mut out),
                Event::BadUtf8(id) => state.frame(*id, Frame::BadUtf8, &mut out),
                Event::TooLong(id) => state.frame(*id, Frame::TooLong, &mut out),
                Event::Shutdown => state.shutdown(&mut out),
            }
            if let Err(e) = state.check_invariants() {
                return Err(TestCaseError::fail(format!("{e} after {event:?}")));
            }
            let mut recipients: HashSet<u64> = before.clone();
            if let Event::Connect(id) = event {
                recipients.insert(id);
            }
            for send in &out.sends {
                prop_assert!(recipients.contains(&send.to), "send to stranger {} after {:?}", send.to, event);
                prop_assert!(send.line.ends_with(b"\n"));
                prop_assert_eq!(send.line.iter().filter(|&&b| b == b'\n').count(), 1);
            }
            let closed: Vec<u64> = out.closes.iter().map(|c| c.to).collect();
            for closing in &out.closes {
                prop_assert!(before.contains(&closing.to));
                prop_assert!(!state.is_connected(closing.to));
                if let Some(line) = &closing.close.last_line {
                    prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
                }
            }
            for id in before {
                prop_assert!(state.is_connected(id) || closed.contains(&id));
            }
            // Every listed room is non-empty.
            if let Some(&id) = (0..6).filter(|id| state.is_connected(*id)).collect::<Vec<_>>().first() {
                out.clear();
                state.line(id, "ROOMS", &mut out);
                let rooms = String::from_utf8(out.sends[0].line.to_vec()).unwrap();
                for room in rooms.trim_end().split(' ').skip(1) {
                    out.clear();
                    state.line(id, &format!("WHO {room}"), &mut out);
                    let who = String::from_utf8(out.sends[0].line.to_vec()).unwrap();
                    prop_assert!(who.trim_end().split(' ').count() > 2, "{} is empty", room);
                }
            }
        }
    }
}
