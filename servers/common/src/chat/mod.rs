//! Chat, written once for every variant: the broker and the two halves of a connection, without I/O
//! and without a runtime. A variant spawns the broker, runs a reader loop and a writer loop with its
//! own primitives, and plugs in a [`Mailbox`] (the queue its writers drain).
//!
//! - [`broker`]: the [`Broker`] (the `ChatState`, every client's queue and budget) and its events.
//! - [`outlet`]: the [`Outlet`] a client's broker side and writer share (budget, close instruction).
//! - [`hub`]: the [`ChatHub`] every connection shares, which makes each connection's halves.
//! - [`reader`], [`writer`]: [`ClientReader`] (bytes to broker events) and [`ClientWriter`] (what to
//!   write, when to stop, the last line).
//! - [`tasks`]: the reader, writer and broker loops of every task-per-connection async runtime,
//!   over its primitives ([`tasks::TaskRuntime`]).
//! - [`queue`]: the [`LineQueue`] of a task-per-connection client: lines from the broker, and the
//!   wake-ups of the connection's one task.
//! - [`batch`]: the [`WriteBatch`] of one vectored write, and the tuning constants.

pub mod batch;
pub mod broker;
pub mod hub;
pub mod outlet;
pub mod queue;
pub mod reader;
pub mod tasks;
pub mod writer;

pub use batch::{BROKER_INBOX, CLOSE_LINGER, STALL_TICK, WRITE_BATCH, WriteBatch};
pub use broker::{Broker, BrokerEvent, Mailbox};
pub use hub::ChatHub;
pub use outlet::Outlet;
pub use queue::{LineQueue, QueueReceiver, QueueSender};
pub use reader::ClientReader;
pub use writer::{ClientWriter, WriterStop};
