//! `loadgen capacity echo|chat|churn`: the search, printed step by step.

use std::time::Duration;

use anyhow::Context as _;
use loadgen::capacity::{self, CapacityReport, Outcome, SearchSettings, Step, Target};
use loadgen::machine::{Record, RunMeta};
use loadgen::report::output::us_cell;

use crate::cli::{CapacityArgs, CapacityScenario, Common, SearchArgs};
use crate::commands::{Verdict, save};

fn search_settings(a: &SearchArgs, p99_default: Duration, start_default: f64) -> SearchSettings {
    let start = a.start_rate.unwrap_or(start_default);
    SearchSettings {
        p99_us: a.p99.unwrap_or(p99_default).as_micros() as u64,
        p999_us: a.p999.map(|d| d.as_micros() as u64),
        start_rate: start,
        min_rate: (start / 64.0).min(a.max_rate),
        max_rate: a.max_rate,
        factor: a.factor,
        precision: a.precision,
    }
}

fn cores(c: Option<f64>) -> String {
    c.map_or_else(|| "-".to_string(), |c| format!("{c:.2}"))
}

fn print_step(s: &Step) {
    let settled = if s.settle_s >= 0.5 {
        format!(
            " (waited {:.1} s for the server to be quiet first)",
            s.settle_s
        )
    } else {
        String::new()
    };
    println!(
        "{:>12.0} {:>12.0} {:>9} {:>9} {:>9} {:>7} {:>7.2} {:>7}  {}{settled}",
        s.rate,
        s.achieved,
        us_cell(s.p50_us, s.samples, 1),
        us_cell(s.p99_us, s.samples, 1),
        us_cell(s.p999_us, s.samples, 1_000),
        cores(s.server_cpu_cores),
        s.generator_cpu_cores,
        s.errors,
        match (&s.broke, s.passed) {
            (Some(b), _) => format!("BROKE: {b}"),
            (None, true) => "pass".to_string(),
            (None, false) => format!("fail: {}", s.reason.as_deref().unwrap_or("")),
        }
    );
}

fn answer(r: &CapacityReport, unit: &str) -> String {
    let lowest = r
        .steps
        .iter()
        .min_by(|a, b| a.rate.total_cmp(&b.rate))
        .map(|s| {
            format!(
                "lowest step {:.0}{unit}: p99 {} µs, achieved {:.0}{unit}, {} errors",
                s.rate,
                us_cell(s.p99_us, s.samples, 1),
                s.achieved,
                s.errors
            )
        })
        .unwrap_or_default();
    match (r.outcome, r.capacity) {
        (Outcome::Found, Some(c)) => format!(
            "capacity: {c:.0}{unit} (within {:.0} %)",
            r.search.precision * 100.0
        ),
        (Outcome::AboveMax, Some(c)) => format!("capacity: at least {c:.0}{unit} (--max-rate)"),
        (Outcome::NeverMet, _) => format!("never met the objective; {lowest}"),
        (Outcome::Broke, c) => {
            let kind = r
                .steps
                .last()
                .and_then(|s| s.broke.clone())
                .unwrap_or_default();
            match c {
                Some(c) => format!("the server broke: {kind}; highest passing rate {c:.0}{unit}"),
                None => format!("the server broke: {kind}"),
            }
        }
        _ => "no answer".to_string(),
    }
}

/// Runs a capacity search.
pub fn run(args: &CapacityArgs) -> anyhow::Result<Verdict> {
    let (common, target, search, unit): (&Common, Target, SearchSettings, &str) =
        match &args.scenario {
            CapacityScenario::Echo(a) => {
                let mut e = crate::cli::echo_settings(&a.common);
                e.conns = a.conns;
                e.size = a.size;
                e.max_inflight = a.max_inflight;
                e.warmup = a.search.warmup;
                e.duration = a.search.duration;
                let s = search_settings(&a.search, Duration::from_millis(1), 1000.0);
                (&a.common, Target::Echo(Box::new(e)), s, " msg/s")
            }
            CapacityScenario::Chat(a) => {
                let mut c = crate::cli::chat_settings(&a.common);
                c.rooms = a.rooms;
                c.members = a.members;
                c.senders = a.senders;
                c.size = a.size;
                c.warmup = a.search.warmup;
                c.duration = a.search.duration;
                let s = search_settings(&a.search, Duration::from_millis(50), 100.0);
                (&a.common, Target::Chat(Box::new(c)), s, " msg/s")
            }
            CapacityScenario::Churn(a) => {
                let mut c = crate::churn_cmd::settings(&a.common, &a.app, a.size);
                c.duration = a.search.duration;
                let s = search_settings(&a.search, Duration::from_millis(5), 1000.0);
                (&a.common, Target::Churn(Box::new(c)), s, " conns/s")
            }
        };
    // Refuse nonsense before printing or sending anything.
    search.check().context("capacity search not started")?;
    let meta = RunMeta::collect();
    let mut objective = format!("p99 <= {} us", search.p99_us);
    if let Some(p) = search.p999_us {
        objective.push_str(&format!(", p99.9 <= {p} us"));
    }
    println!(
        "capacity search: {objective}, no errors or loss, achieved within 1 % of offered; \
         latency from the intended send time; server and loadgen in cores used"
    );
    println!(
        "{:>12} {:>12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7}  verdict",
        "offered/s", "achieved/s", "p50 us", "p99 us", "p99.9 us", "server", "loadgen", "errors"
    );
    let report = capacity::search(&target, &search, &mut print_step)
        .context("capacity search not started")?;
    println!("{}", answer(&report, unit));
    let failed = report.failed();
    let record = Record {
        kind: "capacity".into(),
        meta,
        report,
    };
    save(common, &record, &Default::default())?;
    Ok(if failed {
        Verdict::Failed("the capacity search found no passing rate".into())
    } else {
        Verdict::Done
    })
}
