//! `tornado.png`: the metric's mean with each uncertain input in the bottom
//! and in the top 10% of its distribution, largest swing on top.

use crate::Result;
use plotters::prelude::*;

use super::style::{DARK, GREY, INK, LIGHT, MID};
use super::{ChartSize, amount_axis, axis, builder, draw_row_mesh, frame, render, unit_of};
use crate::analysis::sensitivity::SensitivityRow;

/// At most this many inputs are drawn (the largest swings).
const MAX_ROWS: usize = 15;

/// Whether an input has no effect on the metric: its total Sobol' index is
/// 0 within 2 standard errors, so its swing is the sampling noise of two
/// means of 10% of the paths.
fn no_effect(r: &SensitivityRow) -> bool {
    r.total_order <= 2.0 * r.total_order_se
}

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
        // An input with no effect (total Sobol' index 0 within 2 standard
        // errors) still shows a swing: the sampling noise of two 10% means.
        let mut note =
            if left_out > 0 { format!("; {left_out} inputs with smaller swings left out") } else { String::new() };
        if bars.iter().any(|(r, _, _)| no_effect(r)) {
            note.push_str("; grey: no effect (total Sobol' index 0), the swing is noise");
        }
        let body = frame(
            area,
            size,
            &format!("{scenario}: what moves {metric}"),
            &format!(
                "Mean of {metric} with the input in its bottom 10% (pale) and top 10% (dark); line: the mean ({mean:.1}); rank correlation in brackets{note}"
            ),
        )?;
        let k = bars.len().max(1);
        let (lo, hi) = bars.iter().fold((mean, mean), |(lo, hi), (_, a, b)| (lo.min(a.min(*b)), hi.max(a.max(*b))));
        let pad = (hi - lo).max(1e-9) * 0.08;
        let labels: Vec<String> = bars
            .iter()
            .map(|(r, _, _)| {
                let effect = if no_effect(r) { ", noise" } else { "" };
                format!("{} ({:+.2}{effect})", r.parameter, r.rank_corr.unwrap_or(f64::NAN))
            })
            .collect();
        let mut chart =
            builder(&body, size, 420.0).build_cartesian_2d(axis(lo - pad, hi + pad)?, (k as f64 - 0.4)..-0.6)?;
        let unit = unit_of(metric);
        draw_row_mesh(&mut chart, size, labels, &format!("mean of {metric} ({unit})"), &amount_axis(hi - lo))?;
        let pale_grey = RGBColor(222, 222, 222);
        for (i, (r, low, high)) in bars.iter().enumerate() {
            let y = i as f64;
            let (pale, dark) = if no_effect(r) { (pale_grey, GREY) } else { (LIGHT, MID) };
            chart.draw_series(std::iter::once(Rectangle::new([(mean, y - 0.3), (*low, y + 0.3)], pale.filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new([(mean, y - 0.3), (*high, y + 0.3)], dark.filled())))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_without_effect_is_told_apart() {
        let row = |total: f64, se: f64| SensitivityRow {
            metric: "loss.azure".into(),
            parameter: "p".into(),
            first_order: 0.0,
            first_order_se: 0.0,
            total_order: total,
            total_order_se: se,
            rank_corr: Some(0.0),
            swing_low: Some(73.1),
            swing_high: Some(70.3),
        };
        assert!(no_effect(&row(0.0, 0.0)), "an index of exactly 0");
        assert!(no_effect(&row(1e-5, 1e-5)), "0 within 2 se");
        assert!(!no_effect(&row(9.7e-7, 2.1e-8)), "small but certain");
    }
}
