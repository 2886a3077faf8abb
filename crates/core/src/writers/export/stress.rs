//! The files of a stress test: one scenario's in its `portfolio-P` folder
//! ([`super::STRESS_EXPORTERS`]), and the portfolio across scenarios
//! ([`super::ACROSS_EXPORTERS`]).

use super::{Charts, Exporter, Owns, Sink};
use crate::Result;
use crate::portfolio::{Portfolio, ScenarioRisk, StressResult};
use crate::writers::charts::{self, ChartSize};
use crate::writers::{output, xlsx};

/// One scenario's stress test, as the exporters see it.
pub struct StressContext<'a> {
    pub result: &'a StressResult,
    /// Its row of the test across scenarios; paired with a base, its
    /// differences go to `paired-BASE.csv`.
    pub row: Option<&'a ScenarioRisk>,
    pub charts: Charts,
    pub chart_size: ChartSize,
    /// Whether to write `portfolio.xlsx`.
    pub workbook: bool,
}

/// A table of the result, with the horizon's columns added.
pub(super) struct Table(pub &'static str, pub fn(&StressResult) -> Result<Vec<u8>>);

impl Owns for Table {
    fn owns(&self, name: &str) -> bool {
        name == self.0
    }
}

impl Exporter<StressContext<'_>> for Table {
    fn export(&self, cx: &StressContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let r = cx.result;
        let h = r.horizon.to_string();
        let cols = [("horizon", r.horizon_label.as_str()), ("horizon_quarters", h.as_str())];
        sink.put(self.0, output::with_columns(&(self.1)(r)?, &cols)?)
    }
}

/// The rows of `pnl.csv`: the P&L's statistics.
pub(super) fn pnl_rows(r: &StressResult) -> Result<Vec<u8>> {
    output::rows_csv(std::slice::from_ref(&r.pnl))
}

/// `paired-BASE.csv` of a paired stress test.
pub(super) struct PairedCsv;

impl Owns for PairedCsv {
    fn owns(&self, name: &str) -> bool {
        name.starts_with("paired-") && name.ends_with(".csv")
    }
}

impl Exporter<StressContext<'_>> for PairedCsv {
    fn export(&self, cx: &StressContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        match cx.row.filter(|w| w.base.is_some()) {
            Some(row) => {
                let name = format!("paired-{}.csv", row.base.as_deref().unwrap_or_default());
                sink.put(&name, output::rows_csv(std::slice::from_ref(row))?)
            }
            None => Ok(()),
        }
    }
}

/// `pnl.png`: the P&L distribution with its mean, VaR99 and ES99.
pub(super) struct PnlPng;

impl Owns for PnlPng {
    fn owns(&self, name: &str) -> bool {
        name == "pnl.png"
    }
}

impl Exporter<StressContext<'_>> for PnlPng {
    fn export(&self, cx: &StressContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if cx.charts == Charts::None {
            return Ok(());
        }
        let r = cx.result;
        let loss = |m: &str| r.measure(m).unwrap_or(f64::NAN);
        let axis = charts::amount_axis(r.histogram.hi - r.histogram.lo);
        let mark =
            |label, m: &str, color, dashed| charts::Mark { label, x: -loss(m), shown: Some(loss(m)), color, dashed };
        let plot = charts::DistributionPlot {
            file: "pnl.png",
            title: format!("{} under {}: P&L at {}", r.portfolio, r.scenario, r.horizon_text()),
            subtitle: format!(
                "Value {} {}, {} paths; VaR99, ES99: losses (risk.csv) drawn at P&L = -loss; {}",
                charts::fmt_amount(r.value),
                r.unit,
                r.paths,
                charts::beyond_axis(&r.histogram, r.paths, &axis)
            ),
            xdesc: format!("P&L at {}, in {} (negative = a loss)", r.horizon_label, r.unit),
            hist: &r.histogram,
            paths: r.paths,
            marks: vec![
                charts::Mark { label: "mean", x: r.pnl.mean, shown: None, color: charts::style::DARK, dashed: false },
                mark("VaR99 loss", "var99", charts::style::ACCENT, false),
                mark("ES99 loss", "es99", charts::style::ACCENT, true),
            ],
            fmt: &axis,
        };
        sink.put("pnl.png", charts::distribution_png(&plot, cx.chart_size)?)
    }
}

/// `contributions.png`: each holding's share of the loss.
pub(super) struct ContributionsPng;

impl Owns for ContributionsPng {
    fn owns(&self, name: &str) -> bool {
        name == "contributions.png"
    }
}

impl Exporter<StressContext<'_>> for ContributionsPng {
    fn export(&self, cx: &StressContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if cx.charts == Charts::None {
            return Ok(());
        }
        sink.put("contributions.png", charts::contributions_png(cx.result, cx.chart_size)?)
    }
}

/// `portfolio.xlsx`: the test as a workbook ([`xlsx::portfolio_workbook`]).
pub(super) struct PortfolioXlsx;

impl Owns for PortfolioXlsx {
    fn owns(&self, name: &str) -> bool {
        name == "portfolio.xlsx"
    }
}

impl Exporter<StressContext<'_>> for PortfolioXlsx {
    fn export(&self, cx: &StressContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if !cx.workbook {
            return Ok(());
        }
        sink.put("portfolio.xlsx", xlsx::portfolio_workbook(cx.result, cx.row)?)
    }
}

/// A portfolio's stress test across scenarios, as the exporters see it.
pub struct AcrossContext<'a> {
    pub portfolio: &'a Portfolio,
    /// Every scenario that ran, and its row.
    pub results: &'a [StressResult],
    pub rows: &'a [ScenarioRisk],
    pub charts: Charts,
    pub chart_size: ChartSize,
}

/// Whether `name` is `portfolio-P.EXT` (and not a portfolio's folder).
fn across_file(name: &str, ext: &str) -> bool {
    name.starts_with("portfolio-") && name.ends_with(ext)
}

/// `portfolio-P.csv`: one row per scenario.
pub(super) struct AcrossCsv;

impl Owns for AcrossCsv {
    fn owns(&self, name: &str) -> bool {
        across_file(name, ".csv")
    }
}

impl Exporter<AcrossContext<'_>> for AcrossCsv {
    fn export(&self, cx: &AcrossContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        sink.put(&format!("portfolio-{}.csv", cx.portfolio.name), output::rows_csv(cx.rows)?)
    }
}

/// `portfolio-P.png`: the loss's interval in each scenario, worst ES99 first.
pub(super) struct AcrossPng;

impl Owns for AcrossPng {
    fn owns(&self, name: &str) -> bool {
        across_file(name, ".png")
    }
}

impl Exporter<AcrossContext<'_>> for AcrossPng {
    fn export(&self, cx: &AcrossContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let (portfolio, results, rows) = (cx.portfolio, cx.results, cx.rows);
        if cx.charts == Charts::None || results.is_empty() {
            return Ok(());
        }
        let name = format!("portfolio-{}", portfolio.name);
        let same_horizon = results.iter().all(|r| r.horizon_label == results[0].horizon_label);
        let mut cmp: Vec<charts::Interval> = results
            .iter()
            .zip(rows)
            .map(|(r, row)| {
                let scenario =
                    if same_horizon { r.scenario.clone() } else { format!("{} at {}", r.scenario, r.horizon_label) };
                let pair = match (&row.base, row.d_es99) {
                    (Some(b), Some(d)) if b != &r.scenario => format!(" (\u{394}ES99 {})", charts::fmt_signed(d)),
                    (Some(_), Some(_)) => " (the base)".to_string(),
                    _ => String::new(),
                };
                charts::Interval {
                    label: format!("{scenario}{pair}"),
                    p5: r.loss.p5,
                    p25: r.loss.p25,
                    p50: r.loss.p50,
                    p75: r.loss.p75,
                    p95: r.loss.p95,
                    var99: r.measure("var99").unwrap_or(f64::NAN),
                    es99: r.measure("es99").unwrap_or(f64::NAN),
                }
            })
            .collect();
        cmp.sort_by(|a, b| b.es99.total_cmp(&a.es99));
        let at = if same_horizon { format!(" at {}", results[0].horizon_text()) } else { String::new() };
        let against = match rows.first().and_then(|r| r.base.as_ref()) {
            Some(b) => format!("; \u{394}: against {b}, path by path"),
            None => String::new(),
        };
        let title = format!(
            "Portfolio {} (value {} {}) across scenarios: loss{at}",
            portfolio.name,
            charts::fmt_amount(portfolio.value),
            portfolio.unit
        );
        let png = charts::intervals_png(
            &cmp,
            &format!("{name}.png"),
            &title,
            &format!("portfolio loss = -P&L, in {} (positive = a loss)", portfolio.unit),
            &against,
            false,
            cx.chart_size,
        )?;
        sink.put(&format!("{name}.png"), png)
    }
}
