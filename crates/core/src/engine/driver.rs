//! One driver for every command: simulate blocks of paths, fold each block
//! into accumulators, merge.
//!
//! Determinism. Paths are grouped in fixed chunks of [`CHUNK`] paths. What
//! is summed in floating point (moments, band sums, paired differences,
//! portfolio tail sums) is accumulated per chunk, in path order, and chunk
//! results are merged by a binary tree over chunk indices aligned on powers
//! of two: the node at level `h` covers chunks `[k 2^h, (k + 1) 2^h)`,
//! whatever the total, so the tree's shape, and every bit of the result,
//! depends on neither the number of threads nor the order in which chunks
//! finish (and a run split on such aligned blocks merges to the same bits).
//! What is counted in integers (the quantile sketches) is accumulated per
//! worker thread and merged at the end: integer addition gives the same
//! result in any grouping, and a sketch per thread instead of per chunk
//! keeps memory flat and the hot loop in cache.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::block::{Block, Kernel};
use super::seam::{Fold, Simulator, Watch, drive};
use super::{Engine, Keys, LANES, MAX_LANES};
use crate::error::{Error, Result};
use crate::metric::Metric;
use crate::stats::{MetricAcc, Moments, Sketch, sum8};

/// Paths per chunk: the unit of parallel work and of merging (a multiple of
/// every block width, [`MAX_LANES`]).
pub const CHUNK: u64 = 2048;
const _: () = assert!(CHUNK.is_multiple_of(MAX_LANES as u64) && LANES.is_multiple_of(8));

/// One provider-quarter cell of the fan (backlog) or revenue bands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BandAcc {
    /// Sum over paths, merged in the fixed tree.
    pub sum: f64,
    pub sketch: Sketch,
}

impl BandAcc {
    pub fn mean(&self) -> f64 {
        self.sum / self.sketch.count() as f64
    }
}

/// Summaries of a run, before statistics are read off them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accumulator {
    /// One per metric, in [`crate::model::Scenario::metric_names`] order.
    pub metrics: Vec<MetricAcc>,
    /// Total backlog per quarter and provider, `[(t - 1) * providers + p]`.
    pub fan: Vec<BandAcc>,
    /// Revenue per quarter and provider, `[(t - 1) * providers + p]`.
    pub revenue: Vec<BandAcc>,
}

impl Accumulator {
    /// Paths summarised.
    pub fn paths(&self) -> u64 {
        self.metrics.first().map_or(0, |m| m.moments.count())
    }

    /// The first metric (by index) with a value that is not a finite number
    /// on some path (an overflow), or `None` when every recorded value,
    /// the fan and revenue bands included, is finite.
    pub fn non_finite(&self) -> Option<usize> {
        let finite =
            |m: &Moments| m.count() == 0 || (m.mean().is_finite() && m.min().is_finite() && m.max().is_finite());
        let bands_ok = self.fan.iter().chain(&self.revenue).all(|b| b.sum.is_finite());
        match self.metrics.iter().position(|m| !finite(&m.moments)) {
            None if !bands_ok => Some(0),
            found => found,
        }
    }

    /// Sketch buckets in use over all metrics and bands (for the memory bound).
    pub fn buckets(&self) -> usize {
        let bands = self.fan.iter().chain(&self.revenue).map(|b| &b.sketch);
        self.metrics.iter().map(|m| &m.sketch).chain(bands).map(|s| s.buckets()).sum()
    }
}

/// The floating-point part of a run's summaries, per chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sums {
    moments: Vec<Moments>,
    /// Fan cells, then revenue cells.
    bands: Vec<f64>,
}

impl Sums {
    fn new(metrics: usize, bands: usize) -> Self {
        Sums { moments: vec![Moments::default(); metrics], bands: vec![0.0; 2 * bands] }
    }

    /// Whether sums read back from a file have this scenario's shape.
    fn check(&self, metrics: usize, bands: usize) -> Result<(), String> {
        if (self.moments.len(), self.bands.len()) == (metrics, 2 * bands) {
            Ok(())
        } else {
            Err(format!(
                "sums of {} metrics and {} band cells where the scenario has {metrics} and {}",
                self.moments.len(),
                self.bands.len(),
                2 * bands
            ))
        }
    }

    fn merge(&mut self, o: Sums) {
        self.moments.iter_mut().zip(&o.moments).for_each(|(a, b)| a.merge(b));
        self.bands.iter_mut().zip(&o.bands).for_each(|(a, b)| *a += b);
    }
}

/// The integer part of a run's summaries, per worker thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sketches {
    metrics: Vec<Sketch>,
    /// Fan cells, then revenue cells.
    bands: Vec<Sketch>,
}

impl Sketches {
    fn new(metrics: usize, bands: usize) -> Self {
        Sketches { metrics: vec![Sketch::default(); metrics], bands: vec![Sketch::default(); 2 * bands] }
    }

    /// Whether sketches read back from a file have this scenario's shape,
    /// each one consistent ([`Sketch::check`]).
    fn check(&self, metrics: usize, bands: usize) -> Result<(), String> {
        if (self.metrics.len(), self.bands.len()) != (metrics, 2 * bands) {
            return Err(format!(
                "sketches of {} metrics and {} band cells where the scenario has {metrics} and {}",
                self.metrics.len(),
                self.bands.len(),
                2 * bands
            ));
        }
        self.metrics.iter().chain(&self.bands).try_for_each(Sketch::check)
    }

    fn merge(&mut self, o: Sketches) {
        self.metrics.iter_mut().zip(o.metrics).for_each(|(a, b)| a.absorb(b));
        self.bands.iter_mut().zip(o.bands).for_each(|(a, b)| a.absorb(b));
    }
}

/// [`fold_impl`] compiled for the kernel's instruction set (integer counts
/// and the same sums in the same order: the same results either way).
#[inline]
fn fold<const L: usize>(kernel: Kernel, sums: &mut Sums, sk: &mut Sketches, b: &Block<L>, n: usize) {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn fold_avx2<const L: usize>(sums: &mut Sums, sk: &mut Sketches, b: &Block<L>, n: usize) {
        fold_impl(sums, sk, b, n)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f,avx512dq,avx512vl")]
    fn fold_avx512<const L: usize>(sums: &mut Sums, sk: &mut Sketches, b: &Block<L>, n: usize) {
        fold_impl(sums, sk, b, n)
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Kernel::Avx512` is only chosen when the CPU has it.
        Kernel::Avx512 => unsafe { fold_avx512(sums, sk, b, n) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Kernel::Avx2` is only chosen when the CPU has AVX2.
        Kernel::Avx2 => unsafe { fold_avx2(sums, sk, b, n) },
        Kernel::Generic => fold_impl(sums, sk, b, n),
    }
}

/// Fold lanes `0..n` of a simulated block into a chunk's sums and the
/// thread's sketches: eight lanes at a time (sums in the fixed pairwise
/// order of [`sum8`]), then the lanes left one by one. The order depends on
/// the path indices alone, not on the block's width (a multiple of 8).
#[inline(always)]
fn fold_impl<const L: usize>(sums: &mut Sums, sk: &mut Sketches, b: &Block<L>, n: usize) {
    fold_metrics(sums, sk, b, n);
    let cells = b.totals.iter().chain(&b.quarter_revenue);
    for ((sum, s), x) in sums.bands.iter_mut().zip(&mut sk.bands).zip(cells) {
        let (eights, rest) = x[..n].as_chunks::<8>();
        for h in eights {
            *sum += sum8(h);
            s.add8(h);
        }
        if !rest.is_empty() {
            rest.iter().for_each(|v| *sum += v);
            s.add_slice(rest);
        }
    }
}

/// The metrics' part of [`fold_impl`].
#[inline(always)]
fn fold_metrics<const L: usize>(sums: &mut Sums, sk: &mut Sketches, b: &Block<L>, n: usize) {
    for ((m, s), x) in sums.moments.iter_mut().zip(&mut sk.metrics).zip(&b.metrics) {
        let (eights, rest) = x[..n].as_chunks::<8>();
        for h in eights {
            m.add8(h);
            s.add8(h);
        }
        if !rest.is_empty() {
            rest.iter().for_each(|v| m.add(*v));
            s.add_slice(rest);
        }
    }
}

/// Blocks whose band values a run's fold stages before counting them.
const STAGED_BLOCKS: usize = 8;

/// Band values staged for counting ([`Sketch::stage`]): per band cell, the
/// bucket offsets of up to [`STAGED_BLOCKS`] blocks, counted cell by cell
/// (a run of increments into one store, which stays in the nearest cache,
/// where counting each block's values as it comes visits every cell's
/// store in turn).
struct Staged {
    /// `at[cell * cap ..][.. len[cell]]`
    at: Vec<u16>,
    len: Vec<usize>,
    cap: usize,
    blocks: usize,
    /// Carries held back ([`Sketch::count_staged`]): the offsets, and the
    /// cell and end of each cell's run of them.
    wrapped: Vec<u16>,
    ends: Vec<(usize, usize)>,
}

impl Staged {
    fn new(cells: usize, lanes: usize) -> Self {
        let cap = STAGED_BLOCKS * lanes;
        let (wrapped, ends) = (Vec::new(), Vec::new());
        Staged { at: vec![0; cells * cap], len: vec![0; cells], cap, blocks: 0, wrapped, ends }
    }

    /// Count cell `c`'s staged values into its sketch, carries included.
    #[inline(always)]
    fn count(&mut self, c: usize, s: &mut Sketch) {
        self.wrapped.clear();
        s.count_staged(&self.at[c * self.cap..][..self.len[c]], &mut self.wrapped);
        s.carry_staged(&self.wrapped);
        self.len[c] = 0;
    }

    /// Count every cell's staged values, then every carry (their cache
    /// misses overlap; no store changes in between).
    fn count_all(&mut self, sk: &mut Sketches) {
        self.wrapped.clear();
        self.ends.clear();
        for (c, s) in sk.bands.iter_mut().enumerate().take(self.len.len()) {
            let before = self.wrapped.len();
            s.count_staged(&self.at[c * self.cap..][..self.len[c]], &mut self.wrapped);
            if self.wrapped.len() > before {
                self.ends.push((c, self.wrapped.len()));
            }
            self.len[c] = 0;
        }
        let mut start = 0;
        for &(c, end) in &self.ends {
            sk.bands[c].carry_staged(&self.wrapped[start..end]);
            start = end;
        }
        self.blocks = 0;
    }
}

/// [`fold`] with the band cells' counts staged in `st` (every cell's sum,
/// in the same order, at once), compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512dq,avx512vl,avx512bw")]
fn fold_staged_avx512<const L: usize>(sums: &mut Sums, sk: &mut Sketches, st: &mut Staged, b: &Block<L>, n: usize) {
    fold_metrics(sums, sk, b, n);
    let cells = b.totals.iter().chain(&b.quarter_revenue);
    for (c, ((sum, s), x)) in sums.bands.iter_mut().zip(&mut sk.bands).zip(cells).enumerate() {
        let (eights, rest) = x[..n].as_chunks::<8>();
        // The sum in a register, stored once (the same order of additions).
        let mut total = *sum;
        for h in eights {
            total += sum8(h);
        }
        rest.iter().for_each(|v| total += v);
        *sum = total;
        let start = c * st.cap + st.len[c];
        if n == L && st.len[c] + L <= st.cap && s.stage(x, &mut st.at[start..start + L]) {
            st.len[c] += L;
        } else {
            // The store may change: its staged values first.
            st.count(c, s);
            eights.iter().for_each(|h| s.add8(h));
            if !rest.is_empty() {
                s.add_slice(rest);
            }
        }
    }
    st.blocks += 1;
    if st.blocks == STAGED_BLOCKS {
        st.count_all(sk);
    }
}

/// Assemble the final accumulator from the merged sums and sketches.
fn assemble(sums: Sums, sk: Sketches, bands: usize) -> Accumulator {
    let metrics = sums.moments.into_iter().zip(sk.metrics).map(|(moments, sketch)| MetricAcc { moments, sketch });
    let mut cells = sums.bands.into_iter().zip(sk.bands).map(|(sum, sketch)| BandAcc { sum, sketch });
    let fan = cells.by_ref().take(bands).collect();
    Accumulator { metrics: metrics.collect(), fan, revenue: cells.collect() }
}

/// What a shard of a run computed: the complete merge-tree nodes of its
/// chunks and its worker threads' sketches, merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Partial {
    nodes: Vec<Node<Sums>>,
    sketches: Option<Sketches>,
}

/// Partial results merged one at a time (so that merging many shards keeps
/// one in memory at a time): the sketches are added as they come, the
/// merge-tree nodes (a few per shard) kept until [`Merger::finish`].
#[derive(Debug, Clone)]
pub struct Merger {
    sketches: Sketches,
    nodes: Vec<Node<Sums>>,
    bands: usize,
}

impl Partial {
    /// Whether a partial result read back from a shard file is one of
    /// `engine`'s scenario over chunks `range` of a run of `paths` paths:
    /// the merge-tree nodes of that range ([`check_nodes`]), sums and
    /// sketches of the scenario's shape.
    pub fn check(&self, engine: &Engine, paths: u64, range: Range<u64>) -> Result<(), String> {
        let (nm, nb) = (engine.metric_count(), engine.band_count());
        check_nodes(&self.nodes, paths, range, |s| s.check(nm, nb))?;
        self.sketches.as_ref().map_or(Ok(()), |s| s.check(nm, nb))
    }
}

impl PairedPartial {
    /// [`Partial::check`] for a paired run of `engine` against `base`,
    /// with its batches.
    pub fn check(&self, engine: &Engine, base: &Engine, paths: u64, range: Range<u64>) -> Result<(), String> {
        let (na, ba, nb) = (engine.metric_count(), engine.band_count(), base.metric_count());
        let pairs = engine.pairs(base);
        let losses = pairs.iter().filter(|(n, _, _)| n.is_loss()).count();
        check_nodes(&self.nodes, paths, range, |(a, b, d)| {
            a.check(na, ba)?;
            b.check(nb, 0)?;
            if d.len() == pairs.len() {
                Ok(())
            } else {
                Err(format!("{} differences of {} pairs", d.len(), pairs.len()))
            }
        })?;
        if let Some((a, b)) = &self.sketches {
            a.check(na, ba)?;
            b.check(nb, 0)?;
        }
        for t in &self.batches {
            let fits = t.batch < PAIRED_BATCHES
                && match &t.diffs {
                    Some(d) => d.len() == losses && t.mine.is_empty() && t.base.is_empty(),
                    None => t.mine.len() == losses && t.base.len() == losses,
                };
            if !fits {
                return Err(format!("batch {} does not fit a paired run of these scenarios", t.batch));
            }
            t.mine.iter().chain(&t.base).try_for_each(Sketch::check)?;
        }
        Ok(())
    }
}

/// Whether `nodes`, read back from a shard file, are exactly the
/// merge-tree nodes of chunks `range` of a run of `paths` paths (the
/// largest subtrees inside the range, as the driver folds them), each
/// value passing `value`.
pub(crate) fn check_nodes<T>(
    nodes: &[Node<T>],
    paths: u64,
    range: Range<u64>,
    value: impl Fn(&T) -> Result<(), String>,
) -> Result<(), String> {
    let chunks = paths.div_ceil(CHUNK);
    let mut want = Vec::new();
    cover_nodes(0, chunks.next_power_of_two(), chunks, &range, &mut want);
    let mut got: Vec<(u64, u64)> = nodes.iter().map(|n| (n.lo, n.size)).collect();
    got.sort_unstable();
    if got != want {
        return Err(format!(
            "its results are not those of chunks {}..{} (paths {}..{}): nodes {:?} where {:?} were expected",
            range.start,
            range.end,
            range.start.saturating_mul(CHUNK),
            range.end.saturating_mul(CHUNK).min(paths),
            &got[..got.len().min(8)],
            &want[..want.len().min(8)]
        ));
    }
    nodes.iter().try_for_each(|n| value(&n.value))
}

/// The nodes `(lo, size)` the driver produces for chunks `range`, in order
/// (the same recursion as `engine::seam`'s cover).
fn cover_nodes(lo: u64, size: u64, chunks: u64, range: &Range<u64>, out: &mut Vec<(u64, u64)>) {
    let hi = lo.saturating_add(size).min(chunks);
    if lo >= hi || hi <= range.start || lo >= range.end {
        return;
    }
    if range.start <= lo && hi <= range.end {
        out.push((lo, size));
        return;
    }
    let half = size / 2;
    cover_nodes(lo, half, chunks, range, out);
    cover_nodes(lo + half, half, chunks, range, out);
}

impl Merger {
    pub fn add(&mut self, p: Partial) -> Result<()> {
        if let Some(s) = p.sketches {
            if (s.metrics.len(), s.bands.len()) != (self.sketches.metrics.len(), self.sketches.bands.len()) {
                return Err(Error::Shard("a partial result of another scenario".into()));
            }
            self.sketches.merge(s);
        }
        self.nodes.extend(p.nodes);
        Ok(())
    }

    /// The accumulator of the whole run of `paths` paths.
    pub fn finish(self, paths: u64) -> Result<Accumulator> {
        let (nm, nb) = (self.sketches.metrics.len(), self.bands);
        let sums = rebuild(paths, self.nodes, &|a: &mut Sums, b| a.merge(b))?;
        Ok(assemble(sums.unwrap_or_else(|| Sums::new(nm, nb)), self.sketches, nb))
    }
}

/// A chunk's sums of both scenarios of a paired run and the moments of
/// their differences.
type PairSums = (Sums, Sums, Vec<Moments>);

fn merge_pair_sums(a: &mut PairSums, b: PairSums) {
    a.0.merge(b.0);
    a.1.merge(b.1);
    a.2.iter_mut().zip(&b.2).for_each(|(x, y)| x.merge(y));
}

/// What a shard of a paired run computed (see [`Partial`]), with the
/// sketches of the paired loss metrics per batch of paths.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairedPartial {
    nodes: Vec<Node<PairSums>>,
    sketches: Option<(Sketches, Sketches)>,
    batches: Vec<BatchTails>,
}

/// Batches of a paired run for the standard errors of the VaR99 and ES99
/// differences (batch means): batch `b` of [`PAIRED_BATCHES`] holds the
/// chunks of [`shard_chunks`]`(paths, b, PAIRED_BATCHES)`, fixed by the
/// path count alone.
pub const PAIRED_BATCHES: u64 = 20;

/// The fewest paths per batch for which the batch estimates of VaR99 and
/// ES99 are used (50 paths in each batch's 1% tail); below it the
/// differences are reported without a standard error.
pub const MIN_BATCH_PATHS: u64 = 5_000;

/// One batch of a paired run: when this partial result holds all of it,
/// the batch's VaR99 and ES99 differences per paired `loss.*` metric;
/// otherwise (a batch split between shards) the sketches of its part, both
/// scenarios, for the merge to finish.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BatchTails {
    batch: u64,
    /// `(VaR99 difference, ES99 difference)` per loss metric, when whole.
    diffs: Option<Vec<(f64, f64)>>,
    mine: Vec<Sketch>,
    base: Vec<Sketch>,
}

/// VaR99 and ES99 of `mine` minus those of `base`, metric by metric.
fn tail_diffs(mine: &[Sketch], base: &[Sketch]) -> Vec<(f64, f64)> {
    mine.iter()
        .zip(base)
        .map(|(x, y)| (x.quantile(0.99) - y.quantile(0.99), x.tail_mean(0.99) - y.tail_mean(0.99)))
        .collect()
}

/// The difference of VaR99 and of ES99 between the scenarios of a paired
/// run, for one `loss.*` metric, with batch-means standard errors.
#[derive(Debug, Clone, PartialEq)]
pub struct TailDiff {
    pub d_var99: f64,
    pub d_es99: f64,
    /// `sd / sqrt(B)` of the [`PAIRED_BATCHES`] batch differences (for
    /// VaR99 combined with the sketch's resolution at both quantiles);
    /// `None` below [`MIN_BATCH_PATHS`] paths per batch.
    pub d_var99_se: Option<f64>,
    pub d_es99_se: Option<f64>,
}

/// The result of a paired run: both scenarios' summaries and the moments of
/// the path-by-path differences of the metrics both record.
#[derive(Debug, Clone)]
pub struct Paired {
    pub mine: Accumulator,
    /// The base's metrics (its `fan` and `revenue` are empty: a paired run
    /// compares metrics, and does not fold the base's bands).
    pub base: Accumulator,
    /// Metric names both record, and their indices in each.
    pub pairs: Vec<(Metric, usize, usize)>,
    /// Moments of `mine - base`, per pair.
    pub diffs: Vec<Moments>,
    /// Per pair, for `loss.*` metrics: the VaR99 and ES99 differences.
    pub tails: Vec<Option<TailDiff>>,
}

/// The summary of a run: every metric's moments and sketch, and the fan
/// and revenue bands, per chunk (sums) and per thread (sketches).
struct RunFold<'e, 'a> {
    engine: &'e Engine<'a>,
    keys: &'e Keys,
}

impl Fold for RunFold<'_, '_> {
    type Chunk = Sums;
    type Thread = Sketches;
    type Scratch<const L: usize> = (Block<L>, Staged);

    fn chunk(&self) -> Sums {
        Sums::new(self.engine.metric_count(), self.engine.band_count())
    }

    fn thread(&self) -> Sketches {
        Sketches::new(self.engine.metric_count(), self.engine.band_count())
    }

    fn scratch<const L: usize>(&self) -> (Block<L>, Staged) {
        #[cfg(target_arch = "x86_64")]
        let cells = if self.engine.kernel() == Kernel::Avx512 { 2 * self.engine.band_count() } else { 0 };
        #[cfg(not(target_arch = "x86_64"))]
        let cells = 0;
        (self.engine.block_buffer_of::<L>(), Staged::new(cells, L))
    }

    #[inline]
    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        (b, st): &mut (Block<L>, Staged),
        sums: &mut Sums,
        sk: &mut Sketches,
    ) {
        sim.simulate(self.engine, self.keys, None, first, b);
        match self.engine.kernel() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx512` is only chosen when the CPU has it.
            Kernel::Avx512 => unsafe { fold_staged_avx512(sums, sk, st, b, n) },
            // Narrower builds count as they go: staging costs them more
            // instructions than it saves (callgrind, AVX2 +11%).
            kernel => fold(kernel, sums, sk, b, n),
        }
    }

    fn end_chunk<const L: usize>(&self, (_, st): &mut (Block<L>, Staged), sk: &mut Sketches) {
        st.count_all(sk);
    }

    fn merge(&self, a: &mut Sums, b: Sums) {
        a.merge(b)
    }

    fn merge_threads(&self, a: &mut Sketches, b: Sketches) {
        a.merge(b)
    }
}

/// A worker's state in a paired run: its full sketches of both scenarios,
/// and per batch ([`PAIRED_BATCHES`]) the sketches of the paired loss
/// metrics, the variant's then the base's.
struct PairThread {
    full: (Sketches, Sketches),
    tails: Vec<Vec<Sketch>>,
}

/// The metrics of a run's paths, path by path: a base that many paired runs
/// compare against (the explorer's first answers, each a change against
/// the file on the same few thousand paths) is simulated once, and each
/// paired run simulates only its own scenario. A paired run on a record
/// gives the bits of one that simulates the base, since the record holds
/// the values that simulation would give.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    seed: u64,
    paths: u64,
    metrics: usize,
    /// `values[path * metrics + k]`.
    values: Vec<f64>,
}

impl Recorded {
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn paths(&self) -> u64 {
        self.paths
    }

    /// Write the recorded metrics of paths `first .. first + n` into `out`.
    fn fill<const L: usize>(&self, first: u64, n: usize, out: &mut Block<L>) {
        let rows = &self.values[first as usize * self.metrics..(first as usize + n) * self.metrics];
        for (l, row) in rows.chunks_exact(self.metrics).enumerate() {
            for (k, x) in row.iter().enumerate() {
                out.metrics[k][l] = *x;
            }
        }
    }
}

/// Records the metrics of each chunk's paths, path by path; the fixed tree
/// merges chunks left before right, so the merged rows are in path order.
struct RecordFold<'e, 'a> {
    engine: &'e Engine<'a>,
    keys: Keys,
}

impl Fold for RecordFold<'_, '_> {
    type Chunk = Vec<f64>;
    type Thread = ();
    type Scratch<const L: usize> = Block<L>;

    fn chunk(&self) -> Vec<f64> {
        Vec::with_capacity(CHUNK as usize * self.engine.metric_count())
    }

    fn thread(&self) {}

    fn scratch<const L: usize>(&self) -> Block<L> {
        self.engine.block_buffer_of::<L>()
    }

    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        x: &mut Block<L>,
        rows: &mut Vec<f64>,
        _: &mut (),
    ) {
        sim.simulate(self.engine, &self.keys, None, first, x);
        for l in 0..n {
            rows.extend(x.metrics.iter().map(|m| m[l]));
        }
    }

    fn merge(&self, a: &mut Vec<f64>, b: Vec<f64>) {
        a.extend(b);
    }

    fn merge_threads(&self, _: &mut (), _: ()) {}
}

/// A paired run: both scenarios on the same paths, their summaries, the
/// moments of their differences and the batches' tail sketches.
struct PairedFold<'e, 'a, 'b> {
    mine: &'e Engine<'a>,
    base: &'e Engine<'b>,
    /// The base's metrics, when recorded: then the base is not simulated.
    recorded: Option<&'e Recorded>,
    paths: u64,
    keys: (Keys, Keys),
    pairs: Vec<(Metric, usize, usize)>,
    losses: Vec<(usize, usize)>,
    /// The chunks of each batch.
    batches: Vec<Range<u64>>,
}

impl<'e, 'a, 'b> PairedFold<'e, 'a, 'b> {
    fn new(mine: &'e Engine<'a>, base: &'e Engine<'b>, seed: u64, paths: u64, recorded: Option<&'e Recorded>) -> Self {
        let pairs = mine.pairs(base);
        let losses = pairs.iter().filter(|(n, _, _)| n.is_loss()).map(|(_, i, j)| (*i, *j)).collect();
        let batches = (0..PAIRED_BATCHES).map(|b| shard_chunks(paths, b, PAIRED_BATCHES)).collect();
        let keys = (mine.keys(seed, paths), base.keys(seed, paths));
        PairedFold { mine, base, recorded, paths, keys, pairs, losses, batches }
    }
}

impl Fold for PairedFold<'_, '_, '_> {
    type Chunk = PairSums;
    type Thread = PairThread;
    type Scratch<const L: usize> = (Block<L>, Block<L>);

    // The base's sums and sketches have no bands: a paired run compares
    // metrics, and folding the base's fan and revenue (most of a fold) would
    // only be thrown away. `fold` zips the bands with the block's cells, so
    // it folds the base's metrics alone.
    fn chunk(&self) -> PairSums {
        let (a, b) = (self.mine, self.base);
        (
            Sums::new(a.metric_count(), a.band_count()),
            Sums::new(b.metric_count(), 0),
            vec![Moments::default(); self.pairs.len()],
        )
    }

    fn thread(&self) -> PairThread {
        let (a, b) = (self.mine, self.base);
        PairThread {
            full: (Sketches::new(a.metric_count(), a.band_count()), Sketches::new(b.metric_count(), 0)),
            tails: vec![vec![Sketch::default(); 2 * self.losses.len()]; self.batches.len()],
        }
    }

    fn scratch<const L: usize>(&self) -> (Block<L>, Block<L>) {
        (self.mine.block_buffer_of::<L>(), self.base.block_buffer_of::<L>())
    }

    #[inline]
    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        (xa, xb): &mut (Block<L>, Block<L>),
        (fa, fb, diffs): &mut PairSums,
        t: &mut PairThread,
    ) {
        sim.simulate(self.mine, &self.keys.0, None, first, xa);
        match self.recorded {
            Some(r) => r.fill(first, n, xb),
            None => sim.simulate(self.base, &self.keys.1, None, first, xb),
        }
        let kernel = self.mine.kernel();
        fold(kernel, fa, &mut t.full.0, xa, n);
        fold(kernel, fb, &mut t.full.1, xb, n);
        for (d, (_, i, j)) in diffs.iter_mut().zip(&self.pairs) {
            let (x, y) = (xa.metric(*i), xb.metric(*j));
            for l in 0..n {
                d.add(x[l] - y[l]);
            }
        }
        // A block lies in one chunk, and a chunk in one batch.
        let chunk = first / CHUNK;
        let batch = self.batches.partition_point(|r| r.end <= chunk);
        let (mine, theirs) = t.tails[batch].split_at_mut(self.losses.len());
        for ((m, u), (i, j)) in mine.iter_mut().zip(theirs).zip(&self.losses) {
            m.add_slice(&xa.metric(*i)[..n]);
            u.add_slice(&xb.metric(*j)[..n]);
        }
    }

    fn merge(&self, a: &mut PairSums, b: PairSums) {
        merge_pair_sums(a, b)
    }

    fn merge_threads(&self, a: &mut PairThread, b: PairThread) {
        a.full.0.merge(b.full.0);
        a.full.1.merge(b.full.1);
        for (x, y) in a.tails.iter_mut().zip(b.tails) {
            x.iter_mut().zip(y).for_each(|(p, q)| p.absorb(q));
        }
    }
}

impl<'a> Engine<'a> {
    /// Simulate paths `0..paths` in parallel on the current rayon pool.
    /// `progress` is called with the number of paths each finished chunk held.
    pub fn run(&self, seed: u64, paths: u64, progress: &(dyn Fn(u64) + Sync)) -> Accumulator {
        let whole = self.run_chunks(seed, paths, 0..u64::MAX, progress);
        self.finish(paths, vec![whole]).expect("one run covers every chunk once")
    }

    /// Simulate only the chunks of paths in `chunks` (a shard, see
    /// [`shard_chunks`]) of a run of `paths` paths: a [`Partial`] that
    /// [`Engine::finish`] merges with the other shards' into exactly the
    /// accumulator of the whole run.
    pub fn run_chunks(&self, seed: u64, paths: u64, chunks: Range<u64>, progress: &(dyn Fn(u64) + Sync)) -> Partial {
        self.run_chunks_with(&self.keys(seed, paths), paths, chunks, progress)
    }

    /// [`Engine::run_chunks`] with the keys given (a run to a precision
    /// keys its Latin hypercube to its rounds, not to its total).
    pub fn run_chunks_with(
        &self,
        keys: &Keys,
        paths: u64,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Partial {
        self.run_chunks_on(&self.kernel, keys, paths, chunks, progress)
    }

    /// [`Engine::run_chunks_with`] simulated by `sim` (a build of the block
    /// kernel, or the scalar [`super::Reference`]).
    pub fn run_chunks_on<S: Simulator>(
        &self,
        sim: &S,
        keys: &Keys,
        paths: u64,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Partial {
        let fold = RunFold { engine: self, keys };
        let (nodes, sketches) = drive(&fold, sim, paths, chunks, self.watch(progress));
        Partial { nodes, sketches }
    }

    /// The progress and cancellation of this engine's drives.
    pub(crate) fn watch<'w>(&'w self, progress: &'w (dyn Fn(u64) + Sync)) -> Watch<'w> {
        Watch { progress, cancel: &self.cancel }
    }

    /// The accumulator of a run of `paths` paths from the partial results
    /// of its shards, in any order; an error when they do not cover every
    /// chunk exactly once.
    pub fn finish(&self, paths: u64, parts: Vec<Partial>) -> Result<Accumulator> {
        let mut m = self.merger();
        parts.into_iter().try_for_each(|p| m.add(p))?;
        m.finish(paths)
    }

    /// An empty [`Merger`] for this scenario's partial results.
    pub fn merger(&self) -> Merger {
        let (nm, nb) = (self.metric_count(), self.band_count());
        Merger { sketches: Sketches::new(nm, nb), nodes: Vec::new(), bands: nb }
    }

    /// This scenario and `base`, path by path under the same seed (common
    /// random numbers), each simulated once: both summaries and the paired
    /// differences `self - base` of every metric name both record.
    pub fn run_paired(&self, base: &Engine, seed: u64, paths: u64, progress: &(dyn Fn(u64) + Sync)) -> Paired {
        let whole = self.run_paired_chunks(base, seed, paths, 0..u64::MAX, progress);
        self.finish_paired(base, paths, vec![whole]).expect("one run covers every chunk once")
    }

    /// The metric names this scenario and `base` both record, with their
    /// indices in each.
    fn pairs(&self, base: &Engine) -> Vec<(Metric, usize, usize)> {
        let theirs = Metric::all(base.scenario());
        Metric::all(self.scenario())
            .into_iter()
            .enumerate()
            .filter_map(|(i, n)| theirs.iter().position(|m| *m == n).map(|j| (n, i, j)))
            .collect()
    }

    /// [`Engine::run_paired`] of the chunks in `chunks` only (a shard).
    pub fn run_paired_chunks(
        &self,
        base: &Engine,
        seed: u64,
        paths: u64,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> PairedPartial {
        self.run_paired_chunks_on(&self.kernel, base, seed, paths, chunks, progress)
    }

    /// [`Engine::run_paired_chunks`] simulated by `sim`.
    pub fn run_paired_chunks_on<S: Simulator>(
        &self,
        sim: &S,
        base: &Engine,
        seed: u64,
        paths: u64,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> PairedPartial {
        self.run_paired_fold(sim, PairedFold::new(self, base, seed, paths, None), chunks, progress)
    }

    /// [`Engine::run_paired_chunks`] of every chunk against the base's
    /// `recorded` metrics (of `base`, as [`Engine::record`] gave them):
    /// only this scenario is simulated.
    pub fn run_paired_recorded(
        &self,
        base: &Engine,
        recorded: &Recorded,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PairedPartial> {
        if recorded.metrics != base.metric_count() {
            return Err(Error::Invalid("a record of another base scenario".into()));
        }
        let fold = PairedFold::new(self, base, recorded.seed, recorded.paths, Some(recorded));
        Ok(self.run_paired_fold(&self.kernel, fold, 0..u64::MAX, progress))
    }

    /// The metrics of paths `0..paths` under `seed`, path by path, for
    /// paired runs against this scenario ([`Engine::run_paired_recorded`]);
    /// an error when cancelled.
    pub fn record(&self, seed: u64, paths: u64, progress: &(dyn Fn(u64) + Sync)) -> Result<Recorded> {
        let fold = RecordFold { engine: self, keys: self.keys(seed, paths) };
        let (nodes, _) = drive(&fold, &self.kernel, paths, 0..u64::MAX, self.watch(progress));
        self.cancel.check()?;
        let values = rebuild(paths, nodes, &|a: &mut Vec<f64>, b| a.extend(b))?.unwrap_or_default();
        Ok(Recorded { seed, paths, metrics: self.metric_count(), values })
    }

    /// Drive a paired fold over `chunks`.
    fn run_paired_fold<S: Simulator>(
        &self,
        sim: &S,
        fold: PairedFold,
        chunks: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> PairedPartial {
        let (nodes, thread) = drive(&fold, sim, fold.paths, chunks.clone(), self.watch(progress));
        let mut out = PairedPartial { nodes, sketches: None, batches: Vec::new() };
        let Some(PairThread { full, tails }) = thread else { return out };
        out.sketches = Some(full);
        for ((batch, b), mut tails) in (0..).zip(&fold.batches).zip(tails) {
            let part = b.start.max(chunks.start)..b.end.min(chunks.end);
            if part.is_empty() {
                continue;
            }
            let theirs = tails.split_off(fold.losses.len());
            // A whole batch is reduced to its differences at once, so that
            // no batch's sketches are kept.
            out.batches.push(if part == *b {
                BatchTails { batch, diffs: Some(tail_diffs(&tails, &theirs)), mine: vec![], base: vec![] }
            } else {
                BatchTails { batch, diffs: None, mine: tails, base: theirs }
            });
        }
        out
    }

    /// The paired result of a run of `paths` paths from its shards'
    /// partial results, in any order.
    pub fn finish_paired(&self, base: &Engine, paths: u64, parts: Vec<PairedPartial>) -> Result<Paired> {
        let pairs = self.pairs(base);
        let (na, ba) = (self.metric_count(), self.band_count());
        // The base's bands are not folded (see `PairedFold`).
        let (nb, bb) = (base.metric_count(), 0);
        let (mut sa, mut sb) = (Sketches::new(na, ba), Sketches::new(nb, bb));
        let mut nodes = Vec::new();
        let losses: Vec<(usize, usize)> =
            pairs.iter().filter(|(n, _, _)| n.is_loss()).map(|(_, i, j)| (*i, *j)).collect();
        // Per batch: its differences, whole or from the merged parts.
        let mut whole: Vec<Option<Vec<(f64, f64)>>> = vec![None; PAIRED_BATCHES as usize];
        let mut split: Vec<Option<(Vec<Sketch>, Vec<Sketch>)>> = vec![None; PAIRED_BATCHES as usize];
        for p in parts {
            if let Some((a, b)) = p.sketches {
                if (a.metrics.len(), b.metrics.len()) != (na, nb) {
                    return Err(Error::Shard("a partial result of other scenarios".into()));
                }
                sa.merge(a);
                sb.merge(b);
            }
            for t in p.batches {
                let k = t.batch as usize;
                let bad = || Error::Shard("a partial result with batches of other scenarios".into());
                match t.diffs {
                    Some(d) if d.len() == losses.len() && k < whole.len() => whole[k] = Some(d),
                    None if t.mine.len() == losses.len() && t.base.len() == losses.len() && k < split.len() => {
                        match &mut split[k] {
                            Some((m, b)) => {
                                m.iter_mut().zip(&t.mine).for_each(|(x, y)| x.merge(y));
                                b.iter_mut().zip(&t.base).for_each(|(x, y)| x.merge(y));
                            }
                            None => split[k] = Some((t.mine, t.base)),
                        }
                    }
                    _ => return Err(bad()),
                }
            }
            nodes.extend(p.nodes);
        }
        let sums = rebuild(paths, nodes, &merge_pair_sums)?;
        let (a, b, diffs) =
            sums.unwrap_or_else(|| (Sums::new(na, ba), Sums::new(nb, bb), vec![Moments::default(); pairs.len()]));
        let (mine, base) = (assemble(a, sa, ba), assemble(b, sb, bb));
        let batch_diffs: Vec<Vec<(f64, f64)>> = whole
            .into_iter()
            .zip(split)
            .filter_map(|(w, s)| w.or_else(|| s.map(|(m, b)| tail_diffs(&m, &b))))
            .collect();
        let batched = paths / PAIRED_BATCHES >= MIN_BATCH_PATHS && batch_diffs.len() == PAIRED_BATCHES as usize;
        let mut k = 0;
        let tails = pairs
            .iter()
            .map(|(n, i, j)| {
                if !n.is_loss() {
                    return None;
                }
                let (x, y) = (&mine.metrics[*i].sketch, &base.metrics[*j].sketch);
                let se = |f: &dyn Fn(&(f64, f64)) -> f64| -> Option<f64> {
                    batched.then(|| {
                        let mut m = Moments::default();
                        batch_diffs.iter().for_each(|b| m.add(f(&b[k])));
                        m.se()
                    })
                };
                let var = |s: &Sketch| s.quantile(0.99);
                let es = |s: &Sketch| s.tail_mean(0.99);
                // A quantile read off a sketch lies within half a bucket of
                // the order statistic; that error is not sampling noise and
                // batches do not see it, so it is added as a uniform error
                // on each side (the ES averages over many buckets and needs
                // no such term).
                let (qx, qy) = (var(x), var(y));
                let resolution = (x.resolution(qx).powi(2) + y.resolution(qy).powi(2)) / 3.0;
                let t = TailDiff {
                    d_var99: qx - qy,
                    d_es99: es(x) - es(y),
                    d_var99_se: se(&|d| d.0).map(|s| (s * s + resolution).sqrt()),
                    d_es99_se: se(&|d| d.1),
                };
                k += 1;
                Some(t)
            })
            .collect();
        Ok(Paired { mine, base, pairs, diffs, tails })
    }
}

/// A node of the merge tree: the merged result of chunks
/// `lo .. lo + size` (`size` a power of two, `lo` a multiple of it; chunks
/// past the end of the run are simply absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node<T> {
    pub lo: u64,
    pub size: u64,
    pub value: T,
}

/// The chunks of shard `k` of `n` (0 <= k < n) of a run of `paths` paths:
/// `floor(k C / n) .. floor((k + 1) C / n)`, `C` the run's number of chunks.
/// Path `i` lies in chunk `floor(i / CHUNK)` and keeps its random numbers
/// whichever shard simulates it.
pub fn shard_chunks(paths: u64, k: u64, n: u64) -> Range<u64> {
    assert!(k < n, "shard {k} of {n}");
    let c = u128::from(paths.div_ceil(CHUNK));
    let at = |k: u64| (u128::from(k) * c / u128::from(n)) as u64;
    at(k)..at(k + 1)
}

/// Finish the merge tree of a run of `paths` paths from nodes that cover
/// every chunk once (those of one run, or of all its shards): the same
/// merges in the same order as a whole run, so the same bits. Errors name
/// the first chunk no node covers, or a node left over (covered twice).
pub(crate) fn rebuild<T>(paths: u64, nodes: Vec<Node<T>>, merge: &dyn Fn(&mut T, T)) -> Result<Option<T>> {
    use std::collections::HashMap;
    let chunks = paths.div_ceil(CHUNK);
    let mut at: HashMap<(u64, u64), T> = HashMap::new();
    for n in nodes {
        if at.insert((n.lo, n.size), n.value).is_some() {
            return Err(Error::Shard(format!("chunks {}..{} are given twice", n.lo, n.lo + n.size)));
        }
    }
    fn go<T>(
        lo: u64,
        size: u64,
        chunks: u64,
        at: &mut HashMap<(u64, u64), T>,
        merge: &dyn Fn(&mut T, T),
    ) -> Result<Option<T>> {
        if lo >= chunks {
            return Ok(None);
        }
        if let Some(v) = at.remove(&(lo, size)) {
            return Ok(Some(v));
        }
        if size == 1 {
            return Err(Error::Shard(format!("no result covers chunk {lo} (paths {} ..)", lo * CHUNK)));
        }
        let half = size / 2;
        let left = go(lo, half, chunks, at, merge)?;
        let right = go(lo + half, half, chunks, at, merge)?;
        Ok(left.map(|mut l| {
            if let Some(r) = right {
                merge(&mut l, r);
            }
            l
        }))
    }
    let root = go(0, chunks.next_power_of_two(), chunks, &mut at, merge)?;
    match at.keys().min() {
        Some((lo, size)) => Err(Error::Shard(format!("chunks {lo}..{} are covered twice", lo + size))),
        None => Ok(root),
    }
}
