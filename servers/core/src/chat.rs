//! The `chat/1` state machine: clients, nicks, rooms and membership, and every reply and broadcast.
//!
//! The caller feeds events ([`ChatState::connect`], [`ChatState::input`] / [`ChatState::frame`] /
//! [`ChatState::line`], [`ChatState::disconnect`], [`ChatState::slow_consumer`],
//! [`ChatState::shutdown`]) and performs what lands in its [`Outbox`]: lines to send, and close
//! instructions ([`Close`]) that carry the client's last line, so no caller ever composes protocol text. Events for unknown client ids are ignored, so a late line from a client that
//! was already closed is harmless. Nothing here allocates per broadcast recipient: a broadcast builds its
//! [`Line`] once and clones the pointer.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::code::ErrorCode;
use crate::command::{Command, parse};
use crate::framing::{Frame, Input};
use crate::outbox::{Line, Outbox, Queued};

#[cfg(doc)]
use crate::outbox::Close;

/// A client's identity, chosen by the caller (unique among connected clients).
pub type ClientId = u64;

/// The most rooms one client may be in at once.
pub const MAX_ROOMS_PER_CLIENT: usize = 64;

/// The protocol name sent in `HELLO`.
pub const PROTOCOL: &str = "chat/1";

#[derive(Debug)]
struct Client {
    nick: Box<str>,
    /// The rooms this client is in (at most `MAX_ROOMS_PER_CLIENT`, so a Vec is quickest).
    rooms: Vec<Box<str>>,
}

#[derive(Debug, Default)]
struct Room {
    members: HashSet<ClientId>,
}

/// The whole chat server state, driven by events.
#[derive(Debug)]
pub struct ChatState {
    impl_name: Box<str>,
    clients: HashMap<ClientId, Client>,
    nicks: HashMap<Box<str>, ClientId>,
    /// Only rooms with at least one member; ordered by name (byte order) for `ROOMS`.
    rooms: BTreeMap<Box<str>, Room>,
    next_guest: u64,
    /// Prebuilt `ERR` lines, indexed by [`ErrorCode::index`].
    errors: Vec<Line>,
    bye: Line,
    pong: Line,
    /// Reused buffer for building lines.
    scratch: Vec<u8>,
    /// Reused buffer for the peers told about a nick change.
    peers: Vec<ClientId>,
}

impl ChatState {
    /// A state for a server that names itself `impl_name` in `HELLO`.
    pub fn new(impl_name: &str) -> Self {
        ChatState {
            impl_name: impl_name.into(),
            clients: HashMap::new(),
            nicks: HashMap::new(),
            rooms: BTreeMap::new(),
            next_guest: 1,
            errors: ErrorCode::ALL
                .iter()
                .map(|code| Line::new(code.line().as_bytes()))
                .collect(),
            bye: Line::new(b"BYE\n"),
            pong: Line::new(b"PONG\n"),
            scratch: Vec::with_capacity(256),
            peers: Vec::new(),
        }
    }

    /// The number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The number of rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The nick of a connected client.
    pub fn nick(&self, id: ClientId) -> Option<&str> {
        self.clients.get(&id).map(|c| &*c.nick)
    }

    /// Whether `id` is a connected client.
    pub fn is_connected(&self, id: ClientId) -> bool {
        self.clients.contains_key(&id)
    }

    /// The shared `ERR <code>` line (no allocation).
    pub fn error_line(&self, code: ErrorCode) -> Line {
        self.errors[code.index()].clone()
    }

    /// A new client: assigns a free `guest<N>` nick and sends `HELLO`. A known id is ignored.
    pub fn connect(&mut self, id: ClientId, out: &mut Outbox) {
        if self.clients.contains_key(&id) {
            return;
        }
        let nick: Box<str> = loop {
            let candidate = format!("guest{}", self.next_guest);
            self.next_guest = self.next_guest.wrapping_add(1);
            if !self.nicks.contains_key(candidate.as_str()) {
                break candidate.into();
            }
        };
        let hello = build(
            &mut self.scratch,
            &["HELLO ", PROTOCOL, " ", &self.impl_name, " ", &nick],
        );
        out.send(id, hello);
        self.nicks.insert(nick.clone(), id);
        self.clients.insert(
            id,
            Client {
                nick,
                rooms: Vec::new(),
            },
        );
    }

    /// One input from the client's reader: see [`frame`](Self::frame).
    pub fn input(&mut self, id: ClientId, input: &Input, out: &mut Outbox) {
        self.frame(id, input.as_frame(), out);
    }

    /// One framing result from the client: a line is executed, `BadUtf8` answered, `TooLong` closes
    /// the client with `ERR line-too-long` as its last line.
    pub fn frame(&mut self, id: ClientId, frame: Frame<'_>, out: &mut Outbox) {
        match frame {
            Frame::Line(line) => self.line(id, line, out),
            Frame::BadUtf8 => self.error(id, ErrorCode::BadUtf8, out),
            Frame::TooLong => self.kick(id, ErrorCode::LineTooLong, Queued::Flush, out),
        }
    }

    /// One complete line from the client (terminator removed, non-empty).
    pub fn line(&mut self, id: ClientId, line: &str, out: &mut Outbox) {
        if !self.clients.contains_key(&id) {
            return;
        }
        match parse(line) {
            Ok(command) => self.command(id, command, out),
            Err(code) => self.error(id, code, out),
        }
    }

    /// The client's connection ended (EOF, reset): it leaves every room, whose members are told; its
    /// connection is closed after what is queued for it, with no last line.
    pub fn disconnect(&mut self, id: ClientId, out: &mut Outbox) {
        self.remove(id, Queued::Flush, None, out);
    }

    /// The client's outbound queue overflowed: it is closed at once, its queued lines dropped, with
    /// `ERR slow-consumer` as a best-effort last line ([`Queued::Discard`]), and it leaves every room.
    pub fn slow_consumer(&mut self, id: ClientId, out: &mut Outbox) {
        self.kick(id, ErrorCode::SlowConsumer, Queued::Discard, out);
    }

    /// Closes the client with `ERR <code>` as its last line and removes it (its rooms are told it left).
    fn kick(&mut self, id: ClientId, code: ErrorCode, queued: Queued, out: &mut Outbox) {
        let last = self.error_line(code);
        self.remove(id, queued, Some(last), out);
    }

    /// Server shutdown: every client is closed after what is queued for it, with `ERR shutting-down` as
    /// its last line; no `LEFT` is sent.
    pub fn shutdown(&mut self, out: &mut Outbox) {
        let line = self.error_line(ErrorCode::ShuttingDown);
        for &id in self.clients.keys() {
            out.close(id, Queued::Flush, Some(line.clone()));
        }
        self.clients.clear();
        self.nicks.clear();
        self.rooms.clear();
    }

    fn error(&mut self, id: ClientId, code: ErrorCode, out: &mut Outbox) {
        if self.clients.contains_key(&id) {
            out.send(id, self.error_line(code));
        }
    }

    fn command(&mut self, id: ClientId, command: Command<'_>, out: &mut Outbox) {
        match command {
            Command::Nick(nick) => self.nick_cmd(id, nick, out),
            Command::Join(room) => self.join(id, room, out),
            Command::Leave(room) => self.leave(id, room, out),
            Command::Msg { room, text } => self.msg(id, room, text, out),
            Command::Rooms => self.rooms_cmd(id, out),
            Command::Who(room) => self.who(id, room, out),
            Command::Ping(None) => out.send(id, self.pong.clone()),
            Command::Ping(Some(token)) => out.send(id, build(&mut self.scratch, &["PONG ", token])),
            Command::Quit => self.remove(id, Queued::Flush, Some(self.bye.clone()), out),
        }
    }

    fn nick_cmd(&mut self, id: ClientId, nick: &str, out: &mut Outbox) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if &*client.nick != nick {
            if self.nicks.contains_key(nick) {
                out.send(id, self.errors[ErrorCode::NickTaken.index()].clone());
                return;
            }
            let new: Box<str> = nick.into();
            let old = std::mem::replace(&mut client.nick, new.clone());
            self.nicks.remove(&old);
            self.nicks.insert(new, id);
            self.peers.clear();
            for room in &client.rooms {
                let members = &self
                    .rooms
                    .get(room)
                    .expect("a client's room exists")
                    .members;
                self.peers.extend(members.iter().filter(|&&m| m != id));
            }
            if !self.peers.is_empty() {
                self.peers.sort_unstable();
                self.peers.dedup();
                let line = build(&mut self.scratch, &["NICK ", &old, " ", nick]);
                for &peer in &self.peers {
                    out.send(peer, line.clone());
                }
            }
        }
        out.send(id, build(&mut self.scratch, &["OK NICK ", nick]));
    }

    fn join(&mut self, id: ClientId, room: &str, out: &mut Outbox) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if !client.rooms.iter().any(|r| &**r == room) {
            if client.rooms.len() >= MAX_ROOMS_PER_CLIENT {
                out.send(id, self.errors[ErrorCode::TooManyRooms.index()].clone());
                return;
            }
            // Exact: most clients are in one room or a few, and a Vec's first allocation holds four.
            client.rooms.reserve_exact(1);
            client.rooms.push(room.into());
            let members = &mut self.rooms.entry(room.into()).or_default().members;
            if !members.is_empty() {
                let line = build(&mut self.scratch, &["JOINED ", room, " ", &client.nick]);
                for &member in members.iter() {
                    out.send(member, line.clone());
                }
            }
            members.insert(id);
        }
        out.send(id, build(&mut self.scratch, &["OK JOIN ", room]));
    }

    fn leave(&mut self, id: ClientId, room: &str, out: &mut Outbox) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let Some(pos) = client.rooms.iter().position(|r| &**r == room) else {
            out.send(id, self.errors[ErrorCode::NotInRoom.index()].clone());
            return;
        };
        let name = client.rooms.swap_remove(pos);
        leave_room(
            &mut self.rooms,
            &mut self.scratch,
            name,
            id,
            &client.nick,
            out,
        );
        out.send(id, build(&mut self.scratch, &["OK LEAVE ", room]));
    }

    fn msg(&mut self, id: ClientId, room: &str, text: &str, out: &mut Outbox) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let Some(members) = self
            .rooms
            .get(room)
            .map(|r| &r.members)
            .filter(|m| m.contains(&id))
        else {
            out.send(id, self.errors[ErrorCode::NotInRoom.index()].clone());
            return;
        };
        if members.len() > 1 {
            let line = build(
                &mut self.scratch,
                &["MSG ", room, " ", &client.nick, " ", text],
            );
            for &member in members.iter().filter(|&&m| m != id) {
                out.send(member, line.clone());
            }
        }
    }

    fn rooms_cmd(&mut self, id: ClientId, out: &mut Outbox) {
        self.scratch.clear();
        self.scratch.extend_from_slice(b"ROOMS");
        for name in self.rooms.keys() {
            self.scratch.push(b' ');
            self.scratch.extend_from_slice(name.as_bytes());
        }
        self.scratch.push(b'\n');
        out.send(id, Line::new(&self.scratch));
    }

    fn who(&mut self, id: ClientId, room: &str, out: &mut Outbox) {
        let mut nicks: Vec<&str> = match self.rooms.get(room) {
            Some(r) => r
                .members
                .iter()
                .filter_map(|m| self.clients.get(m).map(|c| &*c.nick))
                .collect(),
            None => Vec::new(),
        };
        nicks.sort_unstable();
        self.scratch.clear();
        self.scratch.extend_from_slice(b"WHO ");
        self.scratch.extend_from_slice(room.as_bytes());
        for nick in nicks {
            self.scratch.push(b' ');
            self.scratch.extend_from_slice(nick.as_bytes());
        }
        self.scratch.push(b'\n');
        out.send(id, Line::new(&self.scratch));
    }

    /// Forgets the client, tells its rooms, and asks the caller to close it with `last_line` last.
    fn remove(&mut self, id: ClientId, queued: Queued, last_line: Option<Line>, out: &mut Outbox) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        self.nicks.remove(&client.nick);
        for name in client.rooms {
            leave_room(
                &mut self.rooms,
                &mut self.scratch,
                name,
                id,
                &client.nick,
                out,
            );
        }
        out.close(id, queued, last_line);
    }

    /// Checks every internal invariant; `Err` describes the first violation. For tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.nicks.len() != self.clients.len() {
            return Err("nick index and clients differ in size".into());
        }
        for (&id, client) in &self.clients {
            if self.nicks.get(&client.nick) != Some(&id) {
                return Err(format!("nick {} of {id} not indexed", client.nick));
            }
            if client.rooms.len() > MAX_ROOMS_PER_CLIENT {
                return Err(format!("{id} is in too many rooms"));
            }
            for (i, name) in client.rooms.iter().enumerate() {
                if client.rooms[..i].contains(name) {
                    return Err(format!("{id} lists room {name} twice"));
                }
                let room = self.rooms.get(name).ok_or(format!("room {name} missing"))?;
                if !room.members.contains(&id) {
                    return Err(format!("{id} not a member of its room {name}"));
                }
            }
        }
        let mut memberships = 0;
        for (name, room) in &self.rooms {
            if room.members.is_empty() {
                return Err(format!("room {name} is empty"));
            }
            for id in &room.members {
                let client = self
                    .clients
                    .get(id)
                    .ok_or(format!("member {id} of {name} is not connected"))?;
                if !client.rooms.contains(name) {
                    return Err(format!("{id} does not list its room {name}"));
                }
            }
            memberships += room.members.len();
        }
        let listed: usize = self.clients.values().map(|c| c.rooms.len()).sum();
        if listed != memberships {
            return Err("membership counts differ".into());
        }
        Ok(())
    }
}

/// Removes `id` from room `name`, tells the remaining members, drops the room if it is now empty.
fn leave_room(
    rooms: &mut BTreeMap<Box<str>, Room>,
    scratch: &mut Vec<u8>,
    name: Box<str>,
    id: ClientId,
    nick: &str,
    out: &mut Outbox,
) {
    let Some(room) = rooms.get_mut(&name) else {
        return;
    };
    room.members.remove(&id);
    if room.members.is_empty() {
        rooms.remove(&name);
        return;
    }
    let line = build(scratch, &["LEFT ", &name, " ", nick]);
    for &member in &room.members {
        out.send(member, line.clone());
    }
}

/// Concatenates `parts` and a `\n` into one shared line (one allocation).
fn build(scratch: &mut Vec<u8>, parts: &[&str]) -> Line {
    scratch.clear();
    for part in parts {
        scratch.extend_from_slice(part.as_bytes());
    }
    scratch.push(b'\n');
    Line::new(scratch)
}
