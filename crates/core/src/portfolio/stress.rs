//! A portfolio evaluated on every simulated path, in the same pass as the
//! simulation.
//!
//! The tail statistics (ES, each holding's contribution to it, the metrics
//! on the worst paths) come from a map keyed by the loss's sketch bucket
//! (the log-linear buckets of [`crate::stats::Sketch`]) that keeps, per
//! bucket, the count and the sums of the loss, of every holding's loss and
//! of every metric. The tail is the paths of rank `ceil(a n)` .. `n` by loss,
//! the boundary bucket taken in proportion, so the contributions sum to ES
//! exactly and memory depends on the spread of the losses, not on the number
//! of paths. Accumulators are merged in the engine's fixed tree over chunks
//! of paths, so results do not depend on the thread count, and a run split
//! into shards merges to the same bits.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::Bound;
use crate::engine::driver::{Node, rebuild};
use crate::engine::{Block, Engine, Fold, Keys, Simulator, drive};
use crate::error::Result;
use crate::report::{Histogram, MetricRow};
use crate::rng;
use crate::stats::{MetricAcc, Moments, SUB_BUCKET_BITS, ZERO_BAND};

/// Per-bucket sums over the paths whose loss falls in the bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Everything a stress test accumulates over some paths; merged in the
/// engine's fixed tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressAcc {
    pnl: MetricAcc,
    loss: MetricAcc,
    /// Each holding's own loss, `-value w_i r_i`.
    standalone: Vec<MetricAcc>,
    metrics: Vec<Moments>,
    big_losses: u64,
    tail: BTreeMap<i64, TailBucket>,
}

impl StressAcc {
    /// Whether an accumulator read back from a shard file has `like`'s
    /// shape (holdings and metrics) and consistent sketches.
    fn check(&self, like: &StressAcc) -> std::result::Result<(), String> {
        let width = 1 + like.standalone.len() + like.metrics.len();
        if self.standalone.len() != like.standalone.len()
            || self.metrics.len() != like.metrics.len()
            || self.tail.values().any(|b| b.sums.len() != width)
        {
            return Err(format!(
                "a stress test of {} holdings and {} metrics where the portfolio and scenario have {} and {}",
                self.standalone.len(),
                self.metrics.len(),
                like.standalone.len(),
                like.metrics.len()
            ));
        }
        std::iter::once(&self.pnl).chain([&self.loss]).chain(&self.standalone).try_for_each(MetricAcc::check)
    }

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

    /// Mean of the sums over the paths of rank `ceil(a n)` .. `n` by loss
    /// (the boundary bucket in proportion): loss, holdings' losses, metrics.
    fn tail_means(&self, a: f64) -> Vec<f64> {
        let n = self.loss.moments.count();
        let width = self.tail.values().next().map_or(0, |b| b.sums.len());
        let k = n - ((a * n as f64).ceil() as u64).clamp(1, n.max(1)) + 1;
        let mut sums = vec![0.0; width];
        let mut left = k as f64;
        for b in self.tail.values().rev() {
            let take = (b.count as f64).min(left);
            let f = take / b.count as f64;
            sums.iter_mut().zip(&b.sums).for_each(|(s, x)| *s += f * x);
            left -= take;
            if left <= 0.0 {
                break;
            }
        }
        sums.iter().map(|s| s / k as f64).collect()
    }
}

/// One row of `contributions.csv`: a holding on its own and in the tail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    pub holding: String,
    pub weight: f64,
    /// Expected P&L of the holding, `E[value w_i r_i]`.
    pub mean_pnl: f64,
    /// VaR99 of the holding's own loss `-value w_i r_i` (positive = a loss).
    pub var99: f64,
    /// ES99 of the holding's own loss.
    pub es99: f64,
    /// `E[-value w_i r_i | portfolio loss in its worst 1%]`; these sum to
    /// the portfolio's ES99.
    pub es99_contribution: f64,
    /// `es99_contribution / ES99`; these sum to 1. `None` (an empty cell)
    /// when ES99 is 0 (a portfolio of cash or of zero weights): no share of
    /// nothing.
    pub es99_share: Option<f64>,
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
    pub unit: String,
    /// The horizon in quarters and its label (`2030Q4`).
    pub horizon: u32,
    pub horizon_label: String,
    /// The P&L distribution (`pnl.csv`).
    pub pnl: MetricRow,
    /// The loss (`-P&L`) distribution, risk columns filled.
    pub loss: MetricRow,
    pub risk: Vec<RiskRow>,
    pub contributions: Vec<Contribution>,
    pub tail: Vec<TailRow>,
    /// P&L histogram for the chart.
    pub histogram: Histogram,
}

impl StressResult {
    pub fn measure(&self, name: &str) -> Option<f64> {
        self.risk.iter().find(|r| r.measure == name).map(|r| r.value)
    }

    /// `2030Q4 (20 quarters)`.
    pub fn horizon_text(&self) -> String {
        format!("{} ({} quarters)", self.horizon_label, self.horizon)
    }
}

/// One row of `OUT/portfolio-PORTFOLIO.csv`: a scenario's risk measures
/// and, with `--paired BASE`, their differences against the base.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRisk {
    pub scenario: String,
    pub paths: u64,
    pub horizon: String,
    pub horizon_quarters: u32,
    pub expected_pnl: f64,
    pub var95: f64,
    pub es95: f64,
    pub var99: f64,
    pub es99: f64,
    pub p_loss_gt_10pct: f64,
    /// The base of the paired differences.
    pub base: Option<String>,
    /// Mean of the path-by-path P&L difference (scenario - base).
    pub d_expected_pnl: Option<f64>,
    /// Its standard error (common random numbers make it small).
    pub d_expected_pnl_se: Option<f64>,
    /// VaR99 and ES99 of the scenario less those of the base.
    pub d_var99: Option<f64>,
    pub d_es99: Option<f64>,
}

impl From<&StressResult> for ScenarioRisk {
    fn from(r: &StressResult) -> Self {
        let m = |k: &str| r.measure(k).unwrap_or(f64::NAN);
        ScenarioRisk {
            scenario: r.scenario.clone(),
            paths: r.paths,
            horizon: r.horizon_label.clone(),
            horizon_quarters: r.horizon,
            expected_pnl: m("expected_pnl"),
            var95: m("var95"),
            es95: m("es95"),
            var99: m("var99"),
            es99: m("es99"),
            p_loss_gt_10pct: m("p_loss_gt_10pct"),
            base: None,
            d_expected_pnl: None,
            d_expected_pnl_se: None,
            d_var99: None,
            d_es99: None,
        }
    }
}

/// A scenario and a base stressed path by path under common random
/// numbers (the same seed, the same keyed draws).
#[derive(Debug, Clone)]
pub struct PairedStress {
    pub mine: StressResult,
    pub base: StressResult,
    /// Moments of the P&L difference `mine - base`, path by path.
    pub diff: Moments,
}

impl PairedStress {
    /// The comparison row of `mine` with its differences against `base`.
    pub fn row(&self) -> ScenarioRisk {
        let d = |k: &str| Some(self.mine.measure(k).unwrap_or(f64::NAN) - self.base.measure(k).unwrap_or(f64::NAN));
        ScenarioRisk {
            base: Some(self.base.scenario.clone()),
            d_expected_pnl: Some(self.diff.mean()),
            d_expected_pnl_se: Some(self.diff.se()),
            d_var99: d("var99"),
            d_es99: d("es99"),
            ..ScenarioRisk::from(&self.mine)
        }
    }
}

/// Buffers of one worker, reused from block to block: a lane's metrics,
/// its holdings' returns, and every lane's P&L.
struct PathScratch<const L: usize> {
    m: Vec<f64>,
    r: Vec<f64>,
    pnl: [f64; L],
}

/// What a shard of a stress test computed: the complete merge-tree nodes of
/// its chunks (see [`crate::engine::Partial`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StressPartial {
    nodes: Vec<Node<StressAcc>>,
}

/// Both scenarios' accumulators of a paired stress test and the moments of
/// the P&L difference, over some paths.
type PairAcc = (StressAcc, StressAcc, Moments);

fn merge_pair(x: &mut PairAcc, y: PairAcc) {
    x.0.merge(y.0);
    x.1.merge(y.1);
    x.2.merge(&y.2);
}

/// What a shard of a paired stress test computed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairedStressPartial {
    nodes: Vec<Node<PairAcc>>,
}

/// A stress test: the portfolio evaluated on every path of one scenario.
struct StressFold<'e, 'a, 'p> {
    bound: &'e Bound<'p>,
    engine: &'e Engine<'a>,
    keys: Keys,
    /// The holdings' stream keys.
    hkeys: Vec<[u32; 2]>,
}

impl Fold for StressFold<'_, '_, '_> {
    type Chunk = StressAcc;
    type Thread = ();
    type Scratch<const L: usize> = (Block<L>, PathScratch<L>);

    fn chunk(&self) -> StressAcc {
        self.bound.new_acc(self.engine)
    }

    fn thread(&self) {}

    fn scratch<const L: usize>(&self) -> (Block<L>, PathScratch<L>) {
        (self.engine.block_buffer_of::<L>(), self.bound.scratch())
    }

    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        (b, s): &mut (Block<L>, PathScratch<L>),
        acc: &mut StressAcc,
        _: &mut (),
    ) {
        sim.simulate(self.engine, &self.keys, None, first, b);
        self.bound.fold_block(acc, &self.hkeys, first, b, n, s);
    }

    fn merge(&self, a: &mut StressAcc, b: StressAcc) {
        a.merge(b)
    }

    fn merge_threads(&self, _: &mut (), _: ()) {}
}

/// A paired stress test: the portfolio on both scenarios' paths, and the
/// moments of the P&L difference path by path.
struct PairedStressFold<'e, 'a, 'b, 'p, 'q> {
    mine: StressFold<'e, 'a, 'p>,
    base: StressFold<'e, 'b, 'q>,
}

impl Fold for PairedStressFold<'_, '_, '_, '_, '_> {
    type Chunk = PairAcc;
    type Thread = ();
    type Scratch<const L: usize> = ((Block<L>, PathScratch<L>), (Block<L>, PathScratch<L>));

    fn chunk(&self) -> PairAcc {
        (self.mine.chunk(), self.base.chunk(), Moments::default())
    }

    fn thread(&self) {}

    fn scratch<const L: usize>(&self) -> Self::Scratch<L> {
        (self.mine.scratch(), self.base.scratch())
    }

    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        (sa, sb): &mut Self::Scratch<L>,
        (a, b, d): &mut PairAcc,
        _: &mut (),
    ) {
        sim.simulate(self.mine.engine, &self.mine.keys, None, first, &mut sa.0);
        sim.simulate(self.base.engine, &self.base.keys, None, first, &mut sb.0);
        self.mine.bound.fold_block(a, &self.mine.hkeys, first, &sa.0, n, &mut sa.1);
        self.base.bound.fold_block(b, &self.base.hkeys, first, &sb.0, n, &mut sb.1);
        sa.1.pnl[..n].iter().zip(&sb.1.pnl[..n]).for_each(|(x, y)| d.add(x - y));
    }

    fn merge(&self, a: &mut PairAcc, b: PairAcc) {
        merge_pair(a, b)
    }

    fn merge_threads(&self, _: &mut (), _: ()) {}
}

impl Bound<'_> {
    /// Whether a stress test's partial result read back from a shard file
    /// is one of this portfolio on `engine`'s scenario over chunks `range`
    /// of a run of `paths` paths.
    pub fn check_partial(
        &self,
        engine: &Engine,
        p: &StressPartial,
        paths: u64,
        range: Range<u64>,
    ) -> std::result::Result<(), String> {
        let like = self.new_acc(engine);
        crate::engine::driver::check_nodes(&p.nodes, paths, range, |a| a.check(&like))
    }

    /// [`Bound::check_partial`] for a paired stress test against `base`.
    pub fn check_paired_partial(
        &self,
        engine: &Engine,
        (base, base_engine): (&Bound, &Engine),
        p: &PairedStressPartial,
        paths: u64,
        range: Range<u64>,
    ) -> std::result::Result<(), String> {
        let (mine, theirs) = (self.new_acc(engine), base.new_acc(base_engine));
        crate::engine::driver::check_nodes(&p.nodes, paths, range, |(a, b, _)| {
            a.check(&mine)?;
            b.check(&theirs)
        })
    }

    /// Holding returns of the path whose metrics are `m`, drawing the
    /// idiosyncratic shocks from the path's own streams.
    #[inline]
    fn returns(&self, keys: &[[u32; 2]], path: u64, m: &[f64], out: &mut [f64]) {
        for (h, r) in out.iter_mut().enumerate() {
            let mut x = 0.0;
            for &(k, e_over_plan, e) in &self.terms[h] {
                x += e_over_plan * m[k] - e;
            }
            let s = self.scale[h];
            if s != 0.0 {
                let w = rng::quarterly(keys[h], path, 1);
                x += s * crate::math::normal_pair(w[0], w[1]).0 - s * s / 2.0;
            }
            *r = crate::math::exp(x) - 1.0;
        }
    }

    /// The holdings' stream keys under `seed`.
    fn keys(&self, seed: u64) -> Vec<[u32; 2]> {
        self.portfolio.holdings.iter().map(|h| rng::key(seed, &format!("holding:{}", h.name))).collect()
    }

    fn new_acc(&self, engine: &Engine) -> StressAcc {
        StressAcc::new(self.portfolio.holdings.len(), engine.metric_count())
    }

    fn scratch<const L: usize>(&self) -> PathScratch<L> {
        PathScratch { m: Vec::new(), r: vec![0.0; self.portfolio.holdings.len()], pnl: [0.0; L] }
    }

    /// Fold the first `n` lanes of block `b` (paths `first..`) into `acc`;
    /// the P&L of each lane goes to `s.pnl`.
    fn fold_block<const L: usize>(
        &self,
        acc: &mut StressAcc,
        hkeys: &[[u32; 2]],
        first: u64,
        b: &Block<L>,
        n: usize,
        s: &mut PathScratch<L>,
    ) {
        for l in 0..n {
            b.lane_metrics(l, &mut s.m);
            s.pnl[l] = self.path(acc, hkeys, first + l as u64, &s.m, &mut s.r);
        }
    }

    /// Fold one path, whose metrics are `m`, into `acc`; returns its P&L.
    #[inline]
    fn path(&self, acc: &mut StressAcc, hkeys: &[[u32; 2]], i: u64, m: &[f64], r: &mut [f64]) -> f64 {
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
        pnl
    }

    /// Simulate `paths` paths of `engine`'s scenario (already cut at the
    /// horizon) and evaluate the portfolio on each, in parallel on the
    /// current rayon pool.
    pub fn stress(&self, engine: &Engine, seed: u64, paths: u64, progress: &(dyn Fn(u64) + Sync)) -> StressResult {
        let part = self.stress_chunks(engine, seed, paths, 0..u64::MAX, progress);
        self.finish(engine, paths, vec![part]).expect("one run covers every chunk once")
    }

    /// [`Bound::stress`] of the chunks in `chunks` only (a shard).
    pub fn stress_chunks(
        &self,
        engine: &Engine,
        seed: u64,
        paths: u64,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> StressPartial {
        let fold = StressFold { bound: self, engine, keys: engine.keys(seed, paths), hkeys: self.keys(seed) };
        let (nodes, _) = drive(&fold, &engine.kernel(), paths, chunks, engine.watch(progress));
        StressPartial { nodes }
    }

    /// The result of a stress test of `paths` paths from the partial results
    /// of its shards, in any order; an error when they do not cover every
    /// chunk exactly once.
    pub fn finish(&self, engine: &Engine, paths: u64, parts: Vec<StressPartial>) -> Result<StressResult> {
        let nodes = parts.into_iter().flat_map(|p| p.nodes).collect();
        let acc = rebuild(paths, nodes, &|a: &mut StressAcc, b| a.merge(b))?;
        Ok(self.result(engine, acc.unwrap_or_else(|| self.new_acc(engine))))
    }

    /// This scenario and `base` (each bound to this portfolio) path by path
    /// under the same seed: both results and the moments of the P&L
    /// difference. Both must share the horizon.
    pub fn stress_paired(
        &self,
        engine: &Engine,
        base: (&Bound, &Engine),
        seed: u64,
        paths: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> PairedStress {
        let part = self.stress_paired_chunks(engine, base, seed, paths, 0..u64::MAX, progress);
        self.finish_paired(engine, base, paths, vec![part]).expect("one run covers every chunk once")
    }

    /// [`Bound::stress_paired`] of the chunks in `chunks` only (a shard).
    pub fn stress_paired_chunks(
        &self,
        engine: &Engine,
        (base, base_engine): (&Bound, &Engine),
        seed: u64,
        paths: u64,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> PairedStressPartial {
        let fold = PairedStressFold {
            mine: StressFold { bound: self, engine, keys: engine.keys(seed, paths), hkeys: self.keys(seed) },
            base: StressFold {
                bound: base,
                engine: base_engine,
                keys: base_engine.keys(seed, paths),
                hkeys: self.keys(seed),
            },
        };
        let (nodes, _) = drive(&fold, &engine.kernel(), paths, chunks, engine.watch(progress));
        PairedStressPartial { nodes }
    }

    /// The paired result of `paths` paths from its shards' partial results,
    /// in any order.
    pub fn finish_paired(
        &self,
        engine: &Engine,
        (base, base_engine): (&Bound, &Engine),
        paths: u64,
        parts: Vec<PairedStressPartial>,
    ) -> Result<PairedStress> {
        let nodes = parts.into_iter().flat_map(|p| p.nodes).collect();
        let (a, b, diff) = rebuild(paths, nodes, &merge_pair)?
            .unwrap_or_else(|| (self.new_acc(engine), base.new_acc(base_engine), Moments::default()));
        Ok(PairedStress { mine: self.result(engine, a), base: base.result(base_engine, b), diff })
    }

    /// Read the statistics off a finished accumulator.
    fn result(&self, engine: &Engine, acc: StressAcc) -> StressResult {
        let p = self.portfolio;
        let nh = p.holdings.len();
        let names = engine.scenario().metric_names();
        let n = acc.loss.moments.count();
        let tail = acc.tail_means(0.99);
        let tail_mean = |i: usize| tail.get(i).copied().unwrap_or(0.0);
        let loss = MetricRow::from_acc("loss", &acc.loss, true);
        let es99 = tail_mean(0);
        let contributions: Vec<Contribution> = p
            .holdings
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let own = &acc.standalone[i];
                let c = tail_mean(1 + i);
                Contribution {
                    holding: h.name.clone(),
                    weight: h.weight,
                    mean_pnl: -own.moments.mean(),
                    var99: own.sketch.quantile(0.99),
                    es99: own.sketch.tail_mean(0.99),
                    es99_contribution: c,
                    es99_share: (es99 != 0.0).then(|| c / es99),
                }
            })
            .collect();
        let standalone: f64 = contributions.iter().map(|c| c.es99).sum();
        let risk = vec![
            RiskRow { measure: "expected_pnl", value: acc.pnl.moments.mean() },
            RiskRow { measure: "var95", value: loss.var95.unwrap_or(f64::NAN) },
            RiskRow { measure: "es95", value: loss.es95.unwrap_or(f64::NAN) },
            RiskRow { measure: "var99", value: loss.var99.unwrap_or(f64::NAN) },
            RiskRow { measure: "es99", value: es99 },
            RiskRow { measure: "p_loss_gt_10pct", value: acc.big_losses as f64 / n as f64 },
            RiskRow { measure: "sum_standalone_es99", value: standalone },
            RiskRow { measure: "diversification", value: standalone - es99 },
        ];
        let tail = names
            .iter()
            .enumerate()
            .map(|(i, m)| TailRow { metric: m.clone(), tail_mean: tail_mean(1 + nh + i), mean: acc.metrics[i].mean() })
            .collect();
        let pnl_sketch = &acc.pnl.sketch;
        let lo = pnl_sketch.quantile(0.001).min(-es99);
        let hi = pnl_sketch.quantile(0.999).max(0.0);
        let (lo, hi) = if hi - lo > 1e-9 * p.value { (lo, hi) } else { (lo - 0.01 * p.value, hi + 0.01 * p.value) };
        let (counts, [below, above]) = pnl_sketch.histogram(lo, hi, crate::report::HISTOGRAM_BINS);
        StressResult {
            portfolio: p.name.clone(),
            scenario: engine.scenario().name.clone(),
            paths: n,
            value: p.value,
            unit: p.unit.clone(),
            horizon: self.horizon,
            horizon_label: self.horizon_label.clone(),
            // Its VaR and ES are the losses of risk.csv (positive = a loss).
            pnl: MetricRow {
                var95: loss.var95,
                es95: loss.es95,
                var99: loss.var99,
                es99: Some(es99),
                ..MetricRow::from_acc("pnl", &acc.pnl, false)
            },
            loss,
            risk,
            contributions,
            tail,
            histogram: Histogram { lo, hi, counts, below, above },
        }
    }
}
