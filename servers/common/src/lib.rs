//! What every server variant shares, so that the variant crates contain only what differs between
//! concurrency models: the configuration, the application choice, the connection limit, the accept
//! back-off policy, the shutdown signal (usable from blocking and async code alike), signal-handling glue,
//! the listening socket and the `listening` line.
//!
//! Nothing in here does per-message work: the hot path of every variant is its own `echo.rs` / `chat.rs`.

pub mod accept;
pub mod app;
pub mod config;
pub mod error;
pub mod limit;
pub mod listen;
pub mod outbound;
pub mod shutdown;
pub mod signals;

pub use accept::AcceptBackoff;
pub use app::App;
pub use config::Config;
pub use error::ServerError;
pub use limit::{ConnGuard, ConnLimit};
pub use listen::{announce, bind};
pub use outbound::{OutboundBudget, WriteBatch};
pub use shutdown::Shutdown;
