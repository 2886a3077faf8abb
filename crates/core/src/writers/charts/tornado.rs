//! `tornado.png`: the metric's mean with each uncertain input in the bottom
//! and in the top 10% of its distribution, largest swing on top.

use crate::Result;
use plotters::prelude::*;

use super::style::{DARK, INK, LIGHT, MID};
use super::{ChartSize, amount_axis, axis, builder, draw_row_mesh, frame, render};
use crate::analysis::sensitivity::SensitivityRow;

/// At most this many inputs are drawn (the largest swings).
const MAX_ROWS: usize = 15;

/// `mean` is the metric's mean over all paths, the bars' origin.
pub fn tornado_png(
    scenario: &str,
    metric: &str,
    mean: f64,
    rows: &[SensitivityRow],
    size: ChartSize,
) -> Result<Vec<u8>> {
    render("tornado.png", size, |area| {
        let mut bars: Vec<(&SensitivityRow, f64, f64)> =
            rows.iter().filter_map(|r| Some((r, r.swing_low?, r.swing_high?))).collect();
        bars.sort_by(|a, b| (b.2 - b.1).abs().total_cmp(&(a.2 - a.1).abs()));
        let left_out = bars.len().saturating_sub(MAX_ROWS);
        bars.truncate(MAX_ROWS);
        let note =
            if left_out > 0 { format!("; {left_out} inputs with smaller swings left out") } else { String::new() };
        let body = frame(
            area,
            size,
            &format!("{scenario}: what moves {metric}"),
            &format!(
                "The mean of {metric} with the input in its bottom 10% (pale) and top 10% (dark); the line is the mean over all paths ({mean:.1}); rank correlation in brackets{note}"
            ),
        )?;
        let k = bars.len().max(1);
        let (lo, hi) = bars.iter().fold((mean, mean), |(lo, hi), (_, a, b)| (lo.min(a.min(*b)), hi.max(a.max(*b))));
        let pad = (hi - lo).max(1e-9) * 0.08;
        let labels: Vec<String> =
            bars.iter().map(|(r, _, _)| format!("{} ({:+.2})", r.parameter, r.rank_corr.unwrap_or(f64::NAN))).collect();
        let mut chart =
            builder(&body, size, 420.0).build_cartesian_2d(axis(lo - pad, hi + pad)?, (k as f64 - 0.4)..-0.6)?;
        draw_row_mesh(&mut chart, size, labels, &format!("mean of {metric}"), &amount_axis(hi - lo))?;
        for (i, (_, low, high)) in bars.iter().enumerate() {
            let y = i as f64;
            chart.draw_series(std::iter::once(Rectangle::new([(mean, y - 0.3), (*low, y + 0.3)], LIGHT.filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new([(mean, y - 0.3), (*high, y + 0.3)], MID.filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(mean, y - 0.3), (*high, y + 0.3)],
                DARK.stroke_width(1),
            )))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            [(mean, -0.6), (mean, k as f64 - 0.4)],
            INK.stroke_width(2),
        )))?;
        Ok(())
    })
}
