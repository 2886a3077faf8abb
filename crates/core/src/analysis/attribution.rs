//! Each path's metric, against the plan, split into the drivers of the
//! risk by the Shapley value.
//!
//! The drivers are the per-path parameters (off: every parameter at its
//! mean), the demand shocks (off: every demand index on its expected path),
//! the compute shifts and the renegotiation rules (off: none), or, with
//! `by rule`, each shift and each rule on its own. With the same keyed
//! random numbers, every path is simulated (by the block kernel, 16 paths
//! at a time) once for every subset `S` of
//! the drivers switched on (`2^n` simulations for `n` drivers), `v(S)` its
//! metric minus the plan's; with every driver off the path is the plan, so
//! `v({}) = 0`. A driver's contribution on the path is its Shapley value
//!
//! `phi_i = sum over S without i of |S|! (n - |S| - 1)! / n! (v(S + i) - v(S))`,
//!
//! the average over all orders of switching the drivers on of what `i`
//! adds, and the contributions of a path sum to `v(all) - v({})`: its
//! metric against the plan, whatever the order. ES contributions are
//! `E[phi_i | metric >= VaR]`, VaR read from the run's sketch, so they sum
//! to the mean of the metric over the same tail paths.

use serde::Serialize;

use crate::engine::driver::rebuild;
use crate::engine::{Accumulator, Block, Engine, Fold, Keys, Simulator, Switches, drive};
use crate::error::{Error, Result};
use crate::model::Scenario;
use crate::stats::{Moments, Sketch};

use super::given::{Condition, GivenRow, Op, meets};

/// The most drivers: 2^6 = 64 simulations of each path.
pub const MAX_DRIVERS: usize = 6;

/// One driver: a name and the switches it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    pub name: String,
    params: bool,
    shocks: bool,
    shifts: Vec<usize>,
    rules: Vec<usize>,
}

/// The drivers of a scenario: parameters (when it has an uncertain one),
/// demand shocks, shifts and renegotiation (when it has them), or each
/// shift and rule on its own with `by_rule`.
pub fn drivers(sc: &Scenario, by_rule: bool) -> Result<Vec<Driver>> {
    let none = Driver { name: String::new(), params: false, shocks: false, shifts: vec![], rules: vec![] };
    let mut out = Vec::new();
    if sc.parameters().iter().any(|p| !p.dist.is_fixed()) {
        out.push(Driver { name: "parameters".into(), params: true, ..none.clone() });
    }
    out.push(Driver { name: "demand shocks".into(), shocks: true, ..none.clone() });
    let shifts: Vec<(String, usize)> = sc
        .customers
        .iter()
        .flat_map(|c| (0..c.shifts.len()).map(move |j| format!("customers.{}.shift[{j}]", c.name)))
        .enumerate()
        .map(|(s, name)| (name, s))
        .collect();
    let rules: Vec<(String, usize)> = (0..sc.rules.len()).map(|r| (format!("renegotiation[{r}]"), r)).collect();
    if by_rule {
        out.extend(shifts.iter().map(|(n, s)| Driver { name: format!("shift {n}"), shifts: vec![*s], ..none.clone() }));
        out.extend(rules.iter().map(|(n, r)| Driver { name: n.clone(), rules: vec![*r], ..none.clone() }));
    } else {
        if !shifts.is_empty() {
            out.push(Driver { name: "shifts".into(), shifts: shifts.iter().map(|x| x.1).collect(), ..none.clone() });
        }
        if !rules.is_empty() {
            out.push(Driver { name: "renegotiation".into(), rules: rules.iter().map(|x| x.1).collect(), ..none });
        }
    }
    if out.len() > MAX_DRIVERS {
        return Err(Error::invalid(format!(
            "{} drivers ({}) would take 2^{} = {} simulations of every path; at most {MAX_DRIVERS} are attributed exactly: group the shifts and the rules (leave out option `by` rule)",
            out.len(),
            out.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
            out.len(),
            1u64 << out.len()
        )));
    }
    Ok(out)
}

/// The switches of the drivers in `mask` on, the others off.
fn switches(sc: &Scenario, drivers: &[Driver], mask: usize) -> Switches {
    let shifts: usize = sc.customers.iter().map(|c| c.shifts.len()).sum();
    let mut s =
        Switches { params: false, shocks: false, shifts: vec![false; shifts], rules: vec![false; sc.rules.len()] };
    for (_, d) in drivers.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0) {
        s.params |= d.params;
        s.shocks |= d.shocks;
        d.shifts.iter().for_each(|x| s.shifts[*x] = true);
        d.rules.iter().for_each(|x| s.rules[*x] = true);
    }
    s
}

/// The Shapley value of every player from the values `v[mask]` of all
/// coalitions (bit `i` of `mask` = player `i`): `out[i]`.
pub fn shapley(v: &[f64], out: &mut [f64]) {
    let n = out.len();
    debug_assert_eq!(v.len(), 1 << n);
    // w[s] = s! (n - s - 1)! / n!
    let fact = |k: usize| (1..=k).map(|x| x as f64).product::<f64>();
    let w: Vec<f64> = (0..n).map(|s| fact(s) * fact(n - s - 1) / fact(n)).collect();
    for (i, o) in out.iter_mut().enumerate() {
        let bit = 1 << i;
        *o = (0..1usize << n).filter(|m| m & bit == 0).map(|m| w[m.count_ones() as usize] * (v[m | bit] - v[m])).sum();
    }
}

/// One row of `attribution.csv`: a driver's contribution, or `total`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionRow {
    pub metric: String,
    pub driver: String,
    pub mean: f64,
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
    /// `E[contribution | metric >= VaR95]`; for `total`, that tail's mean.
    pub es95_contribution: f64,
    pub es99_contribution: f64,
}

/// Floating-point sums of a chunk: per driver and the total, the sum of
/// contributions, over all paths and over the two tails; the tails' counts.
#[derive(Debug, Clone)]
struct Sums {
    all: Vec<f64>,
    tail95: Vec<f64>,
    tail99: Vec<f64>,
    count: [f64; 2],
    /// The largest `|sum of contributions - v(all)|` seen, relative.
    gap: f64,
    /// With a condition (a reverse stress test): the moments of every
    /// contribution over all paths and over the paths that meet it.
    moments: Vec<Moments>,
    given: Vec<Moments>,
}

impl Sums {
    fn new(n: usize, conditioned: bool) -> Self {
        let m = if conditioned { vec![Moments::default(); n + 1] } else { Vec::new() };
        Sums {
            all: vec![0.0; n + 1],
            tail95: vec![0.0; n + 1],
            tail99: vec![0.0; n + 1],
            count: [0.0; 2],
            gap: 0.0,
            moments: m.clone(),
            given: m,
        }
    }

    fn merge(&mut self, o: Sums) {
        for (a, b) in [(&mut self.all, &o.all), (&mut self.tail95, &o.tail95), (&mut self.tail99, &o.tail99)] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self.count[0] += o.count[0];
        self.count[1] += o.count[1];
        self.gap = self.gap.max(o.gap);
        self.moments.iter_mut().zip(&o.moments).for_each(|(x, y)| x.merge(y));
        self.given.iter_mut().zip(&o.given).for_each(|(x, y)| x.merge(y));
    }
}

/// A worker's sketches of every contribution, over all paths and (with a
/// condition) over the paths that meet it.
#[derive(Debug, Clone)]
struct Sketches {
    all: Vec<Sketch>,
    given: Vec<Sketch>,
}

/// The attribution of one metric: every path simulated once per subset of
/// drivers switched on, its Shapley values summed per chunk (over all
/// paths and the two tails) and sketched per thread.
struct AttributionFold<'e, 'a> {
    engine: &'e Engine<'a>,
    keys: Keys,
    /// The switches of every subset of drivers, by bit mask.
    all: Vec<Switches>,
    metric: usize,
    plan: f64,
    var95: f64,
    var99: f64,
    /// The metric's scale, for the relative gap.
    scale: f64,
    /// The condition of a reverse stress test (none: not conditioned).
    given: Vec<(usize, Op, f64)>,
}

/// A chunk's buffers: the block, each subset's metric by lane, the game's
/// values and the Shapley values of one path.
struct Scratch<const L: usize> {
    block: Block<L>,
    lanes: Vec<[f64; L]>,
    v: Vec<f64>,
    phi: Vec<f64>,
}

impl Fold for AttributionFold<'_, '_> {
    type Chunk = Sums;
    type Thread = Sketches;
    type Scratch<const L: usize> = Scratch<L>;

    fn chunk(&self) -> Sums {
        Sums::new(self.drivers(), !self.given.is_empty())
    }

    fn thread(&self) -> Sketches {
        let n = self.drivers() + 1;
        let given = if self.given.is_empty() { Vec::new() } else { vec![Sketch::default(); n] };
        Sketches { all: vec![Sketch::default(); n], given }
    }

    fn scratch<const L: usize>(&self) -> Scratch<L> {
        let subsets = self.all.len();
        Scratch {
            block: self.engine.block_buffer_of::<L>(),
            lanes: vec![[0.0; L]; subsets],
            v: vec![0.0; subsets],
            phi: vec![0.0; self.drivers()],
        }
    }

    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        count: usize,
        s: &mut Scratch<L>,
        sums: &mut Sums,
        sk: &mut Sketches,
    ) {
        let (plan, n) = (self.plan, self.drivers());
        for (m, sw) in self.all.iter().enumerate() {
            sim.simulate(self.engine, &self.keys, Some(sw), first, &mut s.block);
            s.lanes[m] = *s.block.metric(self.metric);
        }
        // The last subset simulated is every driver on: the path itself,
        // whose metrics the condition reads.
        for l in 0..count {
            let hit = !self.given.is_empty() && meets(&self.given, &|k| s.block.metric(k)[l]);
            s.v.iter_mut().zip(&s.lanes).for_each(|(x, lane)| *x = lane[l] - plan);
            shapley(&s.v, &mut s.phi);
            let total = s.v[(1 << n) - 1];
            sums.gap = sums.gap.max((s.phi.iter().sum::<f64>() - total).abs() / self.scale);
            let x = total + plan;
            for (j, c) in s.phi.iter().chain(std::iter::once(&total)).enumerate() {
                sums.all[j] += c;
                sk.all[j].add(*c);
                if !self.given.is_empty() {
                    sums.moments[j].add(*c);
                    if hit {
                        sums.given[j].add(*c);
                        sk.given[j].add(*c);
                    }
                }
                if x >= self.var95 {
                    sums.tail95[j] += c;
                }
                if x >= self.var99 {
                    sums.tail99[j] += c;
                }
            }
            sums.count[0] += f64::from(u8::from(x >= self.var95));
            sums.count[1] += f64::from(u8::from(x >= self.var99));
        }
    }

    fn merge(&self, a: &mut Sums, b: Sums) {
        a.merge(b)
    }

    fn merge_threads(&self, a: &mut Sketches, b: Sketches) {
        a.all.iter_mut().zip(b.all).for_each(|(x, y)| x.absorb(y));
        a.given.iter_mut().zip(b.given).for_each(|(x, y)| x.absorb(y));
    }
}

impl AttributionFold<'_, '_> {
    fn drivers(&self) -> usize {
        self.all.len().trailing_zeros() as usize
    }
}

/// What the attribution found, and the largest gap between a path's
/// contributions and its metric against plan (relative to the metric's
/// scale), which the Shapley value makes 0 up to rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub rows: Vec<AttributionRow>,
    pub max_gap: f64,
}

/// Attribute metric `metric` of a run of `paths` paths under `seed`;
/// `run` is that run's accumulator (for VaR95 and VaR99).
pub fn attribution(
    engine: &Engine,
    seed: u64,
    paths: u64,
    metric: usize,
    run: &Accumulator,
    drivers: &[Driver],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Attribution> {
    attribution_given(engine, seed, paths, metric, run, drivers, &[], progress).map(|(a, _)| a)
}

/// [`attribution`], and with conditions (a reverse stress test, see
/// [`super::given`]) each driver's contribution and the total over the
/// paths that meet them beside all paths: rows of kind `driver`, the last
/// named `total` (the metric against plan), as in `attribution.csv`; empty
/// without conditions, or when no path meets them.
#[allow(clippy::too_many_arguments)]
pub fn attribution_given(
    engine: &Engine,
    seed: u64,
    paths: u64,
    metric: usize,
    run: &Accumulator,
    drivers: &[Driver],
    given: &[Condition],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Attribution, Vec<GivenRow>)> {
    let sc = engine.scenario();
    let given = super::given::resolve_all(sc, given)?;
    let n = drivers.len();
    let all: Vec<Switches> = (0..1usize << n).map(|m| switches(sc, drivers, m)).collect();
    let keys = engine.keys(seed, paths);
    let plan = engine.plan().metrics[metric];
    let sketch = &run.metrics[metric].sketch;
    let (var95, var99) = (sketch.quantile(0.95), sketch.quantile(0.99));
    let scale = sketch.min().abs().max(sketch.max().abs()).max(plan.abs()).max(1e-300);
    let fold = AttributionFold { engine, keys, all, metric, plan, var95, var99, scale, given };
    let (nodes, sketches) = drive(&fold, &engine.kernel(), paths, 0..u64::MAX, engine.watch(progress));
    let sums =
        rebuild(paths, nodes, &|a: &mut Sums, b| a.merge(b))?.ok_or_else(|| Error::invalid("no paths to attribute"))?;
    let sketches = sketches.ok_or_else(|| Error::invalid("no paths to attribute"))?;
    let name = sc.metric_names()[metric].clone();
    let names: Vec<String> =
        drivers.iter().map(|d| d.name.clone()).chain(std::iter::once("total".to_string())).collect();
    let rows = names
        .iter()
        .zip(&sketches.all)
        .enumerate()
        .map(|(j, (driver, s))| AttributionRow {
            metric: name.clone(),
            driver: driver.clone(),
            mean: sums.all[j] / paths as f64,
            p5: s.quantile(0.05),
            p50: s.quantile(0.5),
            p95: s.quantile(0.95),
            es95_contribution: sums.tail95[j] / sums.count[0],
            es99_contribution: sums.tail99[j] / sums.count[1],
        })
        .collect();
    let hits = sums.given.first().map_or(0, Moments::count);
    let given_rows = if hits == 0 {
        Vec::new()
    } else {
        names
            .iter()
            .enumerate()
            .map(|(j, driver)| {
                GivenRow::new(
                    "driver",
                    driver.clone(),
                    (&sums.given[j], &sketches.given[j]),
                    (&sums.moments[j], &sketches.all[j]),
                )
            })
            .collect()
    };
    Ok((Attribution { rows, max_gap: sums.gap }, given_rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapley_values_of_known_games() {
        // Additive game: each player's value is its own.
        let mut phi = [0.0; 3];
        let v: Vec<f64> =
            (0..8usize).map(|m| (0..3).filter(|i| m & (1 << i) != 0).map(|i| [1.0, 2.0, 4.0][i]).sum()).collect();
        shapley(&v, &mut phi);
        assert_eq!(phi, [1.0, 2.0, 4.0]);
        // Pure interaction of two players (v = 1 only when both are on):
        // split evenly; a third, null player gets 0.
        let v: Vec<f64> = (0..8usize).map(|m| f64::from(u8::from(m & 3 == 3))).collect();
        shapley(&v, &mut phi);
        assert_eq!(phi, [0.5, 0.5, 0.0]);
        // Glove game: player 0 holds a left glove, 1 and 2 right ones; a
        // pair is worth 1. Shapley: (2/3, 1/6, 1/6).
        let v: Vec<f64> = (0..8usize).map(|m| f64::from(u8::from(m & 1 == 1 && m & 6 != 0))).collect();
        shapley(&v, &mut phi);
        for (got, want) in phi.iter().zip([2.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0]) {
            assert!((got - want).abs() < 1e-15, "{phi:?}");
        }
    }
}
