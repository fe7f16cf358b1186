//! `loadgen`: a low-overhead load generator for echo and chat servers, and
//! the comparison and report built on it.
//!
//! It drives any server speaking the echo or chat protocol over TCP and
//! measures it the way wrk2, tcpkali and HdrHistogram do: closed or open
//! loop (with coordinated-omission correction), verification of every byte,
//! latency histograms, per-interval time series, and the server's cost read
//! from /proc (with [`host_probe`]).
//!
//! Three layers, each depending only on the ones below it:
//!
//! * [`results`] — the results model (settings, reports, histograms, cost,
//!   time series, comparison files): plain serde types, a leaf;
//! * [`generator`] — the one engine, the scenarios ([`echo`], [`conns`],
//!   [`chat`]) and the server sampler; it fills the results model;
//! * orchestration — [`capacity`] (the search) and [`compare`] (the matrix
//!   against server processes), which run the generator; and reporting —
//!   [`report`] (aggregation, markdown, charts, tables, JSON/CSV), which
//!   reads the results model.
//!
//! [`error`], [`limits`] and [`util`] are shared leaves.

pub mod capacity;
pub mod compare;
pub mod error;
pub mod generator;
pub mod limits;
pub mod report;
pub mod results;
pub mod util;

pub use error::{Error, Result};
pub use generator::{ceiling, chat, churn, conns, echo, work};
pub use results::{hist, machine};
