//! What every server variant shares, so that the variant crates contain only what differs between
//! concurrency models: the configuration, the application choice, the connection limit, the accept
//! back-off policy, the latch, wait group and drain deadline (usable from blocking and async code
//! alike), signal-handling glue, the listening socket and the `listening` line; and for chat, the
//! broker and the runtime-free halves of a connection ([`chat`]).
//!
//! The echo hot path is each variant's own `echo.rs`; the chat hot path is the [`chat::Broker`] plus
//! each variant's reader and writer loops.

pub mod accept;
pub mod app;
pub mod chat;
pub mod config;
pub mod drain;
pub mod error;
pub mod latch;
pub mod limit;
pub mod listen;
pub mod poll_io;
pub mod shutdown;
pub mod signals;
pub mod wait_group;
pub mod worker_buf;

pub use accept::AcceptBackoff;
pub use app::App;
pub use config::Config;
pub use drain::DrainDeadline;
pub use error::ServerError;
pub use latch::Latch;
pub use limit::{ConnGuard, ConnLimit};
pub use listen::{announce, bind};
pub use shutdown::Shutdown;
pub use wait_group::{WaitGroup, WaitGroupGuard};
