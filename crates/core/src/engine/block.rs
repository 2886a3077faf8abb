//! The block kernel: [`LANES`] paths side by side.
//!
//! Every per-path quantity is a `[f64; L]` or, where the scalar reference
//! computes in single precision (the shocks, the books), a `[f32; L]`
//! (structure of arrays), and every step a loop over lanes, which the
//! compiler vectorises. The steps and the order of every floating-point
//! operation are those of the scalar reference (`scalar.rs`); the rare
//! branches (a renegotiation event, a parameter drawn by a rejection
//! sampler, a path whose totals leave single precision's range) run lane
//! by lane with the same scalar code. The kernel is compiled three times,
//! for the baseline x86-64 (SSE2), for AVX2 and for AVX-512, and
//! [`Kernel::detect`] picks the widest the CPU has at run time; none uses
//! fused multiply-add, so all give the same bits.

// Lane loops index several arrays by the same lane: that is the point.
#![allow(clippy::needless_range_loop)]

use super::{Book, Engine, Keys, SQRT_DT, Switches, Workspace, scalar::cut_lane, share};
use crate::math;
use crate::model::DT;
use crate::rng::{self, Stream};

/// Paths side by side in a [`Block`] by default (the block of the baseline
/// and AVX2 kernels, and of the commands that read blocks themselves).
pub const LANES: usize = 16;
/// The most paths side by side: the block of the AVX-512 kernel
/// ([`Kernel::lanes`]).
pub const MAX_LANES: usize = 32;
const _: () = assert!(LANES.is_multiple_of(16), "the AVX-512 Philox fills sixteen lanes at a time");
const _: () = assert!(MAX_LANES <= 32, "a block's firing lanes are the bits of a u32");

/// Events per rule whose severities a block draws lane-wise, once a lane
/// needs one (later events draw lane by lane from their streams).
const PREDRAWN: usize = 3;

/// [`severity_tries`] of a later event (`k >= 1`), out of line and
/// compiled for the kernel's instruction set: it runs only in blocks where
/// a lane fires a rule again, and inlined it would weigh on the kernel's
/// hot loop.
#[cold]
#[inline(never)]
fn later_severities<const ISA: u8, const L: usize>(
    dist: &crate::dist::Dist,
    first: u64,
    k: u32,
    key: [u32; 2],
    out: &mut [f64; L],
) -> u32 {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn avx2<const L: usize>(dist: &crate::dist::Dist, first: u64, k: u32, key: [u32; 2], out: &mut [f64; L]) -> u32 {
        severity_tries::<AVX2, L>(dist, first, k, key, out)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f,avx512dq,avx512vl")]
    fn avx512<const L: usize>(dist: &crate::dist::Dist, first: u64, k: u32, key: [u32; 2], out: &mut [f64; L]) -> u32 {
        severity_tries::<AVX512, L>(dist, first, k, key, out)
    }
    match ISA {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `ISA` is AVX512 only in the kernel's AVX-512 copy, run
        // only on CPUs with it.
        AVX512 => unsafe { avx512::<L>(dist, first, k, key, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: likewise for AVX2.
        AVX2 => unsafe { avx2::<L>(dist, first, k, key, out) },
        _ => severity_tries::<GENERIC, L>(dist, first, k, key, out),
    }
}

/// Every lane's first try of the severity of event `k` of a rule into
/// `out`, from the first words of `Stream::new(key, path, k)` (as the
/// scalar kernel's `sample` takes them); bit `l` of the result says
/// whether lane `l`'s try is final.
#[inline(always)]
fn severity_tries<const ISA: u8, const L: usize>(
    dist: &crate::dist::Dist,
    first: u64,
    k: u32,
    key: [u32; 2],
    out: &mut [f64; L],
) -> u32 {
    let w = philox::<ISA, L>(first, 0, rng::TAG_STREAM + 2 * k, key);
    let ok = dist.first_try_lanes(&w, out);
    (0..L).fold(0, |m, l| m | (u32::from(ok[l]) << l))
}

/// The instruction sets a copy of the kernel is compiled for (the `ISA`
/// parameter of [`Engine::block_impl`]).
const GENERIC: u8 = 0;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const AVX2: u8 = 1;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const AVX512: u8 = 2;

/// Which compiled copy of the kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Baseline x86-64 (SSE2), or whatever the target has elsewhere.
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512 F, DQ and VL (with AVX2).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The widest kernel this CPU runs. `BACKLOG_RISK_NO_SIMD` set in the
    /// environment picks the baseline build, `BACKLOG_RISK_NO_AVX512` at most
    /// AVX2 (to compare builds; the results are the same).
    pub fn detect() -> Self {
        let off = |var: &str| std::env::var_os(var).is_some();
        if off("BACKLOG_RISK_NO_SIMD") {
            return Kernel::Generic;
        }
        let usable = Self::available();
        #[cfg(target_arch = "x86_64")]
        if off("BACKLOG_RISK_NO_AVX512") {
            return if usable.contains(&Kernel::Avx2) { Kernel::Avx2 } else { Kernel::Generic };
        }
        *usable.last().expect("the generic kernel runs everywhere")
    }

    /// Every kernel this CPU can run, narrowest first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut out = vec![Kernel::Generic];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                out.push(Kernel::Avx2);
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512dq")
                    && std::is_x86_feature_detected!("avx512vl")
                {
                    out.push(Kernel::Avx512);
                }
            }
        }
        out
    }

    /// Paths side by side in the driver's blocks for this kernel:
    /// [`MAX_LANES`] under AVX-512 (two 16-lane registers per quantity keep
    /// both of its vector units busy); the narrower builds run out of
    /// registers at that width and take [`LANES`]. The results do not
    /// depend on it.
    pub fn lanes(self) -> usize {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => MAX_LANES,
            _ => LANES,
        }
    }
}

/// The state and results of one block of `L` paths, reused across blocks.
#[derive(Debug, Clone)]
pub struct Block<const L: usize = LANES> {
    pv: Vec<[f64; L]>,
    /// The parameters a block draws, with their keys, and the first words
    /// of each one's stream.
    drawn: Vec<usize>,
    drawn_keys: Vec<[u32; 2]>,
    param_words: Vec<[[u32; L]; 4]>,
    /// One lane's designed parameters (see `design.rs`).
    designed: Vec<f64>,
    /// Each demand unit's index D and its drift's factor
    /// `exp((mu - sigma^2/2) dt)` (taken in double, rounded once), in single
    /// precision as the shock's own arithmetic and the books, as the scalar
    /// reference's.
    d: Vec<[f32; L]>,
    drift_factor: Vec<[f32; L]>,
    vol: Vec<[f32; L]>,
    load: Vec<[f32; L]>,
    idio: Vec<[f32; L]>,
    bookings: Vec<[f32; L]>,
    normals: Vec<[[f32; L]; 4]>,
    /// The words of a group of four quarters: every shock's, then every
    /// rule's event uniforms (as [`Keys`]' quarterly keys).
    words: Vec<[[u32; L]; 4]>,
    /// Books, recognition rates and their complements in single
    /// precision, allocations in double, as the scalar reference's.
    books: Vec<[f32; L]>,
    alloc: Vec<[f64; L]>,
    /// The allocations rounded to single, as the bookings use them (a
    /// customer's row rounded again each quarter only where it shifts).
    alloc32: Vec<[f32; L]>,
    rho: Vec<[f32; L]>,
    keep: Vec<[f32; L]>,
    amp: Vec<[f64; L]>,
    decay: Vec<[f64; L]>,
    decay_t: Vec<[f64; L]>,
    p_fire: Vec<[f64; L]>,
    migrate: Vec<[f64; L]>,
    fired: Vec<[u32; L]>,
    /// Per rule, the severity of every lane's first event from the first
    /// words of its stream ([`crate::dist::Dist::first_try_lanes`]), taken
    /// when a lane of the block first fires; bit `l` of `severity_ok` says
    /// whether lane `l`'s try is final.
    severity: Vec<[f64; L]>,
    severity_ok: Vec<u32>,
    severity_ready: Vec<bool>,
    /// The same for events `1 .. PREDRAWN` of each rule, at
    /// `r * (PREDRAWN - 1) + k - 1`, drawn out of line (most blocks of most
    /// scenarios never need them).
    later: Vec<[f64; L]>,
    later_ok: Vec<u32>,
    later_ready: Vec<bool>,
    revenue: Vec<[f64; L]>,
    /// Total backlog per quarter and provider, `[(t - 1) * np + p][lane]`.
    pub totals: Vec<[f64; L]>,
    /// Revenue per quarter and provider, `[(t - 1) * np + p][lane]`.
    pub quarter_revenue: Vec<[f64; L]>,
    /// The recorded metrics, `[metric][lane]`.
    pub metrics: Vec<[f64; L]>,
    /// The scalar reference's workspace for the lanes whose totals leave
    /// single precision's range ([`Book::keeps`]), made when first needed.
    spill: Option<Box<Workspace>>,
}

impl<const L: usize> Block<L> {
    /// Metric `k` of every lane.
    pub fn metric(&self, k: usize) -> &[f64; L] {
        &self.metrics[k]
    }

    /// Parameter `k` (in [`crate::model::Scenario::parameters`] order) of
    /// every lane.
    pub fn param(&self, k: usize) -> &[f64; L] {
        &self.pv[k]
    }

    /// Lane `l` set to the path the scalar reference left in `ws` (its
    /// parameters, bands and metrics; what the folds read).
    pub fn set_lane(&mut self, l: usize, ws: &super::Workspace) {
        self.pv.iter_mut().zip(ws.params()).for_each(|(x, v)| x[l] = *v);
        self.totals.iter_mut().zip(&ws.totals).for_each(|(x, v)| x[l] = *v);
        self.quarter_revenue.iter_mut().zip(&ws.quarter_revenue).for_each(|(x, v)| x[l] = *v);
        self.metrics.iter_mut().zip(&ws.metrics).for_each(|(x, v)| x[l] = *v);
    }

    /// The metrics of lane `l`, in [`crate::model::Scenario::metric_names`] order.
    pub fn lane_metrics(&self, l: usize, out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.metrics.iter().map(|m| m[l]));
    }
}

/// Philox of the block's lanes: with AVX-512 or AVX2 intrinsics in those
/// kernels, the portable loop otherwise (the same words in every case).
#[inline(always)]
fn philox<const ISA: u8, const L: usize>(first: u64, index: u32, tag: u32, key: [u32; 2]) -> [[u32; L]; 4] {
    #[cfg(target_arch = "x86_64")]
    if ISA == AVX512 {
        let mut parts = [[[0u32; 16]; 4]; MAX_LANES / 16];
        for (h, part) in parts.iter_mut().enumerate().take(L / 16) {
            // SAFETY: `ISA` is AVX512 only in `block_avx512`, which runs
            // only on CPUs with AVX-512F.
            *part = unsafe { rng::philox16_avx512(first + 16 * h as u64, index, tag, key) };
        }
        return std::array::from_fn(|j| std::array::from_fn(|l| parts[l / 16][j][l % 16]));
    }
    #[cfg(target_arch = "x86_64")]
    if ISA == AVX2 {
        let mut parts = [[[0u32; 8]; 4]; MAX_LANES / 8];
        for (h, part) in parts.iter_mut().enumerate().take(L / 8) {
            // SAFETY: `ISA` is AVX2 only in `block_avx2`, which runs only
            // on CPUs with AVX2.
            *part = unsafe { rng::philox8_avx2(first + 8 * h as u64, index, tag, key) };
        }
        return std::array::from_fn(|j| std::array::from_fn(|l| parts[l / 8][j][l % 8]));
    }
    rng::philox_lanes::<L>(first, index, tag, key)
}

/// The words of draw group `index` of sequence `tag` under each of `keys`
/// for the block's lanes, into `out` (an entry per key): [`philox`] of each
/// key. Under AVX-512 the runs of two keys or lane groups go side by side,
/// their rounds interleaved (a run alone waits on its own multiplications;
/// under AVX2, sixteen registers hold one run and more spill).
#[inline(always)]
fn philox_many<const ISA: u8, const L: usize>(
    first: u64,
    index: u32,
    tag: u32,
    keys: &[[u32; 2]],
    out: &mut [[[u32; L]; 4]],
) {
    #[cfg(target_arch = "x86_64")]
    if ISA == AVX512 {
        // Run `c` is key `c / parts`, lanes `16 (c % parts) ..`.
        let runs = keys.len() * (L / 16);
        for c in (0..runs).step_by(2) {
            match runs - c {
                1 => runs_avx512::<L, 1>(first, index, tag, keys, out, c),
                _ => runs_avx512::<L, 2>(first, index, tag, keys, out, c),
            }
        }
        return;
    }
    for (o, key) in out.iter_mut().zip(keys) {
        *o = philox::<ISA, L>(first, index, tag, *key);
    }
}

/// Runs `c .. c + N` of [`philox_many`] under AVX-512, side by side.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn runs_avx512<const L: usize, const N: usize>(
    first: u64,
    index: u32,
    tag: u32,
    keys: &[[u32; 2]],
    out: &mut [[[u32; L]; 4]],
    c: usize,
) {
    use std::arch::x86_64::_mm512_storeu_si512;
    let parts = L / 16;
    let (key, part): ([usize; N], [usize; N]) =
        (std::array::from_fn(|i| (c + i) / parts), std::array::from_fn(|i| (c + i) % parts));
    let path0: [u64; N] = std::array::from_fn(|i| first + 16 * part[i] as u64);
    let run_keys: [[u32; 2]; N] = std::array::from_fn(|i| keys[key[i]]);
    // SAFETY: called only from the AVX512 copy of the kernel, which runs
    // only on CPUs with AVX-512F.
    let words = unsafe { rng::philox16xn_avx512(path0, index, tag, run_keys) };
    for i in 0..N {
        for (j, w) in words[i].iter().enumerate() {
            let at = &mut out[key[i]][j][16 * part[i]..16 * part[i] + 16];
            // SAFETY: as above; an unaligned store of sixteen words.
            unsafe { _mm512_storeu_si512(at.as_mut_ptr().cast(), *w) };
        }
    }
}

impl Engine<'_> {
    /// A block of [`LANES`] paths for [`Engine::block`].
    pub fn block_buffer(&self) -> Block {
        self.block_buffer_of()
    }

    /// A block of `L` paths (a multiple of 16, at most [`MAX_LANES`]).
    pub fn block_buffer_of<const L: usize>(&self) -> Block<L> {
        const { assert!(L.is_multiple_of(16) && L <= MAX_LANES) };
        let (np, nc, nu, nr, ns) = (self.np, self.nc, self.demand.len(), self.sc.rules.len(), self.shifts.len());
        let z = |n: usize| vec![[0.0; L]; n];
        Block {
            pv: z(self.params.len()),
            drawn: Vec::with_capacity(self.params.len()),
            drawn_keys: Vec::with_capacity(self.params.len()),
            param_words: vec![[[0; L]; 4]; self.params.len()],
            designed: vec![0.0; self.design.params.len()],
            d: vec![[0.0; L]; nu],
            drift_factor: vec![[0.0; L]; nu],
            vol: vec![[0.0; L]; nu],
            load: vec![[0.0; L]; nu],
            idio: vec![[0.0; L]; nu],
            bookings: vec![[0.0; L]; nu],
            normals: vec![[[0.0; L]; 4]; nu + 1],
            words: vec![[[0; L]; 4]; nu + 1 + nr],
            books: vec![[0.0; L]; (nc + 1) * np],
            alloc: z(nc * np),
            alloc32: vec![[0.0; L]; nc * np],
            rho: vec![[0.0; L]; np],
            keep: vec![[0.0; L]; np],
            amp: z(ns),
            decay: z(ns),
            decay_t: z(ns),
            p_fire: z(nr),
            migrate: z(nr),
            fired: vec![[0; L]; nr],
            severity: z(nr),
            severity_ok: vec![0; nr],
            severity_ready: vec![false; nr],
            later: z(nr * (PREDRAWN - 1)),
            later_ok: vec![0; nr * (PREDRAWN - 1)],
            later_ready: vec![false; nr * (PREDRAWN - 1)],
            revenue: z(np),
            totals: z(np * self.quarters),
            quarter_revenue: z(np * self.quarters),
            metrics: z(self.metric_count()),
            spill: None,
        }
    }

    /// Simulate paths `first .. first + L` with the run's `keys` into `b`.
    pub fn block<const L: usize>(&self, keys: &Keys, first: u64, b: &mut Block<L>) {
        self.block_with(keys, first, b, None);
    }

    /// [`Engine::block`] with some drivers switched off, as
    /// [`Engine::path_with`] (the same bits, lane by lane).
    pub fn block_with<const L: usize>(&self, keys: &Keys, first: u64, b: &mut Block<L>, on: Option<&Switches>) {
        self.block_on(self.kernel, keys, first, b, on)
    }

    /// [`Engine::block_with`] on the given build of the kernel (one of
    /// [`Kernel::available`]).
    pub fn block_on<const L: usize>(
        &self,
        kernel: Kernel,
        keys: &Keys,
        first: u64,
        b: &mut Block<L>,
        on: Option<&Switches>,
    ) {
        match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx512` is only chosen when the CPU has it.
            Kernel::Avx512 => unsafe { self.block_avx512(keys, first, b, on) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx2` is only chosen when the CPU has AVX2.
            Kernel::Avx2 => unsafe { self.block_avx2(keys, first, b, on) },
            Kernel::Generic => self.block_impl::<GENERIC, L>(keys, first, b, on),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn block_avx2<const L: usize>(&self, keys: &Keys, first: u64, b: &mut Block<L>, on: Option<&Switches>) {
        self.block_impl::<AVX2, L>(keys, first, b, on)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f,avx512dq,avx512vl")]
    fn block_avx512<const L: usize>(&self, keys: &Keys, first: u64, b: &mut Block<L>, on: Option<&Switches>) {
        self.block_impl::<AVX512, L>(keys, first, b, on)
    }

    /// The kernel; `ISA` names the instruction set of the copy.
    #[inline(always)]
    fn block_impl<const ISA: u8, const L: usize>(
        &self,
        keys: &Keys,
        first: u64,
        b: &mut Block<L>,
        on: Option<&Switches>,
    ) {
        let (np, nc, nu) = (self.np, self.nc, self.demand.len());
        let on_params = on.is_none_or(|s| s.params);
        let on_shocks = on.is_none_or(|s| s.shocks);
        // The parameters drawn here: every one's first block of words at
        // once (under AVX-512 two Philox runs side by side), then each
        // tried lane-wise; lanes whose sampler needs more words draw on
        // their own.
        b.drawn.clear();
        b.drawn_keys.clear();
        for (k, d) in self.params.iter().enumerate() {
            if d.is_fixed() || !on_params {
                b.pv[k] = [d.mean(); L];
            } else if !self.design.owns[k] {
                b.drawn.push(k);
                b.drawn_keys.push(keys.params[k]);
            }
        }
        let n = b.drawn.len();
        philox_many::<ISA, L>(first, 0, rng::TAG_STREAM, &b.drawn_keys, &mut b.param_words[..n]);
        for ((&k, &key), w) in b.drawn.iter().zip(&b.drawn_keys).zip(&b.param_words) {
            let d = &self.params[k];
            let done = d.first_try_lanes(w, &mut b.pv[k]);
            for l in (0..L).filter(|l| !done[*l]) {
                b.pv[k][l] = d.sample(&mut Stream::new(key, first + l as u64, 0));
            }
        }
        if on_params && !self.design.is_empty() {
            for l in 0..L {
                self.design.fill(&self.params, keys, first + l as u64, &mut b.designed);
                for (j, &k) in self.design.params.iter().enumerate() {
                    b.pv[k][l] = b.designed[j];
                }
            }
        }
        let single = |x: &[f64; L]| -> [f32; L] { std::array::from_fn(|l| x[l] as f32) };
        // The per-block set-up into local arrays too: written through the
        // block's vectors, these loops stayed scalar (their `exp` most of
        // the set-up's time).
        for (u, d) in self.demand.iter().enumerate() {
            let (mu, sigma, beta) = (b.pv[d.growth], b.pv[d.volatility], b.pv[d.beta]);
            let (mut factor, mut vol, mut load, mut idio) = ([0.0; L], [0f32; L], [0f32; L], [0f32; L]);
            for l in 0..L {
                factor[l] = math::exp((mu[l] - sigma[l] * sigma[l] / 2.0) * DT);
                vol[l] = (sigma[l] * SQRT_DT) as f32;
                load[l] = beta[l] as f32;
                idio[l] = (1.0 - beta[l] * beta[l]).max(0.0).sqrt() as f32;
            }
            (b.d[u], b.drift_factor[u], b.vol[u], b.load[u], b.idio[u]) = ([1.0; L], single(&factor), vol, load, idio);
            b.bookings[u] = single(&b.pv[d.bookings]);
        }
        for p in 0..np {
            let rho = b.pv[self.recognition[p]];
            b.rho[p] = single(&rho);
            b.keep[p] = std::array::from_fn(|l| (1.0 - rho[l]) as f32);
            b.books[nc * np + p] = single(&b.pv[self.other_backlog[p]]);
            b.revenue[p] = [0.0; L];
        }
        for (k, &x) in self.backlog.iter().enumerate() {
            b.books[k] = single(&b.pv[x]);
        }
        for (c, cu) in self.sc.customers.iter().enumerate() {
            for (p, a) in cu.allocation.iter().enumerate() {
                b.alloc[c * np + p] = [*a; L];
                b.alloc32[c * np + p] = [*a as f32; L];
            }
        }
        for (s, sh) in self.shifts.iter().enumerate() {
            let (target, half_life) = (b.pv[sh.target], b.pv[sh.half_life]);
            let (mut amp, mut decay) = ([0.0; L], [0.0; L]);
            for l in 0..L {
                amp[l] = sh.start - target[l];
                decay[l] = math::exp(-std::f64::consts::LN_2 / half_life[l]);
            }
            (b.amp[s], b.decay[s], b.decay_t[s]) = (amp, decay, [1.0; L]);
        }
        for (r, (&h, &m)) in self.hazard.iter().zip(&self.migrate).enumerate() {
            let hazard = b.pv[h];
            let mut p_fire = [0.0; L];
            for l in 0..L {
                p_fire[l] = 1.0 - math::exp(-hazard[l] * DT);
            }
            b.p_fire[r] = p_fire;
            b.migrate[r] = b.pv[m];
            b.fired[r] = [0; L];
            b.severity_ready[r] = false;
        }
        b.later_ready.fill(false);
        for t in 1..=self.quarters {
            let j = (t - 1) % 4;
            if j == 0 {
                let index = ((t - 1) / 4) as u32;
                philox_many::<ISA, L>(first, index, rng::TAG_QUARTERLY, &keys.quarterly, &mut b.words);
                for (n, w) in b.normals.iter_mut().zip(&b.words) {
                    for l in 0..L {
                        let (z0, z1) = math::single::normal_pair(w[0][l], w[1][l]);
                        let (z2, z3) = math::single::normal_pair(w[2][l], w[3][l]);
                        n[0][l] = z0;
                        n[1][l] = z1;
                        n[2][l] = z2;
                        n[3][l] = z3;
                    }
                }
            }
            // 1. Shocks.
            // Lane arrays are copied into locals, which the compiler knows
            // do not alias, so that every loop over lanes vectorises.
            let z = b.normals[0][j];
            for u in 0..nu {
                if !on_shocks {
                    // Off: the expected path, compounded as the plan does.
                    let (mu, mut d) = (b.pv[self.demand[u].growth], b.d[u]);
                    for l in 0..L {
                        d[l] *= math::exp(mu[l] * DT) as f32;
                    }
                    b.d[u] = d;
                    continue;
                }
                let (xi, load, idio, factor, vol) =
                    (b.normals[1 + u][j], b.load[u], b.idio[u], b.drift_factor[u], b.vol[u]);
                // The single-precision shock in a loop of its own, so that
                // it vectorises at the width of f32 (sixteen lanes to an
                // AVX-512 register), not at the f64 width of the update.
                let mut shock = [0f32; L];
                for l in 0..L {
                    let eps = load[l] * z[l] + idio[l] * xi[l];
                    shock[l] = math::single::exp(vol[l] * eps);
                }
                let mut d = b.d[u];
                for l in 0..L {
                    d[l] *= factor[l] * shock[l];
                }
                b.d[u] = d;
            }
            // 2. Allocation.
            for &c in &self.shifted {
                for (p, a) in self.sc.customers[c].allocation.iter().enumerate() {
                    b.alloc[c * np + p] = [*a; L];
                }
            }
            for (s, sh) in self.shifts.iter().enumerate() {
                if on.is_some_and(|o| !o.shifts[s]) {
                    continue;
                }
                let (decay, amp) = (b.decay[s], b.amp[s]);
                let mut decay_t = b.decay_t[s];
                let mut m = [0.0; L];
                for l in 0..L {
                    decay_t[l] *= decay[l];
                    m[l] = amp[l] * (1.0 - decay_t[l]);
                }
                b.decay_t[s] = decay_t;
                let row = sh.customer * np;
                let mut from = b.alloc[row + sh.from];
                for l in 0..L {
                    from[l] -= m[l];
                }
                b.alloc[row + sh.from] = from;
                for (q, w) in sh.to.iter().enumerate() {
                    let (mut a, w) = (b.alloc[row + q], *w);
                    for l in 0..L {
                        a[l] += m[l] * w;
                    }
                    b.alloc[row + q] = a;
                }
            }
            for &c in &self.shifted {
                for k in c * np..(c + 1) * np {
                    b.alloc32[k] = single(&b.alloc[k]);
                }
            }
            // 3. Recognition: `rho B` recognised, `(1 - rho) B` kept.
            for p in 0..np {
                let (rho, keep) = (b.rho[p], b.keep[p]);
                let mut q = [0f32; L];
                let mut o = b.books[nc * np + p];
                for l in 0..L {
                    q[l] = rho[l] * o[l];
                    o[l] *= keep[l];
                }
                b.books[nc * np + p] = o;
                for c in 0..nc {
                    let mut x = b.books[c * np + p];
                    for l in 0..L {
                        q[l] += rho[l] * x[l];
                        x[l] *= keep[l];
                    }
                    b.books[c * np + p] = x;
                }
                let (mut rev, mut wide) = (b.revenue[p], [0.0; L]);
                for l in 0..L {
                    wide[l] = f64::from(q[l]);
                    rev[l] += wide[l];
                }
                b.revenue[p] = rev;
                b.quarter_revenue[(t - 1) * np + p] = wide;
            }
            // 4. Renegotiation: which lanes fire is computed lane-wise; the
            // (rare) events themselves run lane by lane.
            for (r, rule) in self.sc.rules.iter().enumerate() {
                if on.is_some_and(|o| !o.rules[r]) {
                    continue;
                }
                let (w, fired, p_fire) = (b.words[nu + 1 + r][j], b.fired[r], b.p_fire[r]);
                // Bit l set when lane l fires (a mask register under AVX-512).
                let mut fire: u32 = 0;
                for l in 0..L {
                    fire |= u32::from((fired[l] < rule.max_events) & (rng::unit(w[l]) < p_fire[l])) << l;
                }
                if fire != 0 && !b.severity_ready[r] {
                    // Every lane's first severity at once, lane-wise: a
                    // lane that fires once uses it as the scalar kernel's
                    // `sample` would (the same words, the same first try).
                    b.severity_ok[r] =
                        severity_tries::<ISA, L>(&rule.severity, first, 0, keys.severity[r], &mut b.severity[r]);
                    b.severity_ready[r] = true;
                }
                // Lane by lane in ascending order, as the scalar kernel.
                while fire != 0 {
                    let l = fire.trailing_zeros() as usize;
                    fire &= fire - 1;
                    let (k, tried) = (b.fired[r][l], b.severity_ok[r] >> l & 1 == 1);
                    let later = r * (PREDRAWN - 1) + (k as usize).wrapping_sub(1);
                    if k > 0 && (k as usize) < PREDRAWN && !b.later_ready[later] {
                        b.later_ok[later] =
                            later_severities::<ISA, L>(&rule.severity, first, k, keys.severity[r], &mut b.later[later]);
                        b.later_ready[later] = true;
                    }
                    let s = if k == 0 && tried {
                        b.severity[r][l]
                    } else if k > 0 && (k as usize) < PREDRAWN && b.later_ok[later] >> l & 1 == 1 {
                        b.later[later][l]
                    } else {
                        rule.severity.sample(&mut Stream::new(keys.severity[r], first + l as u64, k))
                    };
                    cut_lane(&mut b.books[rule.customer * np..(rule.customer + 1) * np], l, rule, s, b.migrate[r][l]);
                    b.fired[r][l] += 1;
                }
            }
            // 5. Bookings, then each provider's total: other book first.
            for c in 0..nc {
                let (bookings, d) = (b.bookings[c], b.d[c]);
                let mut amount = [0f32; L];
                for l in 0..L {
                    amount[l] = bookings[l] * d[l];
                }
                for p in 0..np {
                    let (mut x, a) = (b.books[c * np + p], b.alloc32[c * np + p]);
                    for l in 0..L {
                        x[l] += amount[l] * a[l];
                    }
                    b.books[c * np + p] = x;
                }
            }
            for p in 0..np {
                let (bookings, d) = (b.bookings[nc + p], b.d[nc + p]);
                let mut o = b.books[nc * np + p];
                for l in 0..L {
                    o[l] += bookings[l] * d[l];
                }
                b.books[nc * np + p] = o;
                let mut total = o;
                for c in 0..nc {
                    let x = b.books[c * np + p];
                    for l in 0..L {
                        total[l] += x[l];
                    }
                }
                b.totals[(t - 1) * np + p] = std::array::from_fn(|l| f64::from(total[l]));
            }
        }
        let tq = self.quarters;
        // Lanes whose totals left single precision's range by the horizon
        // (an overflow stays infinite or NaN to the end: the books only
        // grow by sums and shrink by factors).
        let mut kept = [true; L];
        for total in &b.totals[(tq - 1) * np..tq * np] {
            for l in 0..L {
                kept[l] &= f32::keeps(total[l] as f32);
            }
        }
        let lost = (0..L).fold(0, |m, l| m | (u32::from(!kept[l]) << l));
        let mut k = 0;
        let mut put = |v: [f64; L]| {
            b.metrics[k] = v;
            k += 1;
        };
        for p in 0..np {
            put(b.totals[(tq - 1) * np + p]);
        }
        for p in 0..np {
            put(b.revenue[p]);
        }
        for c in 0..nc {
            for p in 0..np {
                let (x, total) = (b.books[c * np + p], b.totals[(tq - 1) * np + p]);
                put(std::array::from_fn(|l| share(f64::from(x[l]), total[l])));
            }
        }
        for p in 0..np {
            let (plan, total) = (self.plan.backlog[p], b.totals[(tq - 1) * np + p]);
            put(std::array::from_fn(|l| plan - total[l]));
        }
        for r in 0..self.sc.rules.len() {
            let f = b.fired[r];
            put(std::array::from_fn(|l| f64::from(f[l])));
        }
        if lost != 0 {
            self.spill(keys, first, b, on, lost);
        }
    }

    /// The lanes of `lost` simulated again by the scalar reference with
    /// their books in double (what it gives for any path whose totals
    /// leave single precision's range), and set from it.
    #[cold]
    #[inline(never)]
    fn spill<const L: usize>(&self, keys: &Keys, first: u64, b: &mut Block<L>, on: Option<&Switches>, mut lost: u32) {
        let mut ws = b.spill.take().unwrap_or_else(|| Box::new(self.workspace()));
        while lost != 0 {
            let l = lost.trailing_zeros() as usize;
            lost &= lost - 1;
            self.path_double_with(keys, first + l as u64, &mut ws, on);
            b.set_lane(l, &ws);
        }
        b.spill = Some(ws);
    }
}
