//! The conformance suite for `docs/PROTOCOL.md`.
//!
//! Every case is a plain function that takes a [`Target`] (a server address over TCP, TLS or a unix
//! socket, plus the limits it was started with) and talks to it with blocking std clients, byte-exact assertions and a timeout on every
//! read. The same functions run in `cargo test` (stamped out once per variant, servers on port 0) and
//! from the `conformance` binary against any running server.

pub mod chat;
pub mod chat_client;
pub mod chat_delivery;
pub mod client;
pub mod echo;
pub mod process;
pub mod suite;
pub mod tls;
pub mod transport;
pub mod wait;
pub mod work;

pub use suite::{Case, Skipped, Target, cases};
