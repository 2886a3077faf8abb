//! `comparison.png`: the key loss metric of several scenarios side by side
//! (each scenario's most concentrated provider), sorted by ES99.

use anyhow::Result;
use plotters::prelude::*;

use super::style::{ACCENT, DARK, GREY, INK, MID};
use super::{ChartSize, axis, builder, draw_row_mesh, fmt_bn, font, frame, render};
use crate::report::ComparisonRow;

/// Draw `rows` (already sorted, worst ES99 first) as interval plots.
pub fn comparison_png(rows: &[ComparisonRow], size: ChartSize) -> Result<Vec<u8>> {
    intervals_png(
        rows,
        "comparison.png",
        "Scenarios compared: loss against plan of the most concentrated provider",
        "loss against plan at the horizon ($bn; positive = backlog below plan)",
        "",
        &fmt_bn,
        size,
    )
}

/// Interval plot of loss distributions, one row each; `note` ends the
/// subtitle.
pub fn intervals_png(
    rows: &[ComparisonRow],
    file: &str,
    title: &str,
    xdesc: &str,
    note: &str,
    fmt: &dyn Fn(f64) -> String,
    size: ChartSize,
) -> Result<Vec<u8>> {
    render(file, size, |area| {
        let body = frame(
            area,
            size,
            title,
            &format!(
                "Box p25-p75, whiskers p5-p95, dark tick the median; orange: VaR99 (triangle) and ES99 (diamond); sorted by ES99{note}"
            ),
        )?;
        let k = rows.len().max(1);
        let lo = rows.iter().map(|r| r.p5).fold(0.0, f64::min);
        let hi = rows.iter().map(|r| r.es99.max(r.p95)).fold(0.0, f64::max);
        let pad = (hi - lo).max(1e-9) * 0.05;
        // Room on the right for the ES99 note beside the rightmost diamond.
        let labels: Vec<String> = rows
            .iter()
            .map(
                |r| if r.provider.is_empty() { r.scenario.clone() } else { format!("{} ({})", r.scenario, r.provider) },
            )
            .collect();
        let mut chart =
            builder(&body, size, 380.0).build_cartesian_2d(axis(lo - pad, hi + 3.0 * pad)?, (k as f64 - 0.4)..-0.6)?;
        draw_row_mesh(&mut chart, size, labels, xdesc, &fmt)?;
        chart.draw_series(DashedLineSeries::new([(0.0, -0.6), (0.0, k as f64 - 0.4)], 8, 6, GREY.stroke_width(2)))?;
        let half = 0.28;
        let stroke = size.font(3.0) as u32;
        let d = size.font(13.0) as i32;
        for (i, r) in rows.iter().enumerate() {
            let y = i as f64;
            chart.draw_series(std::iter::once(PathElement::new([(r.p5, y), (r.p95, y)], DARK.stroke_width(stroke))))?;
            chart.draw_series(std::iter::once(Rectangle::new([(r.p25, y - half), (r.p75, y + half)], MID.filled())))?;
            chart.draw_series(std::iter::once(PathElement::new(
                [(r.p50, y - half), (r.p50, y + half)],
                DARK.stroke_width(stroke * 2),
            )))?;
            let tri = EmptyElement::at((r.var99, y)) + Polygon::new(vec![(0, -d), (d, d), (-d, d)], ACCENT.filled());
            let dia =
                EmptyElement::at((r.es99, y)) + Polygon::new(vec![(0, -d), (d, 0), (0, d), (-d, 0)], ACCENT.filled());
            chart.draw_series([tri, dia])?;
            let note = format!("ES99 {}", fmt(r.es99));
            chart.draw_series(std::iter::once(Text::new(note, (r.es99, y - half - 0.12), font(size, 17.0, &INK))))?;
        }
        Ok(())
    })
}
