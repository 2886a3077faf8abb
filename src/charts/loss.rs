//! `loss.png`: the distribution of one provider's loss against plan, with the
//! plan (0), the mean, VaR99 and ES99 marked and labelled.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{ACCENT, DARK, GREY, INK, MID};
use super::{ChartSize, fmt_bn, fmt_pct, font, frame, render};
use crate::report::ScenarioSummary;

/// The loss chart of provider index `p`.
pub fn loss_png(s: &ScenarioSummary, p: usize, size: ChartSize) -> Result<Vec<u8>> {
    let provider = &s.providers[p];
    let row = s.metric(&format!("loss.{provider}")).ok_or_else(|| anyhow::anyhow!("no loss.{provider} metric"))?;
    let h = &s.loss_hist[p];
    let horizon = s.labels.last().cloned().unwrap_or_default();
    let n = s.paths as f64;
    render(&format!("loss.png ({provider})"), size, |area| {
        let sub = format!(
            "Backlog at {horizon} below plan, {} paths; {} of paths lie beyond the axis",
            s.paths,
            fmt_pct(h.outside as f64 / n)
        );
        let body = frame(area, size, &format!("{}: loss against plan, {provider}", s.name), &sub)?;
        let ymax = h.counts.iter().copied().max().unwrap_or(1) as f64 / n * 1.35;
        let mut chart = ChartBuilder::on(&body)
            .margin_left(size.font(20.0) as i32)
            .margin_right(size.font(50.0) as i32)
            .margin_bottom(size.font(10.0) as i32)
            .x_label_area_size(size.font(70.0) as u32)
            .y_label_area_size(size.font(110.0) as u32)
            .build_cartesian_2d(h.lo..h.hi, 0.0..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(format!("loss against plan at {horizon} ($bn; positive = backlog below plan)"))
            .y_desc("share of paths")
            .x_label_formatter(&|x| fmt_bn(*x))
            .y_label_formatter(&|y| fmt_pct(*y))
            .label_style(font(size, 20.0, &INK))
            .axis_desc_style(font(size, 22.0, &INK))
            .draw()?;
        let w = (h.hi - h.lo) / h.counts.len() as f64;
        chart.draw_series(h.counts.iter().enumerate().map(|(i, c)| {
            let x0 = h.lo + i as f64 * w;
            Rectangle::new([(x0, 0.0), (x0 + w, *c as f64 / n)], MID.filled())
        }))?;
        let marks = [
            ("plan", 0.0, GREY, true),
            ("mean", row.mean, DARK, false),
            ("VaR99", row.var99.unwrap_or(f64::NAN), ACCENT, false),
            ("ES99", row.es99.unwrap_or(f64::NAN), ACCENT, true),
        ];
        let stroke = size.font(3.0) as u32;
        for (k, (label, x, color, dashed)) in marks.into_iter().enumerate() {
            if !x.is_finite() {
                continue;
            }
            let style = color.stroke_width(stroke);
            let line = [(x, 0.0), (x, ymax * 0.97)];
            if dashed {
                chart.draw_series(DashedLineSeries::new(line, size.font(12.0) as u32, size.font(8.0) as u32, style))?;
            } else {
                chart.draw_series(LineSeries::new(line, style))?;
            }
            let y = ymax * (0.95 - 0.065 * k as f64);
            let text = if label == "plan" { " plan ".to_string() } else { format!(" {label} {} ", fmt_bn(x)) };
            // Labels right of the middle hang to the left of their line.
            let hpos = if x > (h.lo + h.hi) / 2.0 { HPos::Right } else { HPos::Left };
            let style = font(size, 22.0, &color).pos(Pos::new(hpos, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(text, (x, y), style)))?;
        }
        Ok(())
    })
}
