//! SVG charts of a comparison (plotters).

use std::path::Path;

use plotters::prelude::*;

use super::{Aggregate, Cell};
use crate::error::{Error, Result};
use crate::results::matrix::Group;

/// A chart written: file name and title.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File name inside the output directory.
    pub file: String,
    /// Title.
    pub title: String,
}

/// A named line of (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn err<E: std::fmt::Debug>(e: E) -> Error {
    Error::InvalidSettings(format!("drawing a chart: {e:?}"))
}

fn bounds(series: &[Series], log_y: bool) -> ((f64, f64), (f64, f64)) {
    let pts = || series.iter().flat_map(|(_, v)| v.iter());
    let xmin = pts().map(|p| p.0).fold(f64::INFINITY, f64::min).max(1.0);
    let xmax = pts().map(|p| p.0).fold(0.0, f64::max).max(xmin * 2.0);
    let ymax = pts().map(|p| p.1).fold(0.0, f64::max);
    let ymin = pts().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let (ylo, yhi) = if log_y {
        let lo = if ymin.is_finite() && ymin > 0.0 {
            ymin / 2.0
        } else {
            1.0
        };
        (lo, (ymax * 2.0).max(lo * 10.0))
    } else {
        (0.0, (ymax * 1.15).max(1e-9))
    };
    ((xmin / 1.5, xmax * 1.5), (ylo, yhi))
}

macro_rules! draw_chart {
    ($path:expr, $title:expr, $xl:expr, $yl:expr, $series:expr, $xr:expr, $yr:expr) => {{
        let root = SVGBackend::new($path, (820, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption($title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d($xr, $yr)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc($xl)
            .y_desc($yl)
            .draw()
            .map_err(err)?;
        for (i, (name, pts)) in $series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }};
}

/// Draws a line chart with a logarithmic x axis (and y axis if `log_y`).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    let ((x0, x1), (y0, y1)) = bounds(series, log_y);
    if log_y {
        draw_chart!(
            path,
            title,
            x_label,
            y_label,
            series,
            (x0..x1).log_scale(),
            (y0..y1).log_scale()
        );
    } else {
        draw_chart!(
            path,
            title,
            x_label,
            y_label,
            series,
            (x0..x1).log_scale(),
            y0..y1
        );
    }
    Ok(())
}

/// One series per variant of `metric` over the points of `group`.
pub fn series(a: &Aggregate, group: Group, metric: impl Fn(&Cell) -> Option<f64>) -> Vec<Series> {
    a.variants
        .iter()
        .map(|v| {
            let pts = a
                .group(group)
                .into_iter()
                .filter_map(|p| {
                    let y = metric(a.cell(&p.id(), v)?)?;
                    (y.is_finite() && y > 0.0).then_some((p.x(), y))
                })
                .collect();
            (v.clone(), pts)
        })
        .filter(|(_, pts): &Series| !pts.is_empty())
        .collect()
}

/// Writes every chart the data allows; returns what was written.
pub fn write_charts(dir: &Path, a: &Aggregate) -> Result<Vec<Chart>> {
    let mut out = Vec::new();
    let mut chart = |file: &str, title: &str, xl: &str, yl: &str, s: Vec<Series>, log_y: bool| {
        if s.is_empty() {
            return Ok::<(), Error>(());
        }
        line_chart(&dir.join(file), title, xl, yl, &s, log_y)?;
        out.push(Chart {
            file: file.into(),
            title: title.into(),
        });
        Ok(())
    };
    chart(
        "throughput_vs_conns.svg",
        "Echo closed loop: throughput vs connections",
        "connections",
        "messages/s",
        series(a, Group::EchoClosed, |c| c.throughput.map(|s| s.median)),
        false,
    )?;
    chart(
        "p99_vs_conns.svg",
        "Echo closed loop: p99 latency vs connections",
        "connections",
        "p99 latency (us)",
        series(a, Group::EchoClosed, |c| {
            c.latency.as_ref().map(|l| l.p99_us as f64)
        }),
        true,
    )?;
    chart(
        "rss_per_conn.svg",
        "Idle connections: server RSS per connection",
        "connections",
        "KiB per connection",
        series(a, Group::Idle, |c| {
            c.rss_per_conn.map(|s| s.median / 1024.0)
        }),
        false,
    )?;
    chart(
        "cpu_per_msg.svg",
        "Echo closed loop: server CPU per message",
        "connections",
        "server CPU-us per message",
        series(a, Group::EchoClosed, |c| c.cpu_us_per_msg.map(|s| s.median)),
        false,
    )?;
    let mut fan = Vec::new();
    for (name, pts) in series(a, Group::ChatFanout, |c| {
        c.latency.as_ref().map(|l| l.p99_us as f64)
    }) {
        fan.push((format!("{name} p99"), pts));
    }
    for (name, pts) in series(a, Group::ChatFanout, |c| {
        c.latency.as_ref().map(|l| l.p50_us as f64)
    }) {
        fan.push((format!("{name} p50"), pts));
    }
    chart(
        "chat_fanout_latency.svg",
        "Chat, one room: fan-out latency vs members",
        "members in the room",
        "send-to-receipt latency (us)",
        fan,
        true,
    )?;
    Ok(out)
}
