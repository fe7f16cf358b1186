//! `loadgen`: a low-overhead load generator for echo servers.
//!
//! It drives any server speaking the echo protocol over TCP and measures it
//! the way wrk2, tcpkali and HdrHistogram do: closed or open loop (with
//! coordinated-omission correction), byte-exact verification of every echo,
//! latency histograms, and the server's cost read from /proc.
//!
//! The library is organised so that scenarios can be composed by other
//! tools:
//!
//! * [`echo::run`] and [`conns::run`] run one scenario and return a report
//!   (plain serde structs);
//! * [`proc_stats::Sampler`] measures a process's cost over a window;
//! * [`machine::MachineInfo`] and [`machine::RunMeta`] describe where and
//!   what was run; [`machine::Record`] bundles them with a report;
//! * [`hist`] summarises, merges and (de)serializes histograms;
//! * [`output`] prints tables and writes JSON and CSV.

pub mod capacity;
pub mod chat;
pub mod compare;
pub mod conns;
pub mod echo;
mod engine;
pub mod error;
pub mod hist;
pub mod limits;
pub mod machine;
pub mod net;
pub mod output;
pub mod pattern;
pub mod proc_stats;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod series;
pub mod stats;
mod timer;
pub mod util;

pub use error::{Error, Result};
