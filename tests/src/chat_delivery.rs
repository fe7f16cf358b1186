//! Conformance cases for the delivery rules of `docs/PROTOCOL.md` §3.3–3.4 that need several clients
//! and rooms at once: one client's lines across rooms arrive in command order, a new member receives
//! every `MSG` accepted after its `OK JOIN` while others keep sending, and a nick is free again after a
//! disconnect of any kind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::chat_client::{ChatClient, unique};
use crate::suite::Target;
use crate::wait::poll_until;

/// How long a case waits for other clients' progress.
const PROGRESS_LIMIT: Duration = Duration::from_secs(20);

/// Connects and renames to a unique nick starting with `prefix`.
fn named(target: &Target, prefix: &str) -> Result<ChatClient> {
    let mut client = ChatClient::connect(target)?;
    client.set_nick(&unique(prefix))?;
    Ok(client)
}

/// One client sends `MSG`s to three rooms in an interleaved order and renames half-way: a member of
/// two of the rooms receives exactly the lines of its rooms, in the order of the commands.
pub fn ordering_across_rooms(target: &Target) -> Result<()> {
    const COUNT: usize = 600;
    let rooms = [unique("xr"), unique("xr"), unique("xr")];
    let mut a = named(target, "a")?;
    let mut b = named(target, "b")?;
    let mut c = named(target, "c")?;
    for room in &rooms {
        a.join(room)?;
    }
    for (member, its) in [(&mut b, [0, 1]), (&mut c, [1, 2])] {
        for i in its {
            member.join(&rooms[i])?;
        }
    }
    // a sees b and c join; c sees nothing of b's joins before its own; b sees c join room 1.
    a.expect(&format!("JOINED {} {}", rooms[0], b.nick))?;
    a.expect(&format!("JOINED {} {}", rooms[1], b.nick))?;
    a.expect(&format!("JOINED {} {}", rooms[1], c.nick))?;
    a.expect(&format!("JOINED {} {}", rooms[2], c.nick))?;
    b.expect(&format!("JOINED {} {}", rooms[1], c.nick))?;
    let old = a.nick.clone();
    let new = unique("a2");
    let mut batch = String::new();
    let mut expected_b = Vec::new();
    let mut expected_c = Vec::new();
    let mut nick = old.clone();
    for i in 0..COUNT {
        if i == COUNT / 2 {
            batch.push_str(&format!("NICK {new}\n"));
            expected_b.push(format!("NICK {old} {new}"));
            expected_c.push(format!("NICK {old} {new}"));
            nick = new.clone();
        }
        // A deterministic, irregular room sequence.
        let r = (i * 7 + i / 5) % 3;
        let room = &rooms[r];
        batch.push_str(&format!("MSG {room} n={i}\n"));
        let line = format!("MSG {room} {nick} n={i}");
        if r != 2 {
            expected_b.push(line.clone());
        }
        if r != 0 {
            expected_c.push(line);
        }
    }
    a.send_raw(batch.as_bytes())?;
    a.expect(&format!("OK NICK {new}"))?;
    a.nick = new;
    for (member, expected) in [(&mut b, expected_b), (&mut c, expected_c)] {
        for (k, line) in expected.iter().enumerate() {
            member
                .expect(line)
                .with_context(|| format!("{}: line {k} of {}", member.nick, expected.len()))?;
        }
        member.sync()?;
    }
    a.sync()
}

/// Senders keep sending to a room while new members join it: each new member receives, from every
/// sender, every `MSG` written after it read its `OK JOIN`, with no gap and no duplicate.
pub fn msg_after_ok_join_arrives(target: &Target) -> Result<()> {
    const SENDERS: usize = 2;
    const JOINERS: usize = 4;
    let room = unique("aj");
    // Every member's queue holds everything it is sent, unread, with room to spare.
    let line_len = format!("MSG {room} {} n=00000\n", unique("s")).len();
    let count = (target.queue_bytes / 4 / line_len / SENDERS).clamp(50, 1000);
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let mut sender = named(target, "s")?;
        sender.join(&room)?;
        senders.push(sender);
    }
    let nicks: Vec<String> = senders.iter().map(|s| s.nick.clone()).collect();
    let started: Vec<AtomicUsize> = (0..SENDERS).map(|_| AtomicUsize::new(0)).collect();
    let mut joiners: Vec<(ChatClient, Vec<usize>)> = Vec::new();
    std::thread::scope(|scope| -> Result<()> {
        let sending: Vec<_> = senders
            .iter_mut()
            .zip(&started)
            .map(|(sender, started)| {
                let room = &room;
                scope.spawn(move || -> Result<()> {
                    for i in 0..count {
                        // Counted before the write: a message whose write began before the joiner
                        // read its OK JOIN may have reached the server before the JOIN did.
                        started.store(i + 1, Ordering::Release);
                        sender.send(&format!("MSG {room} n={i:05}"))?;
                        // Pacing, so that the joins happen while the senders send.
                        std::thread::sleep(Duration::from_micros(300));
                    }
                    Ok(())
                })
            })
            .collect();
        for j in 0..JOINERS {
            let due = (j + 1) * count / (JOINERS + 2);
            poll_until(PROGRESS_LIMIT, "senders' progress", || {
                started
                    .iter()
                    .all(|w| w.load(Ordering::Acquire) >= due)
                    .then_some(())
            })?;
            let mut joiner = named(target, "j")?;
            joiner.join(&room)?;
            let seen: Vec<usize> = started.iter().map(|w| w.load(Ordering::Acquire)).collect();
            joiners.push((joiner, seen));
        }
        for handle in sending {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("sender panicked"))??;
        }
        Ok(())
    })?;
    for (joiner, seen) in &mut joiners {
        let mut next: Vec<Option<usize>> = vec![None; SENDERS];
        // A sender that had finished before the OK JOIN owes this joiner nothing.
        let owed = |next: &[Option<usize>]| {
            (0..SENDERS).any(|s| next[s] != Some(count) && (next[s].is_some() || seen[s] < count))
        };
        while owed(&next) {
            let line = joiner.read_line().with_context(|| {
                format!(
                    "{}: waiting for MSGs (next expected {next:?} of {count})",
                    joiner.nick
                )
            })?;
            if line.starts_with(&format!("JOINED {room} ")) {
                continue;
            }
            let (s, n) = parse_msg(&line, &room, &nicks)
                .with_context(|| format!("{}: unexpected {line:?}", joiner.nick))?;
            let expected = next[s].unwrap_or(n);
            ensure!(
                n == expected,
                "{}: from {} got n={n} after n={expected} was due (gap or duplicate)",
                joiner.nick,
                nicks[s]
            );
            ensure!(
                next[s].is_some() || n <= seen[s],
                "{}: the first MSG from {} is n={n}, but n={} was sent after its OK JOIN",
                joiner.nick,
                nicks[s],
                seen[s]
            );
            next[s] = Some(n + 1);
        }
        if seen.iter().all(|&w| w < count) {
            // Nothing else from the senders; later joiners' JOINED lines may still come (lines caused
            // by different clients have no promised order).
            joiner.send("PING aj-end")?;
            loop {
                let line = joiner.read_line()?;
                if line == "PONG aj-end" {
                    break;
                }
                ensure!(
                    line.starts_with(&format!("JOINED {room} ")),
                    "{}: after the last MSG got {line:?}",
                    joiner.nick
                );
            }
        }
    }
    Ok(())
}

/// Parses `MSG <room> <sender> n=<k>`: which of `senders`, and `k`.
fn parse_msg(line: &str, room: &str, senders: &[String]) -> Option<(usize, usize)> {
    let rest = line
        .strip_prefix("MSG ")?
        .strip_prefix(room)?
        .strip_prefix(' ')?;
    let (nick, text) = rest.split_once(' ')?;
    let s = senders.iter().position(|n| n == nick)?;
    Some((s, text.strip_prefix("n=")?.parse().ok()?))
}

/// A nick is free again once its holder is gone, however it went: EOF, reset, or a line over
/// `--max-line`. (The slow-consumer disconnect is checked in `slow_consumer`.)
pub fn nick_free_after_disconnect(target: &Target) -> Result<()> {
    let room = unique("nf");
    let mut watcher = named(target, "w")?;
    watcher.join(&room)?;
    for how in ["eof", "reset", "line-too-long"] {
        let mut holder = named(target, "h")?;
        holder.join(&room)?;
        watcher.expect(&format!("JOINED {room} {}", holder.nick))?;
        let nick = holder.nick.clone();
        match how {
            "eof" => drop(holder),
            "reset" => crate::client::reset(holder.into_stream())?,
            _ => {
                holder.send_raw(&vec![b'x'; target.max_line + 2])?;
                holder.expect_err("line-too-long")?;
                holder.expect_closed()?;
            }
        }
        watcher.expect(&format!("LEFT {room} {nick}"))?;
        let mut claimer = ChatClient::connect(target)?;
        claimer
            .set_nick(&nick)
            .with_context(|| format!("nick of a client gone by {how} not free"))?;
    }
    watcher.sync()
}
