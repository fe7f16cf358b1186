//! What the bench's command line asks of criterion that the harness must know too: whether this run
//! measures (or only lists, tests or profiles), the filter, and the sample count, warm-up and
//! measurement times. Criterion keeps these private, so they are read here from the same arguments,
//! on top of [`criterion_config`](crate::criterion_config)'s defaults.

use std::time::Duration;

use regex::Regex;

use crate::{QUICK_MEASUREMENT, QUICK_SAMPLES, QUICK_WARM_UP, quick};

/// Criterion's options that take a value (everything else is a flag or the filter).
const VALUE_OPTIONS: [&str; 18] = [
    "-c",
    "--color",
    "-s",
    "--save-baseline",
    "-b",
    "--baseline",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
];

/// Options after which criterion does something other than measure and analyse each benchmark.
const NOT_MEASURING: [&str; 5] = ["--test", "--list", "--profile-time", "--quick", "--ignored"];

/// Which benchmark ids criterion will run.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every id.
    All,
    /// Ids matching this regular expression anywhere.
    Regex(Regex),
    /// This id only (`--exact`).
    Exact(String),
}

impl Filter {
    /// Whether criterion runs the benchmark `BenchmarkId::new(function, parameter)` of `group`
    /// (criterion's id `group/function/parameter`).
    pub fn matches(&self, group: &str, function: &str, parameter: &str) -> bool {
        let full = format!("{group}/{function}/{parameter}");
        match self {
            Filter::All => true,
            Filter::Regex(regex) => regex.is_match(&full),
            Filter::Exact(exact) => *exact == full,
        }
    }
}

/// The settings of this bench run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Whether criterion measures and analyses each benchmark (a plain `cargo bench`), as opposed to
    /// `--test`, `--list`, `--profile-time`, `--quick` or `--ignored`.
    pub measuring: bool,
    /// Which benchmarks run.
    pub filter: Filter,
    /// Samples per benchmark.
    pub sample_size: usize,
    /// Warm-up per benchmark.
    pub warm_up: Duration,
    /// Measurement time per benchmark.
    pub measurement: Duration,
}

impl RunSettings {
    /// The settings from this process's arguments.
    ///
    /// # Panics
    /// On a filter that is not a regular expression or a number that is not one (criterion would
    /// refuse them too).
    pub fn from_args() -> RunSettings {
        RunSettings::parse(std::env::args().skip(1))
    }

    /// The settings from `args` (without the program name).
    ///
    /// # Panics
    /// As [`from_args`](Self::from_args).
    pub fn parse(args: impl IntoIterator<Item = String>) -> RunSettings {
        // Criterion's defaults, or quick mode's.
        let (samples, warm_up, measurement) = if quick() {
            (QUICK_SAMPLES, QUICK_WARM_UP, QUICK_MEASUREMENT)
        } else {
            (100, Duration::from_secs(3), Duration::from_secs(5))
        };
        let mut settings = RunSettings {
            measuring: true,
            filter: Filter::All,
            sample_size: samples,
            warm_up,
            measurement,
        };
        let mut pattern = None;
        let mut exact = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
                _ => (arg.clone(), None),
            };
            if NOT_MEASURING.contains(&flag.as_str()) {
                settings.measuring = false;
            }
            if flag == "--exact" {
                exact = true;
            }
            if VALUE_OPTIONS.contains(&flag.as_str()) {
                let value = inline.map(str::to_owned).or_else(|| args.next());
                let Some(value) = value else { continue };
                let seconds = || {
                    value
                        .parse::<f64>()
                        .map(Duration::from_secs_f64)
                        .unwrap_or_else(|err| panic!("{flag} {value}: {err}"))
                };
                match flag.as_str() {
                    "--sample-size" => {
                        settings.sample_size = value
                            .parse()
                            .unwrap_or_else(|err| panic!("{flag} {value}: {err}"));
                    }
                    "--warm-up-time" => settings.warm_up = seconds(),
                    "--measurement-time" => settings.measurement = seconds(),
                    _ => {}
                }
            } else if !arg.starts_with('-') && pattern.is_none() {
                pattern = Some(arg);
            }
        }
        settings.filter = match pattern {
            None => Filter::All,
            Some(pattern) if exact => Filter::Exact(pattern),
            Some(pattern) => Filter::Regex(
                Regex::new(&pattern)
                    .unwrap_or_else(|err| panic!("the filter {pattern:?} is no regex: {err}")),
            ),
        };
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> RunSettings {
        RunSettings::parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn reads_the_filter_past_options_with_values() {
        let s = parse(&[
            "--bench",
            "--save-baseline",
            "echo",
            "--noise-threshold=0.05",
            "rtt.cpu/mio",
            "--sample-size",
            "20",
        ]);
        assert!(s.measuring);
        assert_eq!(s.sample_size, 20);
        assert!(s.filter.matches("echo_rtt.cpu", "mio", "64B"));
        assert!(!s.filter.matches("echo_rtt.wall", "mio", "64B"));
        assert!(!s.filter.matches("echo_rtt.cpu", "tokio", "64B"));
    }

    #[test]
    fn exact_filters_need_the_whole_id() {
        let s = parse(&["--exact", "connect.cpu/uring/1"]);
        assert!(s.filter.matches("connect.cpu", "uring", "1"));
        assert!(!s.filter.matches("connect.cpu", "uring", "10"));
    }

    #[test]
    fn times_and_modes() {
        let s = parse(&["--bench", "--measurement-time", "2.5", "--warm-up-time=0.5"]);
        assert_eq!(s.measurement, Duration::from_millis(2500));
        assert_eq!(s.warm_up, Duration::from_millis(500));
        assert!(s.measuring);
        assert!(matches!(s.filter, Filter::All));
        assert!(!parse(&["--test"]).measuring);
        assert!(!parse(&["--list"]).measuring);
        assert!(!parse(&["--profile-time", "5"]).measuring);
    }
}
