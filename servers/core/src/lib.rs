//! The sans-IO core of the `chat/1` and `work/1` servers: every protocol rule, once, with no I/O, no
//! runtime and no threads. The server variants only move bytes between sockets and these types.
//!
//! - [`framing`]: bytes in, complete lines (or framing errors) out, bounded and split-proof.
//! - [`command`]: one line into a typed [`Command`] or an [`ErrorCode`].
//! - [`chat`]: the [`ChatState`] machine: clients, nicks, rooms, replies and broadcasts.
//! - [`outbox`]: what the state machine asks the caller to send, and how to close each connection.
//! - [`work`]: `work/1` requests: parsing, executing a [`Job`], formatting replies.
//! - [`work_session`]: one `work/1` connection as a [`WorkSession`] that says what to do next.

pub mod chat;
pub mod code;
pub mod command;
pub mod framing;
pub mod lines;
pub mod outbox;
pub mod work;
pub mod work_session;

#[cfg(test)]
mod chat_tests;

pub use chat::{ChatState, ClientId, MAX_ROOMS_PER_CLIENT};
pub use code::ErrorCode;
pub use command::{Command, parse};
pub use framing::{Frame, Framer, Input};
pub use lines::Lines;
pub use outbox::{Close, Closing, Line, Outbox, Outgoing, Queued};
pub use work::{Done, Job, Request};
pub use work_session::{Step, WorkSession};
