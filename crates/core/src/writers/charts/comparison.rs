//! `comparison.png`: one provider's loss against plan in several scenarios
//! side by side, sorted by ES99; and the interval plot it shares with the
//! portfolio comparison.

use crate::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{ACCENT, DARK, GREY, INK, MID};
use super::{ChartSize, axis, builder, draw_row_mesh, font, frame, render};
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
    intervals_png(
        &items,
        "comparison.png",
        &format!("Scenarios compared: {} loss against plan {at}", first.display),
        &format!("{} loss against plan ($bn; positive = backlog below plan)", first.display),
        "",
        true,
        size,
    )
}

/// The decimals (from those of an axis spanning `span`, at most 3) with
/// which distinct values of `xs` print distinct.
fn distinct_digits(xs: impl Iterator<Item = f64> + Clone, span: f64) -> usize {
    let base = super::amount_axis_digits(span).max(super::amount_digits(xs.clone().fold(0.0, |m, x| m.max(x.abs()))));
    (base..=3)
        .find(|&d| {
            let mut seen: Vec<(f64, String)> = Vec::new();
            xs.clone().all(|x| {
                let s = super::fixed(x, d);
                let clash = seen.iter().any(|(v, t)| *t == s && *v != x);
                seen.push((x, s));
                !clash
            })
        })
        .unwrap_or(3)
}

/// Interval plot of loss distributions, one row each; `note` ends the
/// subtitle; amounts in $bn when `money`, else in the portfolio's unit.
/// Each row's ES99 is written beside its diamond with the decimals that
/// tell the rows apart (at most 3).
pub fn intervals_png(
    rows: &[Interval],
    file: &str,
    title: &str,
    xdesc: &str,
    note: &str,
    money: bool,
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
        let unit = |s: String| if money { super::money(&s) } else { s };
        let axis_fmt = super::amount_axis(hi - lo);
        let fmt = |x: f64| unit(axis_fmt(x));
        let note_fmt = |x: f64| unit(super::fixed(x, distinct_digits(rows.iter().map(|r| r.es99), hi - lo)));
        // Room on the right for the ES99 note beside the rightmost diamond.
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        let mut chart =
            builder(&body, size, 380.0).build_cartesian_2d(axis(lo - pad, hi + 4.0 * pad)?, (k as f64 - 0.4)..-0.6)?;
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
            let note = format!("ES99 {}", note_fmt(r.es99));
            let style = font(size, 18.0, &INK).pos(Pos::new(HPos::Center, VPos::Bottom));
            // Just above the diamond, whatever the rows' height.
            chart.draw_series(std::iter::once(EmptyElement::at((r.es99, y)) + Text::new(note, (0, -d - 4), style)))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::distinct_digits;

    #[test]
    fn es99_notes_tell_close_rows_apart() {
        // aws-vs-msft: ES99 of 60.74 and 59.34 on an axis of 100: 1 decimal.
        assert_eq!(distinct_digits([60.74, 59.34].into_iter(), 100.0), 1);
        // Values 0.3 apart above 100 need a decimal the axis does not.
        assert_eq!(distinct_digits([400.1, 400.4].into_iter(), 900.0), 1);
        assert_eq!(distinct_digits([785.3, 797.1].into_iter(), 900.0), 0);
        assert_eq!(distinct_digits([1.0, 1.0].into_iter(), 900.0), 2, "equal values need no more");
    }
}
