//! `path-N.png`: one path's backlog of the focus provider over the
//! quarters, against the plan and the fan of the run, with the quarters in
//! which a renegotiation rule on that provider fired marked and labelled
//! with the amount cut.

use plotters::prelude::*;

use super::fan::fan_panel;
use super::style::{ACCENT, INK};
use super::{ChartSize, draw_legend, fmt_bn, font, frame, render};
use crate::Result;
use crate::api::PathStory;

pub fn path_png(s: &PathStory, size: ChartSize) -> Result<Vec<u8>> {
    let name = format!("path-{}.png", s.path);
    render(&name, size, |area| {
        let sm = &s.summary;
        let (np, p) = (sm.providers.len(), sm.focus);
        let nr = s.rules.len();
        // Events of the rules on this provider, each with its cut.
        let rules: Vec<usize> = (0..nr).filter(|&r| s.scenario.rules[r].provider == p).collect();
        let events = (0..sm.labels.len()).flat_map(|t| rules.iter().map(move |r| t * nr + r));
        let events = events.filter(|&at| s.trace.fired[at]).count();
        let marks = match events {
            0 => format!("no renegotiation event on {}", sm.display[p]),
            1 => "dot: its renegotiation event".to_string(),
            n => format!("dots: its {n} renegotiation events"),
        };
        let body = frame(
            area,
            size,
            &format!("{}: path {} of {} (seed {})", sm.name, s.path, sm.paths, sm.seed),
            &format!(
                "{}'s backlog on this path against the plan and the p5-p95 and p25-p75 bands of the run; {marks}",
                sm.display[p]
            ),
        )?;
        let line: Vec<(f64, f64)> = (0..sm.labels.len()).map(|t| (t as f64 + 1.0, s.backlog[t * np + p])).collect();
        let top = line.iter().map(|(_, b)| *b).fold(0.0, f64::max);
        let mut chart = fan_panel(&body, sm, p, size, &sm.display[p], top)?;
        let stroke = size.font(4.0) as u32;
        chart
            .draw_series(LineSeries::new(line.iter().copied(), ACCENT.stroke_width(stroke)))?
            .label(format!("path {}", s.path))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], ACCENT.stroke_width(stroke)));
        for (t, &(x, y)) in line.iter().enumerate() {
            for &r in &rules {
                if !s.trace.fired[t * nr + r] {
                    continue;
                }
                let text = format!("{}: -{}", s.rules[r], fmt_bn(s.trace.cut[t * nr + r]));
                let radius = size.font(7.0) as i32;
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, y))
                        + Circle::new((0, 0), radius, ACCENT.filled())
                        + Text::new(text, (radius, radius + 4), font(size, 17.0, &INK)),
                ))?;
            }
        }
        draw_legend(&mut chart, size, SeriesLabelPosition::UpperLeft, 17.0, 20)?;
        Ok(())
    })
}
