//! The text table of one `loadgen work` run: per class, the rates (per
//! connection and in all), what came back, and the latency.

use std::fmt::Write as _;

use super::output::{
    connect_rows, core_rows, generator_rows, latency_rows, lower_bound_note, server_rows,
};
use crate::results::counts::ErrorCounts;
use crate::results::work::{WorkClassReport, WorkReport};

fn errors_line(e: &ErrorCounts) -> String {
    format!(
        "{} (wrong replies {}, other ERR {}, resets {}, closed early {}, timeouts {}, drain timeouts {}, other {})",
        e.total(),
        e.mismatches,
        e.refused,
        e.resets,
        e.unexpected_eof,
        e.timeouts,
        e.drain_timeouts,
        e.other_io
    )
}

fn class_rows(out: &mut String, name: &str, c: &WorkClassReport) {
    let s = &c.settings;
    let _ = writeln!(
        out,
        "{name:<5} class      {} conns × {:.2} req/s each = {:.1} req/s in all, request {:?} → {:?}, {} worker thread(s)",
        s.conns, c.rate_per_conn, s.rate, s.request, c.expected_reply, c.threads
    );
    let target = if s.rate > 0.0 {
        100.0 * c.served_per_s / s.rate
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "  window requests      sent {}, served {} (verified), ERR busy {}, unsent {}, lost {}; achieved {:.1} served/s ({target:.1} % of target) + {:.1} busy/s; ERR busy over the run {}",
        c.sent, c.served, c.busy, c.unsent, c.lost, c.served_per_s, c.busy_per_s, c.busy_total
    );
    let _ = writeln!(
        out,
        "  latency              served requests only (ERR busy apart); from intended send: corrected for coordinated omission{}",
        lower_bound_note(c.latency_lower_bounds)
    );
    latency_rows(out, "from intended send", &c.latency_corrected.summary);
    latency_rows(out, "from actual send", &c.latency.summary);
    latency_rows(out, "send lag (generator)", &c.send_lag.summary);
    if c.behind_schedule() {
        let _ = writeln!(
            out,
            "  BEHIND SCHEDULE      {} window requests unsent, {} never answered (exit status 3)",
            c.unsent, c.latency_lower_bounds
        );
    }
    let _ = writeln!(out, "  errors               {}", errors_line(&c.errors));
    if let Some(f) = &c.first_error {
        let _ = writeln!(out, "  first error          {f}");
    }
}

/// Formats a work report as a table.
pub fn work_table(r: &WorkReport) -> String {
    let mut out = String::new();
    let s = &r.settings;
    let _ = writeln!(
        out,
        "work {} — fast and slow classes, open loop, {} threads, window {:.3} s (warm-up {:.3} s), at most {} requests in flight per connection",
        s.addr,
        r.threads,
        r.window_s,
        s.warmup.as_secs_f64(),
        s.max_inflight
    );
    connect_rows(&mut out, &r.connect);
    for (name, c) in r.classes() {
        class_rows(&mut out, name, c);
    }
    if r.slow.is_none() {
        let _ = writeln!(out, "slow  class      none (the fast class alone)");
    }
    if let Some(sv) = &r.cost.server {
        server_rows(&mut out, sv);
        if let Some(u) = r.server_cpu_us_per_request {
            let _ = writeln!(
                out,
                "  server CPU per answered request (served or ERR busy, both classes, received in the window) {u:.2} µs"
            );
        }
    }
    generator_rows(&mut out, &r.cost.generator);
    core_rows(&mut out, &r.cost.cores);
    out
}
