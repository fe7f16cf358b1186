//! SVG charts of a comparison (plotters): one colour per variant in every
//! chart, the legend beside the plot, p50 dashed and p99 solid, the min–max
//! range of the repeats as a bar, and a point where the generator's core was
//! saturated drawn as a cross.

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{Aggregate, Cell, Spread};
use crate::error::{Error, Result};
use crate::results::matrix::{Group, Scenario};

/// A chart written: file name and title.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File name inside the output directory.
    pub file: String,
    /// Title.
    pub title: String,
}

/// One point of a line: the median, the runs' range, whether the
/// generator's core was saturated there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// x value.
    pub x: f64,
    /// y value (the median).
    pub y: f64,
    /// The repeats' min–max, if several.
    pub range: Option<(f64, f64)>,
    /// The generator's core was over 90 % busy: a bound, not the server's
    /// figure.
    pub saturated: bool,
}

/// A line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The variant (decides the colour).
    pub variant: String,
    /// The legend text.
    pub label: String,
    /// Dashed (p50) or solid.
    pub dashed: bool,
    /// Whether the legend lists it (several runs' lines share one entry).
    pub in_legend: bool,
    /// The points, by x.
    pub points: Vec<Point>,
}

/// The fixed colour of each of our variants, so that a variant looks the
/// same in every chart; others get the remaining colours by position.
fn color(a: &Aggregate, variant: &str) -> RGBColor {
    const NAMED: [(&str, RGBColor); 6] = [
        ("threads", RGBColor(214, 39, 40)),
        ("tokio", RGBColor(31, 119, 180)),
        ("async-std", RGBColor(148, 103, 189)),
        ("smol", RGBColor(255, 127, 14)),
        ("mio", RGBColor(44, 160, 44)),
        ("uring", RGBColor(23, 190, 207)),
    ];
    const OTHERS: [RGBColor; 4] = [
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
    ];
    if let Some((_, c)) = NAMED.iter().find(|(n, _)| *n == variant) {
        return *c;
    }
    let i = a
        .variants
        .iter()
        .filter(|v| !NAMED.iter().any(|(n, _)| n == v))
        .position(|v| v == variant)
        .unwrap_or(0);
    OTHERS[i % OTHERS.len()]
}

fn err<E: std::fmt::Debug>(e: E) -> Error {
    Error::InvalidSettings(format!("drawing a chart: {e:?}"))
}

/// A tick label: 1, 10, 100, 1k, 10k, 1.5M; 0.5, 0.05.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e3 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 1.0 || a == 0.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

/// A tick label on a logarithmic axis: only 1, 2 and 5 times a power of
/// ten are labelled, so that labels do not run into each other.
pub fn log_tick(v: f64) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let mantissa = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 0.02) {
        tick(v)
    } else {
        String::new()
    }
}

/// What the y values are, for the axis label and scaling.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Latency in µs; drawn in ms when the largest value is 1 ms or more.
    Latency,
    /// Anything else, with its label.
    Plain(&'static str),
}

/// The axis label and the factor applied to the values.
fn scale(unit: Unit, lines: &[Line], what: &str) -> (String, f64) {
    match unit {
        Unit::Latency => {
            let max = lines
                .iter()
                .flat_map(|l| l.points.iter())
                .map(|p| p.range.map_or(p.y, |r| r.1))
                .fold(0.0, f64::max);
            if max >= 1000.0 {
                (format!("{what} (ms)"), 1e-3)
            } else {
                (format!("{what} (µs)"), 1.0)
            }
        }
        Unit::Plain(label) => (label.to_string(), 1.0),
    }
}

/// The axis ranges covering every point and range.
fn bounds(lines: &[Line], log_x: bool, log_y: bool) -> ((f64, f64), (f64, f64)) {
    let pts = || lines.iter().flat_map(|l| l.points.iter());
    let xmin = pts().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let xmax = pts().map(|p| p.x).fold(f64::NEG_INFINITY, f64::max);
    let ymin = pts()
        .map(|p| p.range.map_or(p.y, |r| r.0))
        .fold(f64::INFINITY, f64::min);
    let ymax = pts()
        .map(|p| p.range.map_or(p.y, |r| r.1))
        .fold(0.0, f64::max);
    let x = if log_x {
        let lo = xmin.max(f64::MIN_POSITIVE);
        (lo / 1.6, xmax.max(lo * 2.0) * 1.6)
    } else {
        let pad = ((xmax - xmin) * 0.06).max(xmax.abs() * 0.05).max(1e-9);
        ((xmin - pad).max(0.0), xmax + pad)
    };
    let y = if log_y {
        let lo = if ymin.is_finite() && ymin > 0.0 {
            ymin / 1.6
        } else {
            1e-3
        };
        (lo, (ymax * 1.6).max(lo * 10.0))
    } else {
        (0.0, (ymax * 1.12).max(1e-9))
    };
    (x, y)
}

/// How a chart is drawn.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// Title.
    pub title: &'a str,
    /// x-axis label.
    pub x_label: &'a str,
    /// What y is (the unit is added).
    pub y_what: &'a str,
    /// The unit of y.
    pub unit: Unit,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// A horizontal reference (the latency objective), in the y values'
    /// unit before scaling, with its legend text.
    pub reference: Option<(f64, String)>,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 520;
const LEGEND: u32 = 190;

macro_rules! plot {
    ($area:expr, $a:expr, $spec:expr, $ylab:expr, $lines:expr, $reference:expr, $xr_lo:expr, $xr_hi:expr, $xr:expr, $yr:expr) => {{
        let mut chart = ChartBuilder::on($area)
            .caption($spec.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d($xr, $yr)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc($spec.x_label)
            .y_desc($ylab.as_str())
            .x_label_formatter(&|x| if $spec.log_x { log_tick(*x) } else { tick(*x) })
            .y_label_formatter(&|y| tick(*y))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        if let Some((y, _)) = &$reference {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![($xr_lo, *y), ($xr_hi, *y)],
                    3,
                    3,
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
        }
        for l in $lines.iter() {
            let c = color($a, &l.variant);
            let style = c.stroke_width(2);
            let xy: Vec<(f64, f64)> = l.points.iter().map(|p| (p.x, p.y)).collect();
            if l.dashed {
                chart
                    .draw_series(DashedLineSeries::new(xy.clone(), 8, 5, style))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(xy.clone(), style))
                    .map_err(err)?;
            }
            for p in &l.points {
                if let Some((lo, hi)) = p.range {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x, lo), (p.x, hi)],
                            c.stroke_width(1),
                        )))
                        .map_err(err)?;
                }
                if p.saturated {
                    chart
                        .draw_series(std::iter::once(Cross::new(
                            (p.x, p.y),
                            6,
                            c.stroke_width(2),
                        )))
                        .map_err(err)?;
                } else if l.dashed {
                    chart
                        .draw_series(std::iter::once(Circle::new((p.x, p.y), 3, c.filled())))
                        .map_err(err)?;
                } else {
                    chart
                        .draw_series(std::iter::once(Circle::new((p.x, p.y), 4, c.filled())))
                        .map_err(err)?;
                }
            }
        }
    }};
}

/// Draws the legend in its own area beside the plot.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    a: &Aggregate,
    lines: &[Line],
    reference: Option<&str>,
) -> Result<()> {
    let text = ("sans-serif", 14).into_font().color(&BLACK);
    let mut y = 50;
    for l in lines.iter().filter(|l| l.in_legend) {
        let c = color(a, &l.variant);
        let seg = vec![(8, y), (40, y)];
        if l.dashed {
            area.draw(&DashedPathElement::new(seg, 6, 4, c.stroke_width(2)))
                .map_err(err)?;
        } else {
            area.draw(&PathElement::new(seg, c.stroke_width(2)))
                .map_err(err)?;
        }
        area.draw(&Text::new(l.label.clone(), (48, y - 7), text.clone()))
            .map_err(err)?;
        y += 22;
    }
    y += 10;
    let small = ("sans-serif", 12).into_font().color(&BLACK);
    if let Some(r) = reference {
        area.draw(&DashedPathElement::new(
            vec![(8, y), (40, y)],
            3,
            3,
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&Text::new(r.to_string(), (48, y - 6), small.clone()))
            .map_err(err)?;
        y += 24;
    }
    let has_range = lines
        .iter()
        .any(|l| l.points.iter().any(|p| p.range.is_some()));
    if has_range {
        area.draw(&PathElement::new(
            vec![(24, y - 8), (24, y + 8)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            "min–max of the runs",
            (48, y - 6),
            small.clone(),
        ))
        .map_err(err)?;
        y += 24;
    }
    if lines.iter().any(|l| l.points.iter().any(|p| p.saturated)) {
        area.draw(&Cross::new((24, y), 6, BLACK.stroke_width(2)))
            .map_err(err)?;
        area.draw(&Text::new(
            "generator core > 90 %:",
            (48, y - 6),
            small.clone(),
        ))
        .map_err(err)?;
        area.draw(&Text::new("a bound, not the server's", (48, y + 8), small))
            .map_err(err)?;
    }
    Ok(())
}

/// Draws a line chart to `path`.
pub fn line_chart(path: &Path, a: &Aggregate, spec: &Spec<'_>, lines: &[Line]) -> Result<()> {
    let (ylab, k) = scale(spec.unit, lines, spec.y_what);
    let lines: Vec<Line> = lines
        .iter()
        .map(|l| Line {
            points: l
                .points
                .iter()
                .map(|p| Point {
                    y: p.y * k,
                    range: p.range.map(|(lo, hi)| (lo * k, hi * k)),
                    ..*p
                })
                .collect(),
            ..l.clone()
        })
        .collect();
    let ((x0, x1), (y0, y1)) = bounds(&lines, spec.log_x, spec.log_y);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND);
    let reference = spec.reference.as_ref().map(|(y, t)| (y * k, t.clone()));
    match (spec.log_x, spec.log_y) {
        (true, true) => plot!(
            &plot_area,
            a,
            spec,
            ylab,
            lines,
            reference,
            x0,
            x1,
            (x0..x1).log_scale(),
            (y0..y1).log_scale()
        ),
        (true, false) => plot!(
            &plot_area,
            a,
            spec,
            ylab,
            lines,
            reference,
            x0,
            x1,
            (x0..x1).log_scale(),
            y0..y1
        ),
        (false, true) => plot!(
            &plot_area,
            a,
            spec,
            ylab,
            lines,
            reference,
            x0,
            x1,
            x0..x1,
            (y0..y1).log_scale()
        ),
        (false, false) => plot!(
            &plot_area,
            a,
            spec,
            ylab,
            lines,
            reference,
            x0,
            x1,
            x0..x1,
            y0..y1
        ),
    }
    legend(
        &legend_area,
        a,
        &lines,
        reference.as_ref().map(|(_, t)| t.as_str()),
    )?;
    root.present().map_err(err)?;
    Ok(())
}

/// Whether the generator's core was over 90 % busy in a cell.
fn saturated(c: &Cell) -> bool {
    c.client_core_busy.is_some_and(|b| b.median > 0.9)
}

/// One line per variant over `points`: x from the point, y and range from
/// the cell (`None`: no point there).
pub fn lines(
    a: &Aggregate,
    points: &[&Scenario],
    x: fn(&Scenario) -> f64,
    y: impl Fn(&Cell) -> Option<(f64, Option<Spread>)>,
    label: impl Fn(&str) -> String,
    dashed: bool,
) -> Vec<Line> {
    a.variants
        .iter()
        .map(|v| Line {
            variant: v.clone(),
            label: label(v),
            dashed,
            in_legend: true,
            points: points
                .iter()
                .filter_map(|p| {
                    let c = a.cell(&p.id(), v)?;
                    let (val, spread) = y(c)?;
                    (val.is_finite() && val > 0.0).then(|| Point {
                        x: x(p),
                        y: val,
                        range: spread.filter(|s| s.n > 1).map(|s| (s.min, s.max)),
                        saturated: saturated(c),
                    })
                })
                .collect(),
        })
        .filter(|l| !l.points.is_empty())
        .collect()
}

fn median(s: Option<Spread>) -> Option<(f64, Option<Spread>)> {
    s.map(|s| (s.median, Some(s)))
}

fn p99(c: &Cell) -> Option<(f64, Option<Spread>)> {
    Some((c.latency.as_ref()?.p99_us as f64, c.p99_runs))
}

fn p50(c: &Cell) -> Option<(f64, Option<Spread>)> {
    Some((c.latency.as_ref()?.p50_us as f64, None))
}

/// p99 (solid, with the runs' range) and p50 (dashed) of every variant.
fn latency_lines(a: &Aggregate, points: &[&Scenario], x: fn(&Scenario) -> f64) -> Vec<Line> {
    let mut out = lines(a, points, x, p99, |v| format!("{v} p99"), false);
    out.extend(lines(a, points, x, p50, |v| format!("{v} p50"), true));
    out
}

fn offered_rate(p: &Scenario) -> f64 {
    match p {
        Scenario::EchoOpen { rate, .. } => *rate,
        other => other.x(),
    }
}

/// Writes every chart the data allows; returns what was written.
pub fn write_charts(dir: &Path, a: &Aggregate) -> Result<Vec<Chart>> {
    let mut out = Vec::new();
    let mut chart = |file: &str, spec: Spec<'_>, l: Vec<Line>| {
        if l.is_empty() {
            return Ok::<(), Error>(());
        }
        line_chart(&dir.join(file), a, &spec, &l)?;
        out.push(Chart {
            file: file.into(),
            title: spec.title.into(),
        });
        Ok(())
    };
    let spec = |title, x_label, y_what, unit, log_y| Spec {
        title,
        x_label,
        y_what,
        unit,
        log_x: true,
        log_y,
        reference: None,
    };
    let echo = a.group(Group::EchoClosed);
    chart(
        "throughput_vs_conns.svg",
        spec(
            "Echo closed loop: throughput vs connections",
            "connections",
            "",
            Unit::Plain("messages/s"),
            false,
        ),
        lines(
            a,
            &echo,
            Scenario::x,
            |c| median(c.throughput),
            own_name,
            false,
        ),
    )?;
    chart(
        "p99_vs_conns.svg",
        spec(
            "Echo closed loop: latency vs connections",
            "connections",
            "round-trip latency",
            Unit::Latency,
            true,
        ),
        latency_lines(a, &echo, Scenario::x),
    )?;
    chart(
        "cpu_per_msg.svg",
        spec(
            "Echo closed loop: server CPU per message",
            "connections",
            "",
            Unit::Plain("server CPU-µs per message"),
            false,
        ),
        lines(
            a,
            &echo,
            Scenario::x,
            |c| median(c.cpu_us_per_msg),
            own_name,
            false,
        ),
    )?;
    let idle = a.group(Group::Idle);
    chart(
        "rss_per_conn.svg",
        spec(
            "Idle connections: server memory per connection",
            "idle connections",
            "",
            Unit::Plain("server RSS per connection (KiB)"),
            true,
        ),
        lines(
            a,
            &idle,
            Scenario::x,
            |c| {
                c.rss_per_conn.map(|s| {
                    let k = |v: f64| v / 1024.0;
                    (
                        k(s.median),
                        Some(Spread {
                            median: k(s.median),
                            min: k(s.min),
                            max: k(s.max),
                            n: s.n,
                        }),
                    )
                })
            },
            own_name,
            false,
        )
        .into_iter()
        // Memory is not bounded by the generator: no saturation marks.
        .map(|l| Line {
            points: l
                .points
                .into_iter()
                .map(|p| Point {
                    saturated: false,
                    ..p
                })
                .collect(),
            ..l
        })
        .collect(),
    )?;
    let fan = a.group(Group::ChatFanout);
    chart(
        "chat_fanout_latency.svg",
        spec(
            "Chat, one room: send-to-receipt latency vs members",
            "members in the room (deliveries/s offered held constant)",
            "latency",
            Unit::Latency,
            true,
        ),
        latency_lines(a, &fan, Scenario::x),
    )?;
    chart(
        "chat_cpu_per_delivery.svg",
        spec(
            "Chat, one room: server CPU per delivery vs members",
            "members in the room (deliveries/s offered held constant)",
            "",
            Unit::Plain("server CPU-µs per delivery"),
            false,
        ),
        lines(
            a,
            &fan,
            Scenario::x,
            |c| median(c.cpu_us_per_msg),
            own_name,
            false,
        ),
    )?;
    // Latency against offered load, one chart per connection count with at
    // least two rates: where each model's knee is.
    let open = a.group(Group::EchoOpen);
    let mut conns: Vec<usize> = open.iter().map(|p| p.conns()).collect();
    conns.sort_unstable();
    conns.dedup();
    for n in conns {
        let pts: Vec<&Scenario> = open.iter().filter(|p| p.conns() == n).copied().collect();
        if pts.len() < 2 {
            continue;
        }
        let title = format!("Echo open loop, {n} connections: latency vs offered load");
        chart(
            &format!("latency_vs_load_{n}.svg"),
            Spec {
                title: &title,
                x_label: "offered messages/s",
                y_what: "latency from the intended send",
                unit: Unit::Latency,
                log_x: false,
                log_y: true,
                reference: None,
            },
            latency_lines(a, &pts, offered_rate),
        )?;
    }
    capacity_charts(dir, a, &mut out)?;
    Ok(out)
}

/// Draws one bar per variant (median, with the runs' range) to `path`.
pub fn bar_chart(
    path: &Path,
    a: &Aggregate,
    title: &str,
    y_label: &str,
    bars: &[(String, Option<Spread>)],
) -> Result<()> {
    let n = bars.len();
    let ymax = bars
        .iter()
        .filter_map(|(_, s)| s.map(|s| s.max))
        .fold(0.0, f64::max)
        * 1.2;
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(20)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.6f64..(n as f64 - 0.4), 0.0..ymax.max(1e-9))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_label)
        .y_label_formatter(&|y| tick(*y))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (i, (v, s)) in bars.iter().enumerate() {
        let x = i as f64;
        let c = color(a, v);
        let font = ("sans-serif", 14).into_font().color(&BLACK);
        let Some(s) = s else {
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{v}: none met"),
                    (x - 0.33, ymax * 0.04),
                    font,
                )))
                .map_err(err)?;
            continue;
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, s.median)],
                c.mix(0.8).filled(),
            )))
            .map_err(err)?;
        if s.n > 1 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, s.min), (x, s.max)],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{v} {}", tick(s.median)),
                (x - 0.33, s.max.max(s.median) + ymax * 0.04),
                font,
            )))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// The charts of the capacity points: capacity per variant (bars), and
/// latency against offered load from every search step (the knee).
fn capacity_charts(dir: &Path, a: &Aggregate, out: &mut Vec<Chart>) -> Result<()> {
    for (k, p) in a.group(Group::Capacity).into_iter().enumerate() {
        let scope = super::text::label(p);
        let bars: Vec<(String, Option<Spread>)> = a
            .variants
            .iter()
            .filter_map(|v| Some((v.clone(), a.cell(&p.id(), v).filter(|c| c.ok > 0)?.capacity)))
            .collect();
        if bars.iter().any(|(_, s)| s.is_some()) {
            let file = format!("capacity_{}.svg", k + 1);
            let title = format!("Capacity: {scope}");
            bar_chart(
                &dir.join(&file),
                a,
                &title,
                "highest offered msg/s meeting the objective",
                &bars,
            )?;
            out.push(Chart { file, title });
        }
        let mut lines = Vec::new();
        for dashed in [false, true] {
            for v in &a.variants {
                let Some(c) = a.cell(&p.id(), v) else {
                    continue;
                };
                // One line per search (its steps by rate), one legend entry.
                for (run, steps) in c.capacity_steps.iter().enumerate() {
                    let mut steps: Vec<&crate::results::capacity::Step> =
                        steps.iter().filter(|s| s.samples > 0).collect();
                    steps.sort_by(|x, y| x.rate.total_cmp(&y.rate));
                    let points: Vec<Point> = steps
                        .iter()
                        .map(|s| Point {
                            x: s.rate,
                            y: (if dashed { s.p50_us } else { s.p99_us }) as f64,
                            range: None,
                            saturated: s.generator_cpu_cores > 0.9,
                        })
                        .filter(|p| p.y > 0.0)
                        .collect();
                    if !points.is_empty() {
                        lines.push(Line {
                            variant: v.clone(),
                            label: format!("{v} {}", if dashed { "p50" } else { "p99" }),
                            dashed,
                            in_legend: run == 0,
                            points,
                        });
                    }
                }
            }
        }
        if !lines.is_empty() {
            let file = format!("latency_vs_offered_{}.svg", k + 1);
            let title = format!("Latency vs offered load: {scope}");
            line_chart(
                &dir.join(&file),
                a,
                &Spec {
                    title: &title,
                    x_label: "offered msg/s (every step of every search)",
                    y_what: "latency from the intended send",
                    unit: Unit::Latency,
                    log_x: true,
                    log_y: true,
                    reference: objective(p),
                },
                &lines,
            )?;
            out.push(Chart { file, title });
        }
    }
    Ok(())
}

/// The p99 objective of a capacity point, for its reference line.
fn objective(p: &Scenario) -> Option<(f64, String)> {
    match p {
        Scenario::Capacity { p99_us, .. } => Some((
            *p99_us as f64,
            format!(
                "objective: p99 ≤ {}",
                super::verdict_core::latency(*p99_us as f64)
            ),
        )),
        _ => None,
    }
}

/// A legend label that is the variant's own name.
fn own_name(v: &str) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_as_numbers() {
        assert_eq!(tick(1_000_000.0), "1M");
        assert_eq!(tick(10_000.0), "10k");
        assert_eq!(tick(150_000.0), "150k");
        assert_eq!(tick(1.0), "1");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.0), "0");
        assert_eq!(log_tick(200.0), "200");
        assert_eq!(log_tick(800.0), "");
        assert_eq!(log_tick(5000.0), "5k");
    }
}
