//! A capacity search's settings, steps and answer.

use serde::{Deserialize, Serialize};

use super::chat::ChatSettings;
use super::echo::EchoSettings;
use crate::error::{Error, Result};

/// The latency objective and the search's range and resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Highest acceptable 99th percentile, µs.
    pub p99_us: u64,
    /// Highest acceptable 99.9th percentile, µs (`None`: not checked).
    pub p999_us: Option<u64>,
    /// First rate tried, per second.
    pub start_rate: f64,
    /// Lowest rate tried when ramping down.
    pub min_rate: f64,
    /// Highest rate tried.
    pub max_rate: f64,
    /// Factor between ramp steps (> 1).
    pub factor: f64,
    /// The search stops when the passing and failing rates are within this
    /// fraction of each other (e.g. 0.05).
    pub precision: f64,
}

impl SearchSettings {
    /// Refuses settings that make no sense, before anything is sent.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSettings(m));
        if self.p99_us == 0 {
            return bad("--p99 must be positive (a 0 µs objective cannot be met)".into());
        }
        if self.p999_us == Some(0) {
            return bad("--p999 must be positive".into());
        }
        for (name, v) in [
            ("--start-rate", self.start_rate),
            ("--max-rate", self.max_rate),
            ("the lowest rate", self.min_rate),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("{name} must be a positive number, not {v}"));
            }
        }
        if self.start_rate > self.max_rate || self.min_rate > self.start_rate {
            return bad(format!(
                "the rate range is empty: start {} is not between {} and --max-rate {}",
                self.start_rate, self.min_rate, self.max_rate
            ));
        }
        if !(self.factor > 1.0 && self.factor.is_finite()) {
            return bad(format!("--factor must be above 1, not {}", self.factor));
        }
        if !(self.precision > 0.0 && self.precision < 1.0) {
            return bad(format!(
                "--precision must be between 0 and 1, not {}",
                self.precision
            ));
        }
        Ok(())
    }
}

/// What is searched: one of the scenarios, with its settings (the rate is
/// set by the search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scenario")]
pub enum Target {
    /// Open-loop echo.
    Echo(Box<EchoSettings>),
    /// Chat fan-out.
    Chat(Box<ChatSettings>),
    /// Connection churn: the rate is new connections per second.
    Churn(Box<super::churn::ChurnSettings>),
}

/// One step of the search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Offered rate, per second (chat: messages sent).
    pub rate: f64,
    /// Achieved rate, per second: messages (chat: deliveries divided by the
    /// fan-out, to compare with `rate`) received inside the measured window,
    /// by receipt time.
    pub achieved: f64,
    /// Latency from the intended send time, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Samples behind the percentiles.
    pub samples: u64,
    /// Cores the server used (with a server pid).
    pub server_cpu_cores: Option<f64>,
    /// Cores the generator used: near its CPU count, the generator and not
    /// the server may be what limits the rate.
    #[serde(default)]
    pub generator_cpu_cores: f64,
    /// Errors of any kind counted.
    pub errors: u64,
    /// Messages (chat: deliveries) lost, plus messages never sent.
    pub lost: u64,
    /// Whether the step met every condition.
    pub passed: bool,
    /// Why not, if not.
    pub reason: Option<String>,
    /// The error kind if the server broke.
    pub broke: Option<String>,
    /// Seconds waited before the step for the server to be quiet (it was
    /// still working off the previous step).
    #[serde(default)]
    pub settle_s: f64,
}

/// The result of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// What was searched.
    pub target: Target,
    /// How.
    pub search: SearchSettings,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
    /// The highest passing rate (`None`: none passed).
    pub capacity: Option<f64>,
    /// How the search ended.
    pub outcome: Outcome,
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A capacity was found within the precision.
    Found,
    /// Every rate up to `max_rate` passed: the capacity is at least that.
    AboveMax,
    /// Not even the lowest rate met the objective.
    NeverMet,
    /// The server broke; the search stopped.
    Broke,
}

impl CapacityReport {
    /// Whether the search should make the command fail.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::NeverMet | Outcome::Broke)
    }
}
