//! What every server variant shares, so that the variant crates contain only what differs between
//! concurrency models: the configuration, the application choice, the connection limit, the accept
//! back-off policy, the latch, wait group and drain deadline (usable from blocking and async code
//! alike), signal-handling glue, the listening socket and the `listening` line; and for chat, the
//! broker and the runtime-free halves of a connection ([`chat`]); for work, the offload pool's
//! admission ([`OffloadSlots`]), the pool of the variants without one of their own ([`OffloadPool`])
//! and the async runtimes' work connection loop ([`work_tasks`]).
//!
//! The echo hot path is each variant's own `echo.rs`; the chat hot path is the [`chat::Broker`] plus
//! each variant's reader and writer loops.

pub mod accept;
pub mod app;
pub mod chat;
pub mod config;
pub mod drain;
pub mod error;
pub mod io_delegate;
pub mod latch;
pub mod limit;
pub mod listen;
pub mod offload;
pub mod offload_pool;
pub mod poll_io;
pub mod shutdown;
pub mod signals;
pub mod tls;
pub mod transport;
pub mod unix_socket;
pub mod wait_group;
pub mod work_tasks;
pub mod worker_buf;

pub use accept::AcceptBackoff;
pub use app::App;
pub use config::Config;
pub use drain::DrainDeadline;
pub use error::ServerError;
pub use latch::Latch;
pub use limit::{ConnGuard, ConnLimit};
pub use listen::{announce, bind};
pub use offload::{Admitted, OffloadSlots};
pub use offload_pool::{OffloadPool, Outcome, ReplyTo};
pub use shutdown::Shutdown;
pub use tls::Tls;
pub use transport::{ListenAddr, Listener};
pub use wait_group::{WaitGroup, WaitGroupGuard};
