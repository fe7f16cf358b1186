//! The report's section on transports: what TLS and a unix socket change between the models, from
//! the transport points (`compare/transport.rs`). Self-contained: its own tables and sentences, read
//! from `ResultsFile::transports`; a difference between variants is stated only when the ranges of
//! their repeats do not overlap.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Spread;
use crate::compare::transport::Point;
use crate::results::comparison::ResultsFile;
use crate::results::transport::{TransportOutcome, TransportRun};

/// What one run measured, as the section uses it.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Echo: messages per second; churn: new connections per second per server core.
    rate: Option<f64>,
    /// Echo: server CPU per message, µs; churn: server CPU per connection, µs.
    server_us: Option<f64>,
    /// Errors counted.
    errors: u64,
    /// TLS handshakes, full and resumed.
    handshakes: Option<(u64, u64)>,
}

fn figures(o: &TransportOutcome) -> Option<Figures> {
    match o {
        TransportOutcome::Echo(r) => Some(Figures {
            rate: Some(r.msgs_per_s),
            server_us: r.cost.server.as_ref().map(|s| s.cpu_us_per_msg),
            errors: r.error_count(),
            handshakes: r.connect.tls.map(|t| (t.full, t.resumed)),
        }),
        TransportOutcome::Churn(r) => Some(Figures {
            rate: r.conns_per_server_core_s(),
            server_us: r.server_us_per_conn(),
            errors: r.error_count(),
            handshakes: r.connect.tls.map(|t| (t.full, t.resumed)),
        }),
        TransportOutcome::Skipped { .. } | TransportOutcome::Failed { .. } => None,
    }
}

/// The runs of every file, by (point id, variant), each with its repeat (files merged: later files'
/// repeats follow the earlier ones').
struct Runs<'a> {
    conns: usize,
    variants: Vec<String>,
    by_key: BTreeMap<(String, String), Vec<(usize, &'a TransportRun)>>,
}

impl<'a> Runs<'a> {
    fn of(files: &'a [ResultsFile]) -> Option<Runs<'a>> {
        let mut runs = Runs {
            conns: 0,
            variants: Vec::new(),
            by_key: BTreeMap::new(),
        };
        let mut offset = 0;
        for f in files {
            let Some(plan) = &f.settings.matrix.transports else {
                continue;
            };
            runs.conns = plan.conns;
            for r in &f.transports {
                if !runs.variants.contains(&r.variant) {
                    runs.variants.push(r.variant.clone());
                }
                runs.by_key
                    .entry((r.point.clone(), r.variant.clone()))
                    .or_default()
                    .push((offset + r.repeat as usize, r));
            }
            offset += plan.repeats as usize;
        }
        (!runs.by_key.is_empty()).then_some(runs)
    }

    fn runs(&self, p: Point, variant: &str) -> &[(usize, &'a TransportRun)] {
        self.by_key
            .get(&(p.id(self.conns), variant.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// A figure of every measured run of `p` for `variant`, by repeat.
    fn values(
        &self,
        p: Point,
        variant: &str,
        pick: fn(&Figures) -> Option<f64>,
    ) -> Vec<(usize, f64)> {
        self.runs(p, variant)
            .iter()
            .filter_map(|(k, r)| figures(&r.outcome).and_then(|f| pick(&f)).map(|v| (*k, v)))
            .collect()
    }

    fn spread(&self, p: Point, variant: &str, pick: fn(&Figures) -> Option<f64>) -> Option<Spread> {
        Spread::of(
            self.values(p, variant, pick)
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        )
    }

    /// Ratios `p / base` of the same repeat.
    fn ratio(
        &self,
        p: Point,
        base: Point,
        variant: &str,
        pick: fn(&Figures) -> Option<f64>,
    ) -> Option<Spread> {
        let base: BTreeMap<usize, f64> = self.values(base, variant, pick).into_iter().collect();
        Spread::of(
            self.values(p, variant, pick)
                .into_iter()
                .filter_map(|(k, v)| base.get(&k).filter(|b| **b > 0.0).map(|b| v / b))
                .collect(),
        )
    }

    /// Why `p` did not run for `variant` (every run skipped or failed), if so.
    fn not_run(&self, p: Point, variant: &str) -> Option<String> {
        let runs = self.runs(p, variant);
        if runs.iter().any(|(_, r)| figures(&r.outcome).is_some()) {
            return None;
        }
        runs.iter().find_map(|(_, r)| match &r.outcome {
            TransportOutcome::Skipped { reason } => Some(format!("skipped: {reason}")),
            TransportOutcome::Failed { error } => Some(format!("failed: {error}")),
            _ => None,
        })
    }
}

fn rate(f: &Figures) -> Option<f64> {
    f.rate
}

fn server_us(f: &Figures) -> Option<f64> {
    f.server_us
}

/// `median [min – max]`, or `—`.
fn cell(s: Option<Spread>, digits: usize) -> String {
    match s {
        Some(s) if s.n > 1 => format!(
            "{:.digits$} [{:.digits$} – {:.digits$}]",
            s.median, s.min, s.max
        ),
        Some(s) => format!("{:.digits$}", s.median),
        None => "—".into(),
    }
}

/// A variant and the spread of one of its figures.
type Named = (String, Spread);

/// The highest and the lowest median of `spreads`, and whether their ranges are apart.
fn extremes(spreads: &[Named]) -> Option<(&Named, &Named, bool)> {
    let hi = spreads
        .iter()
        .max_by(|a, b| a.1.median.total_cmp(&b.1.median))?;
    let lo = spreads
        .iter()
        .min_by(|a, b| a.1.median.total_cmp(&b.1.median))?;
    let apart = hi.1.min > lo.1.max && hi.0 != lo.0 && hi.1.n > 1 && lo.1.n > 1;
    Some((hi, lo, apart))
}

fn range(s: &Spread, digits: usize) -> String {
    format!("{:.digits$} – {:.digits$}", s.min, s.max)
}

/// A sentence on what a change (`lead`: "Over TLS") does to `what`, from each variant's ratios to
/// its own `baseline` ("over TCP").
fn ratio_sentence(
    lead: &str,
    what: &str,
    baseline: &str,
    ratios: &[(String, Spread)],
) -> Option<String> {
    let (hi, lo, apart) = extremes(ratios)?;
    let all = format!(
        "{lead}, {what} is {:.2}× to {:.2}× of the same variant's {baseline} (medians by variant)",
        lo.1.median, hi.1.median
    );
    Some(if apart {
        format!(
            "{all}; the models differ: {} at {:.2}× ({}) against {} at {:.2}× ({}), ranges apart.",
            hi.0,
            hi.1.median,
            range(&hi.1, 2),
            lo.0,
            lo.1.median,
            range(&lo.1, 2),
        )
    } else {
        format!(
            "{all}; the variants' ranges overlap, so this run shows no difference between the models here."
        )
    })
}

/// The section, empty when no file has transport points.
pub fn section(files: &[ResultsFile]) -> String {
    let Some(runs) = Runs::of(files) else {
        return String::new();
    };
    let plan = files
        .iter()
        .find_map(|f| f.settings.matrix.transports.clone());
    let mut out = String::from("\n## Transports: TLS and unix sockets\n\n");
    if let Some(p) = &plan {
        let _ = writeln!(
            out,
            "Echo closed loop at {} connections of {} B (warm-up {:.1} s, {:.1} s measured) over plain \
             TCP, TLS (rustls, the server's self-signed certificate; the handshake is part of connecting, \
             not of the window) and a unix-domain socket; and TLS connection churn, {:.0} new connections \
             per second offered for {:.1} s, each one round trip, with every handshake full and with \
             sessions resumed (`--tls-resume`). Every variant, {} repeat(s), interleaved, server and \
             generator pinned as for the other points. Cells: median [min – max] over repeats; ratios \
             pair each transport's run with the TCP run of the same repeat.\n",
            p.conns,
            p.size,
            p.warmup.as_secs_f64(),
            p.duration.as_secs_f64(),
            p.churn_rate,
            p.churn_duration.as_secs_f64(),
            p.repeats
        );
    }
    // Echo table.
    out += "| variant | TCP msg/s | TLS msg/s | TLS / TCP | unix msg/s | unix / TCP | server µs/msg TCP | TLS | unix |\n";
    out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for v in &runs.variants {
        let _ = writeln!(
            out,
            "| {v} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(runs.spread(Point::EchoTcp, v, rate), 0),
            cell(runs.spread(Point::EchoTls, v, rate), 0),
            cell(runs.ratio(Point::EchoTls, Point::EchoTcp, v, rate), 2),
            cell(runs.spread(Point::EchoUnix, v, rate), 0),
            cell(runs.ratio(Point::EchoUnix, Point::EchoTcp, v, rate), 2),
            cell(runs.spread(Point::EchoTcp, v, server_us), 2),
            cell(runs.spread(Point::EchoTls, v, server_us), 2),
            cell(runs.spread(Point::EchoUnix, v, server_us), 2),
        );
    }
    // Churn table.
    out += "\n| variant | full handshakes: new conns/s per server core | server µs/conn | resumed: new conns/s per server core | server µs/conn | resumed / full | handshakes counted (full / resumed) |\n";
    out += "|---|---:|---:|---:|---:|---:|---:|\n";
    for v in &runs.variants {
        let counted = |p: Point| {
            runs.runs(p, v)
                .iter()
                .filter_map(|(_, r)| figures(&r.outcome).and_then(|f| f.handshakes))
                .reduce(|a, h| (a.0 + h.0, a.1 + h.1))
                .map_or("—".to_string(), |(full, resumed)| {
                    format!("{full} / {resumed}")
                })
        };
        let _ = writeln!(
            out,
            "| {v} | {} | {} | {} | {} | {} | full run {}, resumed run {} |",
            cell(runs.spread(Point::ChurnFull, v, rate), 0),
            cell(runs.spread(Point::ChurnFull, v, server_us), 0),
            cell(runs.spread(Point::ChurnResumed, v, rate), 0),
            cell(runs.spread(Point::ChurnResumed, v, server_us), 0),
            cell(
                runs.ratio(Point::ChurnResumed, Point::ChurnFull, v, rate),
                2
            ),
            counted(Point::ChurnFull),
            counted(Point::ChurnResumed),
        );
    }
    out += "\n";
    // Sentences.
    let collect = |f: &dyn Fn(&str) -> Option<Spread>| -> Vec<(String, Spread)> {
        runs.variants
            .iter()
            .filter_map(|v| f(v).map(|s| (v.clone(), s)))
            .collect()
    };
    let mut sentences = Vec::new();
    for (lead, p) in [
        ("Over TLS", Point::EchoTls),
        ("Over a unix socket", Point::EchoUnix),
    ] {
        sentences.extend(ratio_sentence(
            lead,
            "echo throughput",
            "over TCP",
            &collect(&|v| runs.ratio(p, Point::EchoTcp, v, rate)),
        ));
        sentences.extend(ratio_sentence(
            lead,
            "the server's CPU per message",
            "over TCP",
            &collect(&|v| runs.ratio(p, Point::EchoTcp, v, server_us)),
        ));
    }
    for (name, p) in [("full", Point::ChurnFull), ("resumed", Point::ChurnResumed)] {
        let per_core = collect(&|v| runs.spread(p, v, rate));
        if let Some((hi, lo, apart)) = extremes(&per_core) {
            sentences.push(if apart {
                format!(
                    "With {name} handshakes, {} completes the most new TLS connections per second of \
                     server CPU ({:.0}, {}) and {} the fewest ({:.0}, {}), ranges apart.",
                    hi.0,
                    hi.1.median,
                    range(&hi.1, 0),
                    lo.0,
                    lo.1.median,
                    range(&lo.1, 0)
                )
            } else {
                format!(
                    "With {name} handshakes, new TLS connections per second of server CPU range from \
                     {:.0} ({}) to {:.0} ({}) by median; the ranges overlap, so no model is ahead here.",
                    lo.1.median, lo.0, hi.1.median, hi.0
                )
            });
        }
    }
    sentences.extend(ratio_sentence(
        "With resumed TLS sessions",
        "the rate of new connections per server core",
        "with full handshakes",
        &collect(&|v| runs.ratio(Point::ChurnResumed, Point::ChurnFull, v, rate)),
    ));
    let errors: u64 = runs
        .by_key
        .values()
        .flatten()
        .filter_map(|(_, r)| figures(&r.outcome))
        .map(|f| f.errors)
        .sum();
    if errors > 0 {
        sentences.push(format!(
            "{errors} error(s) were counted in these runs: read the figures of the runs concerned with care (results.json)."
        ));
    }
    for s in sentences {
        let _ = writeln!(out, "- {s}");
    }
    for v in &runs.variants {
        for p in Point::ALL {
            if let Some(why) = runs.not_run(p, v) {
                let _ = writeln!(out, "- {v}, {}: {why}", p.id(runs.conns));
            }
        }
    }
    out
}
