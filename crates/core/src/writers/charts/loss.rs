//! `loss.png` (a provider's loss against plan) and `pnl.png` (a portfolio's
//! P&L): a histogram with reference values marked and labelled.

use crate::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{ACCENT, DARK, GREY, INK, MID};
use super::{ChartSize, axis, beyond_axis, bn_axis, builder, fmt_pct, font, frame, render};
use crate::report::{Histogram, ScenarioSummary};

/// A vertical reference line on a distribution chart.
pub struct Mark {
    pub label: &'static str,
    pub x: f64,
    /// The number printed in the label, when it is not `x` (a loss drawn
    /// on a P&L axis at `x = -loss` is labelled with the loss).
    pub shown: Option<f64>,
    pub color: RGBColor,
    pub dashed: bool,
}

/// What a distribution chart shows.
pub struct DistributionPlot<'a> {
    pub file: &'a str,
    pub title: String,
    pub subtitle: String,
    pub xdesc: String,
    pub hist: &'a Histogram,
    pub paths: u64,
    pub marks: Vec<Mark>,
    pub fmt: &'a dyn Fn(f64) -> String,
}

/// The loss chart of provider index `p`.
pub fn loss_png(s: &ScenarioSummary, p: usize, size: ChartSize) -> Result<Vec<u8>> {
    let provider = &s.providers[p];
    let row = s.loss(provider).ok_or_else(|| crate::Error::Invalid(format!("no loss.{provider} metric")))?;
    let h = &s.loss_hist[p];
    let horizon = s.labels.last().cloned().unwrap_or_default();
    let file = format!("loss.png ({provider})");
    let fmt = bn_axis(h.hi - h.lo);
    distribution_png(
        &DistributionPlot {
            file: &file,
            title: format!("{}: loss against plan, {}", s.name, s.display[p]),
            subtitle: format!("Backlog at {horizon} below plan, {} paths; {}", s.paths, beyond_axis(h, s.paths, &fmt)),
            xdesc: format!("loss against plan at {horizon} ($bn; positive = backlog below plan)"),
            hist: h,
            paths: s.paths,
            marks: vec![
                Mark { label: "plan", x: 0.0, shown: None, color: GREY, dashed: true },
                Mark { label: "mean", x: row.mean, shown: None, color: DARK, dashed: false },
                Mark { label: "VaR99", x: row.var99.unwrap_or(f64::NAN), shown: None, color: ACCENT, dashed: false },
                Mark { label: "ES99", x: row.es99.unwrap_or(f64::NAN), shown: None, color: ACCENT, dashed: true },
            ],
            fmt: &fmt,
        },
        size,
    )
}

/// A histogram (share of paths per bin) with labelled reference lines.
pub fn distribution_png(d: &DistributionPlot, size: ChartSize) -> Result<Vec<u8>> {
    let h = d.hist;
    let n = d.paths as f64;
    render(d.file, size, |area| {
        let body = frame(area, size, &d.title, &d.subtitle)?;
        let ymax = h.counts.iter().copied().max().unwrap_or(1) as f64 / n * 1.35;
        let mut chart = builder(&body, size, 110.0).build_cartesian_2d(axis(h.lo, h.hi)?, axis(0.0, ymax)?)?;
        let fmt = d.fmt;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(d.xdesc.as_str())
            .y_desc("share of paths")
            .x_label_formatter(&|x| fmt(*x))
            .y_label_formatter(&|y| fmt_pct(*y))
            .label_style(font(size, 20.0, &INK))
            .axis_desc_style(font(size, 22.0, &INK))
            .draw()?;
        let w = (h.hi - h.lo) / h.counts.len() as f64;
        chart.draw_series(h.counts.iter().enumerate().map(|(i, c)| {
            let x0 = h.lo + i as f64 * w;
            Rectangle::new([(x0, 0.0), (x0 + w, *c as f64 / n)], MID.filled())
        }))?;
        let stroke = size.font(3.0) as u32;
        let marks: Vec<&Mark> = d.marks.iter().filter(|m| m.x.is_finite()).collect();
        // Each label hangs from the top of its own line like a flag, on a
        // white box. A label whose box spans other marks' lines sits above
        // their labels, and those lines stop at their own labels, so no
        // line crosses a label.
        let (px_w, px_h) = chart.plotting_area().dim_in_pixel();
        let (x_per_px, y_per_px) = ((h.hi - h.lo) / px_w.max(1) as f64, ymax / px_h.max(1) as f64);
        let text_px = size.font(22.0);
        let half = 0.6 * text_px * y_per_px;
        let labels: Vec<(String, f64, f64, bool)> = marks
            .iter()
            .map(|m| {
                let text = if m.label == "plan" {
                    " plan ".to_string()
                } else {
                    format!(" {} {} ", m.label, fmt(m.shown.unwrap_or(m.x)))
                };
                // Labels right of the middle hang to the left of their line.
                let right = m.x > (h.lo + h.hi) / 2.0;
                let width = text.chars().count() as f64 * 0.56 * text_px * x_per_px;
                let (x0, x1) = if right { (m.x - width, m.x) } else { (m.x, m.x + width) };
                (text, x0, x1, right)
            })
            .collect();
        let xs: Vec<f64> = marks.iter().map(|m| m.x).collect();
        let spans: Vec<(f64, f64)> = labels.iter().map(|l| (l.1, l.2)).collect();
        let row = flag_rows(&xs, &spans);
        let y_of = |k: usize| ymax * (0.95 - 0.065 * row[k] as f64);
        for (k, m) in marks.iter().enumerate() {
            let style = m.color.stroke_width(stroke);
            let line = [(m.x, 0.0), (m.x, y_of(k) + half)];
            if m.dashed {
                chart.draw_series(DashedLineSeries::new(line, size.font(12.0) as u32, size.font(8.0) as u32, style))?;
            } else {
                chart.draw_series(LineSeries::new(line, style))?;
            }
        }
        for (k, (m, (text, x0, x1, right))) in marks.iter().zip(labels).enumerate() {
            let y = y_of(k);
            chart.draw_series(std::iter::once(Rectangle::new([(x0, y - half), (x1, y + half)], WHITE.filled())))?;
            let hpos = if right { HPos::Right } else { HPos::Left };
            let style = font(size, 22.0, &m.color).pos(Pos::new(hpos, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(text, (m.x, y), style)))?;
        }
        Ok(())
    })
}

/// The row of each mark's label (0 the top) for marks at `xs` whose
/// labels span `spans`: a label that spans other marks' lines sits above
/// their labels (their lines stop at their own labels, below it).
fn flag_rows(xs: &[f64], spans: &[(f64, f64)]) -> Vec<usize> {
    let crossings =
        |k: usize| xs.iter().enumerate().filter(|(j, x)| *j != k && **x > spans[k].0 && **x < spans[k].1).count();
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(crossings(k)));
    let mut row = vec![0usize; xs.len()];
    order.iter().enumerate().for_each(|(r, &k)| row[k] = r);
    row
}

#[cfg(test)]
mod tests {
    use super::flag_rows;

    #[test]
    fn no_label_sits_over_a_line_that_reaches_it() {
        // pnl.png's case: ES99 at -400 with its label hanging right over
        // VaR99's line at -364; the mean far off.
        let xs = [-364.0, -400.0, 8.0];
        let spans = [(-364.0, -250.0), (-400.0, -280.0), (8.0, 90.0)];
        let row = flag_rows(&xs, &spans);
        for k in 0..xs.len() {
            for j in (0..xs.len()).filter(|j| *j != k && xs[*j] > spans[k].0 && xs[*j] < spans[k].1) {
                assert!(row[j] > row[k], "label {k} (row {}) over line {j} (row {})", row[k], row[j]);
            }
        }
        assert_eq!(row[1], 0, "ES99's label on top");
    }
}
