//! The Monte Carlo engine: the quarter-by-quarter rules of MODEL.md.
//!
//! [`Engine::new`] flattens a validated [`Scenario`] into index tables,
//! names every random entity (see [`crate::rng`] and `docs/streams.md`) and
//! computes the plan baseline once. Two kernels simulate paths:
//!
//! - [`Engine::path`] (`scalar.rs`): one path at a time, the plain reference;
//! - the block kernel (`block.rs`): [`LANES`] paths side by side, their state
//!   laid out as structure of arrays so that every step is a loop over lanes
//!   that the compiler turns into SIMD, dispatched at run time to the widest
//!   instruction set the machine has.
//!
//! Both call the same scalar primitives (Philox, Box-Muller, `exp`) in the
//! same order, with no fused multiply-add, so they agree bit for bit (a
//! test checks it) on any machine. [`driver`] folds blocks of paths into
//! accumulators, in a fixed tree over fixed chunks of paths.

mod block;
pub mod driver;
mod scalar;

use crate::dist::Dist;
use crate::math;
use crate::model::{DT, Scenario};
use crate::rng;

pub use block::{Block, LANES};
pub use driver::{Accumulator, BandAcc, CHUNK, Merger, PairedPartial, Partial, shard_chunks};
pub use scalar::Workspace;

/// `sqrt(DT)`, exact.
const SQRT_DT: f64 = 0.5;

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
#[derive(Debug, Clone)]
pub struct Keys {
    params: Vec<[u32; 2]>,
    shocks: Vec<[u32; 2]>,
    events: Vec<[u32; 2]>,
    severity: Vec<[u32; 2]>,
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
    kernel: block::Kernel,
}

impl<'a> Engine<'a> {
    pub fn new(sc: &'a Scenario) -> Self {
        let mut params: Vec<&Dist> = Vec::new();
        let mut pnames: Vec<String> = Vec::new();
        let mut ix = |d: &'a Dist, name: String| {
            params.push(d);
            pnames.push(format!("param:{name}"));
            params.len() - 1
        };
        let prov = |p: usize| sc.providers[p].name.as_str();
        let recognition =
            sc.providers.iter().map(|p| ix(&p.recognition, format!("providers.{}.recognition", p.name))).collect();
        let other_backlog =
            sc.providers.iter().map(|p| ix(&p.other_backlog, format!("providers.{}.other.backlog", p.name))).collect();
        let units: Vec<(String, &crate::model::Demand)> = sc
            .customers
            .iter()
            .map(|c| (format!("customers.{}", c.name), &c.demand))
            .chain(sc.providers.iter().map(|p| (format!("providers.{}.other", p.name), &p.other)))
            .collect();
        let demand = units
            .iter()
            .map(|(at, d)| DemandIx {
                bookings: ix(&d.bookings, format!("{at}.bookings")),
                growth: ix(&d.growth, format!("{at}.growth")),
                volatility: ix(&d.volatility, format!("{at}.volatility")),
                beta: ix(&d.beta, format!("{at}.beta")),
            })
            .collect();
        let mut backlog = Vec::new();
        for c in &sc.customers {
            for (p, d) in c.backlog.iter().enumerate() {
                backlog.push(ix(d, format!("customers.{}.backlog.{}", c.name, prov(p))));
            }
        }
        let mut shifts = Vec::new();
        for (c, cu) in sc.customers.iter().enumerate() {
            for s in &cu.shifts {
                let at = format!("customers.{}.shift[from={}]", cu.name, prov(s.from));
                shifts.push(ShiftIx {
                    customer: c,
                    from: s.from,
                    start: cu.allocation[s.from],
                    target: ix(&s.target, format!("{at}.target")),
                    half_life: ix(&s.half_life, format!("{at}.half_life")),
                    to: &s.to,
                });
            }
        }
        let rule_at = |r: &crate::model::Rule| {
            format!("renegotiation[{},{}]", sc.customers[r.customer].name, sc.providers[r.provider].name)
        };
        let hazard = sc.rules.iter().map(|r| ix(&r.hazard, format!("{}.hazard", rule_at(r)))).collect();
        let migrate = sc.rules.iter().map(|r| ix(&r.migrate, format!("{}.migrate", rule_at(r)))).collect();
        let mut shifted: Vec<usize> = shifts.iter().map(|s: &ShiftIx| s.customer).collect();
        shifted.dedup();
        let names = Names {
            params: pnames,
            shocks: std::iter::once("shock:common".to_string())
                .chain(units.iter().map(|(at, _)| format!("shock:{at}")))
                .collect(),
            events: sc.rules.iter().map(|r| format!("events:{}", rule_at(r))).collect(),
            severity: sc.rules.iter().map(|r| format!("severity:{}", rule_at(r))).collect(),
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
            plan: Plan { backlog_path: vec![], backlog: vec![], revenue: vec![], metrics: vec![] },
            kernel: block::Kernel::detect(),
        };
        e.plan = e.compute_plan();
        e
    }

    /// The same engine with the baseline (non-AVX2) build of the block
    /// kernel, for tests that compare the two.
    #[doc(hidden)]
    pub fn with_generic_kernel(mut self) -> Self {
        self.kernel = block::Kernel::Generic;
        self
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

    /// The Philox keys of every entity under `seed`.
    pub fn keys(&self, seed: u64) -> Keys {
        let k = |v: &[String]| v.iter().map(|n| rng::key(seed, n)).collect();
        Keys {
            params: k(&self.names.params),
            shocks: k(&self.names.shocks),
            events: k(&self.names.events),
            severity: k(&self.names.severity),
        }
    }

    /// The plan: every parameter at its mean, `D(t) = exp(mu t dt)`, no
    /// shift, no renegotiation.
    fn compute_plan(&self) -> Plan {
        let (np, nc, tq) = (self.np, self.nc, self.quarters);
        let pv: Vec<f64> = self.params.iter().map(|d| d.mean()).collect();
        let mut books = vec![0.0; (nc + 1) * np];
        for (k, &b) in self.backlog.iter().enumerate() {
            books[k] = pv[b];
        }
        for p in 0..np {
            books[nc * np + p] = pv[self.other_backlog[p]];
        }
        let mut backlog_path = vec![0.0; tq * np];
        let mut revenue = vec![0.0; np];
        for t in 1..=tq {
            for p in 0..np {
                let rho = pv[self.recognition[p]];
                let mut q = 0.0;
                for h in std::iter::once(nc).chain(0..nc) {
                    let r = rho * books[h * np + p];
                    books[h * np + p] -= r;
                    q += r;
                }
                revenue[p] += q;
            }
            for (u, d) in self.demand.iter().enumerate() {
                let amount = pv[d.bookings] * math::exp(pv[d.growth] * t as f64 * DT);
                if u < nc {
                    for p in 0..np {
                        books[u * np + p] += amount * self.sc.customers[u].allocation[p];
                    }
                } else {
                    books[nc * np + (u - nc)] += amount;
                }
            }
            for p in 0..np {
                backlog_path[(t - 1) * np + p] = (0..nc).fold(books[nc * np + p], |s, h| s + books[h * np + p]);
            }
        }
        let backlog = backlog_path[(tq - 1) * np..].to_vec();
        let fired = vec![0.0; self.sc.rules.len()];
        let metrics = self.metrics_from(&books, &backlog, &revenue, &backlog, &fired);
        Plan { backlog_path, backlog, revenue, metrics }
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
