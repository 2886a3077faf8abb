//! Result structures read by every writer (CSV, JSON, charts, console).
//!
//! [`summarise`] turns an engine [`Accumulator`] into plain rows; writers
//! format these rows and compute nothing.

use serde::Serialize;

use crate::engine::{Accumulator, Engine, Plan};
use crate::stats::MetricAcc;

/// Quantile levels of `summary.csv`.
pub const LEVELS: [f64; 9] = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];
/// Quantile levels of the fan chart.
pub const FAN_LEVELS: [f64; 5] = [0.05, 0.25, 0.50, 0.75, 0.95];

/// One row of `summary.csv`; the four risk columns are set for `loss.*` only.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl MetricRow {
    /// Statistics of one metric; `risk` adds VaR and ES.
    pub fn from_acc(metric: &str, a: &MetricAcc, risk: bool) -> Self {
        let q: Vec<f64> = LEVELS.iter().map(|p| a.sketch.quantile(*p)).collect();
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
            var95: r(&|| a.sketch.quantile(0.95)),
            es95: r(&|| a.sketch.tail_mean(0.95)),
            var99: r(&|| a.sketch.quantile(0.99)),
            es99: r(&|| a.sketch.tail_mean(0.99)),
        }
    }
}

/// One row of `fan.csv`.
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

/// Everything a scenario run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSummary {
    pub name: String,
    pub paths: u64,
    pub seed: u64,
    pub providers: Vec<String>,
    pub labels: Vec<String>,
    pub metrics: Vec<MetricRow>,
    pub fan: Vec<FanRow>,
    pub plan: Plan,
    /// Per provider, in provider order.
    pub concentration: Vec<Concentration>,
    /// Index into `providers` of the one with the largest top-customer share.
    pub most_concentrated: usize,
}

impl ScenarioSummary {
    pub fn metric(&self, name: &str) -> Option<&MetricRow> {
        self.metrics.iter().find(|m| m.metric == name)
    }
}

/// Read the statistics of a run off its accumulator.
pub fn summarise(engine: &Engine, acc: &Accumulator, seed: u64) -> ScenarioSummary {
    let sc = engine.scenario();
    let names = sc.metric_names();
    let metrics =
        names.iter().zip(&acc.metrics).map(|(n, a)| MetricRow::from_acc(n, a, n.starts_with("loss."))).collect();
    let labels: Vec<String> = (1..=sc.quarters).map(|t| sc.label(t)).collect();
    let mut fan = Vec::with_capacity(acc.fan.len());
    for (p, prov) in sc.providers.iter().enumerate() {
        for (t, label) in labels.iter().enumerate() {
            let a = &acc.fan[t * sc.providers.len() + p];
            let q: Vec<f64> = FAN_LEVELS.iter().map(|l| a.quantile(*l)).collect();
            fan.push(FanRow {
                provider: prov.name.clone(),
                quarter: t as u32 + 1,
                label: label.clone(),
                mean: a.mean(),
                p5: q[0],
                p25: q[1],
                p50: q[2],
                p75: q[3],
                p95: q[4],
            });
        }
    }
    let concentration: Vec<Concentration> = sc
        .providers
        .iter()
        .enumerate()
        .map(|(p, prov)| {
            let held: Vec<f64> = sc.customers.iter().map(|c| c.backlog[p].mean()).collect();
            let total = prov.other_backlog.mean() + held.iter().sum::<f64>();
            let top = held.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
            match top {
                Some((c, b)) if total > 0.0 && *b > 0.0 => Concentration {
                    provider: prov.name.clone(),
                    customer: Some(sc.customers[c].name.clone()),
                    share: b / total,
                },
                _ => Concentration { provider: prov.name.clone(), customer: None, share: 0.0 },
            }
        })
        .collect();
    let most_concentrated = concentration
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.share.total_cmp(&b.1.share).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i);
    ScenarioSummary {
        name: sc.name.clone(),
        paths: acc.paths(),
        seed,
        providers: sc.providers.iter().map(|p| p.name.clone()).collect(),
        labels,
        metrics,
        fan,
        plan: engine.plan().clone(),
        concentration,
        most_concentrated,
    }
}
