//! `concentration.png`: each modelled customer's share of each provider's
//! backlog at the horizon (box p25-p75, whiskers p5-p95, median tick), with
//! the starting share marked.

use crate::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{ACCENT, DARK, INK, MID};
use super::{ChartSize, axis, builder, draw_row_mesh, fmt_pct, font, frame, render};
use crate::report::ScenarioSummary;

pub fn concentration_png(s: &ScenarioSummary, size: ChartSize) -> Result<Vec<u8>> {
    let horizon = s.labels.last().cloned().unwrap_or_default();
    // (label, row, starting share) for every pair that can hold backlog.
    let mut rows = Vec::new();
    for (c, cname) in s.customers.iter().enumerate() {
        for (p, pname) in s.providers.iter().enumerate() {
            if s.holds[c][p]
                && let Some(m) = s.metric(
                    &crate::metric::Metric::Share { customer: cname.clone(), provider: pname.clone() }.to_string(),
                )
            {
                rows.push((format!("{cname} at {}", s.display[p]), m, s.start_share[c][p]));
            }
        }
    }
    render("concentration.png", size, |area| {
        let body = frame(
            area,
            size,
            &format!("{}: customer shares of provider backlog at {horizon}", s.name),
            &format!(
                "Box p25-p75, whiskers p5-p95, dark tick the median of {} paths; orange diamond: share at the start",
                s.paths
            ),
        )?;
        let k = rows.len().max(1);
        let xmax = rows.iter().map(|(_, m, st)| m.p95.max(*st)).fold(0.0, f64::max).max(0.05);
        let xmax = ((xmax * 1.1) * 10.0).ceil() / 10.0;
        let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        // A margin left of 0%, so that a diamond at 0% stays off the labels.
        let left = -0.025 * xmax.min(1.0);
        let mut chart =
            builder(&body, size, 230.0).build_cartesian_2d(axis(left, xmax.min(1.0))?, -0.6..k as f64 - 0.4)?;
        draw_row_mesh(&mut chart, size, labels, &format!("share of the provider's backlog at {horizon}"), &fmt_pct)?;
        let half = 0.28;
        let stroke = size.font(3.0) as u32;
        for (i, (_, m, start)) in rows.iter().enumerate() {
            let y = i as f64;
            chart.draw_series(std::iter::once(PathElement::new([(m.p5, y), (m.p95, y)], DARK.stroke_width(stroke))))?;
            for x in [m.p5, m.p95] {
                chart.draw_series(std::iter::once(PathElement::new(
                    [(x, y - half / 2.0), (x, y + half / 2.0)],
                    DARK.stroke_width(stroke),
                )))?;
            }
            chart.draw_series(std::iter::once(Rectangle::new([(m.p25, y - half), (m.p75, y + half)], MID.filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(m.p25, y - half), (m.p75, y + half)],
                DARK.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                [(m.p50, y - half), (m.p50, y + half)],
                DARK.stroke_width(stroke * 2),
            )))?;
            let d = size.font(13.0) as i32;
            let diamond = EmptyElement::at((*start, y))
                + Polygon::new(vec![(0, -d), (d, 0), (0, d), (-d, 0)], ACCENT.filled())
                + PathElement::new(vec![(0, -d), (d, 0), (0, d), (-d, 0), (0, -d)], WHITE.stroke_width(2));
            chart.draw_series(std::iter::once(diamond))?;
            let note = format!("start {} -> median {}", fmt_pct(*start), fmt_pct(m.p50));
            let style = font(size, 18.0, &INK).pos(Pos::new(HPos::Left, VPos::Top));
            chart.draw_series(std::iter::once(Text::new(note, (m.p5, y - half - 0.04), style)))?;
        }
        Ok(())
    })
}
