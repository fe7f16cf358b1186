//! Human-readable tables, JSON and CSV output of reports.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::results::chat::ChatReport;
use crate::results::conns::ConnsReport;
use crate::results::cost::{CoreUsage, GeneratorStats, ServerStats};
use crate::results::counts::{ConnectStats, ErrorCounts};
use crate::results::echo::EchoReport;
use crate::results::hist::LatencySummary;
use crate::results::machine::Record;
use crate::results::series::TimeSeries;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A latency figure in µs for a table: `—` when the histogram is empty or
/// holds fewer than `min_count` samples (a percentile q is shown only from
/// `1/(1 − q)` samples: p99.9 from 1 000, p99.99 from 10 000, so that at
/// least one sample lies above it), `≥` when it reached the histogram's top
/// (values beyond it are clamped).
pub fn us_cell(v: u64, count: u64, min_count: u64) -> String {
    if count == 0 || count < min_count {
        "—".to_string()
    } else if v >= crate::results::hist::HIGHEST_US {
        format!("≥{v}")
    } else {
        v.to_string()
    }
}

pub(super) fn latency_rows(out: &mut String, title: &str, s: &LatencySummary) {
    let n = s.count;
    let mean = if n == 0 {
        "—".to_string()
    } else {
        format!("{:.1}", s.mean_us)
    };
    let _ = writeln!(
        out,
        "  {title:<22} p50 {:>7}  p90 {:>7}  p99 {:>7}  p99.9 {:>7}  p99.99 {:>7}  max {:>8}  mean {:>9}  (µs, n={n})",
        us_cell(s.p50_us, n, 1),
        us_cell(s.p90_us, n, 1),
        us_cell(s.p99_us, n, 1),
        us_cell(s.p999_us, n, 1_000),
        us_cell(s.p9999_us, n, 10_000),
        us_cell(s.max_us, n, 1),
        mean
    );
}

/// `; N of them lower bounds (...)` when some samples are lower bounds.
pub(super) fn lower_bound_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(
            "; {n} samples are lower bounds (never completed: t_stop − intended), so every percentile they reach is a lower bound"
        )
    }
}

pub(super) fn connect_rows(out: &mut String, c: &ConnectStats) {
    let _ = writeln!(
        out,
        "connections     {} of {} established in {:.3} s ({:.0}/s{})",
        c.established,
        c.requested,
        c.elapsed_s,
        c.rate_per_s,
        c.target_rate_per_s
            .map(|r| format!(", target {r:.0}/s"))
            .unwrap_or_default()
    );
    let f = &c.failures;
    if f.total() > 0 {
        let _ = writeln!(
            out,
            "  connect failures      {} (refused {}, timed out {}, no local address/port {}, fd limit {}, other {})",
            f.total(),
            f.refused,
            f.timed_out,
            f.addr_unavailable,
            f.fd_limit,
            f.other
        );
    }
    if let Some(tls) = &c.tls {
        let _ = writeln!(
            out,
            "  TLS handshakes        {} full, {} resumed (the connect latency includes them)",
            tls.full, tls.resumed
        );
    }
    latency_rows(out, "connect latency", &c.latency.summary);
}

pub(super) fn error_rows(out: &mut String, e: &ErrorCounts, first: &Option<String>) {
    let _ = writeln!(
        out,
        "errors          {} (mismatches {}, resets {}, closed early {}, timeouts {}, incomplete {}, drain timeouts {}, other {})",
        e.total(),
        e.mismatches,
        e.resets,
        e.unexpected_eof,
        e.timeouts,
        e.incomplete,
        e.drain_timeouts,
        e.other_io
    );
    if let Some(f) = first {
        let _ = writeln!(out, "  first error           {f}");
    }
}

pub(super) fn server_rows(out: &mut String, s: &ServerStats) {
    let _ = writeln!(
        out,
        "server pid {:<6} cpu {:.3} s ({:.2} cores; user {:.3}, sys {:.3}) = {:.2} µs/msg; ctxt switches {} vol + {} invol = {:.3}/msg ({} threads scanned in {:.1} ms)",
        s.pid,
        s.cpu_s,
        s.cpu_cores,
        s.user_s,
        s.system_s,
        s.cpu_us_per_msg,
        s.ctxt_voluntary,
        s.ctxt_nonvoluntary,
        s.ctxt_per_msg,
        s.ctxt_threads_scanned,
        s.ctxt_scan_ms
    );
    let _ = writeln!(
        out,
        "  threads {} → {} (peak {}), fds {} → {} → {}, RSS {:.1} → {:.1} MiB (peak {:.1}, end {:.1}, hwm {:.1}) = {:.0} B/conn",
        s.threads_baseline,
        s.threads_start,
        s.threads_peak,
        s.fds_baseline,
        s.fds_start,
        s.fds_end,
        mib(s.rss_baseline_bytes),
        mib(s.rss_start_bytes),
        mib(s.rss_peak_bytes),
        mib(s.rss_end_bytes),
        mib(s.rss_hwm_bytes),
        s.rss_per_conn_bytes
    );
}

pub(super) fn generator_rows(out: &mut String, g: &GeneratorStats) {
    let _ = writeln!(
        out,
        "generator       {} threads{}, cpu {:.3} s ({:.2} cores) = {:.2} µs/msg; workers {:.3} s = {:.2} µs/msg; ctxt {} + {}; recording {}",
        g.threads,
        if g.cpus.is_empty() {
            String::new()
        } else {
            format!(" on cpus {:?}", g.cpus)
        },
        g.cpu_s,
        g.cpu_cores,
        g.cpu_us_per_msg,
        g.worker_cpu_s,
        g.worker_cpu_us_per_msg,
        g.ctxt_voluntary,
        g.ctxt_nonvoluntary,
        if g.recording { "on" } else { "off" }
    );
    if g.recording {
        let _ = writeln!(
            out,
            "  measuring cost        {:.0} ns/msg (clock reads + histogram) = {:.2} % of the workers' CPU per message",
            g.record_cost_ns_per_msg, g.record_cost_pct
        );
    }
}

pub(super) fn core_rows(out: &mut String, cores: &[CoreUsage]) {
    if cores.is_empty() {
        return;
    }
    let parts: Vec<String> = cores
        .iter()
        .map(|c| {
            format!(
                "cpu{} {:.0}% (usr {:.0}, sys {:.0}, irq {:.0})",
                c.cpu,
                c.busy * 100.0,
                c.user * 100.0,
                c.system * 100.0,
                c.irq * 100.0
            )
        })
        .collect();
    let _ = writeln!(out, "cores busy      {}", parts.join(", "));
}

/// Formats an echo report as a table.
pub fn echo_table(r: &EchoReport) -> String {
    let mut out = String::new();
    let s = &r.settings;
    let _ = writeln!(
        out,
        "echo {} — {} conns × {} B, {} loop{}, {} threads, window {:.3} s (warm-up {:.3} s)",
        s.transport.address(s.addr),
        s.conns,
        s.size,
        r.mode,
        match r.target_rate {
            Some(t) => format!(" at {t:.0} msg/s"),
            None => format!(", pipeline {}", s.pipeline),
        },
        r.threads,
        r.window_s,
        s.warmup.as_secs_f64()
    );
    connect_rows(&mut out, &r.connect);
    let _ = writeln!(
        out,
        "throughput      {:.0} msg/s, {:.2} MiB/s each way ({} messages{})",
        r.msgs_per_s,
        r.mib_per_s,
        r.messages,
        match r.target_rate {
            Some(t) => format!(
                "; target {t:.0} msg/s, achieved {:.1} % (received in the window); unsent {}",
                if t > 0.0 {
                    100.0 * r.msgs_per_s / t
                } else {
                    0.0
                },
                r.unsent
            ),
            None => String::new(),
        }
    );
    if let Some(c) = &r.latency_corrected {
        let _ = writeln!(
            out,
            "latency         from intended send: corrected for coordinated omission{}",
            lower_bound_note(r.latency_lower_bounds)
        );
        latency_rows(&mut out, "from intended send", &c.summary);
        latency_rows(&mut out, "from actual send", &r.latency.summary);
        if let Some(l) = &r.send_lag {
            latency_rows(&mut out, "send lag (generator)", &l.summary);
        }
    } else {
        let _ = writeln!(
            out,
            "latency         closed loop: not corrected for coordinated omission"
        );
        latency_rows(&mut out, "round trip", &r.latency.summary);
    }
    if r.behind_schedule() {
        let _ = writeln!(
            out,
            "BEHIND SCHEDULE {} window messages unsent, {} never completed (exit status 3)",
            r.unsent, r.latency_lower_bounds
        );
    }
    error_rows(&mut out, &r.errors, &r.first_error);
    let _ = writeln!(
        out,
        "                lost in flight {}, conns answered {}, closed cleanly {}",
        r.lost, r.conns_answered, r.conns_clean
    );
    if let Some(sv) = &r.cost.server {
        server_rows(&mut out, sv);
    }
    generator_rows(&mut out, &r.cost.generator);
    core_rows(&mut out, &r.cost.cores);
    out
}

/// Formats a conns report as a table.
pub fn conns_table(r: &ConnsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "conns {} — {} connections held {:.3} s, {} threads",
        r.settings.transport.address(r.settings.addr),
        r.settings.conns,
        r.hold_s,
        r.threads
    );
    connect_rows(&mut out, &r.connect);
    let _ = writeln!(
        out,
        "probes          {} ok of {} sent ({} unsent, {} lost); {} conns answered, {} closed cleanly",
        r.probes_ok,
        r.probes_sent,
        r.probes_unsent,
        r.probes_lost,
        r.conns_alive,
        r.conns_closed_cleanly
    );
    latency_rows(&mut out, "probe round trip", &r.probe_latency.summary);
    error_rows(&mut out, &r.errors, &r.first_error);
    if let Some(sv) = &r.cost.server {
        server_rows(&mut out, sv);
    }
    generator_rows(&mut out, &r.cost.generator);
    core_rows(&mut out, &r.cost.cores);
    out
}

/// A human-readable summary of a chat report.
pub fn chat_table(r: &ChatReport) -> String {
    let mut t = String::new();
    let s = &r.settings;
    let l = &r.latency.summary;
    let _ = writeln!(
        t,
        "chat {}: {} room(s) x {} members, {} senders at {} msg/s, {} B, {} worker thread(s)",
        s.transport.address(s.addr),
        s.rooms,
        s.members,
        s.senders,
        s.rate,
        s.size,
        r.threads
    );
    let _ = writeln!(
        t,
        "  joined      {} of {} ({} failed) in {:.2} s",
        r.joined, r.clients, r.join_failures, r.join_s
    );
    let _ = writeln!(
        t,
        "  window      {:.2} s: {} messages sent ({:.0}/s), {} deliveries ({:.0}/s)",
        r.window_s, r.sent, r.msgs_per_s, r.deliveries, r.deliveries_per_s
    );
    let n = l.count;
    let _ = writeln!(
        t,
        "  fan-out latency from actual send, not corrected for coordinated omission (us)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (n={n})",
        us_cell(l.p50_us, n, 1),
        us_cell(l.p90_us, n, 1),
        us_cell(l.p99_us, n, 1),
        us_cell(l.p999_us, n, 1_000),
        us_cell(l.max_us, n, 1),
    );
    let _ = writeln!(
        t,
        "  checks      lost {}  duplicated {}  reordered {}  corrupt {}  disconnects {}  drained {}",
        r.lost, r.duplicated, r.reordered, r.corrupt, r.disconnects, r.drained
    );
    let _ = writeln!(
        t,
        "  slow consumers cut off {} (receipts they missed: {})",
        r.slow_consumer_cutoffs, r.lost_to_cutoffs
    );
    let c = &r.latency_corrected.summary;
    let n = c.count;
    let _ = writeln!(
        t,
        "  from intended send time, corrected (us)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (n={n}{})",
        us_cell(c.p50_us, n, 1),
        us_cell(c.p90_us, n, 1),
        us_cell(c.p99_us, n, 1),
        us_cell(c.p999_us, n, 1_000),
        us_cell(c.max_us, n, 1),
        lower_bound_note(r.latency_lower_bounds)
    );
    if let Some(l) = &r.send_lag {
        let n = l.summary.count;
        let _ = writeln!(
            t,
            "  send lag (actual − intended send, generator) (us)  p50 {}  p99 {}  max {}  (n={n})",
            us_cell(l.summary.p50_us, n, 1),
            us_cell(l.summary.p99_us, n, 1),
            us_cell(l.summary.max_us, n, 1),
        );
    }
    if r.behind_schedule() {
        let _ = writeln!(
            t,
            "  BEHIND SCHEDULE  {} window messages unsent ({} deliveries recorded as lower bounds; exit status 3)",
            r.unsent, r.latency_lower_bounds
        );
    }
    if let Some(sv) = &r.cost.server {
        let _ = writeln!(
            t,
            "  server      {:.2} cores, {:.2} CPU-us/delivery, threads peak {}, RSS peak {:.1} MiB",
            sv.cpu_cores,
            sv.cpu_us_per_msg,
            sv.threads_peak,
            sv.rss_peak_bytes as f64 / 1048576.0
        );
    }
    if let Some(e) = &r.first_error {
        let _ = writeln!(t, "  first error: {e}");
    }
    t
}

/// Writes the interval histograms of a time series as an HdrHistogram
/// interval log (the format of `HistogramLogWriter`; values in µs,
/// timestamps in seconds after `start_unix`).
pub fn write_interval_log(path: &Path, series: &TimeSeries, start_unix: u64) -> Result<()> {
    use hdrhistogram::serialization::V2Serializer;
    use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
    use std::time::{Duration, UNIX_EPOCH};
    let io = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
    let mut out = Vec::new();
    let mut serializer = V2Serializer::new();
    let start = UNIX_EPOCH + Duration::from_secs(start_unix);
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("loadgen interval log: latency from the intended send time, in microseconds")
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(io)?;
    let first = series.intervals.first().map_or(0.0, |i| i.start_s);
    for iv in &series.intervals {
        let Some(b64) = &iv.histogram else { continue };
        let h = crate::results::hist::from_base64(b64)?;
        let offset = Duration::from_secs_f64((iv.start_s - first).max(0.0));
        log.write_histogram(&h, offset, Duration::from_secs_f64(iv.length_s), None)
            .map_err(|e| Error::Histogram(format!("interval log: {e}")))?;
    }
    drop(log);
    std::fs::write(path, out).map_err(io)
}

/// Writes a record as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, record: &Record<T>) -> Result<()> {
    let text = serde_json::to_string_pretty(record)
        .map_err(|e| Error::io("encoding JSON", std::io::Error::other(e)))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Flattens a JSON value into `(dotted.key, value)` pairs, skipping the
/// serialized histograms (too long for a spreadsheet cell).
pub fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                // Histograms and the time series are in the JSON only.
                if k == "v2_base64" || k == "series" {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(a) => {
            let parts: Vec<String> = a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), parts.join(" ")));
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// A two-line CSV (header, values) of every figure of a record.
pub fn to_csv<T: Serialize>(record: &Record<T>) -> Result<String> {
    let v = serde_json::to_value(record)
        .map_err(|e| Error::io("encoding CSV", std::io::Error::other(e)))?;
    let mut pairs = Vec::new();
    flatten("", &v, &mut pairs);
    let header = super::csv::row(pairs.iter().map(|(k, _)| k));
    let values = super::csv::row(pairs.iter().map(|(_, v)| v));
    Ok(header + &values)
}

/// Writes [`to_csv`] to a file.
pub fn write_csv<T: Serialize>(path: &Path, record: &Record<T>) -> Result<()> {
    std::fs::write(path, to_csv(record)?)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_flattens() {
        let rec = Record {
            kind: "t".into(),
            meta: crate::results::machine::RunMeta::default(),
            report: serde_json::json!({"a": {"b": 1, "v2_base64": "xx"}, "s": "x,y", "l": [1, 2]}),
        };
        let csv = to_csv(&rec).unwrap();
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        let values = lines.next().unwrap();
        assert!(header.contains("report.a.b"));
        assert!(!header.contains("v2_base64"));
        assert!(values.contains("\"x,y\""));
        assert_eq!(
            header.split(',').count(),
            values.matches(',').count() + 1 - 1 // one quoted comma
        );
    }

    #[test]
    fn interval_log_reads_back_with_hdrhistogram() {
        use crate::results::series::{Interval, TimeSeries};
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        let mut h = crate::results::hist::new_latency();
        for v in [10u64, 20, 30, 4000] {
            h.record(v).unwrap();
        }
        let b64 = crate::results::hist::to_base64(&h).unwrap();
        let interval = |start_s: f64, histogram: Option<String>| Interval {
            start_s,
            length_s: 1.0,
            histogram,
            ..Interval::default()
        };
        let series = TimeSeries {
            interval_s: 1.0,
            intervals: vec![
                interval(-1.0, Some(b64.clone())),
                interval(0.0, None),
                interval(1.0, Some(b64)),
            ],
        };
        let path = std::env::temp_dir().join(format!("loadgen-hlog-{}.hlog", std::process::id()));
        write_interval_log(&path, &series, 1_700_000_000).unwrap();
        let text = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let starts: Vec<f64> = IntervalLogIterator::new(&text)
            .filter_map(|e| match e.unwrap() {
                LogEntry::Interval(i) => Some(i.start_timestamp().as_secs_f64()),
                _ => None,
            })
            .collect();
        assert_eq!(starts, [0.0, 2.0]);
    }
}
