//! `report.md`: tables side by side with ratios to the best, and plain-word
//! findings generated from the data.

use std::fmt::Write as _;

use super::charts::Chart;
use super::{Aggregate, Cell, Spread};
use crate::results::comparison::ResultsFile;
use crate::results::matrix::{Group, Scenario};

/// A metric shown in a table.
pub struct Metric {
    /// Column caption.
    pub name: &'static str,
    /// The value of a cell.
    pub get: fn(&Cell) -> Option<f64>,
    /// Its spread over repeats, if any.
    pub spread: fn(&Cell) -> Option<Spread>,
    /// Whether more is better.
    pub higher_better: bool,
    /// Show the spread as the runs' range instead of ±%.
    pub show_range: bool,
    /// Whether a ratio to the best means anything (a cost or a rate; not a
    /// count like threads, nor a utilisation).
    pub ratio: bool,
    /// Formatting of a value.
    pub fmt: fn(f64) -> String,
}

/// Formats a number compactly: 1234567 → 1.23M.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Formats bytes as KiB with one decimal.
pub fn kib(v: f64) -> String {
    format!("{:.1} KiB", v / 1024.0)
}

/// Formats µs of latency: `850 µs`, `12.3 ms` from 10 ms.
pub fn us(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn none(_: &Cell) -> Option<Spread> {
    None
}

/// A figure with its runs' range and ratios to the row's best.
pub fn ranged(
    name: &'static str,
    get: fn(&Cell) -> Option<f64>,
    spread: fn(&Cell) -> Option<Spread>,
    higher_better: bool,
    fmt: fn(f64) -> String,
) -> Metric {
    Metric {
        name,
        get,
        spread,
        higher_better,
        show_range: true,
        ratio: true,
        fmt,
    }
}

/// Throughput per second, ± its spread, ratios to the best.
pub fn throughput() -> Metric {
    Metric {
        name: "throughput (/s)",
        get: |c| c.throughput.map(|s| s.median),
        spread: |c| c.throughput,
        higher_better: true,
        show_range: false,
        ratio: true,
        fmt: num,
    }
}

/// A latency of the merged histograms (no spread), µs or ms.
pub fn lat(name: &'static str, get: fn(&Cell) -> Option<f64>) -> Metric {
    Metric {
        name,
        get,
        spread: none,
        higher_better: false,
        show_range: false,
        ratio: true,
        fmt: us,
    }
}

fn p50() -> Metric {
    lat("p50 latency", |c| {
        c.latency.as_ref().map(|l| l.p50_us as f64)
    })
}

/// p99 of the merged histograms with the runs' p99 range.
pub fn p99() -> Metric {
    Metric {
        spread: |c| c.p99_runs,
        show_range: true,
        ..lat("p99 latency", |c| {
            c.latency.as_ref().map(|l| l.p99_us as f64)
        })
    }
}

/// Chat: p99 from each message's intended send time (merged over repeats).
fn p99_intended() -> Metric {
    lat("p99 latency from the intended send time", |c| {
        c.latency_intended.as_ref().map(|l| l.p99_us as f64)
    })
}

fn p999() -> Metric {
    lat("p99.9 latency", |c| {
        c.latency.as_ref().map(|l| l.p999_us as f64)
    })
}

fn cpu() -> Metric {
    Metric {
        name: "server CPU-µs per message",
        get: |c| c.cpu_us_per_msg.map(|s| s.median),
        spread: |c| c.cpu_us_per_msg,
        higher_better: false,
        show_range: false,
        ratio: true,
        fmt: num,
    }
}

fn cpu_delivery() -> Metric {
    Metric {
        name: "server CPU-µs per delivery",
        ..cpu()
    }
}

fn chat_throughput() -> Metric {
    Metric {
        name: "deliveries/s received",
        ..throughput()
    }
}

fn rss() -> Metric {
    Metric {
        name: "server RSS per connection",
        get: |c| c.rss_per_conn.map(|s| s.median),
        spread: |c| c.rss_per_conn,
        higher_better: false,
        show_range: false,
        ratio: true,
        fmt: kib,
    }
}

fn threads() -> Metric {
    Metric {
        name: "server threads (peak)",
        get: |c| c.threads_peak.map(|t| t as f64),
        spread: none,
        higher_better: false,
        show_range: false,
        ratio: false,
        fmt: |v| format!("{v:.0}"),
    }
}

fn cores() -> Metric {
    Metric {
        name: "server cores busy",
        get: |c| c.server_cores.map(|s| s.median),
        spread: |c| c.server_cores,
        higher_better: false,
        show_range: false,
        ratio: false,
        fmt: |v| format!("{v:.2}"),
    }
}

fn server_core() -> Metric {
    Metric {
        name: "server's core busy (/proc/stat, incl. irq)",
        get: |c| c.server_core_busy.map(|s| s.median * 100.0),
        spread: none,
        higher_better: false,
        show_range: false,
        ratio: false,
        fmt: |v| format!("{v:.0}%"),
    }
}

fn client_core() -> Metric {
    Metric {
        name: "generator's core busy",
        get: |c| c.client_core_busy.map(|s| s.median * 100.0),
        spread: none,
        higher_better: false,
        show_range: false,
        ratio: false,
        fmt: |v| format!("{v:.0}%"),
    }
}

fn saturation_finding(a: &Aggregate) -> Option<String> {
    let mut gen_sat = Vec::new();
    let mut srv_sat = Vec::new();
    for p in &a.points {
        for v in &a.variants {
            let Some(c) = a.cell(&p.id(), v) else {
                continue;
            };
            if let Some(b) = c.client_core_busy.filter(|b| b.median > 0.9) {
                gen_sat.push(format!("{} with {v} ({:.0}%)", p.id(), b.median * 100.0));
            }
            if let Some(b) = c.server_core_busy.filter(|b| b.median > 0.9) {
                srv_sat.push(format!("{} with {v} ({:.0}%)", p.id(), b.median * 100.0));
            }
        }
    }
    if gen_sat.is_empty() && srv_sat.is_empty() {
        return None;
    }
    let list = |v: &[String]| {
        let mut s = v.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 8 {
            let _ = write!(s, " and {} more", v.len() - 8);
        }
        s
    };
    let mut s = String::from("**Saturation** — ");
    if !srv_sat.is_empty() {
        let _ = write!(
            s,
            "the server's core was over 90% busy at {} run cell(s): {}. ",
            srv_sat.len(),
            list(&srv_sat)
        );
    }
    if gen_sat.is_empty() {
        s.push_str(
            "The generator's core never exceeded 90%, so the throughput figures are the servers'.",
        );
    } else {
        let _ = write!(
            s,
            "The generator's core was over 90% busy at {} run cell(s): {}; there the figures may \
             be bounded by the generator as much as by the server (a lower bound for the server).",
            gen_sat.len(),
            list(&gen_sat)
        );
    }
    Some(s)
}

/// What this run does not have that a current `full` matrix has: fairness
/// counts (results saved before they existed) and capacity points.
fn missing_figures(a: &Aggregate) -> Option<String> {
    let load = a.points.iter().filter(|p| {
        !matches!(
            p.group(),
            Group::Idle | Group::Capacity | Group::ChatIdle | Group::Ceiling | Group::Churn
        )
    });
    let mut missing = Vec::new();
    let counted = load.clone().any(|p| {
        a.variants
            .iter()
            .any(|v| a.cell(&p.id(), v).is_some_and(|c| !c.fairness.is_empty()))
    });
    if load.count() > 0 && !counted {
        missing.push(
            "per-connection counts (fairness: its runs were recorded before loadgen counted them)",
        );
    }
    if a.group(Group::Capacity).is_empty() {
        missing.push("capacity points (capacity at a latency objective, latency vs offered load)");
    }
    (!missing.is_empty()).then(|| {
        format!(
            "**Not in this run** — {}; the verdict has no such findings.",
            missing.join("; ")
        )
    })
}

/// A short row label of a point.
pub fn label(p: &Scenario) -> String {
    match p {
        Scenario::EchoClosed { conns, .. } | Scenario::Idle { conns, .. } => {
            format!("{conns} conns")
        }
        Scenario::EchoOpen { conns, rate, .. } => format!("{conns} conns @ {} msg/s", num(*rate)),
        Scenario::Chat {
            rooms,
            members,
            senders,
            rate,
            ..
        } => format!(
            "{rooms} × {members} members, {senders} senders × {} = {} msg/s",
            num(rate / (*senders).max(1) as f64),
            num(*rate)
        ),
        Scenario::Capacity { target, p99_us, .. } => {
            let objective = super::verdict_core::latency(*p99_us as f64);
            match target {
                crate::results::matrix::CapacityTarget::Echo { conns, .. } => {
                    format!("echo {conns} conns, p99 ≤ {objective}")
                }
                crate::results::matrix::CapacityTarget::Chat {
                    rooms,
                    members,
                    senders,
                    ..
                } => format!(
                    "chat {rooms} × {members} members, {senders} senders, p99 ≤ {objective}"
                ),
                crate::results::matrix::CapacityTarget::Churn { .. } => {
                    format!("echo churn, round trip p99 ≤ {objective}")
                }
            }
        }
        Scenario::Work(w) => w.label(),
        Scenario::ChatIdle { clients, .. } => format!("chat, {clients} idle clients"),
        Scenario::Ceiling { conns, .. } => format!("ceiling, up to {conns} conns"),
        Scenario::Churn { rate, .. } => format!("echo churn @ {} conns/s", num(*rate)),
    }
}

fn best(a: &Aggregate, p: &Scenario, m: &Metric) -> Option<(String, f64)> {
    a.variants
        .iter()
        .filter_map(|v| Some((v.clone(), (m.get)(a.cell(&p.id(), v)?)?)))
        .filter(|(_, x)| x.is_finite())
        .reduce(|x, y| {
            let better = if m.higher_better {
                y.1 > x.1
            } else {
                y.1 < x.1
            };
            if better { y } else { x }
        })
}

/// How many times worse than the best: value ÷ best when lower is better,
/// best ÷ value when higher is better (so above 1 is always worse).
fn ratio(v: f64, best: f64, higher_better: bool) -> f64 {
    let (num, den) = if higher_better { (best, v) } else { (v, best) };
    if den == 0.0 {
        if num == 0.0 { 1.0 } else { f64::INFINITY }
    } else {
        num / den
    }
}

/// The ratio convention, stated in every table header that shows ratios.
pub const RATIO_NOTE: &str = "(×: times worse than the row's best, bold)";

/// A Markdown table: one row per point, one column per variant, each cell
/// the value with its ratio to the row's best (best in bold).
pub fn table(a: &Aggregate, points: &[&Scenario], m: &Metric) -> String {
    table_with(a, points, m, label)
}

/// [`table`] with rows named by `row` instead of [`label`].
pub fn table_with(
    a: &Aggregate,
    points: &[&Scenario],
    m: &Metric,
    row: fn(&Scenario) -> String,
) -> String {
    let mut t = String::new();
    if m.ratio {
        let _ = write!(t, "| {} {RATIO_NOTE} |", m.name);
    } else {
        let _ = write!(t, "| {} |", m.name);
    }
    for v in &a.variants {
        let _ = write!(t, " {v} |");
    }
    t.push_str("\n|---|");
    for _ in &a.variants {
        t.push_str("---:|");
    }
    t.push('\n');
    for p in points {
        let _ = write!(t, "| {} |", row(p));
        // A best of zero or less (a per-connection RSS below the page granularity) gives no ratios:
        // dividing by it would print `inf×`.
        let b = if m.ratio {
            best(a, p, m).filter(|(_, bx)| *bx > 0.0)
        } else {
            None
        };
        for v in &a.variants {
            let cell = a.cell(&p.id(), v);
            let text = match cell.and_then(|c| (m.get)(c).map(|x| (c, x))) {
                Some((c, x)) => {
                    let mut s = (m.fmt)(x);
                    if let Some(sp) = (m.spread)(c).filter(|s| s.n > 1) {
                        if m.show_range {
                            let (lo, hi) = ((m.fmt)(sp.min), (m.fmt)(sp.max));
                            // Runs that agree to the shown digits need no range.
                            if lo != hi {
                                let _ = write!(s, " [runs {lo}–{hi}]");
                            }
                        } else {
                            let _ = write!(s, " ±{:.0}%", sp.pct());
                        }
                    }
                    match &b {
                        Some((bv, _)) if bv == v => format!("**{s}** (1.00×)"),
                        Some((_, bx)) => format!("{s} ({:.2}×)", ratio(x, *bx, m.higher_better)),
                        None => s,
                    }
                }
                None => match cell {
                    Some(c) if c.ok == 0 && c.runs > 0 => "not run ¹".to_string(),
                    _ => "—".to_string(),
                },
            };
            let _ = write!(t, " {text} |");
        }
        t.push('\n');
    }
    t
}

fn threads_finding(a: &Aggregate) -> Option<String> {
    let idle = a.group(Group::Idle);
    let p = idle.iter().rev().find(|p| {
        a.variants
            .iter()
            .any(|v| a.cell(&p.id(), v).and_then(|c| c.threads_peak).is_some())
    })?;
    let n = p.conns() as f64;
    let parts: Vec<String> = a
        .variants
        .iter()
        .filter_map(|v| {
            let c = a.cell(&p.id(), v)?;
            let t = c.threads_peak? as f64;
            let est = c.established_min.unwrap_or(0);
            let per = t / n;
            let model = if per > 0.5 {
                "about one OS thread per connection"
            } else {
                "a fixed set of threads, independent of the connection count"
            };
            Some(format!(
                "{v} peaked at {t:.0} threads with {est} connections open ({per:.3} per connection: {model})"
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "**Threads** — with {} idle connections: {}.",
            p.conns(),
            parts.join("; ")
        )
    })
}

fn date(unix: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// The date (YYYY-MM-DD) of a Unix time, UTC.
pub fn day(unix: u64) -> String {
    date(unix)[..10].to_string()
}

fn cpus(c: &[usize]) -> String {
    if c.is_empty() {
        "not pinned".into()
    } else {
        format!(
            "CPU {}",
            c.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    }
}

/// The caveat for results measured before the known-answer fixes (their
/// run metadata has no kernel accounting settings): which figures were
/// computed the old way. The text below describes the method as it now is.
const MEASURED_BEFORE_KNOWN_ANSWERS: &str = "> **Measured before the known-answer fixes \
(loadgen before 2026-11-26).** These runs' figures were computed the old way, and the method \
described in this report differs for them: (1) a core's busy share was `1 − Δidle/Δtotal` of \
`/proc/stat`, which reads a load whose period divides the 4 ms tick as idle (a process using 0.23 \
cores pinned to a core read 0.00–0.01), so the busy shares and the saturation findings built on \
them can be far too low; (2) echo open-loop throughput and chat deliveries/s counted the window's \
messages completed during the drain as well, so under overload they read close to the offered rate \
instead of what the server served, and a window message never sent or never completed was left out \
of the latency histogram (no lower bounds); (3) a dropped chat message was also counted as \
reordered, and a swapped pair as reordered, duplicated and lost; (4) latency was rounded down to \
the µs. See `results/README.md`.\n\n";

/// The scope every finding of the verdict shares: machine, pinning, what
/// is not measured.
fn verdict_scope(f: &ResultsFile) -> String {
    let m = &f.meta.machine;
    let s = &f.settings;
    format!(
        "Scope of every sentence below: {} ({} CPUs), kernel {}, loopback TCP; each server on {} \
         ({} worker thread(s) or loop(s) per the variant's default), the generator on {}; `{}` \
         matrix, {} per point and variant. Not measured here: scaling over several server \
         cores, real networks (latency, loss, NIC interrupts), other message sizes.",
        if m.cpu_model.is_empty() {
            "unknown CPU"
        } else {
            m.cpu_model.as_str()
        },
        m.cpus_online,
        m.kernel_release,
        cpus(&s.server_cpus),
        if s.server_cpus.is_empty() {
            "cores".to_string()
        } else {
            s.server_cpus.len().to_string()
        },
        cpus(&s.client_cpus),
        s.matrix.name,
        runs_text(&s.matrix)
    )
}

/// `3 runs`, or `3 runs (capacity points: 2)` when some points differ.
fn runs_text(m: &crate::results::matrix::Matrix) -> String {
    let mut other: Vec<u32> = m
        .points
        .iter()
        .map(|p| p.repeats(m.repeats))
        .filter(|r| *r != m.repeats)
        .collect();
    other.sort_unstable();
    other.dedup();
    let base = format!("{} run(s)", m.repeats);
    if other.is_empty() {
        base
    } else {
        let o: Vec<String> = other.iter().map(|r| r.to_string()).collect();
        format!("{base} (capacity points: {})", o.join(", "))
    }
}

/// The figures that do not decide a scenario but explain it: p99.9, how
/// busy the server and generator were, threads.
fn appendix(a: &Aggregate) -> String {
    let mut t = String::from(
        "## Appendix: further figures\n\n\
         Utilisation and counts explain the figures above but do not rank the variants (no \
         ratios). *Server cores busy* is the server process's own CPU time ÷ wall time (from \
         `/proc/PID/stat`, exact); *server's core busy* is the whole pinned core from \
         `/proc/stat` (`1 − (idle + steal) ÷ wall`), which also counts interrupts, softirq \
         (loopback TCP work done on that core for either side) and any other process there, so it \
         is at least the process's share and can exceed it by a lot; before 2026-11-26 it was \
         computed from tick-sampled busy time and could read far below the process's share (see \
         `docs/REPORT.md`).\n\n",
    );
    let groups: [(Group, Vec<Metric>); 5] = [
        (
            Group::EchoClosed,
            vec![p999(), cores(), server_core(), client_core(), threads()],
        ),
        (
            Group::EchoOpen,
            vec![p999(), cores(), server_core(), client_core(), threads()],
        ),
        (Group::Idle, vec![server_core()]),
        (
            Group::ChatFanout,
            vec![p999(), cores(), server_core(), client_core(), threads()],
        ),
        (
            Group::ChatRooms,
            vec![p999(), cores(), server_core(), client_core(), threads()],
        ),
    ];
    for (g, metrics) in &groups {
        let points = a.group(*g);
        if points.is_empty() {
            continue;
        }
        let _ = writeln!(t, "### {}\n", g.title());
        for m in metrics {
            t.push_str(&table(a, &points, m));
            t.push('\n');
        }
    }
    t
}

/// The whole `report.md`.
pub fn report(files: &[ResultsFile], a: &Aggregate, charts: &[Chart]) -> String {
    let mut t = String::new();
    let Some(f) = files.first() else {
        return "# Comparison\n\nNo results.\n".into();
    };
    let meta = &f.meta;
    let mach = &meta.machine;
    let s = &f.settings;
    let _ = writeln!(t, "# Comparison: {}\n", a.variants.join(" vs "));
    let _ = writeln!(
        t,
        "Generated by `loadgen report` from `results.json`{}. Every figure below is computed from the \
         recorded runs; the text is generated from the same data.\n",
        if files.len() > 1 {
            format!(
                " — {} result sets merged (histograms merged, other figures: median over all runs)",
                files.len()
            )
        } else {
            String::new()
        }
    );
    t.push_str(&super::verdict::section(a, &verdict_scope(f)));
    t.push_str("## Set-up\n\n| | |\n|---|---|\n");
    let _ = writeln!(t, "| date | {} |", date(meta.unix_time));
    let _ = writeln!(t, "| host | {} |", mach.hostname);
    let _ = writeln!(
        t,
        "| machine | {} — {} CPUs online, {} available to the generator, {:.1} GiB RAM |",
        mach.cpu_model,
        mach.cpus_online,
        mach.cpus_available,
        mach.mem_total_bytes as f64 / (1u64 << 30) as f64
    );
    let _ = writeln!(t, "| kernel | {} |", mach.kernel_release);
    let _ = writeln!(
        t,
        "| open-file limit | soft {} / hard {} per process (generator and each server) |",
        mach.nofile_soft, mach.nofile_hard
    );
    let _ = writeln!(
        t,
        "| commit | `{}` |",
        meta.git_commit.as_deref().unwrap_or("unknown")
    );
    let _ = writeln!(t, "| command | `{}` |", meta.command_line.join(" "));
    let _ = writeln!(
        t,
        "| matrix | `{}`, {} per point and variant, variants interleaved per point ({}) |",
        s.matrix.name,
        runs_text(&s.matrix),
        s.variants
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let _ = writeln!(
        t,
        "| generator | the loadgen library in-process (mio event loops, {} worker thread(s)), {} |",
        s.client_cpus.len().max(1),
        cpus(&s.client_cpus)
    );
    let _ = writeln!(
        t,
        "| servers | a fresh process per run, {} (sched_setaffinity in the child before exec), stopped with SIGTERM |",
        cpus(&s.server_cpus)
    );
    if let Some(n) = &s.pinning_note {
        let _ = writeln!(t, "| pinning | {n} |");
    }
    let mut apps: Vec<&str> = Vec::new();
    for p in &s.matrix.points {
        if !apps.contains(&p.app()) {
            apps.push(p.app());
        }
    }
    for v in &s.variants {
        let cmd = match &v.command {
            Some(c) => format!("external: `{c}`"),
            None => format!(
                "`{} --impl {} --app {} --addr 127.0.0.1:0 --max-conns 15000` (and each point's \
                 server options, if any)",
                s.serve_bin
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                v.name,
                apps.join("|")
            ),
        };
        let _ = writeln!(t, "| variant {} | {cmd} |", v.name);
    }
    let _ = writeln!(t, "| duration | {:.0} s in all |", f.elapsed_s);
    // Server stops.
    let runs: Vec<_> = files.iter().flat_map(|f| f.runs.iter()).collect();
    let servers: Vec<_> = runs.iter().filter_map(|r| r.server.as_ref()).collect();
    let clean = servers
        .iter()
        .filter(|s| s.exited_in_time && s.exit_code == Some(0) && !s.died_early)
        .count();
    let slowest = servers.iter().map(|s| s.stop_s).fold(0.0, f64::max);
    let _ = writeln!(
        t,
        "| server stops | {clean} of {} servers exited 0 after SIGTERM within the stop timeout (slowest {slowest:.2} s) |\n",
        servers.len()
    );

    if files
        .iter()
        .any(|f| f.meta.machine.kernel_accounting.clk_tck == 0)
    {
        t.push_str(MEASURED_BEFORE_KNOWN_ANSWERS);
    }

    // Conditions of the run: the model facts, saturation, limits.
    t.push_str("## Conditions of this run\n\n");
    let mut findings = Vec::new();
    findings.extend(threads_finding(a));
    findings.extend(saturation_finding(a));
    findings.extend(missing_figures(a));
    for x in &findings {
        let _ = writeln!(t, "- {x}");
    }
    // Limits.
    let mut limits = Vec::new();
    for p in &a.points {
        for v in &a.variants {
            if let Some(c) = a.cell(&p.id(), v) {
                for n in &c.notes {
                    limits.push(format!("**{v}** at {} ({}): {n}", p.id(), label(p)));
                }
            }
        }
    }
    if limits.is_empty() {
        t.push_str(
            "- **Limits** — every point ran for every variant without errors, lost connections or \
             messages.\n",
        );
    } else {
        let _ = writeln!(
            t,
            "- **Limits** — {} problem(s) were recorded; each is listed under *Limits and errors* below.",
            limits.len()
        );
    }
    t.push('\n');

    // Tables per group: the figures that decide each scenario; the rest in
    // the appendix.
    let echo = || vec![throughput(), p50(), p99(), cpu()];
    let chat = || {
        vec![
            chat_throughput(),
            p50(),
            p99(),
            p99_intended(),
            cpu_delivery(),
        ]
    };
    let groups: [(Group, Vec<Metric>); 5] = [
        (Group::EchoClosed, echo()),
        (Group::EchoOpen, echo()),
        (Group::Idle, vec![rss(), threads(), p99()]),
        (Group::ChatFanout, chat()),
        (Group::ChatRooms, chat()),
    ];
    for (g, metrics) in &groups {
        let points = a.group(*g);
        if points.is_empty() {
            continue;
        }
        let _ = writeln!(t, "## {}\n", g.title());
        for p in &points {
            let _ = writeln!(t, "- `{}`: {}", p.id(), p.describe());
        }
        t.push('\n');
        match g {
            Group::EchoOpen => t.push_str(
                "Throughput is the achieved rate (messages received inside the window, by receipt \
                 time); latency is measured from each message's intended send time (coordinated \
                 omission corrected; a window message never completed counts with t_stop − intended \
                 as a lower bound, see the notes).\n\n",
            ),
            Group::EchoClosed => t.push_str(
                "Closed loop: latency is the round trip from the actual send, not corrected for \
                 coordinated omission (a stalled server delays the next send instead of showing in \
                 the latency).\n\n",
            ),
            Group::Idle => t.push_str(
                "RSS per connection is (peak RSS − RSS before connecting) / connections; latency is \
                 the round trip of one echo probe per connection.\n\n",
            ),
            Group::ChatFanout | Group::ChatRooms => t.push_str(
                "Throughput is deliveries received inside the window per second (one per receiving \
                 member, by receipt time); latency runs from the actual send to each receipt (not \
                 corrected for coordinated omission), and in the row so marked from the time the message was \
                 due on the senders' fixed schedule (coordinated omission corrected: a sender held \
                 up shows there); CPU is per delivery.\n\n",
            ),
            Group::Capacity | Group::Work | Group::ChatIdle | Group::Ceiling | Group::Churn => {}
        }
        for m in metrics {
            t.push_str(&table(a, &points, m));
            t.push('\n');
        }
        if *g != Group::Idle {
            t.push_str(&super::fairness::tables(a, &points));
            if let Some(gap) = super::fairness::mean_gap(a, &points) {
                let _ = writeln!(t, "{gap}\n");
            }
        }
        if matches!(g, Group::ChatFanout | Group::ChatRooms) {
            let _ = writeln!(t, "| loss checks | {} |", a.variants.join(" | "));
            let _ = writeln!(t, "|---|{}", "---:|".repeat(a.variants.len()));
            for p in &points {
                let _ = write!(t, "| {} |", label(p));
                for v in &a.variants {
                    match a.cell(&p.id(), v) {
                        Some(c) if c.ok > 0 => {
                            let _ = write!(t, " {} errors, {} cut off |", c.errors, c.cutoffs);
                        }
                        _ => t.push_str(" — |"),
                    }
                }
                t.push('\n');
            }
            t.push('\n');
        }
    }
    t.push_str(&super::capacity::section(a));
    t.push_str(&super::work::section(files));
    if !charts.is_empty() {
        t.push_str("## Charts\n\n");
        for c in charts {
            let _ = writeln!(t, "### {}\n\n![{}]({})\n", c.title, c.title, c.file);
        }
    }
    t.push_str("## Limits and errors\n\n");
    if let Some(big) = a.points.iter().max_by_key(|p| p.conns()) {
        let ran = a
            .variants
            .iter()
            .filter(|v| a.cell(&big.id(), v).is_some_and(|c| c.ok > 0))
            .count();
        let _ = writeln!(
            t,
            "File descriptors: the largest point, `{}`, needs {} sockets in the generator (plus a \
             reserve of 64) and as many in the server, against an open-file limit of {} per process; \
             it produced figures for {ran} of {} variant(s).\n",
            big.id(),
            big.conns(),
            mach.nofile_hard,
            a.variants.len()
        );
    }
    if limits.is_empty() {
        t.push_str("None recorded.\n\n");
    } else {
        for l in &limits {
            let _ = writeln!(t, "- {l}");
        }
        t.push_str("\n¹ not run: see the reason above.\n\n");
    }
    t.push_str(&appendix(a));
    t.push_str(
        "## How to read this\n\n\
         - Each cell is the median over the runs of that point (± half the min–max range when there \
         were several); latency percentiles come from the runs' HdrHistograms merged, never averaged.\n\
         - The ratio in parentheses is to the best variant of the row (bold): above 1 for \"lower is \
         better\" figures means worse, below 1 for throughput means slower.\n\
         - Server cost comes from the server process's CPU clock over the measured window (all \
         threads, exited ones included; threads and RSS sampled every 100 ms). On loopback much of \
         the TCP work runs in softirq; softirq run in a task's context is charged to that task \
         (this kernel has no IRQ time accounting), only softirq run on an otherwise idle core is \
         charged to no process. A core's busy share is `1 − (idle + steal)/wall time` (idle is \
         exact on a tickless kernel, busy ticks are only sampled).\n\
         - The generator and the server share one machine; with pinning each has its own core, so a \
         saturated figure may be the generator's limit rather than the server's — compare the server \
         cores busy with 1.0.\n\
         - Raw figures per run: `results.csv`; everything (settings, per-run reports, histograms): \
         `results.json`.\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn agg() -> Aggregate {
        let pts: Vec<Scenario> = [1usize, 100, 1000]
            .iter()
            .map(|&conns| Scenario::EchoClosed {
                conns,
                size: 64,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(1),
            })
            .collect();
        let mut a = Aggregate {
            points: pts.clone(),
            variants: vec!["a".into(), "b".into()],
            sources: 1,
            ..Aggregate::default()
        };
        for (i, p) in pts.iter().enumerate() {
            for (v, tput) in [("a", 100.0 * (i + 1) as f64), ("b", 50.0 * (i + 1) as f64)] {
                let c = Cell {
                    runs: 3,
                    ok: 3,
                    throughput: Spread::of(vec![tput * 0.9, tput, tput * 1.1]),
                    ..Cell::default()
                };
                a.cells.insert((p.id(), v.to_string()), c);
            }
        }
        // b failed at the largest point.
        a.cells.insert(
            (pts[2].id(), "b".into()),
            Cell {
                runs: 1,
                notes: vec!["run 1 failed: out of threads".into()],
                ..Cell::default()
            },
        );
        a
    }

    #[test]
    fn table_shows_ratios_to_the_best_and_missing_cells() {
        let a = agg();
        let pts = a.group(Group::EchoClosed);
        let t = table(&a, &pts, &throughput());
        assert!(
            t.starts_with(&format!("| throughput (/s) {RATIO_NOTE} | a | b |")),
            "{t}"
        );

        assert!(
            t.contains("| 1 conns | **100 ±10%** (1.00×) | 50.0 ±10% (2.00×) |"),
            "{t}"
        );
        assert!(
            t.contains("| 1000 conns | **300 ±10%** (1.00×) | not run ¹ |"),
            "{t}"
        );
        // A count gets no ratio.
        let t = table(&a, &pts, &threads());
        assert!(t.starts_with("| server threads (peak) | a | b |"), "{t}");
        assert!(!t.contains('×'), "{t}");
        // Nor does a row whose best is zero.
        let zero = Metric {
            get: |_| Some(0.0),
            ..throughput()
        };
        let t = table(&a, &pts, &zero);
        assert!(!t.contains("inf") && !t.contains("(1.00×)"), "{t}");
    }

    #[test]
    fn the_verdict_comes_from_the_data() {
        let a = agg();
        let v = super::super::verdict::section(&a, "scope");
        assert!(
            v.contains("a 200 msg/s (180–220 msg/s) > b 100 msg/s"),
            "{v}"
        );
        assert!(v.contains("every one of the 3 runs"), "{v}");
    }

    #[test]
    fn overlapping_run_ranges_are_called_noise() {
        let mut a = agg();
        let p = a.points[0].id();
        for (v, p99, lo, hi) in [("a", 100, 90.0, 300.0), ("b", 120, 110.0, 130.0)] {
            let c = a.cells.get_mut(&(p.clone(), v.to_string())).unwrap();
            c.latency = Some(crate::results::hist::LatencySummary {
                p99_us: p99,
                ..Default::default()
            });
            c.p99_runs = Some(Spread {
                median: p99 as f64,
                min: lo,
                max: hi,
                n: 3,
            });
        }
        // Only the first point has latencies: it is the largest with data.
        let v = super::super::verdict::section(&a, "scope");
        assert!(v.contains("indistinguishable"), "{v}");
        let t = table(&a, &a.group(Group::EchoClosed), &p99());
        assert!(t.contains("[runs 90 µs–300 µs]"), "{t}");
    }

    #[test]
    fn spread_dates_and_numbers() {
        let s = Spread::of(vec![3.0, 1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(s.pct(), 50.0);
        assert_eq!(Spread::of(vec![1.0, 3.0]).unwrap().median, 2.0);
        assert!(Spread::of(vec![]).is_none());
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(day(1_795_000_000), "2026-11-18");
        assert_eq!(num(1_234_567.0), "1.23M");
        assert_eq!(num(12_345.0), "12.3k");
        assert_eq!(num(5.0), "5.00");
    }
}
