//! What the state machine asks its caller to do: lines to send and connections to close, each close
//! carrying the last line its client is sent, so that whoever executes it never composes protocol text.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::chat::ClientId;

/// One outgoing server line, ending in `\n`, shared: a broadcast to N clients allocates it once and
/// clones the pointer N times.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Line(Arc<[u8]>);

impl Line {
    /// A line from its bytes (which must already end in `\n`).
    pub fn new(bytes: &[u8]) -> Self {
        debug_assert!(bytes.ends_with(b"\n"), "a Line ends in LF");
        Line(Arc::from(bytes))
    }

    /// The bytes, terminator included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for Line {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Line {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(&self.0), f)
    }
}

/// One line for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The recipient.
    pub to: ClientId,
    /// The line, `\n` included.
    pub line: Line,
}

/// What happens to the lines still queued for a client when it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// They are written first, then the last line (`QUIT`, line-too-long, shutdown, EOF).
    Flush,
    /// They are dropped at once: the client did not read them (slow consumer). The last line is then
    /// best effort: written only if the writer is between two lines and the socket takes it promptly.
    Discard,
}

/// How a connection ends: the close instruction a writer executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// What becomes of the lines still queued.
    pub queued: Queued,
    /// The last line the client is sent (`BYE`, `ERR line-too-long`, `ERR slow-consumer`,
    /// `ERR shutting-down`), or `None` when the client went away itself (EOF, reset).
    pub last_line: Option<Line>,
}

/// One close instruction for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The client to close.
    pub to: ClientId,
    /// How.
    pub close: Close,
}

/// The caller-owned output of state-machine events, reused across events.
///
/// Events append; the caller drains. Per client, sends come in the order they must be written, and a
/// client listed in `closes` must be closed after the sends queued for it (including ones appended by
/// the same event), with its [`Close::last_line`] last.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Lines to send, in order.
    pub sends: Vec<Outgoing>,
    /// Clients whose connection must be closed, and how. The state machine has already forgotten them.
    pub closes: Vec<Closing>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties both lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.sends.clear();
        self.closes.clear();
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.closes.is_empty()
    }

    pub(crate) fn send(&mut self, to: ClientId, line: Line) {
        self.sends.push(Outgoing { to, line });
    }

    pub(crate) fn close(&mut self, to: ClientId, queued: Queued, last_line: Option<Line>) {
        let close = Close { queued, last_line };
        self.closes.push(Closing { to, close });
    }
}
