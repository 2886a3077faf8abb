//! `sweep-SLUG.png`: a statistic over a one-parameter sweep (line) or a
//! two-parameter grid (heatmap with the value in each cell).

use crate::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{ACCENT, DARK, INK};
use super::{ChartSize, axis, bn_axis, builder, category_labels, font, frame, render};

/// What a sweep chart shows.
#[derive(Clone, Copy)]
pub struct SweepPlot<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    /// Label of the statistic, e.g. `ES99 of loss.azure ($bn)`.
    pub stat: &'a str,
    /// Whether the statistic is an amount in $bn (else a share or a count).
    pub money: bool,
}

/// Formats values on an axis (or in cells) spanning `span`.
fn value_format(money: bool, span: f64) -> Box<dyn Fn(f64) -> String> {
    if money { Box::new(bn_axis(span)) } else { Box::new(|v: f64| format!("{v:.3}")) }
}

/// One parameter: the statistic against the parameter's values, with a
/// 95% Monte Carlo interval (`1.96 se`) on each point that has a standard
/// error. The y axis spans the points and their intervals, so that a
/// change of a few percent is seen and the intervals are not hidden under
/// the markers; the axis title says when it does not start at 0.
pub fn sweep_line_png(
    plot: &SweepPlot,
    xname: &str,
    xs: &[f64],
    ys: &[f64],
    se: &[Option<f64>],
    size: ChartSize,
) -> Result<Vec<u8>> {
    render("sweep.png", size, |area| {
        let body = frame(area, size, plot.title, plot.subtitle)?;
        let (x0, x1) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        let half = |i: usize| se.get(i).copied().flatten().map_or(0.0, |s| 1.96 * s);
        let halves: Vec<f64> = (0..ys.len()).map(half).collect();
        let (lo, hi) = value_range(ys, &halves);
        let xpad = ((x1 - x0) * 0.05).max(1e-9);
        let mut chart = builder(&body, size, 120.0).build_cartesian_2d(axis(x0 - xpad, x1 + xpad)?, axis(lo, hi)?)?;
        let fmt = value_format(plot.money, hi - lo);
        let ydesc =
            if lo > 0.0 || hi < 0.0 { format!("{} (axis not from 0)", plot.stat) } else { plot.stat.to_string() };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(xname)
            .y_desc(ydesc)
            .y_label_formatter(&|y| fmt(*y))
            .label_style(font(size, 20.0, &INK))
            .axis_desc_style(font(size, 22.0, &INK))
            .draw()?;
        let stroke = size.font(3.5) as u32;
        let pts: Vec<(f64, f64)> = xs.iter().copied().zip(ys.iter().copied()).collect();
        chart.draw_series(LineSeries::new(pts.clone(), DARK.stroke_width(stroke)))?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, size.font(5.0) as i32, DARK.filled())))?;
        // The intervals over the markers, so that they always show.
        let bars = pts.iter().enumerate().filter(|(i, _)| half(*i) > 0.0).map(|(i, &(x, y))| {
            ErrorBar::new_vertical(
                x,
                y - half(i),
                y,
                y + half(i),
                ACCENT.stroke_width(stroke / 2 + 1),
                size.font(22.0) as u32,
            )
        });
        chart.draw_series(bars)?;
        Ok(())
    })
}

/// The y axis of a sweep line: the points `ys` with their interval
/// half-widths `halves`, padded by a tenth of that span (at least 1% of
/// the values, so that a flat sweep still has an axis).
fn value_range(ys: &[f64], halves: &[f64]) -> (f64, f64) {
    let (y0, y1) =
        ys.iter().zip(halves).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (y, h)| (a.min(y - h), b.max(y + h)));
    let pad = ((y1 - y0) * 0.1).max(y1.abs().max(y0.abs()) * 0.01).max(1e-9);
    (y0 - pad, y1 + pad)
}

/// Two parameters: a heatmap, darker = larger, each cell labelled.
pub fn sweep_heatmap_png(
    plot: &SweepPlot,
    (xname, xs): (&str, &[f64]),
    (yname, ys): (&str, &[f64]),
    z: &[Vec<f64>],
    size: ChartSize,
) -> Result<Vec<u8>> {
    render("sweep.png", size, |area| {
        let body = frame(area, size, plot.title, plot.subtitle)?;
        let (nx, ny) = (xs.len(), ys.len());
        let (lo, hi) = z.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
        let xl: Vec<String> = xs.iter().map(|x| format!("{x}")).collect();
        let yl: Vec<String> = ys.iter().map(|y| format!("{y}")).collect();
        let fx = category_labels(xl, 0.5);
        let fy = category_labels(yl, 0.5);
        // The colour bar on the right: the scale from the smallest value
        // (lightest) to the largest (darkest).
        let (w, _) = body.dim_in_pixel();
        let (body, legend) = body.split_horizontally(w.saturating_sub(size.font(190.0) as u32));
        let fmt = value_format(plot.money, hi - lo);
        let colour = |t: f64| {
            let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t.clamp(0.0, 1.0)).round() as u8;
            RGBColor(mix(247, 8), mix(251, 48), mix(255, 107))
        };
        {
            let (blo, bhi) = if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) };
            let mut bar = ChartBuilder::on(&legend)
                .margin(size.font(14.0) as i32)
                .margin_top(size.font(40.0) as i32)
                .x_label_area_size(size.font(60.0) as u32)
                .y_label_area_size(size.font(110.0) as u32)
                .build_cartesian_2d(0.0..1.0, axis(blo, bhi)?)?;
            bar.configure_mesh()
                .disable_mesh()
                .disable_x_axis()
                .y_labels(6)
                .y_label_formatter(&|v| fmt(*v))
                .label_style(font(size, 16.0, &INK))
                .draw()?;
            let steps = 60;
            let cells = (0..steps).map(|k| {
                let (a, b) =
                    (blo + (bhi - blo) * k as f64 / steps as f64, blo + (bhi - blo) * (k + 1) as f64 / steps as f64);
                let t = if hi > lo { ((a + b) / 2.0 - lo) / (hi - lo) } else { 0.5 };
                Rectangle::new([(0.0, a), (1.0, b)], colour(t).filled())
            });
            bar.draw_series(cells)?;
            // The statistic's short name above the bar (the title has it in full).
            let short = plot.stat.split(' ').next().unwrap_or(plot.stat).to_string();
            let label = font(size, 18.0, &INK).pos(Pos::new(HPos::Center, VPos::Bottom));
            bar.draw_series(std::iter::once(Text::new(short, (0.5, bhi + (bhi - blo) * 0.01), label)))?;
        }
        let mut chart = builder(&body, size, 120.0).build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(2 * nx + 1)
            .y_labels(2 * ny + 1)
            .x_desc(xname)
            .y_desc(yname)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style(font(size, 18.0, &INK))
            .axis_desc_style(font(size, 22.0, &INK))
            .draw()?;
        for (i, row) in z.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                let fill = colour(t);
                let (x, y) = (i as f64, j as f64);
                chart.draw_series(std::iter::once(Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled())))?;
                let ink = if t > 0.5 { WHITE } else { INK };
                let style = font(size, 17.0, &ink).pos(Pos::new(HPos::Center, VPos::Center));
                chart.draw_series(std::iter::once(Text::new(fmt(*v), (x + 0.5, y + 0.5), style)))?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::value_range;

    #[test]
    fn a_small_rise_fills_the_axis_with_its_intervals() {
        // openai-shift's ES99 across the hazard: $785bn to $790bn, +-$3.2bn.
        let ys = [784.9, 788.3, 789.4, 789.8, 790.0, 790.0];
        let (lo, hi) = value_range(&ys, &[3.2; 6]);
        assert!(lo > 770.0 && hi < 805.0, "axis {lo}..{hi}");
        // The rise takes at least a sixth of the axis, each interval more
        // than a tenth (not hidden under a marker).
        assert!((790.0 - 784.9) / (hi - lo) > 1.0 / 6.0 && 6.4 / (hi - lo) > 0.1, "axis {lo}..{hi}");
        let (lo, hi) = value_range(&[5.0, 5.0], &[0.0, 0.0]);
        assert!(lo < 5.0 && hi > 5.0, "a flat sweep has an axis: {lo}..{hi}");
    }
}
