//! `contributions.png`: each holding's contribution to the portfolio's ES99
//! next to its standalone ES99, with the diversification benefit.

use crate::Result;
use plotters::prelude::*;

use super::style::{DARK, INK, LIGHT, MID};
use super::{ChartSize, amount_axis, axis, builder, draw_row_mesh, fmt_amount, fmt_pct, frame, render};
use crate::portfolio::StressResult;

pub fn contributions_png(r: &StressResult, size: ChartSize) -> Result<Vec<u8>> {
    render("contributions.png", size, |area| {
        let es99 = r.measure("es99").unwrap_or(f64::NAN);
        let alone = r.measure("sum_standalone_es99").unwrap_or(f64::NAN);
        let body = frame(
            area,
            size,
            &format!(
                "{} under {} at {}: contributions to ES99 ({} {})",
                r.portfolio,
                r.scenario,
                r.horizon_text(),
                fmt_amount(es99),
                r.unit
            ),
            &format!(
                "Dark: the holding's loss on the worst 1% of portfolio paths (these add up to ES99); pale: its own ES99 alone. Sum alone {}, together {}: diversification {}",
                fmt_amount(alone),
                fmt_amount(es99),
                fmt_amount(alone - es99)
            ),
        )?;
        let k = r.contributions.len().max(1);
        let lo = r.contributions.iter().flat_map(|c| [c.es99_contribution, c.es99]).fold(0.0, f64::min);
        let hi = r.contributions.iter().flat_map(|c| [c.es99_contribution, c.es99]).fold(0.0, f64::max);
        let pad = (hi - lo).max(1e-9) * 0.08;
        let labels: Vec<String> = r
            .contributions
            .iter()
            .map(|c| {
                format!(
                    "{} ({:+.0}%), {} of ES99",
                    c.holding,
                    c.weight * 100.0,
                    c.es99_share.map_or("no share".to_string(), fmt_pct)
                )
            })
            .collect();
        let mut chart =
            builder(&body, size, 330.0).build_cartesian_2d(axis(lo - pad, hi + pad)?, (k as f64 - 0.4)..-0.6)?;
        draw_row_mesh(
            &mut chart,
            size,
            labels,
            &format!("loss on the worst 1% of portfolio paths, in {} (negative = a gain there)", r.unit),
            &amount_axis(hi - lo),
        )?;
        for (i, c) in r.contributions.iter().enumerate() {
            let y = i as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.36), (c.es99, y + 0.02)], LIGHT.filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.02), (c.es99_contribution, y + 0.36)],
                MID.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.02), (c.es99_contribution, y + 0.36)],
                DARK.stroke_width(1),
            )))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, -0.6), (0.0, k as f64 - 0.4)],
            INK.stroke_width(1),
        )))?;
        Ok(())
    })
}
