//! The scalar reference kernel: one path at a time, written to read like
//! MODEL.md. The block kernel must agree with it bit for bit. The shocks
//! and the books are single precision (`docs/streams.md` has the error
//! bound); a path whose totals leave single precision's range runs again
//! with its books in double ([`Book`]).

use super::{Book, Engine, Keys, SQRT_DT, share};
use crate::math;
use crate::model::DT;
use crate::rng::{self, Stream};

/// Per-path scratch space and results, reused across paths.
#[derive(Debug, Clone)]
pub struct Workspace {
    pv: Vec<f64>,
    /// The designed parameters' values (see `design.rs`).
    designed: Vec<f64>,
    /// Per demand unit: `sigma sqrt(dt)`, `beta`, `sqrt(1 - beta^2)`, in
    /// single precision, as the shock's own arithmetic (the normals, its
    /// factor `exp(vol eps)`: `math::single`); D, the drift's factor and
    /// the bookings are in [`Books`].
    vol: Vec<f32>,
    load: Vec<f32>,
    idio: Vec<f32>,
    /// This group of four quarters' normals: the common factor, then each unit.
    normals: Vec<[f32; 4]>,
    /// This group of four quarters' event words, per rule.
    event_words: Vec<[u32; 4]>,
    /// The books in single precision, and in double for a path whose
    /// totals leave single precision's range ([`Book::keeps`]).
    narrow: Books<f32>,
    wide: Books<f64>,
    /// Allocations `[c * np + p]` after the shifts (double: a shift that
    /// moves nearly all of an allocation away subtracts nearly equal
    /// numbers; the books take each rounded once).
    alloc: Vec<f64>,
    amp: Vec<f64>,
    decay: Vec<f64>,
    decay_t: Vec<f64>,
    p_fire: Vec<f64>,
    migrate: Vec<f64>,
    fired: Vec<u32>,
    revenue: Vec<f64>,
    /// Total backlog per quarter and provider, `[(t - 1) * np + p]`.
    pub totals: Vec<f64>,
    /// Revenue per quarter and provider, `[(t - 1) * np + p]`.
    pub quarter_revenue: Vec<f64>,
    /// The recorded metrics, in [`crate::model::Scenario::metric_names`] order.
    pub metrics: Vec<f64>,
}

/// Books `[h * np + p]` (customers `h < nc`, then the `other` row
/// `h = nc`), each provider's recognition rate `rho` and its complement
/// `keep = 1 - rho` (taken in double, rounded once), and each demand
/// unit's index `D`, drift factor `exp((mu - sigma^2/2) dt)` (taken in
/// double, rounded once) and bookings, in `B`: every step of the model's
/// arithmetic on them (a quarter's `D *= drift exp(vol eps)`, recognition,
/// cuts, bookings, totals) is in `B`, each a product of non-negative
/// factors or a sum of non-negative terms, so that rounding errors add up
/// and never cancel large against small (see `docs/streams.md`). Revenue
/// is summed over quarters in double; the recorded totals and metrics are
/// double (exact conversions).
#[derive(Debug, Clone, Default)]
struct Books<B> {
    books: Vec<B>,
    rho: Vec<B>,
    keep: Vec<B>,
    d: Vec<B>,
    drift: Vec<B>,
    bookings: Vec<B>,
}

impl<B: Book> Books<B> {
    fn new(nc: usize, np: usize, nu: usize) -> Self {
        let z = |n: usize| vec![B::default(); n];
        Books { books: z((nc + 1) * np), rho: z(np), keep: z(np), d: z(nu), drift: z(nu), bookings: z(nu) }
    }
}

/// What happened on one path, quarter by quarter ([`Engine::path_traced`]);
/// the backlog and revenue are the workspace's `totals` and
/// `quarter_revenue`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// New commitments per demand unit (customers, then each provider's
    /// other book), `[(t - 1) * units + u]`.
    pub bookings: Vec<f64>,
    /// Each customer's allocation of its new commitments after the shifts,
    /// `[(t - 1) * customers * providers + c * providers + p]`.
    pub allocation: Vec<f64>,
    /// Per renegotiation rule, `[(t - 1) * rules + r]`: whether it fired,
    /// the severity drawn, the amount cut from the book and the part of it
    /// that moved to the destinations (0 when it did not fire).
    pub fired: Vec<bool>,
    pub severity: Vec<f64>,
    pub cut: Vec<f64>,
    pub moved: Vec<f64>,
}

/// Which drivers of the risk a path is simulated with
/// ([`Engine::path_with`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Switches {
    /// Per-path parameters drawn (off: every parameter at its mean).
    pub params: bool,
    /// Demand shocks (off: every demand index on its expected path).
    pub shocks: bool,
    /// Per shift, in [`crate::model::Scenario::parameters`]' shift order.
    pub shifts: Vec<bool>,
    /// Per renegotiation rule.
    pub rules: Vec<bool>,
}

impl Workspace {
    /// The per-path parameters of the last path simulated, in the order of
    /// [`crate::model::Scenario::parameters`].
    pub fn params(&self) -> &[f64] {
        &self.pv
    }
}

impl Engine<'_> {
    pub fn workspace(&self) -> Workspace {
        let (np, nc, nu, nr, ns) = (self.np, self.nc, self.demand.len(), self.sc.rules.len(), self.shifts.len());
        let z = |n: usize| vec![0.0; n];
        Workspace {
            pv: z(self.params.len()),
            designed: z(self.design.params.len()),
            vol: vec![0.0; nu],
            load: vec![0.0; nu],
            idio: vec![0.0; nu],
            normals: vec![[0.0; 4]; nu + 1],
            event_words: vec![[0; 4]; nr],
            narrow: Books::new(nc, np, nu),
            wide: Books::new(nc, np, nu),
            alloc: z(nc * np),
            amp: z(ns),
            decay: z(ns),
            decay_t: z(ns),
            p_fire: z(nr),
            migrate: z(nr),
            fired: vec![0; nr],
            revenue: z(np),
            totals: z(np * self.quarters),
            quarter_revenue: z(np * self.quarters),
            metrics: z(self.metric_count()),
        }
    }

    /// Simulate path `i` with the run's `keys`; results land in
    /// `ws.totals`, `ws.quarter_revenue` and `ws.metrics`.
    pub fn path(&self, keys: &Keys, i: u64, ws: &mut Workspace) {
        self.path_with(keys, i, ws, None);
    }

    /// [`Engine::path`] with some drivers of the risk switched off
    /// (`None`: all on, the path itself). With every driver off the path
    /// is the plan, bit for bit.
    pub fn path_with(&self, keys: &Keys, i: u64, ws: &mut Workspace, on: Option<&Switches>) {
        self.path_traced_with(keys, i, ws, on, None);
    }

    /// [`Engine::path`], also recording what happened each quarter into
    /// `trace` (the story of one path: `backlog-risk path`).
    pub fn path_traced(&self, keys: &Keys, i: u64, ws: &mut Workspace, trace: &mut Trace) {
        let (nu, nc, np, nr) = (self.demand.len(), self.nc, self.np, self.sc.rules.len());
        let q = self.quarters;
        trace.bookings = vec![0.0; q * nu];
        trace.allocation = vec![0.0; q * nc * np];
        trace.fired = vec![false; q * nr];
        trace.severity = vec![0.0; q * nr];
        trace.cut = vec![0.0; q * nr];
        trace.moved = vec![0.0; q * nr];
        self.path_traced_with(keys, i, ws, None, Some(trace));
    }

    /// [`Engine::path`] with its books in double precision throughout:
    /// what the single-precision books are held to (within
    /// [`super::books_relative_error`]); a path whose totals leave single
    /// precision's range is this path.
    pub fn path_double(&self, keys: &Keys, i: u64, ws: &mut Workspace) {
        self.path_double_with(keys, i, ws, None);
    }

    /// [`Engine::path_double`] with some drivers switched off (what
    /// [`Engine::path_with`] gives for a path whose totals leave single
    /// precision's range).
    pub(super) fn path_double_with(&self, keys: &Keys, i: u64, ws: &mut Workspace, on: Option<&Switches>) {
        self.draw(keys, i, ws, on);
        self.simulate_in(keys, i, ws, |ws| &mut ws.wide, on, None);
    }

    /// [`Engine::simulate`] on the workspace's books of type `B`, which
    /// `books` picks.
    fn simulate_in<B: Book>(
        &self,
        keys: &Keys,
        i: u64,
        ws: &mut Workspace,
        books: fn(&mut Workspace) -> &mut Books<B>,
        on: Option<&Switches>,
        trace: Option<&mut Trace>,
    ) -> bool {
        let mut bk = std::mem::take(books(ws));
        let keeps = self.simulate(keys, i, ws, &mut bk, on, trace);
        *books(ws) = bk;
        keeps
    }

    fn path_traced_with(
        &self,
        keys: &Keys,
        i: u64,
        ws: &mut Workspace,
        on: Option<&Switches>,
        mut trace: Option<&mut Trace>,
    ) {
        self.draw(keys, i, ws, on);
        if !self.simulate_in(keys, i, ws, |ws| &mut ws.narrow, on, trace.as_deref_mut()) {
            self.simulate_in(keys, i, ws, |ws| &mut ws.wide, on, trace);
        }
    }

    /// Path `i`'s parameters into `ws`.
    fn draw(&self, keys: &Keys, i: u64, ws: &mut Workspace, on: Option<&Switches>) {
        let on_params = on.is_none_or(|s| s.params);
        for (k, d) in self.params.iter().enumerate() {
            if !on_params {
                ws.pv[k] = d.mean();
            } else if !self.design.owns[k] {
                ws.pv[k] = d.sample(&mut Stream::new(keys.params[k], i, 0));
            }
        }
        if on_params && !self.design.is_empty() {
            self.design.fill(&self.params, keys, i, &mut ws.designed);
            for (j, &k) in self.design.params.iter().enumerate() {
                ws.pv[k] = ws.designed[j];
            }
        }
    }

    /// The path from its drawn parameters on, its books in `B` (`bk`);
    /// false when a total left the range where `B` keeps full precision
    /// (the results are then not to be used).
    fn simulate<B: Book>(
        &self,
        keys: &Keys,
        i: u64,
        ws: &mut Workspace,
        bk: &mut Books<B>,
        on: Option<&Switches>,
        mut trace: Option<&mut Trace>,
    ) -> bool {
        let (np, nc) = (self.np, self.nc);
        let on_shocks = on.is_none_or(|s| s.shocks);
        let pv = &ws.pv;
        for (u, d) in self.demand.iter().enumerate() {
            let (mu, sigma, beta) = (pv[d.growth], pv[d.volatility], pv[d.beta]);
            bk.d[u] = B::of(1.0);
            bk.drift[u] = B::of(math::exp((mu - sigma * sigma / 2.0) * DT));
            ws.vol[u] = (sigma * SQRT_DT) as f32;
            ws.load[u] = beta as f32;
            ws.idio[u] = (1.0 - beta * beta).max(0.0).sqrt() as f32;
            bk.bookings[u] = B::of(pv[d.bookings]);
        }
        for p in 0..np {
            bk.rho[p] = B::of(pv[self.recognition[p]]);
            bk.keep[p] = B::of(1.0 - pv[self.recognition[p]]);
            bk.books[nc * np + p] = B::of(pv[self.other_backlog[p]]);
            ws.revenue[p] = 0.0;
        }
        for (k, &b) in self.backlog.iter().enumerate() {
            bk.books[k] = B::of(pv[b]);
        }
        for (c, cu) in self.sc.customers.iter().enumerate() {
            ws.alloc[c * np..(c + 1) * np].copy_from_slice(&cu.allocation);
        }
        for (s, sh) in self.shifts.iter().enumerate() {
            ws.amp[s] = sh.start - pv[sh.target];
            ws.decay[s] = math::exp(-std::f64::consts::LN_2 / pv[sh.half_life]);
            ws.decay_t[s] = 1.0;
        }
        for (r, (&h, &m)) in self.hazard.iter().zip(&self.migrate).enumerate() {
            ws.p_fire[r] = 1.0 - math::exp(-pv[h] * DT);
            ws.migrate[r] = pv[m];
            ws.fired[r] = 0;
        }
        for t in 1..=self.quarters {
            let j = (t - 1) % 4;
            if j == 0 {
                for (n, key) in ws.normals.iter_mut().zip(keys.shocks()) {
                    *n = math::single::normals4(rng::quarterly(*key, i, t as u32));
                }
                for (w, key) in ws.event_words.iter_mut().zip(keys.events()) {
                    *w = rng::quarterly(*key, i, t as u32);
                }
            }
            // 1. Shocks (switched off: every index on its expected path,
            // compounded as the plan compounds it).
            let z = ws.normals[0][j];
            for u in 0..self.demand.len() {
                if on_shocks {
                    let eps = ws.load[u] * z + ws.idio[u] * ws.normals[1 + u][j];
                    let shock = B::of(f64::from(math::single::exp(ws.vol[u] * eps)));
                    bk.d[u] = bk.d[u] * (bk.drift[u] * shock);
                } else {
                    bk.d[u] = bk.d[u] * B::of(math::exp(ws.pv[self.demand[u].growth] * DT));
                }
            }
            // 2. Allocation: the rows of customers with shifts start again from
            // their base allocation and every shift moves its share.
            for &c in &self.shifted {
                ws.alloc[c * np..(c + 1) * np].copy_from_slice(&self.sc.customers[c].allocation);
            }
            for (s, sh) in self.shifts.iter().enumerate() {
                if on.is_some_and(|o| !o.shifts[s]) {
                    continue;
                }
                ws.decay_t[s] *= ws.decay[s];
                let m = ws.amp[s] * (1.0 - ws.decay_t[s]);
                let row = &mut ws.alloc[sh.customer * np..(sh.customer + 1) * np];
                row[sh.from] -= m;
                for (a, w) in row.iter_mut().zip(sh.to) {
                    *a += m * w;
                }
            }
            // 3. Recognition: per provider, the other book, then each
            // customer: `rho B` recognised, `(1 - rho) B` kept.
            for p in 0..np {
                let (rho, keep) = (bk.rho[p], bk.keep[p]);
                let mut q = rho * bk.books[nc * np + p];
                bk.books[nc * np + p] = keep * bk.books[nc * np + p];
                for c in 0..nc {
                    q += rho * bk.books[c * np + p];
                    bk.books[c * np + p] = keep * bk.books[c * np + p];
                }
                ws.quarter_revenue[(t - 1) * np + p] = q.wide();
                ws.revenue[p] += q.wide();
            }
            // 4. Renegotiation, in file order.
            for (r, rule) in self.sc.rules.iter().enumerate() {
                if on.is_some_and(|o| !o.rules[r]) {
                    continue;
                }
                let u = rng::unit(ws.event_words[r][j]);
                if ws.fired[r] < rule.max_events && u < ws.p_fire[r] {
                    let s = rule.severity.sample(&mut Stream::new(keys.severity[r], i, ws.fired[r]));
                    let row = &mut bk.books[rule.customer * np..(rule.customer + 1) * np];
                    let (amount, moved) = cut(row, rule, s, ws.migrate[r]);
                    if let Some(tr) = trace.as_deref_mut() {
                        let at = (t - 1) * self.sc.rules.len() + r;
                        (tr.fired[at], tr.severity[at], tr.cut[at], tr.moved[at]) =
                            (true, s, amount.wide(), moved.wide());
                    }
                    ws.fired[r] += 1;
                }
            }
            // 5. Bookings, then each provider's total: other book first.
            if let Some(tr) = trace.as_deref_mut() {
                let nu = self.demand.len();
                for u in 0..nu {
                    tr.bookings[(t - 1) * nu + u] = (bk.bookings[u] * bk.d[u]).wide();
                }
                tr.allocation[(t - 1) * nc * np..t * nc * np].copy_from_slice(&ws.alloc);
            }
            for c in 0..nc {
                let amount = bk.bookings[c] * bk.d[c];
                for p in 0..np {
                    bk.books[c * np + p] += amount * B::of(ws.alloc[c * np + p]);
                }
            }
            for p in 0..np {
                bk.books[nc * np + p] += bk.bookings[nc + p] * bk.d[nc + p];
                let mut total = bk.books[nc * np + p];
                for c in 0..nc {
                    total += bk.books[c * np + p];
                }
                ws.totals[(t - 1) * np + p] = total.wide();
            }
        }
        let tq = self.quarters;
        let m = &mut ws.metrics;
        m.clear();
        let horizon = &ws.totals[(tq - 1) * np..];
        // An overflow stays infinite or NaN to the horizon: the books only
        // grow by sums and shrink by factors.
        let keeps = B::keeps_all(horizon);
        m.extend_from_slice(horizon);
        m.extend_from_slice(&ws.revenue);
        for row in bk.books[..nc * np].chunks_exact(np) {
            m.extend(row.iter().zip(horizon).map(|(b, t)| share(b.wide(), *t)));
        }
        m.extend(self.plan.backlog.iter().zip(horizon).map(|(p, t)| p - t));
        m.extend(ws.fired.iter().map(|&f| f64::from(f)));
        keeps
    }
}

/// A renegotiation event on one customer's row of books: cut `s` of the
/// rule's book (which keeps `1 - s` of it), move `migrate` of the cut to
/// the destinations (in the books' type); the amounts cut and moved.
#[inline]
fn cut<B: Book>(row: &mut [B], rule: &crate::model::Rule, s: f64, migrate: f64) -> (B, B) {
    let cut = B::of(s) * row[rule.provider];
    row[rule.provider] = B::of(1.0 - s) * row[rule.provider];
    let moved = B::of(migrate) * cut;
    if moved != B::default() {
        for (b, w) in row.iter_mut().zip(&rule.to) {
            *b += moved * B::of(*w);
        }
    }
    (cut, moved)
}

/// [`cut`] on lane `l` of a block's row of books, with the same operations.
#[inline]
pub(super) fn cut_lane<const L: usize>(
    row: &mut [[f32; L]],
    l: usize,
    rule: &crate::model::Rule,
    s: f64,
    migrate: f64,
) {
    let cut = s as f32 * row[rule.provider][l];
    row[rule.provider][l] *= (1.0 - s) as f32;
    let moved = migrate as f32 * cut;
    if moved != 0.0 {
        for (b, w) in row.iter_mut().zip(&rule.to) {
            b[l] += moved * *w as f32;
        }
    }
}

/// The sampled parameters and recorded metrics of the first paths of a run,
/// path by path (`samples.csv`): simulated again on demand by the scalar
/// kernel, one row at a time, so memory does not grow with the rows.
pub struct SampleRows<'e, 'a> {
    engine: &'e Engine<'a>,
    keys: Keys,
    ws: Workspace,
    /// Positions of the uncertain parameters in the parameter list.
    uncertain: Vec<usize>,
    next: u64,
    end: u64,
}

impl<'a> Engine<'a> {
    /// Rows for paths `0..rows` of a run of `paths` paths with `keys`.
    pub fn sample_rows(&self, keys: Keys, paths: u64, rows: u64) -> SampleRows<'_, 'a> {
        let uncertain = (0..self.params.len()).filter(|k| !self.params[*k].is_fixed()).collect();
        SampleRows { engine: self, keys, ws: self.workspace(), uncertain, next: 0, end: rows.min(paths) }
    }
}

impl SampleRows<'_, '_> {
    /// `path`, every uncertain parameter by its dotted path, every metric.
    pub fn header(&self) -> Vec<String> {
        let sc = self.engine.sc;
        let params = sc.parameters();
        let mut h = vec!["path".to_string()];
        h.extend(self.uncertain.iter().map(|k| params[*k].path.clone()));
        h.extend(sc.metric_names());
        h
    }
}

impl Iterator for SampleRows<'_, '_> {
    /// The path and its values, in [`SampleRows::header`] order after `path`.
    type Item = (u64, Vec<f64>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let i = self.next;
        self.next += 1;
        self.engine.path(&self.keys, i, &mut self.ws);
        let mut row: Vec<f64> = self.uncertain.iter().map(|k| self.ws.pv[*k]).collect();
        row.extend_from_slice(&self.ws.metrics);
        Some((i, row))
    }
}
