//! `sweep.png`: a statistic over a one-parameter sweep (line) or a
//! two-parameter grid (heatmap with the value in each cell).

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{DARK, INK};
use super::{ChartSize, axis, builder, category_labels, font, frame, render};

/// What a sweep chart shows.
#[derive(Clone, Copy)]
pub struct SweepPlot<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    /// Label of the statistic, e.g. `ES99 of loss.azure ($bn)`.
    pub stat: &'a str,
    /// Formats a value of the statistic.
    pub fmt: &'a dyn Fn(f64) -> String,
}

/// One parameter: the statistic against the parameter's values.
pub fn sweep_line_png(plot: &SweepPlot, xname: &str, xs: &[f64], ys: &[f64], size: ChartSize) -> Result<Vec<u8>> {
    render("sweep.png", size, |area| {
        let body = frame(area, size, plot.title, plot.subtitle)?;
        let (x0, x1) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
        let (y0, y1) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(*y), b.max(*y)));
        let xpad = ((x1 - x0) * 0.05).max(1e-9);
        let ypad = ((y1 - y0) * 0.1).max(1e-9 + y1.abs() * 0.005);
        let mut chart =
            builder(&body, size, 120.0).build_cartesian_2d(axis(x0 - xpad, x1 + xpad)?, axis(y0 - ypad, y1 + ypad)?)?;
        let fmt = plot.fmt;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(xname)
            .y_desc(plot.stat)
            .y_label_formatter(&|y| fmt(*y))
            .label_style(font(size, 20.0, &INK))
            .axis_desc_style(font(size, 22.0, &INK))
            .draw()?;
        let stroke = size.font(3.5) as u32;
        let pts: Vec<(f64, f64)> = xs.iter().copied().zip(ys.iter().copied()).collect();
        chart.draw_series(LineSeries::new(pts.clone(), DARK.stroke_width(stroke)))?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, size.font(7.0) as i32, DARK.filled())))?;
        Ok(())
    })
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
        let fmt = plot.fmt;
        for (i, row) in z.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
                let fill = RGBColor(mix(247, 8), mix(251, 48), mix(255, 107));
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
