//! `comparison.png`: one provider's loss against plan in several scenarios
//! side by side, sorted by ES99; and the interval plot it shares with the
//! portfolio comparison.

use crate::Result;
use plotters::prelude::*;

use super::style::{ACCENT, DARK, GREY, INK, MID};
use super::{ChartSize, axis, bn_axis, builder, draw_row_mesh, font, frame, render};
use crate::report::ComparisonRow;

/// One row of an interval plot: a loss distribution and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub label: String,
    pub p5: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
    pub var99: f64,
    pub es99: f64,
}

impl From<&ComparisonRow> for Interval {
    fn from(r: &ComparisonRow) -> Self {
        Interval {
            label: r.scenario.clone(),
            p5: r.p5,
            p25: r.p25,
            p50: r.p50,
            p75: r.p75,
            p95: r.p95,
            var99: r.var99,
            es99: r.es99,
        }
    }
}

/// Draw one provider's `rows` (already sorted, worst ES99 first) as
/// interval plots. Rows at different horizons carry theirs in the label.
pub fn comparison_png(rows: &[&ComparisonRow], size: ChartSize) -> Result<Vec<u8>> {
    let first = rows.first().ok_or_else(|| crate::Error::Invalid("comparison.png: no scenario to compare".into()))?;
    let same_horizon = rows.iter().all(|r| r.horizon == first.horizon);
    let items: Vec<Interval> = rows
        .iter()
        .map(|r| {
            let mut i = Interval::from(*r);
            if !same_horizon {
                i.label = format!("{} at {}", r.scenario, r.horizon);
            }
            i
        })
        .collect();
    let at = if same_horizon {
        format!("at {} ({} quarters)", first.horizon, first.horizon_quarters)
    } else {
        "at each scenario's horizon (in its label)".to_string()
    };
    let lo = rows.iter().map(|r| r.p5).fold(0.0, f64::min);
    let hi = rows.iter().map(|r| r.es99.max(r.p95)).fold(0.0, f64::max);
    intervals_png(
        &items,
        "comparison.png",
        &format!("Scenarios compared: {} loss against plan {at}", first.display),
        &format!("{} loss against plan ($bn; positive = backlog below plan)", first.display),
        "",
        &bn_axis(hi - lo),
        size,
    )
}

/// Interval plot of loss distributions, one row each; `note` ends the
/// subtitle.
pub fn intervals_png(
    rows: &[Interval],
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
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
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
