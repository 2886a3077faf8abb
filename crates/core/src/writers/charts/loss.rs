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
        for m in &marks {
            let style = m.color.stroke_width(stroke);
            let line = [(m.x, 0.0), (m.x, ymax * 0.97)];
            if m.dashed {
                chart.draw_series(DashedLineSeries::new(line, size.font(12.0) as u32, size.font(8.0) as u32, style))?;
            } else {
                chart.draw_series(LineSeries::new(line, style))?;
            }
        }
        // Labels after every line, each on a white box, so that no line
        // crosses a label.
        let (px_w, px_h) = chart.plotting_area().dim_in_pixel();
        let (x_per_px, y_per_px) = ((h.hi - h.lo) / px_w.max(1) as f64, ymax / px_h.max(1) as f64);
        let text_px = size.font(22.0);
        for (k, m) in marks.iter().enumerate() {
            let y = ymax * (0.95 - 0.065 * k as f64);
            let text = if m.label == "plan" {
                " plan ".to_string()
            } else {
                format!(" {} {} ", m.label, fmt(m.shown.unwrap_or(m.x)))
            };
            // Labels right of the middle hang to the left of their line.
            let right = m.x > (h.lo + h.hi) / 2.0;
            let width = text.chars().count() as f64 * 0.56 * text_px * x_per_px;
            let (x0, x1) = if right { (m.x - width, m.x) } else { (m.x, m.x + width) };
            let half = 0.6 * text_px * y_per_px;
            chart.draw_series(std::iter::once(Rectangle::new([(x0, y - half), (x1, y + half)], WHITE.filled())))?;
            let hpos = if right { HPos::Right } else { HPos::Left };
            let style = font(size, 22.0, &m.color).pos(Pos::new(hpos, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(text, (m.x, y), style)))?;
        }
        Ok(())
    })
}
