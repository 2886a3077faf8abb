//! `exceedance.png`: probability that the loss exceeds x, per provider, on a
//! log scale so that the 1% tail is readable.

use crate::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{INK, SERIES, dashed};
use super::{ChartSize, axis, bn_axis, builder, dashed_sample, draw_legend, fmt_pct, font, frame, render};
use crate::report::ScenarioSummary;

pub fn exceedance_png(s: &ScenarioSummary, size: ChartSize) -> Result<Vec<u8>> {
    let horizon = s.labels.last().cloned().unwrap_or_default();
    render("exceedance.png", size, |area| {
        let body = frame(
            area,
            size,
            &format!("{}: probability that the loss exceeds x", s.name),
            &format!(
                "Loss against plan at {horizon}, per provider; {} paths, so probabilities below {} are not resolved",
                s.paths,
                fmt_pct(1.0 / s.paths as f64)
            ),
        )?;
        let pmin = (1.0 / s.paths as f64).max(1e-6);
        // From the median loss (P = 50%) to the largest loss shown.
        let in_view =
            |pts: &[(f64, f64)]| pts.iter().copied().filter(|(_, p)| *p <= 0.5 && *p >= pmin).collect::<Vec<_>>();
        let curves: Vec<Vec<(f64, f64)>> = s.exceedance.iter().map(|c| in_view(c)).collect();
        let xs = curves.iter().flatten().map(|(x, _)| *x);
        let (lo, hi) = xs.fold((0.0f64, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let pad = (hi - lo).max(1e-9) * 0.03;
        let fmt_x = bn_axis(hi - lo);
        let mut chart =
            builder(&body, size, 110.0).build_cartesian_2d(axis(lo - pad, hi + pad)?, (pmin..0.6).log_scale())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(215, 215, 215))
            .x_desc(format!("loss against plan at {horizon} ($bn)"))
            .y_desc("probability the loss exceeds x (log scale)")
            .x_label_formatter(&|x| fmt_x(*x))
            .y_label_formatter(&|y| fmt_pct(*y))
            .label_style(font(size, 20.0, &INK))
            .axis_desc_style(font(size, 22.0, &INK))
            .draw()?;
        let stroke = size.font(3.5) as u32;
        let sample = size.font(42.0) as i32;
        for (i, (curve, name)) in curves.iter().zip(&s.display).enumerate() {
            let style = SERIES[i % SERIES.len()].stroke_width(stroke);
            let pts = curve.clone();
            let anno = if dashed(i) {
                chart.draw_series(DashedLineSeries::new(pts, size.font(14.0) as u32, size.font(8.0) as u32, style))?
            } else {
                chart.draw_series(LineSeries::new(pts, style))?
            };
            if dashed(i) {
                anno.label(name.clone()).legend(move |(x, y)| dashed_sample(x, y, sample, style));
            } else {
                anno.label(name.clone()).legend(move |(x, y)| PathElement::new([(x, y), (x + sample, y)], style));
            }
        }
        // The 5% and 1% guides: thin, grey, finely dotted and labelled, so
        // that they never read as a provider's dashed curve.
        let guide = RGBColor(150, 150, 150);
        for (p, label) in [(0.05, "P = 5%"), (0.01, "P = 1%")] {
            chart.draw_series(DashedLineSeries::new(
                [(lo - pad, p), (hi + pad, p)],
                size.font(3.0) as u32,
                size.font(5.0) as u32,
                guide.stroke_width(1),
            ))?;
            // Set on the line, not through it.
            let at = (lo - pad + (hi - lo) * 0.01, p * 1.04);
            let style = font(size, 16.0, &guide).pos(Pos::new(HPos::Left, VPos::Bottom));
            chart.draw_series(std::iter::once(Text::new(label, at, style)))?;
        }
        draw_legend(&mut chart, size, SeriesLabelPosition::UpperRight, 20.0, sample)?;
        Ok(())
    })
}
