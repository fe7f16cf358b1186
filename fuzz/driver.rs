//! The fuzz driver for the sans-IO chat core: interprets arbitrary bytes as a script of connects,
//! disconnects, slow-consumer kicks, shutdowns and raw input bytes (split at arbitrary points) for up to
//! 16 clients, and checks after every step that the core keeps its promises:
//!
//! - it never panics, and `ChatState::check_invariants` holds (room members are connected, nicks unique);
//! - every outgoing line ends in exactly one LF and is never empty;
//! - no line caused by one client carries a control character (other than TAB) to another client, so no
//!   client can inject terminal escape sequences into someone else's screen;
//! - a framer never yields a line longer than its limit, or one containing LF;
//! - lines go only to clients that were connected.
//!
//! Used by `cargo fuzz run core` (`fuzz_targets/core.rs`) and by the seeded test in
//! `servers/core/tests/fuzz_driver.rs`, which runs it in CI on thousands of random scripts.

use std::collections::BTreeMap;

use chat_core::{ChatState, ClientId, Frame, Framer, Outbox};

/// The line limit the driver's framers use: small, so overlong lines are common.
const MAX_LINE: usize = 48;
/// At most this many clients connected at once.
const MAX_CLIENTS: usize = 16;

/// Commands with a placeholder that the script fills, so that random input reaches deep states.
const TEMPLATES: &[&str] = &[
    "JOIN r#",
    "join r#",
    "LEAVE r#",
    "MSG r# hello",
    "MSG r# \u{1b}[2J",
    "NICK n#",
    "NICK guest#",
    "WHO r#",
    "ROOMS",
    "PING #",
    "QUIT",
    "MSG r#  two",
    "JOIN  r#",
    "MSG r# \u{85}ok",
];

/// Runs one script. Panics when a promise is broken.
pub fn drive(data: &[u8]) {
    let mut chat = ChatState::new("fuzz");
    let mut out = Outbox::new();
    let mut framers: BTreeMap<ClientId, Framer> = BTreeMap::new();
    let mut next_id: ClientId = 0;
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let pick = input.next().unwrap_or(0);
        let target = framers
            .keys()
            .nth(usize::from(pick) % framers.len().max(1))
            .copied();
        let mut known: Vec<ClientId> = framers.keys().copied().collect();
        known.push(next_id);
        let mut cause = None;
        match op % 8 {
            0 if framers.len() < MAX_CLIENTS => {
                chat.connect(next_id, &mut out);
                framers.insert(next_id, Framer::with_chunk(MAX_LINE, 16));
                next_id += 1;
            }
            1 => {
                if let Some(id) = target {
                    framers.remove(&id);
                    chat.disconnect(id, &mut out);
                }
            }
            2 => {
                if let Some(id) = target {
                    chat.slow_consumer(id, &mut out);
                }
            }
            3 if pick == 0xff => chat.shutdown(&mut out),
            4 => {
                if let Some(id) = target {
                    let template = TEMPLATES[usize::from(pick) % TEMPLATES.len()];
                    let filled = template.replace('#', &(pick % 5).to_string());
                    cause = Some(id);
                    feed(&mut chat, &mut framers, id, filled.as_bytes(), &mut out);
                    feed(&mut chat, &mut framers, id, b"\r\n", &mut out);
                }
            }
            _ => {
                if let Some(id) = target {
                    let len = usize::from(input.next().unwrap_or(0) % 40);
                    let bytes: Vec<u8> = input.by_ref().take(len).collect();
                    cause = Some(id);
                    feed(&mut chat, &mut framers, id, &bytes, &mut out);
                }
            }
        }
        check_outbox(&out, cause, &known);
        for closing in &out.closes {
            let id = closing.to;
            framers.remove(&id);
            assert!(!chat.is_connected(id), "closed client {id} still connected");
        }
        out.clear();
        if let Err(broken) = chat.check_invariants() {
            panic!("invariant broken: {broken}");
        }
    }
    let known: Vec<ClientId> = framers.keys().copied().collect();
    chat.shutdown(&mut out);
    check_outbox(&out, None, &known);
    assert_eq!(chat.client_count(), 0);
    assert_eq!(chat.room_count(), 0);
}

/// Feeds `bytes` to client `id`'s framer in one piece and hands every frame to the state machine.
fn feed(
    chat: &mut ChatState,
    framers: &mut BTreeMap<ClientId, Framer>,
    id: ClientId,
    bytes: &[u8],
    out: &mut Outbox,
) {
    let Some(framer) = framers.get_mut(&id) else {
        return;
    };
    let mut rest = bytes;
    while !rest.is_empty() && !framer.is_spent() {
        let taken = framer.push(rest);
        rest = &rest[taken..];
        while let Some(frame) = framer.next_frame() {
            if let Frame::Line(line) = frame {
                assert!(
                    line.len() <= MAX_LINE,
                    "framer yielded a {}-byte line",
                    line.len()
                );
                assert!(!line.contains('\n'), "framer yielded a line with LF");
                assert!(!line.is_empty(), "framer yielded an empty line");
            }
            chat.frame(id, frame, out);
        }
        if taken == 0 {
            break;
        }
    }
}

/// Checks the shape of every outgoing line, that it goes to a `known` client, and that nothing `cause`
/// sent carries control characters to another client.
fn check_outbox(out: &Outbox, cause: Option<ClientId>, known: &[ClientId]) {
    let last_lines = out
        .closes
        .iter()
        .filter_map(|c| Some((c.to, c.close.last_line.as_ref()?)));
    let sent = out.sends.iter().map(|s| (s.to, &s.line));
    for (to, line) in sent.chain(last_lines) {
        assert!(known.contains(&to), "line to unknown client {to}");
        let line = line.as_bytes();
        assert!(line.len() >= 2, "empty line {line:?}");
        assert_eq!(line.last(), Some(&b'\n'), "line without LF: {line:?}");
        assert!(
            !line[..line.len() - 1].contains(&b'\n'),
            "line with inner LF: {line:?}"
        );
        if cause.is_some_and(|c| c != to) {
            let body = &line[..line.len() - 1];
            assert!(
                !body.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f),
                "control character sent to another client: {line:?}"
            );
        }
    }
}
