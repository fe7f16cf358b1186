//! The generator: the one engine, the scenarios that plug into it, and the
//! probes of the server process. It fills the [`crate::results`] model and
//! knows nothing of comparisons or reports.

pub mod ceiling;
pub mod chat;
pub mod churn;
pub mod conns;
pub mod echo;
pub(crate) mod engine;
pub mod net;
pub mod pattern;
pub mod progress;
pub mod sampler;
pub mod schedule;
pub(crate) mod sequence;
pub(crate) mod timer;
pub(crate) mod transport;
pub mod work;
