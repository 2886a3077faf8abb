//! Sampling designs and the Gaussian copula of the per-path parameters.
//!
//! Under plain Monte Carlo with no `[[correlation]]`, every parameter is
//! drawn by its family's sampler from its keyed stream (`dist/sample.rs`)
//! and nothing here runs. Otherwise the parameters this module owns (all
//! uncertain ones under `lhs` and `sobol`; the correlated ones under `mc`)
//! are drawn as `x = F^-1(u)`, the family's quantile function at a uniform
//! `u` of the design:
//!
//! - `mc`: `u` = the 53-bit uniform of words 0 and 1 of the parameter's
//!   stream (for a uniform, triangular or discrete parameter the same value
//!   its sampler gives);
//! - `lhs`: path `i` of a run of `N` paths falls in stratum `pi(i)` of the
//!   parameter, `pi` a keyed pseudo-random permutation of `0..N` (a
//!   cycle-walking Feistel network keyed by the parameter's Philox key, so
//!   no array of `N` is kept and any path's stratum is computed on its
//!   own), and `u = (pi(i) + v) / N`, `v` the stream's uniform;
//! - `sobol`: `u` = dimension `d` (the parameter's position among the
//!   designed ones) of point `i mod 2^16` of an Owen-scrambled Sobol'
//!   sequence (Burley 2020, the `sobol_burley` crate), the sequence's seed
//!   fixed by the run's seed and `i / 2^16` (so each 65,536 paths are an
//!   independently scrambled replicate), plus `v 2^-23` below the crate's
//!   23-bit resolution.
//!
//! Correlation then acts on `u` in every design: within a block, `z =
//! Phi^-1(u)`, `z' = L z` with `L L^T` the Pearson correlation
//! `2 sin(pi rho_s / 6)` of the declared rank correlations `rho_s`, and
//! `u' = Phi(z')`, so each marginal is exactly the file's.
//!
//! Under `lhs`, `Phi(z')` of a block's second and later members is uniform
//! but no longer stratified (a thousand paths fill about 630 of a thousand
//! strata). Those members are then placed by rank instead, as Iman and
//! Conover (1982) induce rank correlation in a Latin hypercube: within a
//! stratification group of `s` paths (the Latin hypercube's `N` paths, or
//! `2^20` paths of it when it is larger), member `r` of path `i` takes
//! stratum `rank_i(z'_r)` among the group's `s` values, `u' = (rank + w) /
//! s` with `w` a further uniform of its stream. Every member is stratified
//! again, and the ranks are those of `z'`, so the rank correlation is the
//! declared one within sampling error. The ranks need the whole group: a
//! [`RankCache`] in the run's keys computes each group's once, from keyed
//! draws only (so threads, shards and block widths see the same ranks), and
//! keeps the groups in use. The first member of a block keeps its own
//! stratum (`z'_0 = z_0`).

use std::sync::{Arc, Mutex, OnceLock};

use nalgebra::DMatrix;

use super::Keys;
use crate::dist::{Dist, std_normal_cdf, std_normal_quantile};
use crate::model::{Sampling, Scenario};
use crate::rng::{self, unit53};

/// Paths in one scrambled Sobol' sequence: `sobol_burley` supports 2^16.
pub const SOBOL_BLOCK: u64 = 1 << 16;

/// The most paths of one rank group of a correlated Latin hypercube (see
/// the module's notes): 4 MiB of ranks per correlated member.
pub const RANK_GROUP: u64 = 1 << 20;

/// The per-path parameters drawn through their quantile function.
#[derive(Debug, Clone, Default)]
pub(super) struct Design {
    sampling: Sampling,
    /// Positions in the engine's parameter list, ascending.
    pub(super) params: Vec<usize>,
    /// Per engine parameter: whether it is in `params`.
    pub(super) owns: Vec<bool>,
    blocks: Vec<CopulaBlock>,
    /// Per designed parameter: whether it is placed by rank (`lhs`, a
    /// block's second or later member), so its own stratum is not drawn.
    ranked: Vec<bool>,
}

/// One correlation block: positions in [`Design::params`] and the lower
/// triangle of a factor `L` of its Pearson correlation matrix.
#[derive(Debug, Clone)]
struct CopulaBlock {
    members: Vec<usize>,
    /// Row-major `n x n`, `L L^T` = the Pearson matrix.
    factor: Vec<f64>,
}

/// The run-wide inputs of a design: the paths of the Latin hypercube and
/// the seed of the Sobol' sequences.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct DesignKeys {
    pub(super) lhs_paths: u64,
    pub(super) sobol_seed: u64,
}

impl Design {
    pub(super) fn new(sc: &Scenario, params: &[&Dist]) -> Design {
        let mut owned: Vec<usize> = match sc.sampling {
            Sampling::Mc => sc.correlations.iter().flat_map(|c| c.params.iter().copied()).collect(),
            Sampling::Lhs | Sampling::Sobol => (0..params.len()).filter(|k| !params[*k].is_fixed()).collect(),
        };
        owned.sort_unstable();
        owned.dedup();
        let blocks: Vec<CopulaBlock> = sc
            .correlations
            .iter()
            .map(|c| CopulaBlock {
                members: c.params.iter().map(|k| owned.binary_search(k).expect("a designed parameter")).collect(),
                factor: pearson_factor(&c.rank),
            })
            .collect();
        let mut owns = vec![false; params.len()];
        owned.iter().for_each(|k| owns[*k] = true);
        let mut ranked = vec![false; owned.len()];
        if sc.sampling == Sampling::Lhs {
            blocks.iter().flat_map(|b| b.members.iter().skip(1)).for_each(|j| ranked[*j] = true);
        }
        Design { sampling: sc.sampling, params: owned, owns, blocks, ranked }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The designed parameters' values on path `i`: `out[j]` for
    /// `self.params[j]`.
    pub(super) fn fill(&self, params: &[&Dist], keys: &Keys, i: u64, out: &mut [f64]) {
        for (j, &k) in self.params.iter().enumerate() {
            if !self.ranked[j] {
                out[j] = self.uniform(keys, k, j, i);
            }
        }
        for (bi, b) in self.blocks.iter().enumerate() {
            if self.sampling == Sampling::Lhs {
                // The first member keeps its stratum; the others take theirs
                // from the ranks of z' in the group.
                let (group, start) = self.ranks(keys, bi, i);
                for (r, &j) in b.members.iter().enumerate().skip(1) {
                    let w = rng::philox(rng::counter(i, 0, rng::TAG_STREAM), keys.params[self.params[j]]);
                    let column = &group.ranks[r - 1];
                    out[j] = (f64::from(column[(i - start) as usize]) + unit53(w[2], w[3])) / column.len() as f64;
                }
            } else {
                correlate(b, out);
                for &j in &b.members {
                    out[j] = std_normal_cdf(out[j]);
                }
            }
        }
        for (j, &k) in self.params.iter().enumerate() {
            out[j] = params[k].quantile(out[j]);
        }
    }

    /// The design's uniform of engine parameter `k` (designed parameter
    /// `j`) on path `i`, before any correlation.
    fn uniform(&self, keys: &Keys, k: usize, j: usize, i: u64) -> f64 {
        let w = rng::philox(rng::counter(i, 0, rng::TAG_STREAM), keys.params[k]);
        let v = unit53(w[0], w[1]);
        match self.sampling {
            Sampling::Mc => v,
            Sampling::Lhs => {
                let n = keys.design.lhs_paths.max(1);
                let (group, at) = (i / n, i % n);
                let k = u64::from(keys.params[k][0]) | (u64::from(keys.params[k][1]) << 32);
                (permute(at, n, k ^ group.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as f64 + v) / n as f64
            }
            Sampling::Sobol => {
                let seed = rng::mix(keys.design.sobol_seed ^ rng::mix(i / SOBOL_BLOCK));
                let s = sobol_burley::sample((i % SOBOL_BLOCK) as u32, j as u32, seed as u32);
                f64::from(s) + v * (1.0 / 8_388_608.0)
            }
        }
    }

    /// The ranks of block `bi`'s rank group that holds path `i`, and the
    /// group's first path.
    fn ranks(&self, keys: &Keys, bi: usize, i: u64) -> (Arc<Ranks>, u64) {
        let n = keys.design.lhs_paths.max(1);
        // Groups of RANK_GROUP paths within each Latin hypercube of n.
        let (hyper, at) = (i / n * n, i % n);
        let start = hyper + at / RANK_GROUP * RANK_GROUP;
        let len = (hyper + n - start).min(RANK_GROUP);
        (keys.ranks.get(bi, start, || self.group_ranks(keys, bi, start, len)), start)
    }

    /// For paths `start..start + len`, the rank of each path's `z'` of
    /// block `bi`'s members 1.. among the group's (ties, which continuous
    /// draws do not give, broken by path).
    fn group_ranks(&self, keys: &Keys, bi: usize, start: u64, len: u64) -> Ranks {
        let b = &self.blocks[bi];
        let mut scratch = vec![0.0; self.params.len()];
        let mut z: Vec<Vec<f64>> = vec![Vec::with_capacity(len as usize); b.members.len() - 1];
        for i in start..start + len {
            for &j in &b.members {
                scratch[j] = self.uniform(keys, self.params[j], j, i);
            }
            correlate(b, &mut scratch);
            for (r, col) in z.iter_mut().enumerate() {
                col.push(scratch[b.members[r + 1]]);
            }
        }
        let ranks = z
            .iter()
            .map(|col| {
                // Sorted by (the value's bits in total order, path): one
                // pass over keys held together, no indirect comparisons.
                let ordered = |x: f64| {
                    let b = x.to_bits();
                    if b >> 63 == 1 { !b } else { b | 1 << 63 }
                };
                let mut order: Vec<(u64, u32)> = col.iter().enumerate().map(|(p, &x)| (ordered(x), p as u32)).collect();
                order.sort_unstable();
                let mut rank = vec![0u32; len as usize];
                for (r, &(_, p)) in order.iter().enumerate() {
                    rank[p as usize] = r as u32;
                }
                rank
            })
            .collect();
        Ranks { ranks }
    }
}

/// Block `b`'s members' uniforms in `out` turned into the correlated
/// normals `z' = L Phi^-1(u)`, in place: the normals first, then the rows
/// of the lower-triangular factor from the last up, so that row r reads
/// normals 0..=r before any of them is overwritten.
fn correlate(b: &CopulaBlock, out: &mut [f64]) {
    let n = b.members.len();
    for &j in &b.members {
        out[j] = std_normal_quantile(out[j]);
    }
    for (r, &j) in b.members.iter().enumerate().rev() {
        out[j] = (0..=r).fold(0.0, |s, c| s + b.factor[r * n + c] * out[b.members[c]]);
    }
}

/// The ranks of one rank group: per block member 1.., per path of the
/// group, its stratum.
#[derive(Debug)]
pub(super) struct Ranks {
    ranks: Vec<Vec<u32>>,
}

/// The rank groups of a run's correlated Latin hypercube, each computed
/// once by the first path that needs it (the others wait for it) and kept
/// while recent. A memo: clones share it, and it takes no part in
/// comparisons of keys.
#[derive(Debug, Clone, Default)]
pub(super) struct RankCache(Arc<Mutex<Vec<GroupSlot>>>);

/// One group: (block, first path) and its ranks once computed.
type GroupSlot = ((usize, u64), Arc<OnceLock<Arc<Ranks>>>);

impl PartialEq for RankCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl RankCache {
    /// The ranks of block `bi`'s group starting at path `start`, computed
    /// by `build` unless present.
    fn get(&self, bi: usize, start: u64, build: impl FnOnce() -> Ranks) -> Arc<Ranks> {
        let slot = {
            let mut slots = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match slots.iter().find(|(key, _)| *key == (bi, start)) {
                Some((_, slot)) => slot.clone(),
                None => {
                    // Groups in use: about one per thread; more are kept so
                    // that a group is rarely computed twice.
                    let keep = 2 * rayon::current_num_threads() + 2;
                    if slots.len() >= keep {
                        slots.remove(0);
                    }
                    let slot = Arc::new(OnceLock::new());
                    slots.push(((bi, start), slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| Arc::new(build())).clone()
    }
}

/// A factor `L` (lower triangular, row-major) with `L L^T` the Pearson
/// correlation `2 sin(pi rho / 6)` of the rank correlation `rank`:
/// Cholesky's when that matrix is positive definite; otherwise (a singular
/// or, after the transform, slightly indefinite matrix) the factor of its
/// projection on the positive semi-definite cone, made triangular by a QR
/// step.
fn pearson_factor(rank: &[Vec<f64>]) -> Vec<f64> {
    let n = rank.len();
    let p =
        DMatrix::from_fn(n, n, |i, j| if i == j { 1.0 } else { 2.0 * (std::f64::consts::PI * rank[i][j] / 6.0).sin() });
    let l = match p.clone().cholesky() {
        Some(c) => c.l(),
        None => {
            let e = p.symmetric_eigen();
            let b = &e.eigenvectors * DMatrix::from_diagonal(&e.eigenvalues.map(|x| x.max(0.0).sqrt()));
            // B B^T = P; B^T = Q R gives B = R^T Q^T, so L = R^T (rows with
            // a negative diagonal flipped) has L L^T = B B^T.
            let r = b.transpose().qr().r();
            let mut l = r.transpose();
            for c in 0..n {
                if l[(c, c)] < 0.0 {
                    for i in 0..n {
                        l[(i, c)] = -l[(i, c)];
                    }
                }
            }
            l
        }
    };
    (0..n * n).map(|k| if k % n <= k / n { l[(k / n, k % n)] } else { 0.0 }).collect()
}

/// A pseudo-random permutation of `0..n` keyed by `key`: a balanced
/// Feistel network of 6 rounds on the smallest even number of bits that
/// holds `n`, walked along its cycle until the value falls below `n`.
pub fn permute(x: u64, n: u64, key: u64) -> u64 {
    debug_assert!(x < n);
    let bits = (64 - (n - 1).max(1).leading_zeros()).div_ceil(2).max(1);
    let mask = (1u64 << bits) - 1;
    let mut v = x;
    loop {
        let (mut l, mut r) = (v >> bits, v & mask);
        for round in 0..6u64 {
            let f = rng::mix(r ^ key ^ round.wrapping_mul(0xd1b5_4a32_d192_ed03)) & mask;
            (l, r) = (r, l ^ f);
        }
        v = (l << bits) | r;
        if v < n {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4096, 5000] {
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = permute(x, n, 0xabcdef ^ n);
                assert!(y < n && !seen[y as usize], "n = {n}: {x} -> {y}");
                seen[y as usize] = true;
            }
        }
        // Different keys, different permutations.
        let a: Vec<u64> = (0..100).map(|x| permute(x, 100, 1)).collect();
        let b: Vec<u64> = (0..100).map(|x| permute(x, 100, 2)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn factor_reproduces_the_pearson_matrix() {
        let rank = vec![vec![1.0, 0.8, 0.3], vec![0.8, 1.0, 0.5], vec![0.3, 0.5, 1.0]];
        let singular = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        for r in [rank, singular] {
            let n = r.len();
            let l = pearson_factor(&r);
            for i in 0..n {
                for j in 0..n {
                    let llt: f64 = (0..n).map(|c| l[i * n + c] * l[j * n + c]).sum();
                    let want = if i == j { 1.0 } else { 2.0 * (std::f64::consts::PI * r[i][j] / 6.0).sin() };
                    assert!((llt - want).abs() < 1e-12, "({i}, {j}): {llt} vs {want}");
                    if j > i {
                        assert_eq!(l[i * n + j], 0.0);
                    }
                }
            }
        }
    }
}
