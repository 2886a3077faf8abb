//! The Monte Carlo engine: the quarter-by-quarter rules of MODEL.md.
//!
//! [`Engine::new`] flattens a validated [`Scenario`] into index tables and
//! computes the plan baseline once. [`Engine::path`] simulates one path into a
//! reusable [`Workspace`]; [`Engine::run`] simulates many in parallel.
//!
//! Determinism: paths are grouped in fixed chunks of [`CHUNK`] paths; each
//! chunk is summarised on its own, and chunk results are merged by a binary
//! tree whose shape depends on the number of chunks alone. Which thread ran
//! a chunk, and when, cannot change a single bit of the result.

use std::ops::Range;

use rand::RngExt;
use rand_distr::StandardNormal;

use crate::dist::Dist;
use crate::math;
use crate::model::{DT, Scenario};
use crate::rng::{self, PathRng};
use crate::stats::{FAN_SUB_BUCKET_BITS, MetricAcc, Moments, Sketch};

/// Paths per chunk: the unit of parallel work and of merging.
pub const CHUNK: u64 = 2048;

/// The plan baseline of MODEL.md: no renegotiation, no shift, every
/// parameter at its mean, every demand index at `exp(mu t dt)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Total backlog per quarter and provider, `[(t - 1) * providers + p]`.
    pub backlog_path: Vec<f64>,
    /// Total backlog per provider at the horizon.
    pub backlog: Vec<f64>,
    /// Revenue per provider summed over quarters 1..T.
    pub revenue: Vec<f64>,
    /// Every metric of [`Scenario::metric_names`] on the plan path.
    pub metrics: Vec<f64>,
}

/// Where one parameter's per-path value lives in [`Workspace::pv`].
type Ix = usize;

#[derive(Debug, Clone)]
struct DemandIx {
    bookings: Ix,
    growth: Ix,
    volatility: Ix,
    beta: Ix,
}

#[derive(Debug, Clone)]
struct ShiftIx<'a> {
    customer: usize,
    from: usize,
    /// The customer's starting allocation to `from`.
    start: f64,
    target: Ix,
    half_life: Ix,
    /// Destination weights per provider.
    to: &'a [f64],
}

/// A scenario compiled for simulation.
#[derive(Debug, Clone)]
pub struct Engine<'a> {
    sc: &'a Scenario,
    np: usize,
    nc: usize,
    quarters: usize,
    /// Every parameter, in a fixed order; index = stream id offset.
    params: Vec<&'a Dist>,
    recognition: Vec<Ix>,
    other_backlog: Vec<Ix>,
    /// Demand units: customers, then each provider's `other` book.
    demand: Vec<DemandIx>,
    backlog: Vec<Ix>,
    shifts: Vec<ShiftIx<'a>>,
    hazard: Vec<Ix>,
    migrate: Vec<Ix>,
    plan: Plan,
}

/// One demand index and the constants of its quarterly update.
#[derive(Debug, Clone, Copy, Default)]
struct Unit {
    /// The demand index D.
    d: f64,
    /// `(mu - sigma^2 / 2) dt`
    drift: f64,
    /// `sigma sqrt(dt)`
    vol: f64,
    /// `beta` and `sqrt(1 - beta^2)`
    load: f64,
    idio: f64,
    bookings: f64,
}

/// Per-path scratch space and results, reused across paths.
#[derive(Debug, Clone)]
pub struct Workspace {
    pv: Vec<f64>,
    /// Demand units: customers, then each provider's `other` book.
    units: Vec<Unit>,
    /// This quarter's idiosyncratic shocks, one per unit.
    xi: Vec<f64>,
    /// Books `[h * np + p]`: one row per customer `h < nc`, then the row of
    /// the providers' `other` books (`h = nc`, only `[nc * np + p]` used at p).
    books: Vec<f64>,
    alloc: Vec<f64>,
    rho: Vec<f64>,
    p_fire: Vec<f64>,
    fired: Vec<u32>,
    sev_rng: Vec<Option<PathRng>>,
    revenue: Vec<f64>,
    horizon: Vec<f64>,
    /// Total backlog per quarter and provider, `[(t - 1) * providers + p]`.
    pub totals: Vec<f64>,
    /// The recorded metrics, in [`Scenario::metric_names`] order.
    pub metrics: Vec<f64>,
}

/// Summaries of a run, before statistics are read off them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accumulator {
    /// One per metric, in [`Scenario::metric_names`] order.
    pub metrics: Vec<MetricAcc>,
    /// Total backlog per quarter and provider, `[(t - 1) * providers + p]`.
    pub fan: Vec<Sketch>,
}

impl Accumulator {
    fn new(metrics: usize, fan: usize) -> Self {
        Accumulator { metrics: vec![MetricAcc::default(); metrics], fan: vec![Sketch::new(FAN_SUB_BUCKET_BITS); fan] }
    }

    /// Fold `o` into `self`; merging in a fixed order gives a fixed result.
    pub fn merge(&mut self, o: &Accumulator) {
        self.metrics.iter_mut().zip(&o.metrics).for_each(|(a, b)| a.merge(b));
        self.fan.iter_mut().zip(&o.fan).for_each(|(a, b)| a.merge(b));
    }

    /// Paths summarised.
    pub fn paths(&self) -> u64 {
        self.metrics.first().map_or(0, |m| m.moments.count())
    }

    /// Sketch buckets in use over all metrics (for the memory bound).
    pub fn buckets(&self) -> usize {
        self.metrics.iter().map(|m| &m.sketch).chain(&self.fan).map(|s| s.buckets()).sum()
    }
}

impl<'a> Engine<'a> {
    pub fn new(sc: &'a Scenario) -> Self {
        let mut params: Vec<&Dist> = Vec::new();
        let mut ix = |d: &'a Dist| {
            params.push(d);
            params.len() - 1
        };
        let recognition = sc.providers.iter().map(|p| ix(&p.recognition)).collect();
        let other_backlog = sc.providers.iter().map(|p| ix(&p.other_backlog)).collect();
        let demands = sc.customers.iter().map(|c| &c.demand).chain(sc.providers.iter().map(|p| &p.other));
        let demand = demands
            .map(|d| DemandIx {
                bookings: ix(&d.bookings),
                growth: ix(&d.growth),
                volatility: ix(&d.volatility),
                beta: ix(&d.beta),
            })
            .collect();
        let backlog = sc.customers.iter().flat_map(|c| c.backlog.iter()).map(&mut ix).collect();
        let shifts = sc
            .customers
            .iter()
            .enumerate()
            .flat_map(|(c, cu)| cu.shifts.iter().map(move |s| (c, s)))
            .map(|(c, s)| ShiftIx {
                customer: c,
                from: s.from,
                start: sc.customers[c].allocation[s.from],
                target: ix(&s.target),
                half_life: ix(&s.half_life),
                to: &s.to,
            })
            .collect();
        let hazard = sc.rules.iter().map(|r| ix(&r.hazard)).collect();
        let migrate = sc.rules.iter().map(|r| ix(&r.migrate)).collect();
        let mut e = Engine {
            sc,
            np: sc.providers.len(),
            nc: sc.customers.len(),
            quarters: sc.quarters as usize,
            params,
            recognition,
            other_backlog,
            demand,
            backlog,
            shifts,
            hazard,
            migrate,
            plan: Plan { backlog_path: vec![], backlog: vec![], revenue: vec![], metrics: vec![] },
        };
        e.plan = e.compute_plan();
        e
    }

    pub fn scenario(&self) -> &Scenario {
        self.sc
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn workspace(&self) -> Workspace {
        let (np, nc, nu, nr) = (self.np, self.nc, self.demand.len(), self.sc.rules.len());
        Workspace {
            pv: vec![0.0; self.params.len()],
            units: vec![Unit::default(); nu],
            xi: vec![0.0; nu],
            books: vec![0.0; (nc + 1) * np],
            alloc: vec![0.0; nc * np],
            rho: vec![0.0; np],
            p_fire: vec![0.0; nr],
            fired: vec![0; nr],
            sev_rng: vec![None; nr],
            revenue: vec![0.0; np],
            horizon: vec![0.0; np],
            totals: vec![0.0; np * self.quarters],
            metrics: vec![0.0; self.sc.metric_names().len()],
        }
    }

    /// Set the starting state from the per-path parameter values in `ws.pv`.
    fn start(&self, ws: &mut Workspace) {
        let dt_sqrt = DT.sqrt();
        for (unit, d) in ws.units.iter_mut().zip(&self.demand) {
            let (mu, sigma, beta) = (ws.pv[d.growth], ws.pv[d.volatility], ws.pv[d.beta]);
            *unit = Unit {
                d: 1.0,
                drift: (mu - sigma * sigma / 2.0) * DT,
                vol: sigma * dt_sqrt,
                load: beta,
                idio: (1.0 - beta * beta).max(0.0).sqrt(),
                bookings: ws.pv[d.bookings],
            };
        }
        for p in 0..self.np {
            ws.rho[p] = ws.pv[self.recognition[p]];
            ws.books[self.nc * self.np + p] = ws.pv[self.other_backlog[p]];
            ws.revenue[p] = 0.0;
        }
        for (k, &b) in self.backlog.iter().enumerate() {
            ws.books[k] = ws.pv[b];
        }
        for (c, cu) in self.sc.customers.iter().enumerate() {
            ws.alloc[c * self.np..(c + 1) * self.np].copy_from_slice(&cu.allocation);
        }
    }

    /// Recognise revenue on every book (step 3).
    #[inline]
    fn recognise(&self, ws: &mut Workspace) {
        let np = self.np;
        let (cust, other) = ws.books.split_at_mut(self.nc * np);
        for ((b, rev), rho) in other.iter_mut().zip(&mut ws.revenue).zip(&ws.rho) {
            let r = rho * *b;
            *b -= r;
            *rev += r;
        }
        for row in cust.chunks_exact_mut(np) {
            for ((b, rev), rho) in row.iter_mut().zip(&mut ws.revenue).zip(&ws.rho) {
                let r = rho * *b;
                *b -= r;
                *rev += r;
            }
        }
    }

    /// Add new commitments (step 5) and record each provider's total.
    #[inline]
    fn book(&self, ws: &mut Workspace, t: usize) {
        let (np, nc) = (self.np, self.nc);
        let (cust, other) = ws.books.split_at_mut(nc * np);
        let (cust_units, other_units) = ws.units.split_at(nc);
        for ((row, alloc), u) in cust.chunks_exact_mut(np).zip(ws.alloc.chunks_exact(np)).zip(cust_units) {
            let amount = u.bookings * u.d;
            for (b, a) in row.iter_mut().zip(alloc) {
                *b += amount * a;
            }
        }
        for (b, u) in other.iter_mut().zip(other_units) {
            *b += u.bookings * u.d;
        }
        let total = &mut ws.totals[(t - 1) * np..t * np];
        for (s, o) in total.iter_mut().zip(other.iter()) {
            *s = *o;
        }
        for row in cust.chunks_exact(np) {
            for (s, b) in total.iter_mut().zip(row) {
                *s += b;
            }
        }
    }

    /// Fill `ws.metrics` from the state at the horizon.
    fn record(&self, ws: &mut Workspace, plan_backlog: &[f64]) {
        let (np, tq) = (self.np, self.quarters);
        let horizon = &mut ws.horizon;
        horizon.clear();
        horizon.extend_from_slice(&ws.totals[(tq - 1) * np..]);
        let horizon = &*horizon;
        let m = &mut ws.metrics;
        m.clear();
        m.extend_from_slice(horizon);
        m.extend_from_slice(&ws.revenue);
        for books in ws.books[..self.nc * np].chunks_exact(np) {
            m.extend(books.iter().zip(horizon).map(|(b, t)| if *t > 0.0 { b / t } else { 0.0 }));
        }
        m.extend(plan_backlog.iter().zip(horizon).map(|(plan, t)| plan - t));
        m.extend(ws.fired.iter().map(|&f| f as f64));
    }

    fn compute_plan(&self) -> Plan {
        let mut ws = self.workspace();
        for (k, d) in self.params.iter().enumerate() {
            ws.pv[k] = d.mean();
        }
        self.start(&mut ws);
        let mu: Vec<f64> = self.demand.iter().map(|d| ws.pv[d.growth]).collect();
        for t in 1..=self.quarters {
            for (unit, m) in ws.units.iter_mut().zip(&mu) {
                unit.d = math::exp(m * t as f64 * DT);
            }
            self.recognise(&mut ws);
            self.book(&mut ws, t);
        }
        let tq = self.quarters;
        let backlog = ws.totals[(tq - 1) * self.np..].to_vec();
        self.record(&mut ws, &backlog);
        Plan { backlog_path: ws.totals, backlog, revenue: ws.revenue, metrics: ws.metrics }
    }

    /// Simulate path `i` under `seed`; results land in `ws.totals` and `ws.metrics`.
    pub fn path(&self, seed: u64, i: u64, ws: &mut Workspace) {
        for (k, d) in self.params.iter().enumerate() {
            ws.pv[k] = match d {
                Dist::Fixed(v) => *v,
                d => d.sample(&mut rng::stream(seed, i, rng::PARAM + k as u64)),
            };
        }
        self.start(ws);
        let np = self.np;
        for (r, &h) in self.hazard.iter().enumerate() {
            ws.p_fire[r] = 1.0 - math::exp(-ws.pv[h] * DT);
            ws.fired[r] = 0;
            ws.sev_rng[r] = None;
        }
        let mut shocks = rng::stream(seed, i, rng::SHOCKS);
        let mut events = rng::stream(seed, i, rng::EVENTS);
        for t in 1..=self.quarters {
            // 1. Shocks.
            // Draw first, then update: the generator's serial chain and the
            // exponentials overlap better as two loops.
            let z: f64 = shocks.sample(StandardNormal);
            for xi in ws.xi.iter_mut() {
                *xi = shocks.sample(StandardNormal);
            }
            for (u, xi) in ws.units.iter_mut().zip(&ws.xi) {
                let eps = u.load * z + u.idio * xi;
                u.d *= math::exp(u.drift + u.vol * eps);
            }
            // 2. Allocation.
            if !self.shifts.is_empty() {
                for s in &self.shifts {
                    let c = s.customer;
                    for (a, b) in ws.alloc[c * np..(c + 1) * np].iter_mut().zip(&self.sc.customers[c].allocation) {
                        *a = *b;
                    }
                }
                for s in &self.shifts {
                    // m(t) = (a_f - s*) (1 - 2^(-t / h))
                    let m = (s.start - ws.pv[s.target])
                        * (1.0 - math::exp(-(t as f64) / ws.pv[s.half_life] * std::f64::consts::LN_2));
                    let row = &mut ws.alloc[s.customer * np..(s.customer + 1) * np];
                    row[s.from] -= m;
                    for (a, w) in row.iter_mut().zip(s.to) {
                        *a += m * w;
                    }
                }
            }
            // 3. Recognition.
            self.recognise(ws);
            // 4. Renegotiation, in file order; the uniform is always drawn.
            for (r, rule) in self.sc.rules.iter().enumerate() {
                let u: f64 = events.random();
                if ws.fired[r] < rule.max_events && u < ws.p_fire[r] {
                    let sev = ws.sev_rng[r].get_or_insert_with(|| rng::stream(seed, i, rng::SEVERITY + r as u64));
                    let s = rule.severity.sample(sev);
                    let book = rule.customer * np;
                    let cut = s * ws.books[book + rule.provider];
                    ws.books[book + rule.provider] -= cut;
                    let moved = ws.pv[self.migrate[r]] * cut;
                    if moved != 0.0 {
                        for (q, w) in rule.to.iter().enumerate() {
                            ws.books[book + q] += moved * w;
                        }
                    }
                    ws.fired[r] += 1;
                }
            }
            // 5. Bookings.
            self.book(ws, t);
        }
        self.record(ws, &self.plan.backlog);
    }

    /// Summarise paths `range` of the run into a fresh accumulator.
    pub fn summarise_paths(&self, seed: u64, range: std::ops::Range<u64>, ws: &mut Workspace) -> Accumulator {
        let mut acc = Accumulator::new(ws.metrics.len(), ws.totals.len());
        for i in range {
            self.path(seed, i, ws);
            for (a, x) in acc.metrics.iter_mut().zip(&ws.metrics) {
                a.add(*x);
            }
            for (a, x) in acc.fan.iter_mut().zip(&ws.totals) {
                a.add(*x);
            }
        }
        acc
    }

    /// Simulate paths `0..paths` in parallel on the current rayon pool.
    /// `progress` is called with the number of paths each finished chunk held.
    pub fn run(&self, seed: u64, paths: u64, progress: &(dyn Fn(u64) + Sync)) -> Accumulator {
        let empty = || Accumulator::new(self.sc.metric_names().len(), self.np * self.quarters);
        tree_reduce(
            paths,
            &empty,
            &|range| self.summarise_paths(seed, range, &mut self.workspace()),
            &|a, b| a.merge(&b),
            progress,
        )
    }

    /// Paired differences `self - base`, path by path under the same seed
    /// (common random numbers), for every metric name both record. Returns
    /// the metric names and, per metric, the moments of the difference and
    /// of the base's values.
    pub fn run_paired(
        &self,
        base: &Engine,
        seed: u64,
        paths: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> (Vec<String>, Vec<Moments>, Vec<Moments>) {
        let (mine, theirs) = (self.sc.metric_names(), base.sc.metric_names());
        let pairs: Vec<(usize, usize, String)> = mine
            .iter()
            .enumerate()
            .filter_map(|(i, n)| theirs.iter().position(|m| m == n).map(|j| (i, j, n.clone())))
            .collect();
        let leaf = |range: Range<u64>| {
            let (mut wa, mut wb) = (self.workspace(), base.workspace());
            // The differences, then the base's values.
            let mut acc = vec![Moments::default(); 2 * pairs.len()];
            let (diff, theirs) = acc.split_at_mut(pairs.len());
            for i in range {
                self.path(seed, i, &mut wa);
                base.path(seed, i, &mut wb);
                for ((d, t), (a, b, _)) in diff.iter_mut().zip(theirs.iter_mut()).zip(&pairs) {
                    d.add(wa.metrics[*a] - wb.metrics[*b]);
                    t.add(wb.metrics[*b]);
                }
            }
            acc
        };
        let merge = |a: &mut Vec<Moments>, b: Vec<Moments>| a.iter_mut().zip(&b).for_each(|(x, y)| x.merge(y));
        let empty = || vec![Moments::default(); 2 * pairs.len()];
        let mut diffs = tree_reduce(paths, &empty, &leaf, &merge, progress);
        let theirs = diffs.split_off(pairs.len());
        (pairs.into_iter().map(|p| p.2).collect(), diffs, theirs)
    }
}

/// Summarise paths `0..paths` chunk by chunk with `leaf` and merge the chunk
/// results by a binary tree whose shape depends on the number of chunks
/// alone: halves run in parallel (rayon::join) and the left result absorbs
/// the right, so the floating-point result is the same on any number of
/// threads. At most one result per tree level per thread is alive.
pub(crate) fn tree_reduce<T: Send>(
    paths: u64,
    empty: &(dyn Fn() -> T + Sync),
    leaf: &(dyn Fn(Range<u64>) -> T + Sync),
    merge: &(dyn Fn(&mut T, T) + Sync),
    progress: &(dyn Fn(u64) + Sync),
) -> T {
    fn go<T: Send>(
        chunks: Range<u64>,
        paths: u64,
        leaf: &(dyn Fn(Range<u64>) -> T + Sync),
        merge: &(dyn Fn(&mut T, T) + Sync),
        progress: &(dyn Fn(u64) + Sync),
    ) -> T {
        if chunks.end - chunks.start == 1 {
            let c = chunks.start;
            let range = c * CHUNK..((c + 1) * CHUNK).min(paths);
            let n = range.end - range.start;
            let acc = leaf(range);
            progress(n);
            return acc;
        }
        let mid = chunks.start + (chunks.end - chunks.start) / 2;
        let (mut left, right) = rayon::join(
            || go(chunks.start..mid, paths, leaf, merge, progress),
            || go(mid..chunks.end, paths, leaf, merge, progress),
        );
        merge(&mut left, right);
        left
    }
    let chunks = paths.div_ceil(CHUNK);
    if chunks == 0 { empty() } else { go(0..chunks, paths, leaf, merge, progress) }
}
