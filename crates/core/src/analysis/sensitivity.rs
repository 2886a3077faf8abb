//! Which uncertain input drives a metric: Sobol' indices by a pick-freeze
//! design, and a tornado (rank correlation and swing) per parameter.
//!
//! **Sobol' indices.** Two independent samples `A` and `B` of every input
//! are the run's keys under the seed and under a second seed derived from
//! it; `A_B^g` is `A` with group `g` taken from `B`, which with keyed draws
//! is `A`'s keys with `g`'s keys swapped for `B`'s ([`Keys::with_param_from`]).
//! The groups are every uncertain per-path parameter and one group `noise`:
//! the quarterly shocks, the events and their severities together. For
//! each path, `f(A)`, `f(B)` and `f(A_B^g)` for every group: `k + 2`
//! simulations of a path for `k` groups. Then (Saltelli et al. 2010,
//! "Variance based sensitivity analysis of model output", CPC 181, for the
//! first order; Jansen 1999 for the total order)
//!
//! - first order `S_g = mean(f(B) (f(A_B^g) - f(A))) / V`,
//! - total order `T_g = mean((f(A) - f(A_B^g))^2) / (2 V)`,
//!
//! `V` the variance of `f` over the `A` and `B` samples together. Standard
//! errors are batch means: the estimators on 20 fixed blocks of paths
//! (fixed by path index, the same whatever the threads), their spread
//! over `sqrt(20)`. Inputs must be independent (no `[[correlation]]`).
//!
//! **Tornado.** On the `A` sample: the Spearman correlation of each
//! parameter with the metric, from the parameter's rank (its CDF, exact)
//! and the metric's (from the run's quantile sketch, to its 0.1%
//! resolution), and the swing: the metric's mean when the parameter is in
//! the bottom 10% and in the top 10% of its distribution. All of it
//! streams: memory does not grow with the paths.

use serde::Serialize;

use crate::dist::Dist;
use crate::engine::{Accumulator, Block, Engine, Fold, Keys, Simulator, drive};
use crate::error::{Error, Result};
use crate::model::Scenario;
use crate::rng;
use crate::stats::Sketch;

/// Blocks of paths for the batch-means standard errors.
pub const BATCHES: u64 = 20;

/// One row of `sensitivity.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensitivityRow {
    pub metric: String,
    /// A dotted parameter path, or `noise`.
    pub parameter: String,
    pub first_order: f64,
    pub first_order_se: f64,
    pub total_order: f64,
    pub total_order_se: f64,
    /// Spearman correlation with the metric (empty for `noise`).
    pub rank_corr: Option<f64>,
    /// The metric's mean with the parameter in its bottom / top 10%.
    pub swing_low: Option<f64>,
    pub swing_high: Option<f64>,
}

/// Sums of the pick-freeze estimators over a set of paths.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PickFreeze {
    n: f64,
    /// Sums of `f(A)`, `f(A)^2`, `f(B)`, `f(B)^2`.
    a: [f64; 4],
    /// Per group: sums of `f(B) (f(A_B) - f(A))` and `(f(A) - f(A_B))^2`.
    g: Vec<[f64; 2]>,
}

impl PickFreeze {
    pub fn new(groups: usize) -> Self {
        PickFreeze { n: 0.0, a: [0.0; 4], g: vec![[0.0; 2]; groups] }
    }

    /// One path: `f(A)`, `f(B)` and `f(A_B^g)` for every group.
    pub fn add(&mut self, fa: f64, fb: f64, fab: &[f64]) {
        self.n += 1.0;
        self.a[0] += fa;
        self.a[1] += fa * fa;
        self.a[2] += fb;
        self.a[3] += fb * fb;
        for (s, &x) in self.g.iter_mut().zip(fab) {
            s[0] += fb * (x - fa);
            s[1] += (fa - x) * (fa - x);
        }
    }

    pub fn merge(&mut self, o: &PickFreeze) {
        self.n += o.n;
        self.a.iter_mut().zip(&o.a).for_each(|(x, y)| *x += y);
        self.g.iter_mut().zip(&o.g).for_each(|(x, y)| (0..2).for_each(|j| x[j] += y[j]));
    }

    /// First- and total-order index of every group; NaN with no variance.
    pub fn indices(&self) -> Vec<(f64, f64)> {
        let n = self.n;
        let mean = (self.a[0] + self.a[2]) / (2.0 * n);
        let var = (self.a[1] + self.a[3]) / (2.0 * n) - mean * mean;
        self.g.iter().map(|s| (s[0] / n / var, s[1] / (2.0 * n) / var)).collect()
    }
}

/// Estimates and batch-means standard errors from per-batch sums.
pub fn with_errors(batches: &[PickFreeze]) -> Vec<[f64; 4]> {
    let mut all = batches[0].clone();
    batches[1..].iter().for_each(|b| all.merge(b));
    let est = all.indices();
    let per: Vec<Vec<(f64, f64)>> = batches.iter().filter(|b| b.n > 1.0).map(|b| b.indices()).collect();
    let m = per.len() as f64;
    let se = |pick: &dyn Fn(&(f64, f64)) -> f64, g: usize| {
        let xs: Vec<f64> = per.iter().map(|p| pick(&p[g])).collect();
        let mean = xs.iter().sum::<f64>() / m;
        (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (m - 1.0) / m).sqrt()
    };
    est.iter().enumerate().map(|(g, (s, t))| [*s, se(&|p| p.0, g), *t, se(&|p| p.1, g)]).collect()
}

/// Streaming tornado sums for one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Tornado {
    /// Sums of `u`, `u^2`, `r`, `r^2`, `u r` (ranks in [0, 1]).
    rank: [f64; 5],
    /// Sum and count of the metric with `u <= 0.1`, then with `u >= 0.9`.
    low: [f64; 2],
    high: [f64; 2],
}

/// What a chunk of paths adds: per batch, the pick-freeze sums; the
/// tornado sums of every parameter.
#[derive(Debug, Clone)]
struct Sums {
    batches: Vec<PickFreeze>,
    tornado: Vec<Tornado>,
}

impl Sums {
    fn merge(&mut self, o: Sums) {
        self.batches.iter_mut().zip(&o.batches).for_each(|(a, b)| a.merge(b));
        for (a, b) in self.tornado.iter_mut().zip(&o.tornado) {
            (0..5).for_each(|j| a.rank[j] += b.rank[j]);
            (0..2).for_each(|j| {
                a.low[j] += b.low[j];
                a.high[j] += b.high[j];
            });
        }
    }
}

/// The metric's rank in [0, 1] from a sketch: the mid-rank of the bucket
/// nearest to a value.
struct Ranks {
    values: Vec<f64>,
    /// Mid-rank of each bucket over the count.
    mid: Vec<f64>,
}

impl Ranks {
    fn new(s: &Sketch) -> Ranks {
        let n = s.count() as f64;
        let (mut values, mut mid, mut cum) = (Vec::new(), Vec::new(), 0u64);
        for &(c, v) in s.ranked().buckets() {
            values.push(v);
            mid.push((cum as f64 + c as f64 / 2.0) / n);
            cum += c;
        }
        Ranks { values, mid }
    }

    fn of(&self, y: f64) -> f64 {
        let i = self.values.partition_point(|v| *v < y);
        let j = match i {
            0 => 0,
            i if i == self.values.len() => i - 1,
            i if y - self.values[i - 1] < self.values[i] - y => i - 1,
            i => i,
        };
        self.mid[j]
    }
}

/// The pick-freeze samples of one metric: samples A and B, and A with each
/// uncertain parameter's (then the noise's) keys taken from B, summed per
/// batch of paths; with the tornado's rank sums.
struct SensitivityFold<'e, 'a> {
    engine: &'e Engine<'a>,
    keys: (Keys, Keys),
    mixed: Vec<Keys>,
    ranks: Ranks,
    dists: Vec<&'a Dist>,
    uncertain: Vec<usize>,
    metric: usize,
    paths: u64,
}

impl Fold for SensitivityFold<'_, '_> {
    type Chunk = Sums;
    type Thread = ();
    type Scratch<const L: usize> = ([Block<L>; 3], Vec<[f64; L]>);

    fn chunk(&self) -> Sums {
        Sums {
            batches: vec![PickFreeze::new(self.mixed.len()); BATCHES as usize],
            tornado: vec![Tornado::default(); self.uncertain.len()],
        }
    }

    fn thread(&self) {}

    // Three blocks at once: 16 lanes keep them in cache (1.7% faster than
    // 32 on the AVX-512 build, openai-shift).
    fn widest(&self) -> usize {
        crate::engine::LANES
    }

    fn scratch<const L: usize>(&self) -> Self::Scratch<L> {
        (std::array::from_fn(|_| self.engine.block_buffer_of::<L>()), vec![[0.0; L]; self.mixed.len()])
    }

    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        ([a, b, m], fab): &mut Self::Scratch<L>,
        sums: &mut Sums,
        _: &mut (),
    ) {
        let (engine, metric, paths) = (self.engine, self.metric, self.paths);
        sim.simulate(engine, &self.keys.0, None, first, a);
        sim.simulate(engine, &self.keys.1, None, first, b);
        for (g, keys) in self.mixed.iter().enumerate() {
            sim.simulate(engine, keys, None, first, m);
            fab[g] = *m.metric(metric);
        }
        let (fa, fb) = (a.metric(metric), b.metric(metric));
        for l in 0..n {
            let i = first + l as u64;
            let batch = (u128::from(i) * u128::from(BATCHES) / u128::from(paths)) as usize;
            let row: Vec<f64> = fab.iter().map(|x| x[l]).collect();
            sums.batches[batch].add(fa[l], fb[l], &row);
            let r = self.ranks.of(fa[l]);
            for (t, &k) in sums.tornado.iter_mut().zip(&self.uncertain) {
                let u = self.dists[k].cdf(a.param(k)[l]);
                t.rank = [t.rank[0] + u, t.rank[1] + u * u, t.rank[2] + r, t.rank[3] + r * r, t.rank[4] + u * r];
                if u <= 0.1 {
                    t.low = [t.low[0] + fa[l], t.low[1] + 1.0];
                }
                if u >= 0.9 {
                    t.high = [t.high[0] + fa[l], t.high[1] + 1.0];
                }
            }
        }
    }

    fn merge(&self, a: &mut Sums, b: Sums) {
        a.merge(b)
    }

    fn merge_threads(&self, _: &mut (), _: ()) {}
}

/// Whether `sc`'s Sobol' indices can be estimated: it needs an uncertain
/// input, independent inputs and a design that draws samples A and B by
/// parameter. The error says what works instead; `explain` asks before it
/// simulates anything.
pub fn check(sc: &Scenario) -> Result<()> {
    if sc.uncertain_parameters() == 0 {
        return Err(Error::Invalid(format!(
            "scenario `{}` has no uncertain parameter: every input is a plain number, so there is nothing to rank; give a parameter a distribution, or ask for the attribution only (option `analysis` attribution)",
            sc.name
        )));
    }
    if !sc.correlations.is_empty() {
        return Err(Error::Invalid(format!(
            "Sobol' indices need independent inputs, and scenario `{}` declares [[correlation]] blocks: remove them, or leave the sensitivity out (option `analysis` attribution, or option `analysis` given with option `given`)",
            sc.name
        )));
    }
    if sc.sampling == crate::model::Sampling::Sobol {
        return Err(Error::invalid(
            "Sobol' indices need samples A and B drawn by parameter; use option `sampling` mc or lhs",
        ));
    }
    Ok(())
}

/// The sensitivity of metric `metric` (an index of
/// [`crate::model::Scenario::metric_names`]) in a run of `paths` paths
/// under `seed`, given that run's accumulator `run` (for the metric's
/// ranks). `progress` is called with paths done.
pub fn sensitivity(
    engine: &Engine,
    seed: u64,
    paths: u64,
    metric: usize,
    run: &Accumulator,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<SensitivityRow>> {
    let sc = engine.scenario();
    check(sc)?;
    let params = sc.parameters();
    let uncertain: Vec<usize> = (0..params.len()).filter(|k| !params[*k].dist.is_fixed()).collect();
    let groups = uncertain.len() + 1;
    let ka = engine.keys(seed, paths);
    let kb = engine.keys(rng::mix(seed ^ 0x5a17_e111_0b5e_ed01), paths);
    let mixed: Vec<Keys> =
        uncertain.iter().map(|k| ka.with_param_from(&kb, *k)).chain(std::iter::once(ka.with_noise_from(&kb))).collect();
    let fold = SensitivityFold {
        engine,
        keys: (ka, kb),
        mixed,
        ranks: Ranks::new(&run.metrics[metric].sketch),
        dists: params.iter().map(|p| p.dist).collect(),
        uncertain: uncertain.clone(),
        metric,
        paths,
    };
    let (nodes, _) = drive(&fold, &engine.kernel(), paths, 0..u64::MAX, engine.watch(progress));
    let sums =
        crate::engine::driver::rebuild(paths, nodes, &|a: &mut Sums, b| a.merge(b))?.unwrap_or_else(|| fold.chunk());
    let name = sc.metric_names()[metric].clone();
    let idx = with_errors(&sums.batches);
    let n = paths as f64;
    let mut rows: Vec<SensitivityRow> = uncertain
        .iter()
        .zip(&sums.tornado)
        .enumerate()
        .map(|(g, (&k, t))| {
            let cov = t.rank[4] / n - (t.rank[0] / n) * (t.rank[2] / n);
            let vu = t.rank[1] / n - (t.rank[0] / n).powi(2);
            let vr = t.rank[3] / n - (t.rank[2] / n).powi(2);
            let mean = |s: [f64; 2]| (s[1] > 0.0).then(|| s[0] / s[1]);
            SensitivityRow {
                metric: name.clone(),
                parameter: params[k].path.clone(),
                first_order: idx[g][0],
                first_order_se: idx[g][1],
                total_order: idx[g][2],
                total_order_se: idx[g][3],
                rank_corr: (vu > 0.0 && vr > 0.0).then(|| cov / (vu * vr).sqrt()),
                swing_low: mean(t.low),
                swing_high: mean(t.high),
            }
        })
        .collect();
    let noise = idx[groups - 1];
    rows.push(SensitivityRow {
        metric: name,
        parameter: "noise".into(),
        first_order: noise[0],
        first_order_se: noise[1],
        total_order: noise[2],
        total_order_se: noise[3],
        rank_corr: None,
        swing_low: None,
        swing_high: None,
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, unit};
    use rand::Rng;

    /// The Ishigami function, a = 7, b = 0.1, on U(-pi, pi)^3.
    fn ishigami(x: [f64; 3]) -> f64 {
        x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
    }

    #[test]
    fn pick_freeze_recovers_the_ishigami_indices() {
        // Known values (Ishigami and Homma 1990; Sobol' and Levitan 1999):
        // S = (0.3139, 0.4424, 0), T = (0.5576, 0.4424, 0.2437).
        let (s_known, t_known) = ([0.3139, 0.4424, 0.0], [0.5576, 0.4424, 0.2437]);
        let n = 200_000u64;
        let mut batches = vec![PickFreeze::new(3); BATCHES as usize];
        let draw = |s: &mut Stream| {
            std::array::from_fn(|_| -std::f64::consts::PI + 2.0 * std::f64::consts::PI * unit(s.next_u32()))
        };
        for i in 0..n {
            let a: [f64; 3] = draw(&mut Stream::new(rng::key(1, "A"), i, 0));
            let b: [f64; 3] = draw(&mut Stream::new(rng::key(1, "B"), i, 0));
            let fab: Vec<f64> = (0..3)
                .map(|g| {
                    let mut x = a;
                    x[g] = b[g];
                    ishigami(x)
                })
                .collect();
            batches[(i * BATCHES / n) as usize].add(ishigami(a), ishigami(b), &fab);
        }
        let got = with_errors(&batches);
        for g in 0..3 {
            let [s, s_se, t, t_se] = got[g];
            assert!((s - s_known[g]).abs() < 0.02, "S{}: {s} vs {}", g + 1, s_known[g]);
            assert!((t - t_known[g]).abs() < 0.02, "T{}: {t} vs {}", g + 1, t_known[g]);
            // The standard errors are honest: the known value within 4 se.
            assert!((s - s_known[g]).abs() <= 4.0 * s_se && s_se < 0.02, "S{} se {s_se}", g + 1);
            assert!((t - t_known[g]).abs() <= 4.0 * t_se && t_se < 0.02, "T{} se {t_se}", g + 1);
        }
    }
}
