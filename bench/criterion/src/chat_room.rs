//! A chat room of clients on one server, for measuring fan-out, every delivered line checked.

use std::net::SocketAddr;

use conformance::chat_client::ChatClient;
use conformance::suite::Target;

/// A chat room of `members` clients on one server, for measuring fan-out: member 0 sends `MSG`, every
/// other member must receive it.
#[derive(Debug)]
pub struct ChatRoom {
    members: Vec<ChatClient>,
    room: String,
    text: String,
    seq: u64,
    send: Vec<u8>,
    expected: Vec<u8>,
}

impl ChatRoom {
    /// Connects `members` clients (at least 2) and has each join `room` in turn (each waits for its
    /// `OK JOIN`), then drains the `JOINED` notices the earlier members received, checking their count.
    /// Messages carry `text_len` bytes of text (at least 12).
    pub fn new(addr: SocketAddr, room: &str, members: usize, text_len: usize) -> Self {
        assert!(members >= 2, "a fan-out needs a sender and a receiver");
        assert!(
            text_len >= 12,
            "the text carries a 12-digit sequence number"
        );
        let target = Target::new(addr);
        let mut clients: Vec<ChatClient> = Vec::with_capacity(members);
        for _ in 0..members {
            let mut client = ChatClient::connect(&target)
                .unwrap_or_else(|err| panic!("chat client (is chat implemented?): {err:#}"));
            client
                .join(room)
                .unwrap_or_else(|err| panic!("chat JOIN: {err:#}"));
            clients.push(client);
        }
        // Member i saw the JOINED of every later member, in join order.
        let nicks: Vec<String> = clients.iter().map(|c| c.nick.clone()).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            for nick in &nicks[i + 1..] {
                client
                    .expect(&format!("JOINED {room} {nick}"))
                    .unwrap_or_else(|err| panic!("chat JOINED: {err:#}"));
            }
        }
        let text = (0..text_len - 12)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        ChatRoom {
            members: clients,
            room: room.to_owned(),
            text,
            seq: 0,
            send: Vec::new(),
            expected: Vec::new(),
        }
    }

    /// Receivers of each message (members minus the sender).
    pub fn receivers(&self) -> usize {
        self.members.len() - 1
    }

    /// One fan-out: member 0 sends `MSG <room> <seq><text>`; returns once every other member has
    /// received exactly `MSG <room> <sender> <seq><text>`.
    pub fn fan_out(&mut self) {
        use std::fmt::Write as _;
        self.seq += 1;
        let (sender, receivers) = self.members.split_first_mut().expect("a room has members");
        let mut line = String::with_capacity(self.room.len() + self.text.len() + 64);
        let _ = writeln!(line, "MSG {} {:012}{}", self.room, self.seq, self.text);
        self.send.clear();
        self.send.extend_from_slice(line.as_bytes());
        line.clear();
        let _ = writeln!(
            line,
            "MSG {} {} {:012}{}",
            self.room, sender.nick, self.seq, self.text
        );
        self.expected.clear();
        self.expected.extend_from_slice(line.as_bytes());
        sender
            .send_raw(&self.send)
            .unwrap_or_else(|err| panic!("chat MSG: {err:#}"));
        for receiver in receivers {
            receiver
                .expect_bytes(&self.expected)
                .unwrap_or_else(|err| panic!("chat fan-out: {err:#}"));
        }
    }
}
