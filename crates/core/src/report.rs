//! Result structures read by every writer (CSV, JSON, charts, console).
//!
//! [`summarise`] turns an engine [`Accumulator`] into plain rows; writers
//! format these rows and compute nothing.

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::{Accumulator, BandAcc, Engine, Plan};
use crate::metric::Metric;
use crate::model::Scenario;
use crate::stats::{MetricAcc, Moments, Ranked};

/// Quantile levels of `summary.csv`.
pub const LEVELS: [f64; 9] = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];
/// Quantile levels of the fan chart.
pub const FAN_LEVELS: [f64; 5] = [0.05, 0.25, 0.50, 0.75, 0.95];

/// One row of `summary.csv`; the four risk columns are set for `loss.*` only.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MetricRow {
    pub metric: String,
    pub mean: f64,
    pub sd: f64,
    pub se: f64,
    pub min: f64,
    pub p1: f64,
    pub p5: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub var95: Option<f64>,
    pub es95: Option<f64>,
    pub var99: Option<f64>,
    pub es99: Option<f64>,
}

/// Statistics a sweep or a comparison can pick by name.
pub const STAT_NAMES: [&str; 18] = [
    "mean", "sd", "se", "min", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "max", "var95", "es95",
    "var99", "es99",
];

impl MetricRow {
    /// The statistic called `name` (one of [`STAT_NAMES`]); the risk statistics exist for `loss.*` only.
    pub fn stat(&self, name: &str) -> Option<f64> {
        Some(match name {
            "mean" => self.mean,
            "sd" => self.sd,
            "se" => self.se,
            "min" => self.min,
            "p1" => self.p1,
            "p5" => self.p5,
            "p10" => self.p10,
            "p25" => self.p25,
            "p50" => self.p50,
            "p75" => self.p75,
            "p90" => self.p90,
            "p95" => self.p95,
            "p99" => self.p99,
            "max" => self.max,
            "var95" => self.var95?,
            "es95" => self.es95?,
            "var99" => self.var99?,
            "es99" => self.es99?,
            _ => return None,
        })
    }

    /// Statistics of one metric; `risk` adds VaR and ES.
    pub fn from_acc(metric: &str, a: &MetricAcc, risk: bool) -> Self {
        Self::from_ranked(metric, a, &a.sketch.ranked(), risk)
    }

    /// [`MetricRow::from_acc`] with the sketch's buckets read already.
    fn from_ranked(metric: &str, a: &MetricAcc, s: &Ranked, risk: bool) -> Self {
        let q = s.quantiles(&LEVELS);
        let m = &a.moments;
        let r = |f: &dyn Fn() -> f64| risk.then(f);
        MetricRow {
            metric: metric.to_string(),
            mean: m.mean(),
            sd: m.sd(),
            se: m.se(),
            min: m.min(),
            p1: q[0],
            p5: q[1],
            p10: q[2],
            p25: q[3],
            p50: q[4],
            p75: q[5],
            p90: q[6],
            p95: q[7],
            p99: q[8],
            max: m.max(),
            // VaR at 95% and 99% is the p95 and p99 read above.
            var95: risk.then_some(q[7]),
            es95: r(&|| s.tail_mean(0.95)),
            var99: risk.then_some(q[8]),
            es99: r(&|| s.tail_mean(0.99)),
        }
    }
}

/// One row of `errors.csv`: the Monte Carlo standard error of a figure and
/// its 95% confidence interval.
///
/// - `mean`: `sd / sqrt(n)`, interval `mean -+ 1.96 se`;
/// - quantiles and VaR (`p5`, `p50`, `p95`, `var95`, `var99`): the
///   distribution-free order-statistic interval: the order statistics of
///   ranks `n p -+ 1.96 sqrt(n p (1 - p))`; `se` is its half-width / 1.96;
/// - ES at level `a`: the asymptotic variance of the tail mean,
///   `(Var[L | L >= VaR] + a (ES - VaR)^2) / (n (1 - a))` (Manistre and
///   Hancock, "Variance of the CTE estimator", NAAJ 2005), interval
///   `ES -+ 1.96 se`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRow {
    pub metric: String,
    pub stat: &'static str,
    pub estimate: f64,
    pub se: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The 97.5% standard normal quantile.
const Z975: f64 = 1.959_963_984_540_054;

/// The order-statistic 95% interval of the p-quantile, and its se.
fn quantile_error(metric: &str, stat: &'static str, s: &Ranked, p: f64) -> ErrorRow {
    let n = s.count() as f64;
    let half = Z975 * (n * p * (1.0 - p)).sqrt();
    let ranks = [(n * p - half).floor() as u64, (n * p + half).ceil() as u64 + 1, s.rank(p)];
    let v = s.at_ranks(&ranks);
    let (lo, hi, estimate) = (v[0], v[1], v[2]);
    ErrorRow { metric: metric.to_string(), stat, estimate, se: (hi - lo) / (2.0 * Z975), ci_low: lo, ci_high: hi }
}

/// Expected shortfall at level `a`, its asymptotic se and 95% interval.
fn es_error(metric: &str, stat: &'static str, s: &Ranked, a: f64) -> ErrorRow {
    let n = s.count() as f64;
    let (es, sq) = s.tail_moments(a);
    let var = s.quantile(a);
    let tail_var = (sq - es * es).max(0.0);
    let se = ((tail_var + a * (es - var).powi(2)) / (n * (1.0 - a))).sqrt();
    ErrorRow { metric: metric.to_string(), stat, estimate: es, se, ci_low: es - Z975 * se, ci_high: es + Z975 * se }
}

/// The statistics `errors.csv` gives a standard error for, in its row
/// order (the last four for `loss.*` metrics only).
pub const ERROR_STATS: [&str; 8] = ["mean", "p5", "p50", "p95", "var95", "es95", "var99", "es99"];

/// The rows of `errors.csv` for one metric.
pub fn errors(metric: &str, a: &MetricAcc, risk: bool) -> Vec<ErrorRow> {
    errors_ranked(metric, a, &a.sketch.ranked(), risk)
}

/// [`errors`] with the sketch's buckets read already.
fn errors_ranked(metric: &str, a: &MetricAcc, s: &Ranked, risk: bool) -> Vec<ErrorRow> {
    let m = &a.moments;
    let se = m.se();
    let mut rows = vec![ErrorRow {
        metric: metric.to_string(),
        stat: "mean",
        estimate: m.mean(),
        se,
        ci_low: m.mean() - Z975 * se,
        ci_high: m.mean() + Z975 * se,
    }];
    for (stat, p) in [("p5", 0.05), ("p50", 0.5), ("p95", 0.95)] {
        rows.push(quantile_error(metric, stat, s, p));
    }
    if risk {
        // VaR95 is the p95 row under its own name.
        let p95 = rows.last().expect("the p95 row was just pushed").clone();
        rows.push(ErrorRow { stat: "var95", ..p95 });
        rows.push(es_error(metric, "es95", s, 0.95));
        rows.push(quantile_error(metric, "var99", s, 0.99));
        rows.push(es_error(metric, "es99", s, 0.99));
    }
    rows
}

/// One row of `fan.csv` or `revenue.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FanRow {
    pub provider: String,
    pub quarter: u32,
    pub label: String,
    pub mean: f64,
    pub p5: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
}

/// A provider's largest customer at t = 0 (parameters at their means).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concentration {
    pub provider: String,
    pub customer: Option<String>,
    /// The customer's share of the provider's starting backlog.
    pub share: f64,
}

/// Equal-width histogram of one metric, for charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
    /// Paths left of `lo` and right of `hi`, not drawn.
    pub below: u64,
    pub above: u64,
}

/// The points of an exceedance curve worth showing: the first, and each
/// one whose probability is at most 95% of the last kept (about 225 points
/// from 1 down to 1e-5, where the sketch gives one per bucket).
///
/// ```
/// let curve: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, 1.0 - i as f64 / 1000.0)).collect();
/// let kept = backlog_risk::report::thinned(&curve);
/// assert_eq!(kept[0], curve[0]);
/// assert!(kept.windows(2).all(|w| w[1].1 <= 0.95 * w[0].1));
/// ```
pub fn thinned(curve: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &(x, prob) in curve {
        if out.last().is_none_or(|&(_, last)| prob <= 0.95 * last) {
            out.push((x, prob));
        }
    }
    out
}

/// Bins of the loss histograms.
pub const HISTOGRAM_BINS: usize = 80;

/// Everything a scenario run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSummary {
    pub name: String,
    pub paths: u64,
    pub seed: u64,
    pub providers: Vec<String>,
    pub labels: Vec<String>,
    pub metrics: Vec<MetricRow>,
    /// Standard errors of the headline statistics (`errors.csv`).
    pub errors: Vec<ErrorRow>,
    /// Backlog bands per provider and quarter (`fan.csv`).
    pub fan: Vec<FanRow>,
    /// Revenue bands per provider and quarter (`revenue.csv`).
    pub revenue: Vec<FanRow>,
    pub plan: Plan,
    /// Per provider, in provider order.
    pub concentration: Vec<Concentration>,
    /// Names shown in charts and reports (`display`), per provider.
    pub display: Vec<String>,
    /// Index into `providers` of the focus provider (`scenario.focus`,
    /// `--focus`, or the first): the headline's, `loss.png`'s and the
    /// comparison's.
    pub focus: usize,
    /// Customer names, in scenario order.
    pub customers: Vec<String>,
    /// Starting share `[c][p]` of customer c in provider p's backlog
    /// (parameters at their means).
    pub start_share: Vec<Vec<f64>>,
    /// Whether customer c can ever hold backlog at provider p.
    pub holds: Vec<Vec<bool>>,
    /// Loss histogram per provider (central range, plan and risk marks inside).
    pub loss_hist: Vec<Histogram>,
    /// Exceedance curve `(x, P(loss > x))` per provider.
    pub exceedance: Vec<Vec<(f64, f64)>>,
}

impl ScenarioSummary {
    pub fn metric(&self, name: &str) -> Option<&MetricRow> {
        self.metrics.iter().find(|m| m.metric == name)
    }

    /// The row of provider `provider`'s loss against plan.
    pub fn loss(&self, provider: &str) -> Option<&MetricRow> {
        self.metric(&Metric::Loss(provider.to_string()).to_string())
    }
}

/// Starting share `[c][p]` of customer c in provider p's backlog, every
/// parameter at its mean.
pub fn start_shares(sc: &Scenario) -> Vec<Vec<f64>> {
    let np = sc.providers.len();
    let total: Vec<f64> = (0..np)
        .map(|p| sc.providers[p].other_backlog.mean() + sc.customers.iter().map(|c| c.backlog[p].mean()).sum::<f64>())
        .collect();
    sc.customers
        .iter()
        .map(|c| (0..np).map(|p| if total[p] > 0.0 { c.backlog[p].mean() / total[p] } else { 0.0 }).collect())
        .collect()
}

/// Each provider's largest customer at the start.
pub fn concentration(sc: &Scenario, start_share: &[Vec<f64>]) -> Vec<Concentration> {
    sc.providers
        .iter()
        .enumerate()
        .map(|(p, prov)| {
            let top = start_share.iter().enumerate().map(|(c, s)| (c, s[p])).max_by(|a, b| a.1.total_cmp(&b.1));
            match top {
                Some((c, share)) if share > 0.0 => {
                    Concentration { provider: prov.name.clone(), customer: Some(sc.customers[c].name.clone()), share }
                }
                _ => Concentration { provider: prov.name.clone(), customer: None, share: 0.0 },
            }
        })
        .collect()
}

/// Read the statistics of a run off its accumulator.
pub fn summarise(engine: &Engine, acc: &Accumulator, seed: u64) -> ScenarioSummary {
    let sc = engine.scenario();
    let all = Metric::all(sc);
    let names: Vec<String> = all.iter().map(ToString::to_string).collect();
    // Each metric's buckets are read once, for its row and its errors.
    // Metrics and cells are read on the caller's rayon pool, each on its
    // own (rayon's indexed collect keeps the order: the same rows).
    let (metrics, errors): (Vec<MetricRow>, Vec<Vec<ErrorRow>>) = names
        .par_iter()
        .zip(&all)
        .zip(&acc.metrics)
        .map(|((n, m), a)| {
            let s = a.sketch.ranked();
            (MetricRow::from_ranked(n, a, &s, m.is_loss()), errors_ranked(n, a, &s, m.is_loss()))
        })
        .unzip();
    let errors = errors.into_iter().flatten().collect();
    let labels: Vec<String> = (1..=sc.quarters).map(|t| sc.label(t)).collect();
    // Provider by provider, quarter by quarter.
    let bands = |cells: &[BandAcc]| -> Vec<FanRow> {
        let (np, nq) = (sc.providers.len(), labels.len());
        (0..np * nq)
            .into_par_iter()
            .map(|i| {
                let (p, t) = (i / nq, i % nq);
                let a = &cells[t * np + p];
                let q = a.sketch.quantiles(&FAN_LEVELS);
                FanRow {
                    provider: sc.providers[p].name.clone(),
                    quarter: t as u32 + 1,
                    label: labels[t].clone(),
                    mean: a.mean(),
                    p5: q[0],
                    p25: q[1],
                    p50: q[2],
                    p75: q[3],
                    p95: q[4],
                }
            })
            .collect()
    };
    let (fan, revenue) = (bands(&acc.fan), bands(&acc.revenue));
    let start_share = start_shares(sc);
    let concentration = concentration(sc, &start_share);
    let np = sc.providers.len();
    let holds = (0..sc.customers.len())
        .map(|c| {
            let cu = &sc.customers[c];
            (0..np)
                .map(|p| {
                    cu.backlog[p].support().1 > 0.0
                        || cu.allocation[p] > 0.0
                        || cu.shifts.iter().any(|s| s.to[p] > 0.0)
                        || sc.rules.iter().any(|r| r.customer == c && r.to[p] > 0.0)
                })
                .collect()
        })
        .collect();
    let losses: Vec<(&MetricAcc, &MetricRow)> = sc
        .providers
        .iter()
        .map(|p| {
            let i = Metric::Loss(p.name.clone()).index_in(sc).expect("every provider has a loss metric");
            (&acc.metrics[i], &metrics[i])
        })
        .collect();
    let loss_hist = losses
        .par_iter()
        .map(|(a, row)| {
            // The loss tail in full (up to the 99.99th percentile), the gain
            // side down to the 1st percentile, and always the plan (0).
            let s = a.sketch.ranked();
            let lo = s.quantile(0.01).min(0.0);
            let top = s.quantile(0.9999).max(row.es99.unwrap_or(0.0)).max(0.0);
            let mut hi = top + (top - lo) * 0.03;
            let mut lo = lo;
            if !(hi - lo > 1e-6) {
                // Every path has the same loss: a $1bn window around it.
                (lo, hi) = (lo - 1.0, hi + 1.0);
            }
            let (counts, [below, above]) = s.histogram(lo, hi, HISTOGRAM_BINS);
            (Histogram { lo, hi, counts, below, above }, s.exceedance())
        })
        .collect::<Vec<_>>();
    let (loss_hist, exceedance) = loss_hist.into_iter().unzip();
    ScenarioSummary {
        name: sc.name.clone(),
        paths: acc.paths(),
        seed,
        providers: sc.providers.iter().map(|p| p.name.clone()).collect(),
        labels,
        metrics,
        errors,
        fan,
        revenue,
        plan: engine.plan().clone(),
        concentration,
        display: sc.providers.iter().map(|p| p.display.clone()).collect(),
        focus: sc.focus,
        customers: sc.customers.iter().map(|c| c.name.clone()).collect(),
        start_share,
        holds,
        loss_hist,
        exceedance,
    }
}

/// One row of `comparison.csv`: one provider's loss against plan in one
/// scenario, at that scenario's horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    pub provider: String,
    /// The provider's `display` name in this scenario.
    pub display: String,
    pub scenario: String,
    /// Whether the provider is this scenario's focus.
    pub focus: bool,
    /// The quarter the loss is measured at, and how many quarters from the start.
    pub horizon: String,
    pub horizon_quarters: u32,
    pub mean: f64,
    pub p5: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
    pub var95: f64,
    pub es95: f64,
    pub var99: f64,
    pub es99: f64,
}

/// Every provider's loss in every scenario, grouped by provider (the one
/// [`comparison_focus`] picks first, then in order of first appearance),
/// worst ES99 first within a provider: each group compares like with like.
pub fn comparison(summaries: &[&ScenarioSummary]) -> Vec<ComparisonRow> {
    let mut order: Vec<&str> = Vec::new();
    for s in summaries {
        for p in &s.providers {
            if !order.contains(&p.as_str()) {
                order.push(p);
            }
        }
    }
    if let Some(f) = comparison_focus(summaries) {
        order.retain(|p| *p != f);
        order.insert(0, summaries.iter().flat_map(|s| &s.providers).find(|p| **p == f).expect("a provider"));
    }
    let mut rows: Vec<ComparisonRow> = summaries
        .iter()
        .flat_map(|s| {
            s.providers.iter().enumerate().filter_map(move |(p, provider)| {
                let m = s.loss(provider)?;
                Some(ComparisonRow {
                    provider: provider.clone(),
                    display: s.display[p].clone(),
                    scenario: s.name.clone(),
                    focus: p == s.focus,
                    horizon: s.labels.last().cloned().unwrap_or_default(),
                    horizon_quarters: s.labels.len() as u32,
                    mean: m.mean,
                    p5: m.p5,
                    p25: m.p25,
                    p50: m.p50,
                    p75: m.p75,
                    p95: m.p95,
                    var95: m.var95?,
                    es95: m.es95?,
                    var99: m.var99?,
                    es99: m.es99?,
                })
            })
        })
        .collect();
    let group = |r: &ComparisonRow| order.iter().position(|p| *p == r.provider);
    rows.sort_by(|a, b| {
        group(a).cmp(&group(b)).then(b.es99.total_cmp(&a.es99)).then_with(|| a.scenario.cmp(&b.scenario))
    });
    rows
}

/// The provider `comparison.png` shows: the focus of the most scenarios
/// (the earliest on ties).
pub fn comparison_focus(summaries: &[&ScenarioSummary]) -> Option<String> {
    let focuses: Vec<&str> = summaries.iter().map(|s| s.providers[s.focus].as_str()).collect();
    let count = |p: &str| focuses.iter().filter(|f| **f == p).count();
    focuses
        .iter()
        .copied()
        .fold(None, |best: Option<&str>, p| match best {
            Some(b) if count(b) >= count(p) => Some(b),
            _ => Some(p),
        })
        .map(str::to_string)
}

/// One row of `paired-BASE.csv`: a metric against the base scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedRow {
    pub metric: String,
    pub mean: f64,
    pub base_mean: f64,
    /// Mean of the path-by-path difference (this scenario minus the base).
    pub diff: f64,
    /// Standard error of `diff` from the paired differences.
    pub se_paired: f64,
    /// What the standard error would be for independent runs:
    /// `sqrt(se^2 + se_base^2)`.
    pub se_unpaired: f64,
    /// `loss.*` only: VaR99 and ES99 of this scenario minus the base's, and
    /// their batch-means standard errors (empty below
    /// [`crate::engine::driver::MIN_BATCH_PATHS`] paths per batch).
    pub d_var99: Option<f64>,
    pub d_var99_se: Option<f64>,
    pub d_es99: Option<f64>,
    pub d_es99_se: Option<f64>,
}

/// Paired rows from the result of [`crate::engine::Engine::run_paired`].
pub fn paired(s: &ScenarioSummary, r: &crate::engine::driver::Paired) -> Vec<PairedRow> {
    r.pairs
        .iter()
        .zip(&r.diffs)
        .zip(&r.tails)
        .filter_map(|(((n, _, j), d), t)| {
            let m = s.metric(&n.to_string())?;
            let b: &Moments = &r.base.metrics[*j].moments;
            Some(PairedRow {
                metric: n.to_string(),
                mean: m.mean,
                base_mean: b.mean(),
                diff: d.mean(),
                se_paired: d.se(),
                se_unpaired: (m.se * m.se + b.se() * b.se()).sqrt(),
                d_var99: t.as_ref().map(|t| t.d_var99),
                d_var99_se: t.as_ref().and_then(|t| t.d_var99_se),
                d_es99: t.as_ref().map(|t| t.d_es99),
                d_es99_se: t.as_ref().and_then(|t| t.d_es99_se),
            })
        })
        .collect()
}
