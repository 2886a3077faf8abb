//! `given.png`: the uncertain inputs (and, when the attribution ran, the
//! drivers' contributions) that the condition of a reverse stress test
//! moves most: for each, its p5-p95 range and mean over all paths and over
//! the paths that meet the condition, in units of its own sd over all paths
//! (so quantities of any unit share one axis), largest shift on top.

use crate::Result;
use plotters::prelude::*;

use super::style::{ACCENT, GREY, INK, LIGHT};
use super::{ChartSize, axis, builder, draw_row_mesh, frame, render};
use crate::analysis::given::Given;

/// At most this many inputs are drawn (the largest shifts).
const MAX_ROWS: usize = 12;

pub fn given_png(scenario: &str, g: &Given, size: ChartSize) -> Result<Vec<u8>> {
    render("given.png", size, |area| {
        let shown = |r: &&crate::analysis::given::GivenRow| r.is_cause() && r.all.sd > 0.0;
        let rows: Vec<_> = g.rows.iter().filter(shown).take(MAX_ROWS).collect();
        let body = frame(
            area,
            size,
            &format!("{scenario}: what {} takes", g.condition),
            &format!(
                "Inputs and drivers by the shift of their mean, in sds; blue: p5-p95 and mean over all {} paths; orange: over the {} that meet it (P = {:.2}%)",
                g.paths,
                g.hits,
                100.0 * g.probability
            ),
        )?;
        let z = |r: &crate::analysis::given::GivenRow, x: f64| (x - r.all.mean) / r.all.sd;
        let k = rows.len().max(1);
        let (lo, hi) = rows.iter().fold((-1.0f64, 1.0f64), |(lo, hi), r| {
            let xs = [z(r, r.all.p5), z(r, r.all.p95), z(r, r.given.p5), z(r, r.given.p95)];
            (xs.iter().fold(lo, |a, b| a.min(*b)), xs.iter().fold(hi, |a, b| a.max(*b)))
        });
        let pad = (hi - lo) * 0.05;
        let labels: Vec<String> = rows
            .iter()
            .map(|r| {
                let what = if r.kind == "driver" { "driver: " } else { "" };
                format!("{what}{} ({:+.2} sd)", r.name, r.shift_sd)
            })
            .collect();
        let mut chart =
            builder(&body, size, 420.0).build_cartesian_2d(axis(lo - pad, hi + pad)?, (k as f64 - 0.4)..-0.6)?;
        draw_row_mesh(&mut chart, size, labels, "sds from its mean over all paths", &|x| format!("{x:+.1}"))?;
        let dot = size.font(6.0) as i32;
        for (i, r) in rows.iter().enumerate() {
            let y = i as f64;
            let all = [(z(r, r.all.p5), y - 0.05), (z(r, r.all.p95), y - 0.32)];
            chart.draw_series(std::iter::once(Rectangle::new(all, LIGHT.filled())))?;
            let given = [(z(r, r.given.p5), y + 0.05), (z(r, r.given.p95), y + 0.32)];
            chart.draw_series(std::iter::once(Rectangle::new(given, ACCENT.mix(0.55).filled())))?;
            chart.draw_series(std::iter::once(Circle::new((0.0, y - 0.185), dot, GREY.filled())))?;
            chart.draw_series(std::iter::once(Circle::new((z(r, r.given.mean), y + 0.185), dot, ACCENT.filled())))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, -0.6), (0.0, k as f64 - 0.4)],
            INK.stroke_width(1),
        )))?;
        Ok(())
    })
}
