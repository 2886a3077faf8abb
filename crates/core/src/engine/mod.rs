//! The Monte Carlo engine: the quarter-by-quarter rules of MODEL.md.
//!
//! [`Engine::new`] flattens a validated [`Scenario`] into index tables,
//! names every random entity (see [`crate::rng`] and `docs/streams.md`) and
//! computes the plan baseline once. Two kernels simulate paths:
//!
//! - [`Engine::path`] (`scalar.rs`): one path at a time, the plain reference;
//! - the block kernel (`block.rs`): [`LANES`] or [`MAX_LANES`] paths side by
//!   side, their state laid out as structure of arrays so that every step is
//!   a loop over lanes that the compiler turns into SIMD, dispatched at run
//!   time to the widest instruction set the machine has.
//!
//! Both call the same scalar primitives (Philox, Box-Muller, `exp`) in the
//! same order, with no fused multiply-add, so they agree bit for bit (a
//! test checks it) on any machine. [`driver`] folds blocks of paths into
//! accumulators, in a fixed tree over fixed chunks of paths.

mod block;
mod design;
pub mod driver;
mod scalar;
pub mod seam;

use crate::dist::Dist;
use crate::math;
use crate::model::{DT, Role, Scenario};
use crate::rng;

pub use block::{Block, Kernel, LANES, MAX_LANES};
pub use driver::{Accumulator, BandAcc, CHUNK, Merger, PairedPartial, Partial, shard_chunks};
pub use scalar::{SampleRows, Switches, Trace, Workspace};
pub use seam::{Fold, Reference, Simulator, Watch, drive};

/// `sqrt(DT)`, exact.
const SQRT_DT: f64 = 0.5;

/// The number type of the books (the model's arithmetic on backlogs,
/// recognition rates, demand indices and bookings): single precision, with
/// double as the fallback for a path whose totals leave the range where
/// single precision keeps its full relative precision ([`Book::keeps`]).
pub(crate) trait Book:
    Copy
    + Default
    + PartialEq
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    /// `x` rounded to this type.
    fn of(x: f64) -> Self;
    /// The value in double precision (exact).
    fn wide(self) -> f64;
    /// Whether a provider's total at the horizon keeps full precision in
    /// this type: for single, 0 or a finite magnitude of at least
    /// [`NARROW_LEAST`] (a total that overflowed, or so small that its
    /// books may be subnormal, sends the path to double); double always.
    fn keeps(total: Self) -> bool;

    /// Whether every provider's total at the horizon (`horizon`, in
    /// double, converted exactly from this type) [`Book::keeps`].
    fn keeps_all(horizon: &[f64]) -> bool {
        horizon.iter().all(|t| Self::keeps(Self::of(*t)))
    }
}

/// A bound on the relative error that the books' single precision puts on
/// a provider's total backlog or revenue after `quarters` quarters of a
/// scenario with `customers` customers, on a path with `events`
/// renegotiation events, against the same steps in double:
/// `(3 T + 7 E + C + 10) 2^-24` (first order; the shock factors' own
/// error, `exp(vol eps)` in single, is common to both). Every step is a
/// product of non-negative factors (recognition keeps `1 - rho`, an event
/// keeps `1 - s`: two roundings each) or a sum of non-negative terms (one
/// rounding), so relative errors add along a book's history and never
/// cancel: a quarter adds at most 3 roundings to the largest (recognition,
/// the bookings' sum), an event at most 7 (what moves: the severity, the
/// migrated share and the destination's weight rounded, three products, a
/// sum); a new commitment in quarter `t` enters with at most `3 t + 4`
/// (the demand index's `3 t`: its drift factor rounded, two products a
/// quarter; the bookings rounded, the allocation rounded, two products);
/// a total sums `C + 1` books, a quarter's revenue takes 2 more (the rate
/// rounded, its product) (`docs/streams.md`).
pub fn books_relative_error(quarters: usize, customers: usize, events: usize) -> f64 {
    (3 * quarters + 7 * events + customers + 10) as f64 * f64::from(f32::EPSILON) / 2.0
}

/// The least nonzero magnitude of a single-precision total (2^-100): its
/// books' subnormal rounding (at most 2^-149 each) stays below 2^-48 of it.
pub(crate) const NARROW_LEAST: f32 = f32::from_bits(27 << 23);

impl Book for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn wide(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn keeps(total: f32) -> bool {
        total == 0.0 || (total.abs() >= NARROW_LEAST && total.abs() <= f32::MAX)
    }
}

impl Book for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn wide(self) -> f64 {
        self
    }
    #[inline(always)]
    fn keeps(_: f64) -> bool {
        true
    }
}

/// The plan baseline of MODEL.md: no renegotiation, no shift, every
/// parameter at its mean, every demand index at `exp(mu t dt)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Total backlog per quarter and provider, `[(t - 1) * providers + p]`.
    pub backlog_path: Vec<f64>,
    /// Revenue per quarter and provider, `[(t - 1) * providers + p]`.
    pub revenue_path: Vec<f64>,
    /// Total backlog per provider at the horizon.
    pub backlog: Vec<f64>,
    /// Revenue per provider summed over quarters 1..T.
    pub revenue: Vec<f64>,
    /// Every metric of [`Scenario::metric_names`] on the plan path.
    pub metrics: Vec<f64>,
}

/// Where one parameter's per-path value lives in the parameter vector.
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

/// The names of every random entity, in engine order; hashed with the seed
/// into Philox keys by [`Engine::keys`].
#[derive(Debug, Clone)]
struct Names {
    params: Vec<String>,
    /// The common factor, then every demand unit.
    shocks: Vec<String>,
    events: Vec<String>,
    severity: Vec<String>,
}

/// Philox keys of one run (one seed).
#[derive(Debug, Clone, PartialEq)]
pub struct Keys {
    design: design::DesignKeys,
    /// The rank groups of a correlated Latin hypercube (a memo of what the
    /// other keys determine).
    ranks: design::RankCache,
    params: Vec<[u32; 2]>,
    /// The keys of the quarterly sequences: every shock's, then every
    /// rule's event uniforms (the kernel draws them all at once).
    quarterly: Vec<[u32; 2]>,
    shock_count: usize,
    severity: Vec<[u32; 2]>,
}

impl Keys {
    /// These keys with uncertain parameter `k`'s taken from `other`: the
    /// parameter then has, path by path, the value it has under `other`'s
    /// seed (pick-freeze designs, `crate::analysis::sensitivity`).
    pub fn with_param_from(&self, other: &Keys, k: usize) -> Keys {
        let mut out = self.clone();
        out.params[k] = other.params[k];
        // Other parameters, other ranks.
        out.ranks = design::RankCache::default();
        out
    }

    /// These keys with every shock, event and severity key taken from
    /// `other`: the quarterly noise of `other`'s seed, the parameters of
    /// this one.
    pub fn with_noise_from(&self, other: &Keys) -> Keys {
        Keys {
            quarterly: other.quarterly.clone(),
            shock_count: other.shock_count,
            severity: other.severity.clone(),
            ..self.clone()
        }
    }

    /// The keys of the shocks' normals (the common factor, then each unit).
    fn shocks(&self) -> &[[u32; 2]] {
        &self.quarterly[..self.shock_count]
    }

    /// The keys of the rules' event uniforms.
    fn events(&self) -> &[[u32; 2]] {
        &self.quarterly[self.shock_count..]
    }
}

/// A scenario compiled for simulation.
#[derive(Debug, Clone)]
pub struct Engine<'a> {
    sc: &'a Scenario,
    np: usize,
    nc: usize,
    quarters: usize,
    /// Every parameter, in a fixed order.
    params: Vec<&'a Dist>,
    names: Names,
    recognition: Vec<Ix>,
    other_backlog: Vec<Ix>,
    /// Demand units: customers, then each provider's `other` book.
    demand: Vec<DemandIx>,
    /// `[c * np + p]`
    backlog: Vec<Ix>,
    shifts: Vec<ShiftIx<'a>>,
    /// Customers with at least one shift (their allocation moves).
    shifted: Vec<usize>,
    hazard: Vec<Ix>,
    migrate: Vec<Ix>,
    plan: Plan,
    kernel: Kernel,
    /// The parameters drawn through their quantile function (a sampling
    /// design other than plain Monte Carlo, or a correlation).
    design: design::Design,
    /// Read by the drivers before each chunk ([`Engine::with_cancel`]).
    cancel: crate::Cancel,
}

impl<'a> Engine<'a> {
    pub fn new(sc: &'a Scenario) -> Self {
        let (np, nc) = (sc.providers.len(), sc.customers.len());
        let list = sc.parameters();
        let units = sc.demand_units();
        let mut recognition = vec![0; np];
        let mut other_backlog = vec![0; np];
        let mut demand = vec![DemandIx { bookings: 0, growth: 0, volatility: 0, beta: 0 }; units.len()];
        let mut backlog = vec![0; nc * np];
        let mut hazard = vec![0; sc.rules.len()];
        let mut migrate = vec![0; sc.rules.len()];
        let mut shifts: Vec<ShiftIx> = Vec::new();
        for (c, cu) in sc.customers.iter().enumerate() {
            for s in &cu.shifts {
                let start = cu.allocation[s.from];
                shifts.push(ShiftIx { customer: c, from: s.from, start, target: 0, half_life: 0, to: &s.to });
            }
        }
        for (k, prm) in list.iter().enumerate() {
            match prm.role {
                Role::Recognition(p) => recognition[p] = k,
                Role::OtherBacklog(p) => other_backlog[p] = k,
                Role::Bookings(u) => demand[u].bookings = k,
                Role::Growth(u) => demand[u].growth = k,
                Role::Volatility(u) => demand[u].volatility = k,
                Role::Beta(u) => demand[u].beta = k,
                Role::Backlog(c, p) => backlog[c * np + p] = k,
                Role::ShiftTarget(s) => shifts[s].target = k,
                Role::ShiftHalfLife(s) => shifts[s].half_life = k,
                Role::Hazard(r) => hazard[r] = k,
                Role::Migrate(r) => migrate[r] = k,
            }
        }
        let params: Vec<&Dist> = list.iter().map(|p| p.dist).collect();
        let design = design::Design::new(sc, &params);
        let pnames: Vec<String> = list.iter().map(|p| format!("param:{}", p.key)).collect();
        let rule_at = |r: usize| sc.rule_name(r);
        let mut shifted: Vec<usize> = shifts.iter().map(|s: &ShiftIx| s.customer).collect();
        shifted.dedup();
        let names = Names {
            params: pnames,
            shocks: std::iter::once("shock:common".to_string())
                .chain(units.iter().map(|(at, _)| format!("shock:{at}")))
                .collect(),
            events: (0..sc.rules.len()).map(|r| format!("events:{}", rule_at(r))).collect(),
            severity: (0..sc.rules.len()).map(|r| format!("severity:{}", rule_at(r))).collect(),
        };
        let mut e = Engine {
            sc,
            np: sc.providers.len(),
            nc: sc.customers.len(),
            quarters: sc.quarters as usize,
            params,
            names,
            recognition,
            other_backlog,
            demand,
            backlog,
            shifts,
            shifted,
            hazard,
            migrate,
            plan: Plan {
                backlog_path: vec![],
                revenue_path: vec![],
                backlog: vec![],
                revenue: vec![],
                metrics: vec![],
            },
            kernel: Kernel::detect(),
            design,
            cancel: crate::Cancel::new(),
        };
        e.plan = e.compute_plan();
        e
    }

    /// The same engine with another build of the block kernel (one of
    /// [`Kernel::available`]), for tests and benchmarks that compare them.
    #[doc(hidden)]
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The build of the block kernel this engine runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The same engine stopped by `cancel`: its drivers start no chunk of
    /// paths once the token is cancelled, and what they return is then
    /// incomplete (the API functions of [`crate::api`] report
    /// [`crate::Error::Cancelled`] instead).
    pub fn with_cancel(mut self, cancel: &crate::Cancel) -> Self {
        self.cancel = cancel.clone();
        self
    }

    /// This engine's cancellation token.
    pub fn cancel(&self) -> &crate::Cancel {
        &self.cancel
    }

    /// Whether this engine's token was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    pub fn scenario(&self) -> &Scenario {
        self.sc
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Number of recorded metrics.
    pub fn metric_count(&self) -> usize {
        self.plan.metrics.len()
    }

    /// Provider-quarter cells of the fan and revenue bands.
    pub fn band_count(&self) -> usize {
        self.np * self.quarters
    }

    /// The Philox keys of every entity under `seed`, for a run of `paths`
    /// paths (the Latin hypercube's strata are fractions of it).
    pub fn keys(&self, seed: u64, paths: u64) -> Keys {
        let k = |v: &[String]| v.iter().map(|n| rng::key(seed, n)).collect();
        Keys {
            design: design::DesignKeys { lhs_paths: paths, sobol_seed: rng::mix(seed ^ 0x5eed_50b0_1000_0001) },
            ranks: design::RankCache::default(),
            params: k(&self.names.params),
            quarterly: k(&[self.names.shocks.as_slice(), &self.names.events].concat()),
            shock_count: self.names.shocks.len(),
            severity: k(&self.names.severity),
        }
    }

    /// The plan: every parameter at its mean, `D(t) = exp(mu t dt)`, no
    /// shift, no renegotiation; its books in single precision, or double
    /// where a total leaves single's range, with the operations and the
    /// fallback of the kernels, so that a path with every driver off is
    /// the plan bit for bit.
    fn compute_plan(&self) -> Plan {
        self.plan_in::<f32>().unwrap_or_else(|| self.plan_in::<f64>().expect("double keeps every total"))
    }

    /// [`Engine::compute_plan`] with books in `B`; `None` when a total
    /// left `B`'s range.
    fn plan_in<B: Book>(&self) -> Option<Plan> {
        let (np, nc, tq) = (self.np, self.nc, self.quarters);
        let pv: Vec<f64> = self.params.iter().map(|d| d.mean()).collect();
        let mut books = vec![B::default(); (nc + 1) * np];
        for (k, &b) in self.backlog.iter().enumerate() {
            books[k] = B::of(pv[b]);
        }
        for p in 0..np {
            books[nc * np + p] = B::of(pv[self.other_backlog[p]]);
        }
        let mut index = vec![B::of(1.0); self.demand.len()];
        let mut backlog_path = vec![0.0; tq * np];
        let mut revenue_path = vec![0.0; tq * np];
        let mut revenue = vec![0.0; np];
        for t in 1..=tq {
            for p in 0..np {
                let (rho, keep) = (B::of(pv[self.recognition[p]]), B::of(1.0 - pv[self.recognition[p]]));
                let mut q = B::default();
                for h in std::iter::once(nc).chain(0..nc) {
                    q += rho * books[h * np + p];
                    books[h * np + p] = keep * books[h * np + p];
                }
                revenue[p] += q.wide();
                revenue_path[(t - 1) * np + p] = q.wide();
            }
            for (u, d) in self.demand.iter().enumerate() {
                // D(t) = exp(mu t dt), as the kernels compound it: a
                // quarter's factor `exp(mu dt)` rounded to `B` (a unit
                // with no volatility follows the plan bit for bit).
                index[u] = index[u] * B::of(math::exp(pv[d.growth] * DT));
                let amount = B::of(pv[d.bookings]) * index[u];
                if u < nc {
                    for p in 0..np {
                        books[u * np + p] += amount * B::of(self.sc.customers[u].allocation[p]);
                    }
                } else {
                    books[nc * np + (u - nc)] += amount;
                }
            }
            for p in 0..np {
                let total = (0..nc).fold(books[nc * np + p], |s, h| s + books[h * np + p]);
                backlog_path[(t - 1) * np + p] = total.wide();
            }
        }
        if !B::keeps_all(&backlog_path[(tq - 1) * np..]) {
            return None;
        }
        let backlog = backlog_path[(tq - 1) * np..].to_vec();
        let fired = vec![0.0; self.sc.rules.len()];
        let books: Vec<f64> = books.iter().map(|b| b.wide()).collect();
        let metrics = self.metrics_from(&books, &backlog, &revenue, &backlog, &fired);
        Some(Plan { backlog_path, revenue_path, backlog, revenue, metrics })
    }

    /// The metrics of [`Scenario::metric_names`] from the state at the horizon.
    fn metrics_from(&self, books: &[f64], total: &[f64], revenue: &[f64], plan: &[f64], fired: &[f64]) -> Vec<f64> {
        let np = self.np;
        let mut m = Vec::with_capacity(self.sc.metric_names().len());
        m.extend_from_slice(total);
        m.extend_from_slice(revenue);
        for row in books[..self.nc * np].chunks_exact(np) {
            m.extend(row.iter().zip(total).map(|(b, t)| share(*b, *t)));
        }
        m.extend(plan.iter().zip(total).map(|(p, t)| p - t));
        m.extend_from_slice(fired);
        m
    }
}

/// A holder's share of a provider's backlog; 0 where the backlog is 0.
#[inline(always)]
fn share(b: f64, total: f64) -> f64 {
    if total > 0.0 { b / total } else { 0.0 }
}
