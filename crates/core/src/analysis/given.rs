//! Reverse stress tests: the paths that meet a condition on the recorded
//! metrics ("loss.azure >= 400"), how likely they are and what they look
//! like.
//!
//! One plain pass over the paths (the block kernel, the run's keys) folds,
//! for every uncertain parameter and every metric, its moments and sketch
//! over all paths and over the paths that meet the condition, counts the
//! paths that meet it (`P` is their share, with the binomial standard error
//! `sqrt(P (1 - P) / n)`), and keeps the `K` paths that meet it with the
//! highest prior density of their parameters: the "most plausible ways
//! there". The prior density is the product of the parameters' marginal
//! densities (a discrete parameter counts its probability) and, for each
//! `[[correlation]]` block whose Pearson matrix `2 sin(pi rho / 6)` is
//! positive definite, the Gaussian copula's density
//! `det(R)^(-1/2) exp(-z' (R^-1 - I) z / 2)`, `z = Phi^-1(F(x))`. A singular
//! block (a rank correlation of +-1) has no density, and its copula term is
//! left out.
//!
//! Sums are per chunk in path order and merged in the engine's fixed tree;
//! counts, sketches and the top `K` (ties broken by the lower path index, a
//! total order, so the set does not depend on the merge order) per worker
//! thread. The answer depends on the seed and the paths alone.
//!
//! With a minimum number of hits, the pass runs in rounds of the scenario's
//! paths (as a run to a precision does) until that many paths met the
//! condition or the path budget is spent.

use std::fmt;
use std::ops::Range;

use nalgebra::DMatrix;
use serde::Serialize;

use crate::dist::{Dist, std_normal_quantile};
use crate::engine::driver::{Node, rebuild};
use crate::engine::{Block, CHUNK, Engine, Fold, Keys, Simulator, drive};
use crate::error::{Error, Result};
use crate::metric::Metric;
use crate::model::Scenario;
use crate::stats::{Moments, Sketch};

/// `>=` or `<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    AtLeast,
    AtMost,
}

/// One condition on a recorded metric: `loss.azure>=400`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.op == Op::AtLeast { ">=" } else { "<=" };
        write!(f, "{}{op}{}", self.metric, self.value)
    }
}

/// The text of several conditions, joined by `,` (meaning "and").
pub fn text(conds: &[Condition]) -> String {
    conds.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Parse `METRIC>=VALUE` or `METRIC<=VALUE`, several joined by `,`.
///
/// ```
/// use backlog_risk::analysis::given::{Op, parse};
/// let c = parse("loss.azure>=400, share.openai.azure <= 0.3").unwrap();
/// assert_eq!((c[0].metric.to_string().as_str(), c[0].op, c[0].value), ("loss.azure", Op::AtLeast, 400.0));
/// assert_eq!(c[1].op, Op::AtMost);
/// assert!(parse("loss.azure=400").unwrap_err().to_string().contains("no `>=` or `<=`"));
/// assert!(parse("loss.azure>=lots").unwrap_err().to_string().contains("not a number"));
/// ```
pub fn parse(s: &str) -> Result<Vec<Condition>> {
    let form = "write a condition as METRIC>=VALUE or METRIC<=VALUE (several joined by `,`), e.g. loss.azure>=400";
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (at, op) = match (part.find(">="), part.find("<=")) {
            (Some(i), None) => (i, Op::AtLeast),
            (None, Some(i)) => (i, Op::AtMost),
            _ => return Err(Error::invalid(format!("condition `{part}` has no `>=` or `<=`, or has both; {form}"))),
        };
        let (name, value) = (part[..at].trim(), part[at + 2..].trim());
        let metric: Metric = name.parse().map_err(|e: Error| Error::invalid(format!("condition `{part}`: {e}")))?;
        let value: f64 = match value.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => return Err(Error::invalid(format!("condition `{part}`: `{value}` is not a number; {form}"))),
        };
        out.push(Condition { metric, op, value });
    }
    Ok(out)
}

/// Mean, sd, the se of the mean and the 5th, 50th and 95th percentiles of
/// one quantity over a set of paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub mean: f64,
    pub sd: f64,
    pub se: f64,
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

impl Stats {
    fn of(m: &Moments, s: &Sketch) -> Stats {
        let q = s.quantiles(&[0.05, 0.5, 0.95]);
        Stats { mean: m.mean(), sd: m.sd(), se: m.se(), p5: q[0], p50: q[1], p95: q[2] }
    }
}

/// One quantity over the paths that meet the condition and over all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GivenRow {
    /// `parameter` or `metric`.
    pub kind: &'static str,
    /// The parameter's dotted path or the metric's name.
    pub name: String,
    pub given: Stats,
    pub all: Stats,
    /// `(given mean - mean) / sd`, in units of its own sd over all paths
    /// (0 for a quantity that does not vary).
    pub shift_sd: f64,
}

impl GivenRow {
    /// Whether it is a cause: an input or a driver's contribution, not a
    /// metric nor the drivers' total, which the condition moves by
    /// construction.
    pub fn is_cause(&self) -> bool {
        self.kind == "parameter" || (self.kind == "driver" && self.name != "total")
    }

    /// A row from the moments and sketch over the paths that meet the
    /// condition (`given`) and over all paths.
    pub(crate) fn new(
        kind: &'static str,
        name: String,
        given: (&Moments, &Sketch),
        all: (&Moments, &Sketch),
    ) -> GivenRow {
        let (given, all) = (Stats::of(given.0, given.1), Stats::of(all.0, all.1));
        let shift_sd = if all.sd > 0.0 { (given.mean - all.mean) / all.sd } else { 0.0 };
        GivenRow { kind, name, given, all, shift_sd }
    }
}

/// A path that meets the condition, among the most plausible.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GivenPath {
    pub path: u64,
    /// The log of the prior density of its parameters.
    pub log_density: f64,
    /// Its values of the uncertain parameters, in [`Given::parameters`] order.
    pub parameters: Vec<f64>,
    /// Its values of the condition's metrics, in the conditions' order.
    pub metrics: Vec<f64>,
}

/// What the paths that meet a condition look like.
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    /// The condition, as text (`loss.azure>=400`).
    pub condition: String,
    /// The condition's metrics, in its order (for [`GivenPath::metrics`]).
    pub metrics: Vec<String>,
    /// The uncertain parameters' dotted paths (for [`GivenPath::parameters`]).
    pub parameters: Vec<String>,
    pub paths: u64,
    pub hits: u64,
    pub probability: f64,
    pub probability_se: f64,
    /// Every uncertain parameter and every metric, by `|shift_sd|`, largest first.
    pub rows: Vec<GivenRow>,
    /// The paths that meet the condition with the highest prior density, highest first.
    pub top: Vec<GivenPath>,
    /// With a minimum of hits: the minimum, and the rounds of the
    /// scenario's paths run (`None`: one pass, no minimum).
    pub min_hits: Option<(u64, u64)>,
}

impl Given {
    /// Whether the minimum of hits asked for was reached (true when none was).
    pub fn met(&self) -> bool {
        self.min_hits.is_none_or(|(n, _)| self.hits >= n)
    }
}

/// The conditions resolved to metric indices (none for none).
pub(crate) fn resolve_all(sc: &Scenario, conds: &[Condition]) -> Result<Vec<(usize, Op, f64)>> {
    if conds.is_empty() { Ok(Vec::new()) } else { resolve(sc, conds) }
}

/// Whether the metrics `metric(k)` of a path meet every resolved condition.
pub(crate) fn meets(conds: &[(usize, Op, f64)], metric: &dyn Fn(usize) -> f64) -> bool {
    conds.iter().all(|&(k, op, v)| {
        let x = metric(k);
        if op == Op::AtLeast { x >= v } else { x <= v }
    })
}

/// The conditions resolved to metric indices.
fn resolve(sc: &Scenario, conds: &[Condition]) -> Result<Vec<(usize, Op, f64)>> {
    if conds.is_empty() {
        return Err(Error::invalid("no condition given; write METRIC>=VALUE or METRIC<=VALUE, e.g. loss.azure>=400"));
    }
    conds
        .iter()
        .map(|c| Ok((c.metric.index_in(sc).map_err(|e| e.about("given", c.to_string()))?, c.op, c.value)))
        .collect()
}

/// The prior density of a path's parameters (see the module header).
struct Prior {
    /// Every uncertain parameter's position and law.
    marginals: Vec<(usize, Dist)>,
    /// The positive definite correlation blocks.
    blocks: Vec<Copula>,
}

/// A correlation block's Gaussian copula: its parameters' positions and
/// laws, `R^-1 - I` and `ln det R`.
struct Copula {
    laws: Vec<(usize, Dist)>,
    inv: DMatrix<f64>,
    ln_det: f64,
}

impl Prior {
    fn new(sc: &Scenario) -> Prior {
        let params = sc.parameters();
        let marginals = params.iter().enumerate().filter(|(_, p)| !p.dist.is_fixed()).map(|(k, p)| (k, p.dist.clone()));
        let blocks = sc
            .correlations
            .iter()
            .filter_map(|c| {
                let n = c.params.len();
                let r = DMatrix::from_fn(n, n, |i, j| {
                    if i == j { 1.0 } else { 2.0 * (std::f64::consts::PI * c.rank[i][j] / 6.0).sin() }
                });
                let chol = r.cholesky()?;
                let ln_det = 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
                let inv = chol.inverse() - DMatrix::identity(n, n);
                let laws = c.params.iter().map(|&k| (k, params[k].dist.clone())).collect();
                Some(Copula { laws, inv, ln_det })
            })
            .collect();
        Prior { marginals: marginals.collect(), blocks }
    }

    /// The log-density of the parameters `pv` (all of them, in
    /// [`Scenario::parameters`] order).
    fn ln_density(&self, pv: &dyn Fn(usize) -> f64) -> f64 {
        let mut ld: f64 = self.marginals.iter().map(|(k, d)| d.ln_density(pv(*k))).sum();
        for Copula { laws, inv, ln_det } in &self.blocks {
            let z = nalgebra::DVector::from_iterator(
                laws.len(),
                laws.iter().map(|(k, d)| std_normal_quantile(d.cdf(pv(*k)).clamp(1e-300, 1.0 - f64::EPSILON / 2.0))),
            );
            ld += -0.5 * ln_det - 0.5 * (z.transpose() * inv * &z)[(0, 0)];
        }
        ld
    }
}

/// What is folded: the uncertain parameters, then the metrics.
#[derive(Clone, Copy)]
enum Quantity {
    Param(usize),
    Metric(usize),
}

/// Per chunk: the moments of every quantity, over all paths and over those
/// that meet the condition.
struct Sums {
    all: Vec<Moments>,
    given: Vec<Moments>,
}

/// Per worker thread: the paths folded and met, the sketches and the best
/// paths so far (`(log-density, path)`, best first).
struct Thread {
    paths: u64,
    hits: u64,
    all: Vec<Sketch>,
    given: Vec<Sketch>,
    top: Vec<(f64, u64)>,
}

/// Best first: the higher density, then the lower path index.
fn better(a: &(f64, u64), b: &(f64, u64)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

struct GivenFold<'e, 'a> {
    engine: &'e Engine<'a>,
    keys: Keys,
    conds: Vec<(usize, Op, f64)>,
    quantities: Vec<Quantity>,
    prior: Prior,
    top: usize,
}

impl Fold for GivenFold<'_, '_> {
    type Chunk = Sums;
    type Thread = Thread;
    type Scratch<const L: usize> = Block<L>;

    fn chunk(&self) -> Sums {
        let n = self.quantities.len();
        Sums { all: vec![Moments::default(); n], given: vec![Moments::default(); n] }
    }

    fn thread(&self) -> Thread {
        let n = self.quantities.len();
        Thread { paths: 0, hits: 0, all: vec![Sketch::new(); n], given: vec![Sketch::new(); n], top: Vec::new() }
    }

    fn scratch<const L: usize>(&self) -> Block<L> {
        self.engine.block_buffer_of::<L>()
    }

    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        b: &mut Block<L>,
        sums: &mut Sums,
        th: &mut Thread,
    ) {
        sim.simulate(self.engine, &self.keys, None, first, b);
        for l in 0..n {
            let hit = meets(&self.conds, &|k| b.metric(k)[l]);
            for (q, quantity) in self.quantities.iter().enumerate() {
                let x = match *quantity {
                    Quantity::Param(k) => b.param(k)[l],
                    Quantity::Metric(k) => b.metric(k)[l],
                };
                sums.all[q].add(x);
                th.all[q].add(x);
                if hit {
                    sums.given[q].add(x);
                    th.given[q].add(x);
                }
            }
            th.paths += 1;
            if hit {
                th.hits += 1;
                let entry = (self.prior.ln_density(&|k| b.param(k)[l]), first + l as u64);
                let at = th.top.partition_point(|e| better(e, &entry).is_lt());
                if at < self.top {
                    th.top.insert(at, entry);
                    th.top.truncate(self.top);
                }
            }
        }
    }

    fn merge(&self, a: &mut Sums, b: Sums) {
        a.all.iter_mut().zip(&b.all).for_each(|(x, y)| x.merge(y));
        a.given.iter_mut().zip(&b.given).for_each(|(x, y)| x.merge(y));
    }

    fn merge_threads(&self, a: &mut Thread, b: Thread) {
        a.paths += b.paths;
        a.hits += b.hits;
        a.all.iter_mut().zip(b.all).for_each(|(x, y)| x.absorb(y));
        a.given.iter_mut().zip(b.given).for_each(|(x, y)| x.absorb(y));
        a.top.extend(b.top);
        a.top.sort_by(better);
        a.top.truncate(self.top);
    }
}

/// Rows by the size of their shift, largest first (a stable sort: ties
/// keep their order).
pub fn sort_rows(rows: &mut [GivenRow]) {
    rows.sort_by(|a, b| b.shift_sd.abs().total_cmp(&a.shift_sd.abs()));
}

/// The paths of a round of [`given`] (whole chunks when it runs in rounds),
/// which its keys are drawn for: path `i` of the answer is path `i` of a
/// run of this many paths.
pub fn round_paths(paths: u64, rounds: bool) -> u64 {
    if rounds { paths.div_ceil(CHUNK) * CHUNK } else { paths }
}

/// The paths that meet `conds` among `paths` paths of `engine`'s scenario
/// under `seed`, the `top` most plausible listed; with `min_hits = Some((n,
/// max_paths))`, in rounds of `paths` (rounded up to whole chunks) until `n`
/// paths met it or the next round would pass `max_paths`.
///
/// An error when no path meets the condition (it names the range of each
/// condition's metric that the paths reached) or a condition names a metric
/// the scenario does not record (it lists them).
pub fn given(
    engine: &Engine,
    seed: u64,
    paths: u64,
    conds: &[Condition],
    top: usize,
    min_hits: Option<(u64, u64)>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Given> {
    let sc = engine.scenario();
    let resolved = resolve(sc, conds)?;
    let params = sc.parameters();
    let uncertain: Vec<usize> = (0..params.len()).filter(|&k| !params[k].dist.is_fixed()).collect();
    let names = sc.metric_names();
    let mut quantities: Vec<Quantity> = uncertain.iter().map(|&k| Quantity::Param(k)).collect();
    quantities.extend((0..names.len()).map(Quantity::Metric));
    let round = round_paths(paths, min_hits.is_some());
    let rounds_max = min_hits.map_or(1, |(_, max_paths)| (max_paths / round).max(1));
    let fold = GivenFold {
        engine,
        keys: engine.keys(seed, round),
        conds: resolved.clone(),
        quantities,
        prior: Prior::new(sc),
        top,
    };
    let mut nodes: Vec<Node<Sums>> = Vec::new();
    let mut thread: Option<Thread> = None;
    let mut rounds = 0;
    for r in 0..rounds_max {
        let chunks: Range<u64> =
            if min_hits.is_none() { 0..u64::MAX } else { r * (round / CHUNK)..(r + 1) * (round / CHUNK) };
        let (n, t) = drive(&fold, &engine.kernel(), rounds_max * round, chunks, engine.watch(progress));
        engine.cancel().check()?;
        nodes.extend(n);
        if let Some(t) = t {
            match &mut thread {
                Some(a) => fold.merge_threads(a, t),
                None => thread = Some(t),
            }
        }
        rounds = r + 1;
        let hits = thread.as_ref().map_or(0, |t| t.hits);
        if min_hits.is_none_or(|(n, _)| hits >= n) {
            break;
        }
    }
    let done = rounds * round;
    let none = || Error::invalid("no paths to condition on");
    let sums = rebuild(done, nodes, &|a: &mut Sums, b| fold.merge(a, b))?.ok_or_else(none)?;
    let th = thread.ok_or_else(none)?;
    let condition = text(conds);
    if th.hits == 0 {
        let seen: Vec<String> = resolved
            .iter()
            .map(|&(k, _, _)| {
                let m = &sums.all[uncertain.len() + k];
                format!("{} ran from {:.4} to {:.4}", names[k], m.min(), m.max())
            })
            .collect();
        return Err(Error::invalid(format!(
            "no path of {done} met the condition `{condition}` ({}); loosen the condition, or run more paths (option `paths`, or option `min_hits` with option `max_paths`)",
            seen.join(", ")
        )));
    }
    let mut rows: Vec<GivenRow> = fold
        .quantities
        .iter()
        .enumerate()
        .map(|(q, quantity)| {
            let (kind, name) = match *quantity {
                Quantity::Param(k) => ("parameter", params[k].path.clone()),
                Quantity::Metric(k) => ("metric", names[k].clone()),
            };
            GivenRow::new(kind, name, (&sums.given[q], &th.given[q]), (&sums.all[q], &th.all[q]))
        })
        .collect();
    sort_rows(&mut rows);
    // The listed paths, replayed one by one for their values.
    let mut ws = engine.workspace();
    let top = th
        .top
        .iter()
        .map(|&(log_density, path)| {
            engine.path(&fold.keys, path, &mut ws);
            GivenPath {
                path,
                log_density,
                parameters: uncertain.iter().map(|&k| ws.params()[k]).collect(),
                metrics: resolved.iter().map(|&(k, _, _)| ws.metrics[k]).collect(),
            }
        })
        .collect();
    let p = th.hits as f64 / th.paths as f64;
    Ok(Given {
        condition,
        metrics: resolved.iter().map(|&(k, _, _)| names[k].clone()).collect(),
        parameters: uncertain.iter().map(|&k| params[k].path.clone()).collect(),
        paths: th.paths,
        hits: th.hits,
        probability: p,
        probability_se: (p * (1.0 - p) / th.paths as f64).sqrt(),
        rows,
        top,
        min_hits: min_hits.map(|(n, _)| (n, rounds)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_of_correlated_normals_is_the_bivariate_normal_density() {
        // Two normal growths with rank correlation 0.5: under the Gaussian
        // copula, a bivariate normal with Pearson r = 2 sin(pi 0.5 / 6).
        let text = "[scenario]\nname = \"t\"\nstart = \"2026Q1\"\nquarters = 4\n\
                    [providers.a]\nrecognition = 0.1\n\
                    other = { backlog = 10.0, bookings = 1.0, growth = { dist = \"normal\", mean = 0.1, sd = 0.2 } }\n\
                    [providers.b]\nrecognition = 0.1\n\
                    other = { backlog = 10.0, bookings = 1.0, growth = { dist = \"normal\", mean = 0.0, sd = 0.25 } }\n\
                    [[correlation]]\nparameters = [\"providers.a.other.growth\", \"providers.b.other.growth\"]\n\
                    rank = [[1.0, 0.5], [0.5, 1.0]]\n";
        let sc = crate::scenario::parse(text, "t.toml".as_ref()).unwrap();
        let prior = Prior::new(&sc);
        let params = sc.parameters();
        let ka = params.iter().position(|p| p.path == "providers.a.other.growth").unwrap();
        let kb = params.iter().position(|p| p.path == "providers.b.other.growth").unwrap();
        let r = 2.0 * (std::f64::consts::PI * 0.5 / 6.0).sin();
        for (x, y) in [(0.1, 0.0), (0.3, -0.4), (-0.2, 0.9), (0.5, 0.5)] {
            let (u, v) = ((x - 0.1) / 0.2, y / 0.25);
            let want = -(2.0 * std::f64::consts::PI).ln()
                - 0.2f64.ln()
                - 0.25f64.ln()
                - 0.5 * (1.0 - r * r).ln()
                - (u * u - 2.0 * r * u * v + v * v) / (2.0 * (1.0 - r * r));
            let got = prior.ln_density(&|k| {
                if k == ka {
                    x
                } else if k == kb {
                    y
                } else {
                    f64::NAN
                }
            });
            assert!((got - want).abs() < 1e-9, "({x}, {y}): {got} vs {want}");
        }
    }
}
