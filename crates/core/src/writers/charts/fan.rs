//! `fan.png`: backlog over the quarters for each provider, one panel each:
//! the median line, p25-p75 and p5-p95 bands, and the plan path.

use crate::Result;
use plotters::prelude::*;

use super::style::{DARK, GREY, INK, LIGHT, MID};
use super::{Area, ChartSize, axis, bn_axis, dashed_sample, draw_legend, font, frame, quarter_axis, render};
use crate::report::ScenarioSummary;

pub fn fan_png(s: &ScenarioSummary, size: ChartSize) -> Result<Vec<u8>> {
    render("fan.png", size, |area| {
        let body = frame(
            area,
            size,
            &format!("{}: backlog by provider", s.name),
            &format!("Median, p25-p75 and p5-p95 bands of {} paths; dashed: the plan", s.paths),
        )?;
        let np = s.providers.len();
        let cols = (np as f64).sqrt().ceil() as usize;
        let rows = np.div_ceil(cols);
        let panels = body.split_evenly((rows, cols));
        for (p, panel) in panels.iter().enumerate().take(np) {
            let mut chart = fan_panel(panel, s, p, size, &s.display[p], 0.0)?;
            if p == 0 {
                draw_legend(&mut chart, size, SeriesLabelPosition::UpperLeft, 17.0, 20)?;
            }
        }
        Ok(())
    })
}

/// One provider's panel: p5-p95 and p25-p75 bands, the median and the
/// dashed plan, over a y axis that reaches at least `top`; the chart, for
/// more series and the legend.
pub(super) fn fan_panel<'a, 'b>(
    panel: &'a Area<'b>,
    s: &ScenarioSummary,
    p: usize,
    size: ChartSize,
    caption: &str,
    top: f64,
) -> std::result::Result<Panel<'a, 'b>, Box<dyn std::error::Error>> {
    let np = s.providers.len();
    let tq = s.labels.len();
    let rows_p: Vec<_> = s.fan.iter().filter(|r| r.provider == s.providers[p]).collect();
    let plan: Vec<f64> = (0..tq).map(|t| s.plan.backlog_path[t * np + p]).collect();
    let ymax = rows_p.iter().map(|r| r.p95).chain(plan.iter().copied()).fold(top, f64::max) * 1.08;
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, font(size, 26.0, &INK))
        .margin(size.font(14.0) as i32)
        // Room for the horizon's label (`2032Q4`) under the last tick.
        .margin_right(size.font(40.0) as i32)
        .x_label_area_size(size.font(45.0) as u32)
        .y_label_area_size(size.font(95.0) as u32)
        .build_cartesian_2d(axis(1.0, tq as f64)?, axis(0.0, ymax)?)?;
    let fmt_q = quarter_axis(s.labels.clone());
    let fmt_y = bn_axis(ymax);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_labels(tq + 1)
        .y_labels(6)
        .x_label_formatter(&fmt_q)
        .y_label_formatter(&|y| fmt_y(*y))
        .label_style(font(size, 17.0, &INK))
        .draw()?;
    let band = |lo: fn(&crate::report::FanRow) -> f64, hi: fn(&crate::report::FanRow) -> f64| {
        let mut pts: Vec<(f64, f64)> = rows_p.iter().map(|r| (r.quarter as f64, hi(r))).collect();
        pts.extend(rows_p.iter().rev().map(|r| (r.quarter as f64, lo(r))));
        pts
    };
    chart
        .draw_series(std::iter::once(Polygon::new(band(|r| r.p5, |r| r.p95), LIGHT.filled())))?
        .label("p5-p95")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], LIGHT.filled()));
    chart
        .draw_series(std::iter::once(Polygon::new(band(|r| r.p25, |r| r.p75), MID.filled())))?
        .label("p25-p75")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], MID.filled()));
    let stroke = size.font(3.0) as u32;
    chart
        .draw_series(LineSeries::new(rows_p.iter().map(|r| (r.quarter as f64, r.p50)), DARK.stroke_width(stroke)))?
        .label("median")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], DARK.stroke_width(stroke)));
    chart
        .draw_series(DashedLineSeries::new(
            plan.iter().enumerate().map(|(t, b)| (t as f64 + 1.0, *b)),
            size.font(10.0) as u32,
            size.font(7.0) as u32,
            GREY.stroke_width(stroke),
        ))?
        .label("plan")
        .legend(move |(x, y)| dashed_sample(x, y, 20, GREY.stroke_width(stroke)));
    Ok(chart)
}

/// A chart of backlog (`$bn`) over the quarters.
pub(super) type Panel<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;
