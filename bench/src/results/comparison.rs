//! A comparison's results: what `results.json` holds (the variants, the
//! matrix, every run's report or why there is none, each server process).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::chat::ChatReport;
use super::conns::ConnsReport;
use super::echo::EchoReport;
use super::machine::RunMeta;
use super::matrix::Matrix;
use super::work::WorkReport;

/// The format tag of `results.json`.
pub const FORMAT: &str = "loadgen-compare/1";

/// Everything a comparison produced: what `results.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// [`FORMAT`].
    pub format: String,
    /// Machine, commit, command line.
    pub meta: RunMeta,
    /// Variants, matrix, pinning.
    pub settings: CompareSettings,
    /// Wall-clock seconds of the whole comparison.
    pub elapsed_s: f64,
    /// Every run, in the order they ran.
    pub runs: Vec<RunRecord>,
    /// The transport points' runs (`compare/transport.rs`), if the matrix has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<super::transport::TransportRun>,
}

/// One run of one variant at one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The point id ([`super::matrix::Scenario::id`]).
    pub point: String,
    /// The variant name.
    pub variant: String,
    /// Repetition number, from 0.
    pub repeat: u32,
    /// The server process: pid, pinning, how it stopped.
    pub server: Option<ServerRun>,
    /// The scenario's report, or why there is none.
    pub result: RunResult,
}

/// A scenario report, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RunResult {
    /// An echo run (closed or open loop).
    Echo(Box<EchoReport>),
    /// An idle-connection run.
    Conns(Box<ConnsReport>),
    /// A chat run.
    Chat(Box<ChatReport>),
    /// A capacity search.
    Capacity(Box<super::capacity::CapacityReport>),
    /// A work run.
    Work(Box<WorkReport>),
    /// A churn run (new connections at an offered rate, one round trip each).
    Churn(Box<super::churn::ChurnReport>),
    /// A connection-ceiling run.
    Ceiling(Box<super::ceiling::CeilingReport>),
    /// Not run: the point cannot fit on this machine.
    Skipped {
        /// Why.
        reason: String,
    },
    /// The run failed as a whole.
    Failed {
        /// The error.
        error: String,
    },
}

/// Everything `compare` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSettings {
    /// The variants, in the order they run at each point.
    pub variants: Vec<Variant>,
    /// The scenario matrix.
    pub matrix: Matrix,
    /// The `serve` binary.
    pub serve_bin: PathBuf,
    /// CPUs of the servers (empty: not pinned).
    pub server_cpus: Vec<usize>,
    /// CPUs of the generator's threads (empty: not pinned).
    pub client_cpus: Vec<usize>,
    /// Why pinning is off, if it is.
    pub pinning_note: Option<String>,
}

impl CompareSettings {
    /// Our variants by name plus external commands (`NAME=COMMAND`).
    pub fn variants(impls: &[String], externals: &[(String, String)]) -> Vec<Variant> {
        let mut v: Vec<Variant> = impls
            .iter()
            .map(|i| Variant {
                name: i.clone(),
                kind: VariantKind::Serve,
                command: None,
            })
            .collect();
        v.extend(externals.iter().map(|(n, c)| Variant {
            name: n.clone(),
            kind: VariantKind::External,
            command: Some(c.clone()),
        }));
        v
    }
}

/// One server variant: ours (the `serve` binary) or an external command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Name shown in the report (`threads`, `tokio`, ..., or the external
    /// name).
    pub name: String,
    /// `serve`: an implementation of ours; `external`: any command.
    pub kind: VariantKind,
    /// External: the command, `{addr}` replaced by the listen address.
    pub command: Option<String>,
}

/// Ours or somebody else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VariantKind {
    /// `serve --impl <name>`.
    Serve,
    /// A shell command.
    External,
}

/// What happened to a server process over one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerRun {
    /// Process id.
    pub pid: u32,
    /// The address it listened on.
    pub addr: String,
    /// The command line.
    pub command: Vec<String>,
    /// CPUs it was pinned to (empty: not pinned).
    pub cpus: Vec<usize>,
    /// Seconds from spawn to listening.
    pub start_s: f64,
    /// Exit status after SIGTERM (`None`: killed, or ended by a signal).
    pub exit_code: Option<i32>,
    /// Whether it exited within the stop timeout after SIGTERM.
    pub exited_in_time: bool,
    /// Seconds from SIGTERM to exit.
    pub stop_s: f64,
    /// Whether it had already exited before SIGTERM (crashed).
    pub died_early: bool,
    /// The last lines of its stderr.
    pub stderr_tail: String,
}
