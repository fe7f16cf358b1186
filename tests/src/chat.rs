//! Conformance cases for the `chat/1` app, one (at least) per rule of `docs/PROTOCOL.md` section 3.
//!
//! Names are unique per case and run ([`unique`]), so the cases can run one after another against one
//! long-running server. "Nothing else arrived" is checked with [`ChatClient::sync`]: a `PING` whose
//! `PONG` must be the very next line.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use server_common::App;

use crate::chat_client::{ChatClient, is_err_line, unique};
pub use crate::chat_delivery::{
    msg_after_ok_join_arrives, nick_free_after_disconnect, ordering_across_rooms,
};
use crate::client::{IO_TIMEOUT, preview};
use crate::suite::{Case, Skipped, Target};

/// Every chat case, in the order the `conformance` binary runs them.
pub const CASES: &[Case] = &[
    case("hello", hello),
    case("guest_nicks_are_unique", guest_nicks_are_unique),
    case("nick_rename", nick_rename),
    case("nick_taken_and_freed", nick_taken_and_freed),
    case("nick_broadcast_once_per_peer", nick_broadcast_once_per_peer),
    case("join_and_joined", join_and_joined),
    case("leave_and_left", leave_and_left),
    case("msg_to_other_members", msg_to_other_members),
    case("msg_not_in_room", msg_not_in_room),
    case("rooms_sorted", rooms_sorted),
    case("who_sorted", who_sorted),
    case("ping_token", ping_token),
    case("quit_bye_and_left", quit_bye_and_left),
    case("commands_case_insensitive", commands_case_insensitive),
    case("crlf_telnet_session", crlf_telnet_session),
    case("unknown_command", unknown_command),
    case("bad_args", bad_args),
    case("bad_name", bad_name),
    case("error_precedence", error_precedence),
    case("control_characters_rejected", control_characters_rejected),
    case("text_verbatim", text_verbatim),
    case("empty_lines_ignored", empty_lines_ignored),
    case("bad_utf8_keeps_connection", bad_utf8_keeps_connection),
    case("line_length_boundary", line_length_boundary),
    case("line_too_long_closes", line_too_long_closes),
    case("room_limit_64", room_limit_64),
    case("replies_in_order", replies_in_order),
    case("left_on_disconnect", left_on_disconnect),
    case("half_close", half_close),
    case("server_full", server_full),
    case("ordering_one_sender", ordering_one_sender),
    case("per_room_agreement", per_room_agreement),
    case("ordering_across_rooms", ordering_across_rooms),
    case("msg_after_ok_join_arrives", msg_after_ok_join_arrives),
    case("nick_free_after_disconnect", nick_free_after_disconnect),
    case("slow_consumer", slow_consumer),
];

const fn case(name: &'static str, run: fn(&Target) -> Result<()>) -> Case {
    Case {
        name,
        app: App::Chat,
        run,
    }
}

fn connect(target: &Target) -> Result<ChatClient> {
    ChatClient::connect(target)
}

/// The expected `WHO <room>` reply for these members.
fn who(room: &str, nicks: &[&str]) -> String {
    let mut sorted = nicks.to_vec();
    sorted.sort_unstable();
    let mut line = format!("WHO {room}");
    for nick in sorted {
        line.push(' ');
        line.push_str(nick);
    }
    line
}

/// Connects and renames to a unique nick starting with `prefix`.
fn named(target: &Target, prefix: &str) -> Result<ChatClient> {
    let mut client = connect(target)?;
    client.set_nick(&unique(prefix))?;
    Ok(client)
}

/// On connect: `HELLO chat/1 <impl> guest<N>`, the same implementation name for every client.
pub fn hello(target: &Target) -> Result<()> {
    let a = connect(target)?;
    let b = connect(target)?;
    ensure!(!a.imp.is_empty(), "empty implementation name");
    ensure!(
        a.imp == b.imp,
        "implementation names differ: {} {}",
        a.imp,
        b.imp
    );
    ensure!(a.nick != b.nick, "two clients got the nick {}", a.nick);
    Ok(())
}

/// An assigned guest nick never equals one a connected client holds, even one a client chose.
pub fn guest_nicks_are_unique(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    let n: u64 = a.nick["guest".len()..].parse()?;
    // Take the next few guest names by hand, then connect more clients.
    let mut holders = Vec::new();
    for k in 1..=3 {
        let mut holder = connect(target)?;
        let nick = format!("guest{}", n + 2 * k);
        holder.call(&format!("NICK {nick}"), &format!("OK NICK {nick}"))?;
        holder.nick = nick;
        holders.push(holder);
    }
    let mut held: BTreeSet<String> = holders.iter().map(|h| h.nick.clone()).collect();
    held.insert(a.nick.clone());
    for _ in 0..8 {
        let newcomer = connect(target)?;
        ensure!(
            held.insert(newcomer.nick.clone()),
            "assigned {} which a connected client holds",
            newcomer.nick
        );
        holders.push(newcomer);
    }
    a.sync()
}

/// `NICK` answers `OK NICK <nick>`, the new nick shows in `WHO`; an unchanged nick is still `OK`.
pub fn nick_rename(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    let room = unique("nr");
    a.join(&room)?;
    let nick = unique("N.a_m-e");
    a.set_nick(&nick)?;
    a.call(&format!("WHO {room}"), &format!("WHO {room} {nick}"))?;
    a.set_nick(&nick)?;
    a.call_err("NICK bad!", "bad-name")
}

/// A nick held by another client is `ERR nick-taken`; it is free again once its holder quits or
/// renames. Nicks are case-sensitive.
pub fn nick_taken_and_freed(target: &Target) -> Result<()> {
    let mut a = named(target, "taken")?;
    let mut b = connect(target)?;
    let wanted = a.nick.clone();
    b.call_err(&format!("NICK {wanted}"), "nick-taken")?;
    b.set_nick(&wanted.to_uppercase())?;
    a.set_nick(&unique("moved"))?;
    b.set_nick(&wanted)?;
    let mut c = connect(target)?;
    c.call_err(&format!("NICK {wanted}"), "nick-taken")?;
    b.call("QUIT", "BYE")?;
    b.expect_closed()?;
    c.set_nick(&wanted)
}

/// A rename is told once to every client sharing at least one room, and to nobody else.
pub fn nick_broadcast_once_per_peer(target: &Target) -> Result<()> {
    let (r1, r2, r3) = (unique("nb"), unique("nb"), unique("nb"));
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    let mut c = named(target, "c")?;
    let mut d = named(target, "d")?;
    a.join(&r1)?;
    a.join(&r2)?;
    b.join(&r1)?;
    b.join(&r2)?;
    c.join(&r2)?;
    d.join(&r3)?;
    a.expect(&format!("JOINED {r1} {}", b.nick))?;
    a.expect(&format!("JOINED {r2} {}", b.nick))?;
    a.expect(&format!("JOINED {r2} {}", c.nick))?;
    b.expect(&format!("JOINED {r2} {}", c.nick))?;
    let old = a.nick.clone();
    let new = unique("renamed");
    a.set_nick(&new)?;
    let told = format!("NICK {old} {new}");
    b.expect(&told)?;
    b.sync()?;
    c.expect(&told)?;
    c.sync()?;
    d.sync()?;
    // Unchanged: nobody is told.
    a.set_nick(&new)?;
    b.sync()?;
    c.sync()
}

/// `JOIN` answers `OK JOIN`; the other members get `JOINED`; re-joining tells nobody.
pub fn join_and_joined(target: &Target) -> Result<()> {
    let room = unique("j");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    b.join(&room)?;
    a.sync()?;
    b.sync()?;
    let expected = who(&room, &[&a.nick, &b.nick]);
    a.call(&format!("WHO {room}"), &expected)
}

/// `LEAVE` answers `OK LEAVE`; the other members get `LEFT`; leaving again is `ERR not-in-room`.
pub fn leave_and_left(target: &Target) -> Result<()> {
    let room = unique("l");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    b.call(&format!("LEAVE {room}"), &format!("OK LEAVE {room}"))?;
    a.expect(&format!("LEFT {room} {}", b.nick))?;
    b.call_err(&format!("LEAVE {room}"), "not-in-room")?;
    b.call_err(&format!("LEAVE {}", unique("never")), "not-in-room")?;
    a.call(&format!("LEAVE {room}"), &format!("OK LEAVE {room}"))?;
    b.sync()?;
    a.call(&format!("WHO {room}"), &format!("WHO {room}"))
}

/// `MSG` reaches every other member as `MSG <room> <nick> <text>`, not the sender, not non-members.
pub fn msg_to_other_members(target: &Target) -> Result<()> {
    let room = unique("m");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    let mut c = named(target, "c")?;
    let mut outsider = named(target, "o")?;
    for client in [&mut a, &mut b, &mut c] {
        client.join(&room)?;
    }
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    a.expect(&format!("JOINED {room} {}", c.nick))?;
    b.expect(&format!("JOINED {room} {}", c.nick))?;
    a.send(&format!("MSG {room} hello, world"))?;
    a.sync()?;
    let expected = format!("MSG {room} {} hello, world", a.nick);
    b.expect(&expected)?;
    c.expect(&expected)?;
    b.sync()?;
    c.sync()?;
    outsider.sync()
}

/// `MSG` to a room the client is not in (existing or not) is `ERR not-in-room` and reaches nobody.
pub fn msg_not_in_room(target: &Target) -> Result<()> {
    let room = unique("nir");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.call_err(&format!("MSG {room} hi"), "not-in-room")?;
    b.call_err(&format!("MSG {} hi", unique("none")), "not-in-room")?;
    a.sync()
}

/// `ROOMS` lists every room with a member, ascending byte order; empty rooms vanish.
pub fn rooms_sorted(target: &Target) -> Result<()> {
    let tag = unique("");
    let names = [
        format!("b{tag}"),
        format!("B{tag}"),
        format!("a{tag}"),
        format!("_{tag}"),
        format!("-{tag}"),
        format!(".{tag}"),
    ];
    let mut a = connect(target)?;
    let mut b = connect(target)?;
    for name in &names {
        a.join(name)?;
    }
    b.join(&names[0])?;
    a.expect(&format!("JOINED {} {}", names[0], b.nick))?;
    a.call(
        &format!("LEAVE {}", names[1]),
        &format!("OK LEAVE {}", names[1]),
    )?;
    b.send("ROOMS")?;
    let line = b.read_line()?;
    let listed: Vec<&str> = line
        .strip_prefix("ROOMS")
        .with_context(|| format!("bad ROOMS reply {line:?}"))?
        .split(' ')
        .skip(1)
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    ensure!(listed == sorted, "ROOMS not in byte order: {line:?}");
    let ours: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|r| r.ends_with(&tag))
        .collect();
    let mut expected: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|r| *r != names[1])
        .collect();
    expected.sort_unstable();
    ensure!(
        ours == expected,
        "ROOMS lists {ours:?}, expected {expected:?}"
    );
    Ok(())
}

/// `WHO <room>` lists the members in byte order; an empty or unknown room is just `WHO <room>`.
pub fn who_sorted(target: &Target) -> Result<()> {
    let room = unique("w");
    let tag = unique("");
    let nicks = [
        format!("z{tag}"),
        format!("Z{tag}"),
        format!("a{tag}"),
        format!("0{tag}"),
    ];
    let mut clients = Vec::new();
    for nick in &nicks {
        let mut client = connect(target)?;
        client.set_nick(nick)?;
        client.join(&room)?;
        clients.push(client);
    }
    let mut sorted = nicks.to_vec();
    sorted.sort_unstable();
    let mut viewer = connect(target)?;
    viewer.call(
        &format!("WHO {room}"),
        &format!("WHO {room} {}", sorted.join(" ")),
    )?;
    let empty = unique("empty");
    viewer.call(&format!("WHO {empty}"), &format!("WHO {empty}"))?;
    viewer.call_err("WHO bad/name", "bad-name")
}

/// `PING` answers `PONG`; `PING <token>` answers `PONG <token>` with the token verbatim.
pub fn ping_token(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    a.call("PING", "PONG")?;
    a.call("PING ", "PONG ")?;
    a.call("PING x", "PONG x")?;
    a.call("PING  two  spaces ", "PONG  two  spaces ")?;
    a.call("PING tab\there", "PONG tab\there")?;
    a.call("PING ünïcödé ☃", "PONG ünïcödé ☃")
}

/// `QUIT` answers `BYE` and the server closes; the rooms are told the client left.
pub fn quit_bye_and_left(target: &Target) -> Result<()> {
    let room = unique("q");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    b.call("QUIT", "BYE")?;
    b.expect_closed()?;
    a.expect(&format!("LEFT {room} {}", b.nick))?;
    a.call(&format!("WHO {room}"), &format!("WHO {room} {}", a.nick))?;
    a.call_err("QUIT now", "bad-args")
}

/// Command words are case-insensitive; names are not.
pub fn commands_case_insensitive(target: &Target) -> Result<()> {
    let room = unique("ci");
    let mut a = connect(target)?;
    let mut b = connect(target)?;
    let nick = unique("Ci");
    a.call(&format!("nick {nick}"), &format!("OK NICK {nick}"))?;
    a.nick = nick.clone();
    a.call(&format!("jOiN {room}"), &format!("OK JOIN {room}"))?;
    b.call(&format!("Join {room}"), &format!("OK JOIN {room}"))?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    b.send(&format!("msg {room} hi"))?;
    a.expect(&format!("MSG {room} {} hi", b.nick))?;
    a.call(&format!("who {room}"), &who(&room, &[&nick, &b.nick]))?;
    let upper = room.to_uppercase();
    a.call(&format!("WHO {upper}"), &format!("WHO {upper}"))?;
    a.send("rooms")?;
    ensure!(a.read_line()?.starts_with("ROOMS"), "rooms not answered");
    a.call("ping", "PONG")?;
    a.call(&format!("leave {room}"), &format!("OK LEAVE {room}"))?;
    b.expect(&format!("LEFT {room} {}", a.nick))?;
    a.call("qUiT", "BYE")?;
    a.expect_closed()
}

/// A telnet-style session with CRLF line ends works; the server's lines end in LF alone.
pub fn crlf_telnet_session(target: &Target) -> Result<()> {
    let room = unique("crlf");
    let mut a = connect(target)?;
    let mut b = connect(target)?;
    b.join(&room)?;
    let nick = unique("t");
    a.send_raw(
        format!("NICK {nick}\r\nJOIN {room}\r\nPING x\r\n\r\nMSG {room} a b\r\n").as_bytes(),
    )?;
    a.expect(&format!("OK NICK {nick}"))?;
    a.expect(&format!("OK JOIN {room}"))?;
    a.expect("PONG x")?;
    b.expect(&format!("JOINED {room} {nick}"))?;
    b.expect(&format!("MSG {room} {nick} a b"))?;
    a.send_raw(b"QUIT\r\n")?;
    a.expect("BYE")?;
    a.expect_closed()?;
    b.expect(&format!("LEFT {room} {nick}"))
}

/// Anything that is not a command is `ERR unknown-command`, whatever its arguments.
pub fn unknown_command(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    for line in [
        "HELLO",
        "FOO bar",
        "NICKNAME x",
        " NICK x",
        "NICK\tx",
        "PING\tx",
        "É",
    ] {
        a.call_err(line, "unknown-command")?;
    }
    a.sync()
}

/// Missing, extra or empty arguments are `ERR bad-args`.
pub fn bad_args(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    let room = unique("ba");
    a.join(&room)?;
    let lines = [
        "NICK".to_owned(),
        "NICK ".to_owned(),
        "NICK a b".to_owned(),
        "NICK  a".to_owned(),
        "NICK a ".to_owned(),
        "JOIN".to_owned(),
        "JOIN ".to_owned(),
        format!("JOIN {room} x"),
        "LEAVE".to_owned(),
        format!("LEAVE {room} "),
        "WHO".to_owned(),
        format!("WHO  {room}"),
        "ROOMS ".to_owned(),
        "ROOMS x".to_owned(),
        "QUIT ".to_owned(),
        "MSG".to_owned(),
        "MSG ".to_owned(),
        format!("MSG {room}"),
        format!("MSG {room} "),
        format!("MSG  {room} x"),
    ];
    for line in &lines {
        a.call_err(line, "bad-args")?;
    }
    a.call(&format!("WHO {room}"), &format!("WHO {room} {}", a.nick))
}

/// Names must be 1–32 bytes of `A-Za-z0-9_-.`; anything else is `ERR bad-name`.
pub fn bad_name(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    let long = "x".repeat(33);
    let max = format!("{}{}", unique("L"), "y".repeat(32))
        .split_at(32)
        .0
        .to_owned();
    for name in ["a!", "é", "a\tb", "a/b", "a*", "a,b", "a:b", long.as_str()] {
        for command in ["NICK", "JOIN", "LEAVE", "WHO"] {
            a.call_err(&format!("{command} {name}"), "bad-name")?;
        }
        a.call_err(&format!("MSG {name} hi"), "bad-name")?;
    }
    a.set_nick(&max)?;
    a.join(&max)?;
    a.call(&format!("WHO {max}"), &format!("WHO {max} {max}"))
}

/// bad-args before bad-name before bad-text before the state errors.
pub fn error_precedence(target: &Target) -> Result<()> {
    let mut a = named(target, "p")?;
    let b = named(target, "p")?;
    let elsewhere = unique("else");
    a.call_err("NICK bad! extra", "bad-args")?;
    a.call_err("MSG bad! ", "bad-args")?;
    a.call_err("MSG bad! \u{1}", "bad-name")?;
    a.call_err(&format!("MSG {elsewhere} \u{1}"), "bad-text")?;
    a.call_err(&format!("NICK {} x", b.nick), "bad-args")?;
    a.call_err("LEAVE bad!", "bad-name")?;
    a.call_err(&format!("MSG {elsewhere} ok"), "not-in-room")?;
    a.call_err(&format!("NICK {}", b.nick), "nick-taken")
}

/// MSG text with U+0000–U+001F (but TAB) or U+007F is `ERR bad-text` and reaches nobody.
pub fn control_characters_rejected(target: &Target) -> Result<()> {
    let room = unique("cc");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    for c in (0u8..0x20).chain([0x7f]) {
        if c == b'\t' || c == b'\n' {
            continue;
        }
        let mut line = format!("MSG {room} a").into_bytes();
        line.push(c);
        line.extend_from_slice(b"b\n");
        b.send_raw(&line)?;
        b.expect_err("bad-text")
            .with_context(|| format!("control character {c:#04x}"))?;
    }
    // A CR before CRLF stays in the text; an escape sequence is rejected.
    b.send_raw(format!("MSG {room} a\r\r\n").as_bytes())?;
    b.expect_err("bad-text")?;
    b.send_raw(format!("MSG {room} \x1b[2J\n").as_bytes())?;
    b.expect_err("bad-text")?;
    a.sync()
}

/// The text is kept verbatim: spaces, tabs, any Unicode including U+0080–U+009F; a single space is
/// valid text.
pub fn text_verbatim(target: &Target) -> Result<()> {
    let room = unique("tv");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    let texts = [
        " ",
        "  leading and trailing  ",
        "tab\there\t",
        "C1 \u{80}\u{85}\u{9f} controls",
        "ünïcödé ☃ 𝄞",
        "MSG looks like a command",
        "ERR not-an-error",
    ];
    for text in texts {
        b.send(&format!("MSG {room} {text}"))?;
        a.expect(&format!("MSG {room} {} {text}", b.nick))?;
    }
    b.sync()
}

/// Empty lines (LF or CRLF alone) get no reply.
pub fn empty_lines_ignored(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    a.send_raw(b"\n\r\n\n\r\n")?;
    a.sync()?;
    a.send_raw(b"\nPING x\n\n")?;
    a.expect("PONG x")?;
    a.sync()
}

/// A line that is not UTF-8 is `ERR bad-utf8`, nothing else happens, and the connection stays.
pub fn bad_utf8_keeps_connection(target: &Target) -> Result<()> {
    let room = unique("u");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    let bad: [&[u8]; 5] = [
        b"\xff",
        b"caf\xc3",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
    ];
    for bytes in bad {
        let mut line = format!("MSG {room} ").into_bytes();
        line.extend_from_slice(bytes);
        line.push(b'\n');
        b.send_raw(&line)?;
        b.expect_err("bad-utf8")
            .with_context(|| format!("after {}", preview(&line)))?;
    }
    b.send_raw(b"\xfe\xff\r\n")?;
    b.expect_err("bad-utf8")?;
    b.send(&format!("MSG {room} still here"))?;
    a.expect(&format!("MSG {room} {} still here", b.nick))?;
    b.sync()
}

/// A line of exactly `--max-line` bytes is accepted, with LF or CRLF, even when the CR arrives
/// separately from its LF.
pub fn line_length_boundary(target: &Target) -> Result<()> {
    let max = target.max_line;
    if max < 8 {
        return Err(Skipped("needs --max-line of at least 8").into());
    }
    let mut a = connect(target)?;
    let token = "t".repeat(max - "PING ".len());
    a.send(&format!("PING {token}"))?;
    a.expect(&format!("PONG {token}"))?;
    a.send_raw(format!("PING {token}\r\n").as_bytes())?;
    a.expect(&format!("PONG {token}"))?;
    a.send_raw(format!("PING {token}\r").as_bytes())?;
    std::thread::sleep(Duration::from_millis(100));
    a.send_raw(b"\n")?;
    a.expect(&format!("PONG {token}"))?;
    a.sync()
}

/// One byte more than `--max-line` without a LF is `ERR line-too-long` and the connection closes at
/// once (the server does not wait for the LF); the rooms are told the client left.
pub fn line_too_long_closes(target: &Target) -> Result<()> {
    let room = unique("tl");
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    a.join(&room)?;
    b.join(&room)?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    b.send_raw(&vec![b'x'; target.max_line + 1])?;
    b.expect_err("line-too-long")?;
    b.expect_closed()?;
    a.expect(&format!("LEFT {room} {}", b.nick))?;
    // A long line with its LF in the same write is just as fatal.
    let mut c = connect(target)?;
    let mut line = format!("MSG {room} ").into_bytes();
    line.resize(target.max_line + 1, b'y');
    line.push(b'\n');
    c.send_raw(&line)?;
    c.expect_err("line-too-long")?;
    c.expect_closed()?;
    a.sync()
}

/// A client may be in 64 rooms; the 65th is `ERR too-many-rooms`; re-joining one does not count.
pub fn room_limit_64(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    let tag = unique("");
    let rooms: Vec<String> = (0..65).map(|i| format!("r{i}-{tag}")).collect();
    for room in &rooms[..64] {
        a.join(room)?;
    }
    a.call_err(&format!("JOIN {}", rooms[64]), "too-many-rooms")?;
    a.join(&rooms[0])?;
    a.call_err("JOIN bad!", "bad-name")?;
    a.call(
        &format!("LEAVE {}", rooms[3]),
        &format!("OK LEAVE {}", rooms[3]),
    )?;
    a.join(&rooms[64])?;
    a.call_err(&format!("JOIN {}", rooms[3]), "too-many-rooms")
}

/// Many pipelined commands in one write are answered in order.
pub fn replies_in_order(target: &Target) -> Result<()> {
    let mut a = connect(target)?;
    let room = unique("o");
    let mut batch = String::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        match i % 4 {
            0 => {
                batch.push_str(&format!("PING {i}\n"));
                expected.push(format!("PONG {i}"));
            }
            1 => {
                batch.push_str(&format!("JOIN {room}\n"));
                expected.push(format!("OK JOIN {room}"));
            }
            2 => {
                batch.push_str("NICK !\n");
                expected.push("ERR bad-name".to_owned());
            }
            _ => {
                batch.push_str(&format!("WHO {room}\n"));
                expected.push(format!("WHO {room} {}", a.nick));
            }
        }
    }
    a.send_raw(batch.as_bytes())?;
    for (i, line) in expected.iter().enumerate() {
        if line.starts_with("ERR ") {
            a.expect_err("bad-name")
        } else {
            a.expect(line)
        }
        .with_context(|| format!("reply {i}"))?;
    }
    a.sync()
}

/// A client that disconnects (EOF or reset) leaves every room; each room's members get `LEFT`.
pub fn left_on_disconnect(target: &Target) -> Result<()> {
    let (r1, r2) = (unique("d"), unique("d"));
    let mut a = named(target, "a")?;
    a.join(&r1)?;
    a.join(&r2)?;
    for how in ["eof", "reset"] {
        let mut b = named(target, how)?;
        b.join(&r1)?;
        b.join(&r2)?;
        a.expect(&format!("JOINED {r1} {}", b.nick))?;
        a.expect(&format!("JOINED {r2} {}", b.nick))?;
        let nick = b.nick.clone();
        if how == "reset" {
            crate::client::reset(b.into_stream())?;
        } else {
            drop(b);
        }
        let got: BTreeSet<String> = [a.read_line()?, a.read_line()?].into();
        let expected: BTreeSet<String> =
            [format!("LEFT {r1} {nick}"), format!("LEFT {r2} {nick}")].into();
        ensure!(got == expected, "{how}: got {got:?}, expected {expected:?}");
        a.call(&format!("WHO {r1}"), &format!("WHO {r1} {}", a.nick))?;
    }
    Ok(())
}

/// After a half-close the server still answers every complete line, discards the unterminated rest,
/// tells the rooms, and closes.
pub fn half_close(target: &Target) -> Result<()> {
    let room = unique("h");
    let mut a = named(target, "a")?;
    a.join(&room)?;
    let mut b = named(target, "b")?;
    b.send_raw(format!("PING 1\nJOIN {room}\nMSG {room} bye\nPING 2\nPING never").as_bytes())?;
    b.shutdown_write()?;
    b.expect("PONG 1")?;
    b.expect(&format!("OK JOIN {room}"))?;
    b.expect("PONG 2")?;
    b.expect_closed()?;
    a.expect(&format!("JOINED {room} {}", b.nick))?;
    a.expect(&format!("MSG {room} {} bye", b.nick))?;
    a.expect(&format!("LEFT {room} {}", b.nick))?;
    a.sync()
}

/// Over `--max-conns`, a connection gets `ERR server-full` as its only line and is closed; once a slot
/// frees, new clients get `HELLO` again.
pub fn server_full(target: &Target) -> Result<()> {
    let Some(max) = target.max_conns else {
        return Err(Skipped("needs the server's --max-conns (pass --max-conns)").into());
    };
    if matches!(target.endpoint, crate::transport::Endpoint::Tls { .. }) {
        return Err(Skipped(
            "over TLS the server closes a connection over --max-conns before the handshake, so no \
             ERR server-full can be read (the limit itself is checked over TLS by echo max_conns)",
        )
        .into());
    }
    ensure!(max <= 1000, "--max-conns {max} is too many for this case");
    // Connections of earlier cases may still be closing: retry a refused one for a bounded time.
    let mut held = Vec::with_capacity(max);
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.len() < max {
        let mut client = ChatClient::connect_raw(target)?;
        let line = client.read_line()?;
        if line.starts_with("HELLO ") {
            held.push(client);
            continue;
        }
        ensure!(is_err_line(&line, "server-full"), "unexpected {line:?}");
        ensure!(
            Instant::now() < deadline,
            "server full after {} of {max} connections",
            held.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut over = ChatClient::connect_raw(target)?;
    let got = over.read_until_closed()?;
    ensure!(
        got == b"ERR server-full\n"
            || (got.starts_with(b"ERR server-full ")
                && got.ends_with(b"\n")
                && got.iter().filter(|&&b| b == b'\n').count() == 1),
        "over the limit got {} instead of just ERR server-full",
        preview(&got)
    );
    let mut freed = held.pop().context("no connection held")?;
    freed.call("QUIT", "BYE")?;
    freed.expect_closed()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = ChatClient::connect_raw(target)?;
        let line = again.read_line()?;
        if line.starts_with("HELLO ") {
            return Ok(());
        }
        ensure!(is_err_line(&line, "server-full"), "unexpected {line:?}");
        if Instant::now() > deadline {
            bail!("no HELLO within 10 s after a slot was freed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `f` on a scoped thread per item and collects the results.
fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> Result<R> + Sync) -> Result<Vec<R>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| {
                let f = &f;
                scope.spawn(move || f(item))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("thread panicked"))?)
            .collect()
    })
}

/// One sender, thousands of MSGs, several receivers: every receiver gets every line, in order.
pub fn ordering_one_sender(target: &Target) -> Result<()> {
    const COUNT: usize = 5000;
    let room = unique("ord");
    let mut sender = named(target, "s")?;
    sender.join(&room)?;
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let mut r = connect(target)?;
        r.join(&room)?;
        sender.expect(&format!("JOINED {room} {}", r.nick))?;
        receivers.push(r);
    }
    // Earlier receivers see later ones join; drain those lines.
    let nicks: Vec<String> = receivers.iter().map(|r| r.nick.clone()).collect();
    for (i, r) in receivers.iter_mut().enumerate() {
        for later in &nicks[i + 1..] {
            r.expect(&format!("JOINED {room} {later}"))?;
        }
    }
    let prefix = format!("MSG {room} {} ", sender.nick);
    let readers = std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = receivers
            .iter_mut()
            .map(|r| {
                let prefix = &prefix;
                scope.spawn(move || -> Result<()> {
                    for i in 0..COUNT {
                        r.expect(&format!("{prefix}n={i:05} payload"))
                            .with_context(|| format!("message {i}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        let mut batch = String::new();
        for i in 0..COUNT {
            batch.push_str(&format!("MSG {room} n={i:05} payload\n"));
            if i % 100 == 99 {
                sender.send_raw(batch.as_bytes())?;
                batch.clear();
            }
        }
        sender.send_raw(batch.as_bytes())?;
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("reader panicked"))??;
        }
        Ok(())
    });
    readers?;
    sender.sync()?;
    for r in &mut receivers {
        r.sync()?;
    }
    Ok(())
}

/// Several senders at once in one room: every member sees the same sequence of that room's lines, and
/// each sender's lines in the order sent.
pub fn per_room_agreement(target: &Target) -> Result<()> {
    const SENDERS: usize = 4;
    const EACH: usize = 500;
    let room = unique("agr");
    let mut members = Vec::new();
    for i in 0..SENDERS + 2 {
        let mut c = named(target, &format!("m{i}"))?;
        c.join(&room)?;
        members.push(c);
    }
    // Drain the JOINED lines each member got about later members.
    let nicks: Vec<String> = members.iter().map(|c| c.nick.clone()).collect();
    for (i, c) in members.iter_mut().enumerate() {
        for later in &nicks[i + 1..] {
            c.expect(&format!("JOINED {room} {later}"))?;
        }
    }
    // Each member sends (the first SENDERS of them) and reads everything the others send.
    let views = parallel(members.into_iter().enumerate().collect(), |(i, mut c)| {
        let expected_lines = if i < SENDERS {
            (SENDERS - 1) * EACH
        } else {
            SENDERS * EACH
        };
        let room = &room;
        std::thread::scope(|scope| -> Result<(ChatClient, Vec<String>)> {
            let mut writer = c.stream().try_clone()?;
            let sending = scope.spawn(move || -> Result<()> {
                if i < SENDERS {
                    for k in 0..EACH {
                        writer.write_all(format!("MSG {room} {i}:{k}\n").as_bytes())?;
                    }
                }
                Ok(())
            });
            let mut seen = Vec::with_capacity(expected_lines);
            for _ in 0..expected_lines {
                seen.push(c.read_line()?);
            }
            sending
                .join()
                .map_err(|_| anyhow::anyhow!("sender panicked"))??;
            Ok((c, seen))
        })
    })?;
    // Nobody disconnects before everyone has read everything: then nothing else is queued.
    let (mut clients, views): (Vec<ChatClient>, Vec<Vec<String>>) = views.into_iter().unzip();
    for c in &mut clients {
        c.sync()?;
    }
    // Everyone's view, with the member's own lines (which it does not receive) removed from the
    // reference, must be the same sequence.
    let reference = &views[SENDERS];
    ensure!(
        &views[SENDERS + 1] == reference,
        "the two listeners disagree on the room's order"
    );
    for sender in 0..SENDERS {
        let tag = format!(" {sender}:");
        let mine: Vec<&String> = reference.iter().filter(|l| l.contains(&tag)).collect();
        let expected: Vec<String> = (0..EACH)
            .map(|k| format!("MSG {room} {} {sender}:{k}", nicks[sender]))
            .collect();
        ensure!(
            mine.iter()
                .map(|s| s.as_str())
                .eq(expected.iter().map(String::as_str)),
            "sender {sender}'s lines out of order or missing"
        );
        let without: Vec<&String> = reference.iter().filter(|l| !l.contains(&tag)).collect();
        ensure!(
            views[sender].iter().eq(without.iter().copied()),
            "member {sender} saw another order than the listeners"
        );
    }
    Ok(())
}

/// A member that never reads while others send tens of MB is cut off (best-effort
/// `ERR slow-consumer`, then closed) and its rooms are told it left; everyone else receives everything,
/// in order, without being held up.
pub fn slow_consumer(target: &Target) -> Result<()> {
    let room = unique("slow");
    let text = "z".repeat(1000);
    // Far more than the queue bound plus what kernel socket buffers can hold on loopback.
    let count = (24 << 20) / text.len() + 8 * target.queue_bytes / text.len();
    let mut sender = named(target, "sender")?;
    let mut reader = named(target, "reader")?;
    let mut stalled = named(target, "stalled")?;
    sender.join(&room)?;
    reader.join(&room)?;
    sender.expect(&format!("JOINED {room} {}", reader.nick))?;
    stalled.join(&room)?;
    sender.expect(&format!("JOINED {room} {}", stalled.nick))?;
    reader.expect(&format!("JOINED {room} {}", stalled.nick))?;
    let left = format!("LEFT {room} {}", stalled.nick);
    let prefix = format!("MSG {room} {} ", sender.nick);
    // The sender stays at most a quarter of the queue bound ahead of the reader, so that only the
    // stalled member can overflow.
    let window = (target.queue_bytes / 4 / (text.len() + prefix.len() + 8)).max(1);
    let progress = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let reading = scope.spawn(|| -> Result<()> {
            let mut lefts = 0;
            let mut next = 0;
            while next < count {
                progress.store(next, Ordering::Release);
                let line = reader.read_line()?;
                if line == left {
                    lefts += 1;
                    continue;
                }
                ensure!(
                    line.strip_prefix(prefix.as_str())
                        .and_then(|rest| rest.split_once(' '))
                        .map(|(n, _)| n)
                        == Some(next.to_string().as_str()),
                    "reader expected message {next}, got {}",
                    preview(line.as_bytes())
                );
                next += 1;
            }
            ensure!(
                lefts == 1,
                "reader got {lefts} LEFT lines for the stalled member"
            );
            reader.sync()
        });
        let mut batch = String::new();
        let mut sent = 0;
        while sent < count {
            let deadline = Instant::now() + IO_TIMEOUT;
            while sent > progress.load(Ordering::Acquire) + window {
                ensure!(!reading.is_finished(), "reader stopped early");
                ensure!(
                    Instant::now() < deadline,
                    "reader stuck at {}",
                    progress.load(Ordering::Acquire)
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            let end = count.min(sent + window.div_ceil(2));
            for i in sent..end {
                batch.push_str(&format!("MSG {room} {i} {text}\n"));
            }
            sender.send_raw(batch.as_bytes())?;
            batch.clear();
            sent = end;
        }
        reading
            .join()
            .map_err(|_| anyhow::anyhow!("reader panicked"))??;
        Ok(())
    })?;
    let elapsed = started.elapsed();
    // The stalled member was cut off: its room was told, and WHO no longer lists it.
    sender.expect(&left)?;
    sender.sync()?;
    let expected = who(&room, &[&sender.nick, &reader.nick]);
    sender.call(&format!("WHO {room}"), &expected)?;
    // And its nick is free again.
    let mut claimer = connect(target)?;
    claimer
        .set_nick(&stalled.nick)
        .context("nick of a slow consumer that was cut off not free")?;
    // What the stalled client finally reads: in-order messages, maybe ERR slow-consumer, then the end.
    let got = stalled.read_until_closed()?;
    let mut lines = got.split(|&b| b == b'\n').collect::<Vec<_>>();
    lines.pop(); // the unterminated rest (possibly empty)
    let mut next = 0;
    for (i, line) in lines.iter().enumerate() {
        let line = std::str::from_utf8(line)?;
        if is_err_line(line, "slow-consumer") && i + 1 == lines.len() {
            break;
        }
        ensure!(
            line == format!("{prefix}{next} {text}"),
            "stalled client's line {i} is {}",
            preview(line.as_bytes())
        );
        next += 1;
    }
    ensure!(
        next < count,
        "the stalled client was sent everything: not cut off"
    );
    ensure!(
        elapsed < Duration::from_secs(120),
        "delivery to the others took {elapsed:?}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_unique() {
        let names: BTreeSet<&str> = CASES.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CASES.len());
    }

    #[test]
    fn who_sorts() {
        assert_eq!(who("r", &["b", "B", "a"]), "WHO r B a b");
    }
}
