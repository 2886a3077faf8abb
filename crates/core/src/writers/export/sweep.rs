//! The files of a sweep ([`super::SWEEP_EXPORTERS`]): `sweep-SLUG.csv`, one
//! row per grid point, and `sweep-SLUG.png`, the charted statistic across
//! the grid; named by the varied parameters so that sweeps of other
//! parameters never overwrite them.

use super::{Charts, Exporter, Owns, Sink};
use crate::Result;
use crate::metric::Metric;
use crate::writers::charts::{self, ChartSize};
use crate::writers::output;
use crate::writers::shard::SweepPoint;

/// A finished sweep, as the exporters see it.
pub struct SweepContext<'a> {
    /// The base scenario's name.
    pub scenario: &'a str,
    /// The varied parameters and their values, one or two.
    pub vary: &'a [(String, Vec<f64>)],
    /// The values of each point, in grid order, and its results.
    pub grid: &'a [Vec<f64>],
    pub points: &'a [SweepPoint],
    /// The metric and statistic charted.
    pub metric: &'a str,
    pub stat: &'a str,
    /// The paths and seed of every point.
    pub paths: u64,
    pub seed: u64,
    pub charts: Charts,
    pub chart_size: ChartSize,
}

impl SweepContext<'_> {
    fn slug(&self) -> String {
        sweep_slug(&self.vary.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>())
    }

    /// The charted statistic at each point.
    pub fn charted(&self) -> Vec<f64> {
        let (metric, stat) = (self.metric, self.stat);
        self.points
            .iter()
            .map(|r| r.rows.iter().find(|m| m.metric == *metric).and_then(|m| m.stat(stat)).unwrap_or(f64::NAN))
            .collect()
    }
}

/// Whether `name` is `sweep-SLUG.EXT` (and not a sweep's shard).
fn sweep_file(name: &str, ext: &str) -> bool {
    name.starts_with("sweep-") && name.ends_with(ext)
}

/// `sweep-SLUG.csv`.
pub(super) struct SweepCsv;

impl Owns for SweepCsv {
    fn owns(&self, name: &str) -> bool {
        sweep_file(name, ".csv")
    }
}

impl Exporter<SweepContext<'_>> for SweepCsv {
    fn export(&self, cx: &SweepContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let vary_names: Vec<&str> = cx.vary.iter().map(|(p, _)| p.as_str()).collect();
        let csv = output::sweep_csv(&vary_names, cx.grid, cx.points, (cx.metric, cx.stat))?;
        sink.put(&format!("sweep-{}.csv", cx.slug()), csv)
    }
}

/// `sweep-SLUG.png`: a line with 95% bars over one parameter, a heat map
/// over two.
pub(super) struct SweepPng;

impl Owns for SweepPng {
    fn owns(&self, name: &str) -> bool {
        sweep_file(name, ".png")
    }
}

impl Exporter<SweepContext<'_>> for SweepPng {
    fn export(&self, cx: &SweepContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if cx.charts == Charts::None {
            return Ok(());
        }
        let (metric, stat) = (cx.metric, cx.stat);
        let z = cx.charted();
        let se: Vec<Option<f64>> = cx.points.iter().map(|r| r.se).collect();
        let title = format!("{}: {stat} of {metric} across the sweep", cx.scenario);
        let money = metric.parse::<Metric>().map_or(true, |m| m.is_money());
        let widest = se.iter().flatten().fold(0.0f64, |a, s| a.max(1.96 * s));
        let bars = if cx.vary.len() == 1 && se.iter().all(Option::is_some) {
            let w = if money { charts::fmt_bn(widest) } else { format!("{widest:.4}") };
            format!("; bars: 95% Monte Carlo interval of each point (at most \u{b1}{w})")
        } else if cx.vary.len() == 1 {
            "; no standard error is computed for this statistic".to_string()
        } else {
            String::new()
        };
        let subtitle =
            format!("{} paths per point, seed {} at every point (common random numbers){bars}", cx.paths, cx.seed);
        let stat_label = format!("{stat} of {metric}{}", if money { " ($bn)" } else { "" });
        let plot = charts::SweepPlot { title: &title, subtitle: &subtitle, stat: &stat_label, money };
        let png = match cx.vary {
            [(xname, xs)] => charts::sweep_line_png(&plot, xname, xs, &z, &se, cx.chart_size)?,
            [(xname, xs), (yname, ys)] => {
                let rows: Vec<Vec<f64>> = z.chunks(ys.len()).map(|c| c.to_vec()).collect();
                charts::sweep_heatmap_png(&plot, (xname, xs), (yname, ys), &rows, cx.chart_size)?
            }
            _ => return Err(crate::Error::invalid("a sweep varies one or two parameters")),
        };
        sink.put(&format!("sweep-{}.png", cx.slug()), png)
    }
}

/// The name of a sweep's files: its parameters' paths with every run of
/// characters other than letters, digits and `_` made one `-`, two
/// parameters joined by `--` (`renegotiation[0].hazard` ->
/// `renegotiation-0-hazard`).
///
/// ```
/// assert_eq!(backlog_risk::api::sweep_slug(&["renegotiation[0].hazard"]), "renegotiation-0-hazard");
/// ```
pub fn sweep_slug(paths: &[&str]) -> String {
    let one = |p: &str| {
        let mut s = String::new();
        for c in p.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('-') {
                s.push('-');
            }
        }
        s.trim_matches('-').to_string()
    };
    paths.iter().map(|p| one(p)).collect::<Vec<_>>().join("--")
}
