//! Capacity search: the highest offered rate (open loop, latency from the
//! intended send time) at which a server still meets a latency objective
//! with no errors, no loss and no backlog growth.
//!
//! The search ramps the rate geometrically (`start × factor^k`) until a step
//! fails, then bisects (geometric midpoint) between the last passing and the
//! first failing rate until they are within `precision` of each other. If the
//! first step fails it ramps down instead, to `min_rate`. Each step is one
//! complete run of the scenario on the one engine (connect, warm-up,
//! measured window, drain), so every step is measured like any other run.
//!
//! A step passes when, over its measured window:
//! * the objective holds (p99, and p99.9 if asked, of the latency from the
//!   intended send time; chat: of the deliveries);
//! * nothing failed: no error of any kind, no message lost, none left unsent;
//! * the server kept up: the achieved rate (echo: completed messages/s;
//!   chat: deliveries/s) is within 1 % of the offered one.
//!
//! A step whose errors mean the server *broke* (a corrupted or missing
//! byte, a reset, an unexpected close, a refused or failed connection, a run
//! that could not start) stops the search at once with the error kind:
//! overload shows as latency, timeouts and backlog, breakage does not.

use std::time::Duration;

pub use crate::results::capacity::{CapacityReport, Outcome, SearchSettings, Step, Target};

use crate::error::Result;
use crate::generator::{chat, churn, echo};
use crate::results::chat::ChatReport;
use crate::results::churn::ChurnReport;
use crate::results::echo::EchoReport;
use crate::results::series::TimeSeries;
/// Runs the search; `log` sees every step as soon as it is done.
pub fn search(
    target: &Target,
    s: &SearchSettings,
    log: &mut dyn FnMut(&Step),
) -> Result<CapacityReport> {
    s.check()?;
    let (conns, sources, server_pid) = match target {
        Target::Echo(e) => (e.conns, e.source_ips.len(), e.server_pid),
        Target::Chat(c) => (c.clients(), c.source_ips.len(), c.server_pid),
        // Few connections at a time: each is closed after its round trip.
        Target::Churn(c) => (1, c.source_ips.len(), c.server_pid),
    };
    crate::limits::ensure_capacity(conns, sources)?;
    let mut steps = Vec::new();
    let mut run = |rate: f64, steps: &mut Vec<Step>| -> Step {
        // A server still working off the previous step's backlog would
        // skew this one: wait until it is quiet (bounded).
        let settle_s = match (server_pid, steps.is_empty()) {
            (Some(pid), false) => settle(pid, SETTLE_LIMIT),
            _ => 0.0,
        };
        let mut step = run_step(target, s, rate, steps.len());
        step.settle_s = settle_s;
        log(&step);
        steps.push(step.clone());
        step
    };
    let done = |steps: Vec<Step>, capacity, outcome| CapacityReport {
        target: target.clone(),
        search: s.clone(),
        steps,
        capacity,
        outcome,
    };
    // Ramp up (or, if the first step fails, down).
    let first = run(s.start_rate, &mut steps);
    if first.broke.is_some() {
        return Ok(done(steps, None, Outcome::Broke));
    }
    let (mut lo, mut hi) = if first.passed {
        let mut lo = s.start_rate;
        loop {
            if lo >= s.max_rate {
                return Ok(done(steps, Some(lo), Outcome::AboveMax));
            }
            let next = (lo * s.factor).min(s.max_rate);
            let st = run(next, &mut steps);
            if st.broke.is_some() {
                return Ok(done(steps, Some(lo), Outcome::Broke));
            }
            if !st.passed {
                break (lo, next);
            }
            lo = next;
        }
    } else {
        let mut hi = s.start_rate;
        loop {
            if hi <= s.min_rate {
                return Ok(done(steps, None, Outcome::NeverMet));
            }
            let next = (hi / s.factor).max(s.min_rate);
            let st = run(next, &mut steps);
            if st.broke.is_some() {
                return Ok(done(steps, None, Outcome::Broke));
            }
            if st.passed {
                break (next, hi);
            }
            hi = next;
        }
    };
    // Bisect.
    while hi / lo > 1.0 + s.precision {
        let mid = (lo * hi).sqrt();
        let st = run(mid, &mut steps);
        if st.broke.is_some() {
            return Ok(done(steps, Some(lo), Outcome::Broke));
        }
        if st.passed {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(done(steps, Some(lo), Outcome::Found))
}

/// How long to wait at most for the server to become quiet between steps.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// Waits until process `pid` uses less than 5 % of a core over 200 ms (or
/// `limit` has passed, or it cannot be read); returns the seconds waited.
fn settle(pid: u32, limit: Duration) -> f64 {
    let started = std::time::Instant::now();
    let Ok(clock) = host_probe::Process::new(pid).cpu_clock() else {
        return 0.0;
    };
    let period = Duration::from_millis(200);
    while started.elapsed() < limit {
        let Ok(a) = clock.now() else { break };
        std::thread::sleep(period);
        let Ok(b) = clock.now() else { break };
        if b.saturating_sub(a) < period / 20 {
            break;
        }
    }
    started.elapsed().as_secs_f64()
}

fn run_step(target: &Target, s: &SearchSettings, rate: f64, index: usize) -> Step {
    let r = match target {
        Target::Echo(e) => {
            let mut e = (**e).clone();
            e.rate = Some(rate);
            echo::run(&e).map(|r| echo_step(&r, rate))
        }
        Target::Chat(c) => {
            let mut c = (**c).clone();
            c.rate = rate;
            // Rooms of their own: `s<step>r<room>`.
            c.room_prefix = format!("s{index}{}", c.room_prefix);
            chat::run(&c).map(|r| chat_step(&r, rate))
        }
        Target::Churn(c) => {
            let mut c = (**c).clone();
            c.rate = rate;
            churn::run(&c).map(|r| churn_step(&r, rate))
        }
    };
    let mut step = r.unwrap_or_else(|e| Step {
        rate,
        broke: Some(format!("the run failed: {e}")),
        reason: Some(e.to_string()),
        ..Step::default()
    });
    if step.broke.is_none() {
        judge(&mut step, s);
    }
    step
}

/// Messages received per second inside the measured window, by receipt
/// time (from the time series), so that a server falling behind shows even
/// if the backlog clears during the drain; `None` if no interval lies
/// inside the window (a window shorter than the interval).
fn receipt_rate(series: &TimeSeries) -> Option<f64> {
    let (n, secs) = series
        .intervals
        .iter()
        .filter(|i| i.measured)
        .fold((0u64, 0.0f64), |(n, s), i| (n + i.messages, s + i.length_s));
    (secs > 0.0).then(|| n as f64 / secs)
}

fn echo_step(r: &EchoReport, rate: f64) -> Step {
    let l = r
        .latency_corrected
        .as_ref()
        .map_or(&r.latency.summary, |h| &h.summary);
    let e = &r.errors;
    let f = &r.connect.failures;
    let broke = [
        ("mismatched echo", e.mismatches),
        ("connection reset", e.resets),
        ("closed by the server", e.unexpected_eof),
        ("incomplete echo at close", e.incomplete),
        ("refused in-band", e.refused),
        ("other I/O error", e.other_io),
        ("connection failures", f.total()),
    ]
    .into_iter()
    .find(|&(_, n)| n > 0)
    .map(|(kind, n)| format!("{kind} ({n})"));
    Step {
        rate,
        // Without a measured interval: the window's messages over its
        // nominal length (the schedule's, not the coordinator's wake-ups).
        achieved: receipt_rate(&r.series)
            .unwrap_or(r.messages as f64 / r.settings.duration.as_secs_f64()),
        p50_us: l.p50_us,
        p99_us: l.p99_us,
        p999_us: l.p999_us,
        samples: l.count,
        server_cpu_cores: r.cost.server.as_ref().map(|s| s.cpu_cores),
        generator_cpu_cores: r.cost.generator.cpu_cores,
        errors: r.error_count(),
        lost: r.lost + r.unsent,
        broke,
        ..Step::default()
    }
}

fn chat_step(r: &ChatReport, rate: f64) -> Step {
    let l = &r.latency_corrected.summary;
    let s = &r.settings;
    // Each message goes to every other member of its room.
    let fanout = s.members.saturating_sub(1).max(1) as f64;
    let broke = [
        ("corrupt messages", r.corrupt),
        ("duplicated messages", r.duplicated),
        ("reordered messages", r.reordered),
        ("disconnects", r.disconnects),
        ("join failures", r.join_failures as u64),
    ]
    .into_iter()
    .find(|&(_, n)| n > 0)
    .map(|(kind, n)| format!("{kind} ({n})"));
    Step {
        rate,
        achieved: receipt_rate(&r.series).unwrap_or(r.deliveries as f64 / s.duration.as_secs_f64())
            / fanout,
        p50_us: l.p50_us,
        p99_us: l.p99_us,
        p999_us: l.p999_us,
        samples: l.count,
        server_cpu_cores: r.cost.server.as_ref().map(|s| s.cpu_cores),
        generator_cpu_cores: r.cost.generator.cpu_cores,
        errors: r.error_count(),
        lost: r.lost + r.lost_to_cutoffs + r.unsent,
        broke,
        ..Step::default()
    }
}

/// A churn step: the rate is new connections per second, the latency the whole round trip from
/// each attempt's scheduled start. A connection that failed or timed out is overload here (a
/// listen backlog that overflows shows as connect time-outs), so it fails the step rather than
/// stopping the search.
fn churn_step(r: &ChurnReport, rate: f64) -> Step {
    let l = &r.round_trip.summary;
    Step {
        rate,
        // Completed connections over the whole run, from the first attempt to the last round
        // trip: a server that falls behind stretches it.
        achieved: r.achieved_rate,
        p50_us: l.p50_us,
        p99_us: l.p99_us,
        p999_us: l.p999_us,
        samples: l.count,
        server_cpu_cores: r
            .server_cpu_s
            .filter(|_| r.elapsed_s > 0.0)
            .map(|c| c / r.elapsed_s),
        generator_cpu_cores: 0.0,
        errors: r.error_count(),
        lost: (r.connect.requested.saturating_sub(r.completed)) as u64,
        broke: None,
        ..Step::default()
    }
}

/// Decides whether a step that did not break passed.
fn judge(step: &mut Step, s: &SearchSettings) {
    let mut why = Vec::new();
    if step.samples == 0 {
        why.push("no message completed".to_string());
    }
    if step.p99_us > s.p99_us {
        why.push(format!("p99 {} µs > {} µs", step.p99_us, s.p99_us));
    }
    if let Some(p) = s.p999_us {
        if step.p999_us > p {
            why.push(format!("p99.9 {} µs > {p} µs", step.p999_us));
        }
    }
    if step.errors > 0 {
        why.push(format!("{} errors", step.errors));
    }
    if step.lost > 0 {
        why.push(format!("{} lost or unsent", step.lost));
    }
    if step.achieved < 0.99 * step.rate {
        why.push(format!(
            "achieved {:.1}/s < 99 % of offered {:.1}/s",
            step.achieved, step.rate
        ));
    }
    step.passed = why.is_empty();
    step.reason = (!why.is_empty()).then(|| why.join("; "));
}

/// The default duration of a step's measured window and warm-up, and why:
/// at 1 000 msg/s the 3 s window holds 3 000 samples, 30 of them above the
/// p99 (the percentile is then stable to a few %); the 1 s warm-up absorbs
/// connection set-up, the server's first allocations and the schedule's
/// start; and a backlog that grows by 1 % of the rate shows within 3 s.
pub const STEP_WINDOW: Duration = Duration::from_secs(3);

/// See [`STEP_WINDOW`].
pub const STEP_WARMUP: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SearchSettings {
        SearchSettings {
            p99_us: 1000,
            p999_us: None,
            start_rate: 1000.0,
            min_rate: 10.0,
            max_rate: 1e6,
            factor: 2.0,
            precision: 0.05,
        }
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(settings().check().is_ok());
        let mut s = settings();
        s.p99_us = 0;
        assert!(s.check().is_err());
        let mut s = settings();
        s.start_rate = 2e6;
        assert!(s.check().is_err());
        let mut s = settings();
        s.factor = 1.0;
        assert!(s.check().is_err());
        let mut s = settings();
        s.precision = 0.0;
        assert!(s.check().is_err());
        let mut s = settings();
        s.p999_us = Some(0);
        assert!(s.check().is_err());
    }

    #[test]
    fn judging_a_step() {
        let s = settings();
        let mut ok = Step {
            rate: 1000.0,
            achieved: 999.0,
            p99_us: 900,
            samples: 3000,
            ..Step::default()
        };
        judge(&mut ok, &s);
        assert!(ok.passed, "{:?}", ok.reason);
        let mut slow = ok.clone();
        slow.p99_us = 1001;
        judge(&mut slow, &s);
        assert!(!slow.passed);
        let mut behind = ok.clone();
        behind.achieved = 980.0;
        judge(&mut behind, &s);
        assert!(!behind.passed);
        let mut lossy = ok.clone();
        lossy.lost = 1;
        judge(&mut lossy, &s);
        assert!(!lossy.passed);
    }
}
