//! `attribution.png`: a waterfall from the plan through each driver's
//! contribution to the outcome, for the mean and for ES99.

use crate::Result;
use plotters::prelude::*;

use super::style::{DARK, INK, LIGHT, MID};
use super::{ChartSize, amount_axis, axis, builder, draw_row_mesh, frame, render, unit_of};
use crate::analysis::attribution::AttributionRow;

/// `plan` is the metric on the plan path; `rows` the drivers, then `total`.
pub fn attribution_png(
    scenario: &str,
    metric: &str,
    plan: f64,
    rows: &[AttributionRow],
    size: ChartSize,
) -> Result<Vec<u8>> {
    render("attribution.png", size, |area| {
        let (drivers, total) = rows.split_at(rows.len().saturating_sub(1));
        let total = total.first();
        let body = frame(
            area,
            size,
            &format!("{scenario}: {metric} from the plan to the outcome, by driver"),
            "Each path's value against plan split into drivers by the Shapley value. Dark: the mean over all paths; pale: the mean over the worst 1% (ES99)",
        )?;
        // Rows: plan, each driver, outcome; each with [start, end] for the
        // mean and for ES99.
        let mut bars: Vec<(String, [f64; 2], [f64; 2])> = vec![("plan".into(), [0.0, plan], [0.0, plan])];
        let (mut at_mean, mut at_es) = (plan, plan);
        for d in drivers {
            bars.push((d.driver.clone(), [at_mean, at_mean + d.mean], [at_es, at_es + d.es99_contribution]));
            at_mean += d.mean;
            at_es += d.es99_contribution;
        }
        if let Some(t) = total {
            bars.push(("outcome".into(), [0.0, plan + t.mean], [0.0, plan + t.es99_contribution]));
        }
        let ends = bars.iter().flat_map(|(_, a, b)| [a[0], a[1], b[0], b[1]]);
        let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let pad = (hi - lo).max(1e-9) * 0.08;
        let k = bars.len();
        let labels: Vec<String> =
            bars.iter().map(|(n, m, e)| format!("{n}: {:+.1} | ES99 {:+.1}", m[1] - m[0], e[1] - e[0])).collect();
        let mut chart =
            builder(&body, size, 360.0).build_cartesian_2d(axis(lo - pad, hi + pad)?, (k as f64 - 0.4)..-0.6)?;
        let unit = unit_of(metric);
        let xdesc = format!("{metric} ({unit}): the plan, each driver's contribution, the outcome");
        draw_row_mesh(&mut chart, size, labels, &xdesc, &amount_axis(hi - lo))?;
        for (i, (_, mean, es)) in bars.iter().enumerate() {
            let y = i as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(mean[0], y - 0.36), (mean[1], y - 0.02)],
                MID.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(mean[0], y - 0.36), (mean[1], y - 0.02)],
                DARK.stroke_width(1),
            )))?;
            chart
                .draw_series(std::iter::once(Rectangle::new([(es[0], y + 0.02), (es[1], y + 0.36)], LIGHT.filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(es[0], y + 0.02), (es[1], y + 0.36)],
                MID.stroke_width(1),
            )))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, -0.6), (0.0, k as f64 - 0.4)],
            INK.stroke_width(1),
        )))?;
        Ok(())
    })
}
