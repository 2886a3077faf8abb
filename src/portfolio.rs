//! Portfolio stress tests: what a scenario does to an investor's holdings.
//!
//! The model of MODEL.md: on each path, holding i returns
//! `r_i = sum_k e_ik (m_k / plan_k - 1) + sigma_i sqrt(T dt) z_i`, with `m_k`
//! the path's metrics, `plan_k` their plan values and `z_i ~ N(0, 1)` drawn
//! from the path's keyed stream `holding:NAME` (see `docs/streams.md`); the P&L is
//! `value * sum_i w_i r_i` and the loss its negative.
//!
//! Everything is computed in the same single pass as the simulation. The
//! tail statistics (ES, each holding's contribution to it, the metrics on
//! the worst paths) come from a map keyed by the loss's sketch bucket (the
//! same log-linear buckets as [`crate::stats::Sketch`]) that keeps, per
//! bucket, the count and the sums of the loss, of every holding's loss and of
//! every metric. The tail is the paths of rank `ceil(0.99 n)` .. `n` by loss,
//! the boundary bucket taken in proportion, so the contributions sum to ES99
//! exactly and memory depends on the spread of the losses, not on the number
//! of paths.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::engine::driver::{for_blocks, reduce};
use crate::model::{DT, Scenario};
use crate::rng;
use crate::stats::{MetricAcc, Moments, SUB_BUCKET_BITS, ZERO_BAND};

/// A portfolio file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    portfolio: RawPortfolio,
    #[serde(default)]
    holding: Vec<RawHolding>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortfolio {
    name: String,
    value: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHolding {
    name: String,
    weight: f64,
    #[serde(default)]
    volatility: f64,
    #[serde(default)]
    exposure: IndexMap<String, f64>,
}

/// A validated portfolio, not yet tied to a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Portfolio {
    pub name: String,
    pub value: f64,
    pub holdings: Vec<Holding>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    pub name: String,
    pub weight: f64,
    /// Idiosyncratic volatility, annual.
    pub volatility: f64,
    /// Elasticity per metric name, in file order.
    pub exposure: Vec<(String, f64)>,
}

/// Read and validate a portfolio file; messages name the file and field.
pub fn load(path: &Path) -> Result<Portfolio, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the file: {e}", path.display()))?;
    parse(&text, path)
}

/// Validate portfolio text; `file` is used in messages only.
pub fn parse(text: &str, file: &Path) -> Result<Portfolio, String> {
    let f = file.display();
    let de = toml::Deserializer::parse(text).map_err(|e| format!("{f}: {}", e.message().trim()))?;
    let raw: RawFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        format!("{f}: {path}: {}", e.inner().message().trim())
    })?;
    let name = raw.portfolio.name;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(format!(
            "{f}: portfolio.name: `{name}` is not a valid name: use only a-z, 0-9, `_` and `-` (it names the output folder)"
        ));
    }
    if !(raw.portfolio.value.is_finite() && raw.portfolio.value > 0.0) {
        return Err(format!("{f}: portfolio.value: {} must be a positive number", raw.portfolio.value));
    }
    if raw.holding.is_empty() {
        return Err(format!("{f}: holding: no holdings; add at least one [[holding]] table"));
    }
    let mut holdings: Vec<Holding> = Vec::new();
    for (i, h) in raw.holding.into_iter().enumerate() {
        let at = format!("{f}: holding[{i}] ({})", h.name);
        if holdings.iter().any(|o| o.name == h.name) {
            return Err(format!("{at}: a second holding named `{}`: give each holding its own name", h.name));
        }
        if !h.weight.is_finite() {
            return Err(format!("{at}.weight: must be a finite number (negative for a short)"));
        }
        if !(h.volatility.is_finite() && h.volatility >= 0.0) {
            return Err(format!("{at}.volatility: {} must be a number >= 0", h.volatility));
        }
        if let Some((k, v)) = h.exposure.iter().find(|(_, v)| !v.is_finite()) {
            return Err(format!("{at}.exposure.{k}: {v} must be a finite number"));
        }
        holdings.push(Holding {
            name: h.name,
            weight: h.weight,
            volatility: h.volatility,
            exposure: h.exposure.into_iter().collect(),
        });
    }
    Ok(Portfolio { name, value: raw.portfolio.value, holdings })
}

/// A portfolio tied to one scenario: exposures as metric indices, divided by
/// their plan values.
#[derive(Debug, Clone)]
pub struct Bound<'a> {
    pub portfolio: &'a Portfolio,
    /// Per holding: `(metric index, elasticity / plan value, elasticity)`.
    terms: Vec<Vec<(usize, f64, f64)>>,
    /// Per holding: `volatility * sqrt(T dt)`.
    scale: Vec<f64>,
}

impl Portfolio {
    /// Tie the portfolio to a scenario; an exposure to a metric the scenario
    /// does not record, or whose plan value is 0, is an error naming it.
    pub fn bind<'a>(&'a self, engine: &Engine) -> Result<Bound<'a>, String> {
        let sc: &Scenario = engine.scenario();
        let names = sc.metric_names();
        let plan = &engine.plan().metrics;
        let mut terms = Vec::new();
        for h in &self.holdings {
            let mut t = Vec::new();
            for (metric, e) in &h.exposure {
                let k = names.iter().position(|n| n == metric).ok_or_else(|| {
                    format!(
                        "portfolio {}: holding `{}` is exposed to `{metric}`, which scenario `{}` does not record; the metrics are: {}",
                        self.name,
                        h.name,
                        sc.name,
                        names.join(", ")
                    )
                })?;
                if plan[k] == 0.0 {
                    return Err(format!(
                        "portfolio {}: holding `{}` is exposed to `{metric}`, whose plan value in scenario `{}` is 0, so its change against plan is undefined; use a backlog, revenue or share metric",
                        self.name, h.name, sc.name
                    ));
                }
                t.push((k, e / plan[k], *e));
            }
            terms.push(t);
        }
        let horizon = (sc.quarters as f64 * DT).sqrt();
        let scale = self.holdings.iter().map(|h| h.volatility * horizon).collect();
        Ok(Bound { portfolio: self, terms, scale })
    }
}

/// Per-bucket sums over the paths whose loss falls in the bucket.
#[derive(Debug, Clone, PartialEq)]
struct TailBucket {
    count: u64,
    /// Loss, then each holding's loss, then each metric.
    sums: Vec<f64>,
}

/// Order-preserving bucket key of a loss (the sketch's buckets).
fn bucket_key(x: f64) -> i64 {
    let k = |a: f64| (a.to_bits() >> (52 - SUB_BUCKET_BITS)) as i64;
    if x >= ZERO_BAND {
        k(x)
    } else if x <= -ZERO_BAND {
        -k(-x)
    } else {
        0
    }
}

/// Everything a stress test accumulates; merges in a fixed order.
#[derive(Debug, Clone)]
struct StressAcc {
    pnl: MetricAcc,
    loss: MetricAcc,
    standalone: Vec<MetricAcc>,
    metrics: Vec<Moments>,
    big_losses: u64,
    tail: BTreeMap<i64, TailBucket>,
}

impl StressAcc {
    fn new(holdings: usize, metrics: usize) -> Self {
        StressAcc {
            pnl: MetricAcc::default(),
            loss: MetricAcc::default(),
            standalone: vec![MetricAcc::default(); holdings],
            metrics: vec![Moments::default(); metrics],
            big_losses: 0,
            tail: BTreeMap::new(),
        }
    }

    fn merge(&mut self, o: StressAcc) {
        self.pnl.merge(&o.pnl);
        self.loss.merge(&o.loss);
        self.standalone.iter_mut().zip(&o.standalone).for_each(|(a, b)| a.merge(b));
        self.metrics.iter_mut().zip(&o.metrics).for_each(|(a, b)| a.merge(b));
        self.big_losses += o.big_losses;
        for (k, b) in o.tail {
            match self.tail.get_mut(&k) {
                Some(a) => {
                    a.count += b.count;
                    a.sums.iter_mut().zip(&b.sums).for_each(|(x, y)| *x += y);
                }
                None => {
                    self.tail.insert(k, b);
                }
            }
        }
    }
}

/// One row of `contributions.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub holding: String,
    pub weight: f64,
    /// `E[-value w_i r_i | loss in the worst 1%]`; these sum to ES99.
    pub es99_contribution: f64,
    /// ES99 of the holding's own loss `-value w_i r_i`.
    pub standalone_es99: f64,
}

/// One row of `tail.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TailRow {
    pub metric: String,
    /// Mean over the worst 1% of portfolio paths.
    pub tail_mean: f64,
    /// Mean over all paths.
    pub mean: f64,
}

/// One row of `risk.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskRow {
    pub measure: &'static str,
    pub value: f64,
}

/// The result of a stress test of one portfolio under one scenario.
#[derive(Debug, Clone)]
pub struct StressResult {
    pub portfolio: String,
    pub scenario: String,
    pub paths: u64,
    pub value: f64,
    /// The P&L distribution (`pnl.csv`).
    pub pnl: crate::report::MetricRow,
    /// The loss (`-P&L`) distribution, risk columns filled.
    pub loss: crate::report::MetricRow,
    pub risk: Vec<RiskRow>,
    pub contributions: Vec<Contribution>,
    pub tail: Vec<TailRow>,
    /// P&L histogram for the chart.
    pub histogram: crate::report::Histogram,
}

/// One row of `OUT/portfolio-PORTFOLIO.csv`: a scenario's risk measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRisk {
    pub scenario: String,
    pub paths: u64,
    pub expected_pnl: f64,
    pub var95: f64,
    pub es95: f64,
    pub var99: f64,
    pub es99: f64,
    pub p_loss_gt_10pct: f64,
}

impl From<&StressResult> for ScenarioRisk {
    fn from(r: &StressResult) -> Self {
        let m = |k: &str| r.measure(k).unwrap_or(f64::NAN);
        ScenarioRisk {
            scenario: r.scenario.clone(),
            paths: r.paths,
            expected_pnl: m("expected_pnl"),
            var95: m("var95"),
            es95: m("es95"),
            var99: m("var99"),
            es99: m("es99"),
            p_loss_gt_10pct: m("p_loss_gt_10pct"),
        }
    }
}

impl StressResult {
    pub fn measure(&self, name: &str) -> Option<f64> {
        self.risk.iter().find(|r| r.measure == name).map(|r| r.value)
    }
}

impl Bound<'_> {
    /// Holding returns of the path whose metrics are `m`, drawing the
    /// idiosyncratic shocks from the path's own streams.
    #[inline]
    fn returns(&self, keys: &[[u32; 2]], path: u64, m: &[f64], out: &mut [f64]) {
        for (h, r) in out.iter_mut().enumerate() {
            let mut x = 0.0;
            for &(k, e_over_plan, e) in &self.terms[h] {
                x += e_over_plan * m[k] - e;
            }
            if self.scale[h] != 0.0 {
                let w = rng::quarterly(keys[h], path, 1);
                x += self.scale[h] * crate::math::normal_pair(w[0], w[1]).0;
            }
            *r = x;
        }
    }

    /// Simulate `paths` paths of `engine`'s scenario and evaluate the
    /// portfolio on each, in parallel on the current rayon pool.
    pub fn stress(&self, engine: &Engine, seed: u64, paths: u64, progress: &(dyn Fn(u64) + Sync)) -> StressResult {
        let p = self.portfolio;
        let nh = p.holdings.len();
        let names = engine.scenario().metric_names();
        let nm = names.len();
        let keys = engine.keys(seed);
        let hkeys: Vec<[u32; 2]> = p.holdings.iter().map(|h| rng::key(seed, &format!("holding:{}", h.name))).collect();
        let leaf = |range: std::ops::Range<u64>, _: &mut ()| {
            let mut b = engine.block_buffer();
            let mut m = Vec::with_capacity(nm);
            let mut acc = StressAcc::new(nh, nm);
            let mut r = vec![0.0; nh];
            for_blocks(range, |first, n| {
                engine.block(&keys, first, &mut b);
                for l in 0..n {
                    b.lane_metrics(l, &mut m);
                    self.path(&mut acc, &hkeys, first + l as u64, &m, &mut r);
                }
            });
            acc
        };
        let (acc, _) = reduce(paths, &|| (), &leaf, &|a, b| a.merge(b), &|_, _| {}, progress);
        self.finish(engine, acc.unwrap_or_else(|| StressAcc::new(nh, nm)), &names)
    }

    /// Fold one path, whose metrics are `m`, into `acc`.
    #[inline]
    fn path(&self, acc: &mut StressAcc, hkeys: &[[u32; 2]], i: u64, m: &[f64], r: &mut [f64]) {
        let p = self.portfolio;
        let nh = p.holdings.len();
        self.returns(hkeys, i, m, r);
        let pnl = p.value * p.holdings.iter().zip(r.iter()).map(|(h, r)| h.weight * r).sum::<f64>();
        let loss = -pnl;
        acc.pnl.add(pnl);
        acc.loss.add(loss);
        for ((s, h), r) in acc.standalone.iter_mut().zip(&p.holdings).zip(r.iter()) {
            s.add(-p.value * h.weight * r);
        }
        for (mo, x) in acc.metrics.iter_mut().zip(m) {
            mo.add(*x);
        }
        if loss > 0.1 * p.value {
            acc.big_losses += 1;
        }
        let b = acc
            .tail
            .entry(bucket_key(loss))
            .or_insert_with(|| TailBucket { count: 0, sums: vec![0.0; 1 + nh + m.len()] });
        b.count += 1;
        b.sums[0] += loss;
        for ((s, h), r) in b.sums[1..=nh].iter_mut().zip(&p.holdings).zip(r.iter()) {
            *s += -p.value * h.weight * r;
        }
        for (s, x) in b.sums[1 + nh..].iter_mut().zip(m) {
            *s += x;
        }
    }

    fn finish(&self, engine: &Engine, acc: StressAcc, names: &[String]) -> StressResult {
        let p = self.portfolio;
        let nh = p.holdings.len();
        let n = acc.loss.moments.count();
        // The worst paths: ranks ceil(0.99 n)..n, boundary bucket in proportion.
        let k = n - ((0.99 * n as f64).ceil() as u64).clamp(1, n.max(1)) + 1;
        let mut sums = vec![0.0; 1 + nh + names.len()];
        let mut left = k as f64;
        for b in acc.tail.values().rev() {
            let take = (b.count as f64).min(left);
            let f = take / b.count as f64;
            sums.iter_mut().zip(&b.sums).for_each(|(s, x)| *s += f * x);
            left -= take;
            if left <= 0.0 {
                break;
            }
        }
        let tail_mean = |i: usize| sums[i] / k as f64;
        let loss = crate::report::MetricRow::from_acc("loss", &acc.loss, true);
        let es99 = tail_mean(0);
        let risk = vec![
            RiskRow { measure: "expected_pnl", value: acc.pnl.moments.mean() },
            RiskRow { measure: "var95", value: loss.var95.unwrap_or(f64::NAN) },
            RiskRow { measure: "es95", value: loss.es95.unwrap_or(f64::NAN) },
            RiskRow { measure: "var99", value: loss.var99.unwrap_or(f64::NAN) },
            RiskRow { measure: "es99", value: es99 },
            RiskRow { measure: "p_loss_gt_10pct", value: acc.big_losses as f64 / n as f64 },
        ];
        let contributions = p
            .holdings
            .iter()
            .enumerate()
            .map(|(i, h)| Contribution {
                holding: h.name.clone(),
                weight: h.weight,
                es99_contribution: tail_mean(1 + i),
                standalone_es99: acc.standalone[i].sketch.tail_mean(0.99),
            })
            .collect();
        let tail = names
            .iter()
            .enumerate()
            .map(|(i, m)| TailRow { metric: m.clone(), tail_mean: tail_mean(1 + nh + i), mean: acc.metrics[i].mean() })
            .collect();
        let pnl_sketch = &acc.pnl.sketch;
        let lo = pnl_sketch.quantile(0.001).min(-es99);
        let hi = pnl_sketch.quantile(0.999).max(0.0);
        let (lo, hi) = if hi - lo > 1e-9 { (lo, hi) } else { (lo - 1.0, hi + 1.0) };
        let (counts, outside) = pnl_sketch.histogram(lo, hi, crate::report::HISTOGRAM_BINS);
        StressResult {
            portfolio: p.name.clone(),
            scenario: engine.scenario().name.clone(),
            paths: n,
            value: p.value,
            pnl: crate::report::MetricRow::from_acc("pnl", &acc.pnl, false),
            loss,
            risk,
            contributions,
            tail,
            histogram: crate::report::Histogram { lo, hi, counts, outside },
        }
    }
}
