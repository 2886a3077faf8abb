//! The simulate/fold seam: what simulates blocks of paths ([`Simulator`]),
//! what each analysis does with them ([`Fold`]), and the one generic driver
//! ([`drive`]) that runs a fold over chunks of paths on the rayon pool and
//! merges the chunks' results in the fixed tree of [`super::driver`].
//!
//! A simulator fills a [`Block`] of `L` paths: the block kernel (each build,
//! at its width: [`Kernel`]) or the scalar reference ([`Reference`], the
//! plain one-path-at-a-time code, lane by lane). They agree bit for bit, so
//! every fold gives the same results on either; a GPU kernel would be one
//! more simulator.
//!
//! A fold says what to simulate for a block of paths and what to keep of
//! it: floating-point sums per chunk ([`Fold::Chunk`], merged in the fixed
//! tree, so the bits depend on the path indices alone), integer counts per
//! worker thread ([`Fold::Thread`], merged in any order, exactly), and the
//! buffers a chunk reuses ([`Fold::Scratch`]). The folds: the summary of a
//! run (`driver.rs`, also the rounds of a run to a precision), a paired
//! run (`driver.rs`), a stress test plain and paired
//! (`portfolio/stress.rs`), attribution and sensitivity (`analysis/`).
//!
//! The driver picks the block width from the simulator (32 lanes for the
//! AVX-512 build, 16 otherwise); every fold accumulates path by path in path
//! order (or in groups of eight, a divisor of every width), so the width
//! changes no result.

use std::ops::Range;
use std::sync::Mutex;

use super::block::{Block, Kernel, LANES, MAX_LANES};
use super::driver::{CHUNK, Node};
use super::{Engine, Keys, Switches, Workspace};
use crate::Cancel;

/// What simulates blocks of paths.
pub trait Simulator: Sync {
    /// The block width this simulator runs best at: [`LANES`] or [`MAX_LANES`].
    fn lanes(&self) -> usize;

    /// Simulate paths `first .. first + L` of `engine`'s scenario under
    /// `keys` (with some drivers switched off, if `on` says so) into `out`.
    fn simulate<const L: usize>(
        &self,
        engine: &Engine,
        keys: &Keys,
        on: Option<&Switches>,
        first: u64,
        out: &mut Block<L>,
    );
}

impl Simulator for Kernel {
    fn lanes(&self) -> usize {
        Kernel::lanes(*self)
    }

    #[inline]
    fn simulate<const L: usize>(
        &self,
        engine: &Engine,
        keys: &Keys,
        on: Option<&Switches>,
        first: u64,
        out: &mut Block<L>,
    ) {
        engine.block_on(*self, keys, first, out, on)
    }
}

/// The scalar reference kernel ([`Engine::path_with`]) as a simulator: each
/// lane of the block is one path simulated on its own. Slow; for tests that
/// check a fold on the block kernel against it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

impl Simulator for Reference {
    fn lanes(&self) -> usize {
        LANES
    }

    fn simulate<const L: usize>(
        &self,
        engine: &Engine,
        keys: &Keys,
        on: Option<&Switches>,
        first: u64,
        out: &mut Block<L>,
    ) {
        let mut ws: Workspace = engine.workspace();
        for l in 0..L {
            engine.path_with(keys, first + l as u64, &mut ws, on);
            out.set_lane(l, &ws);
        }
    }
}

/// What an analysis simulates for each block of paths and keeps of it.
pub trait Fold: Sync {
    /// Floating-point sums over one chunk of paths, merged in the fixed tree.
    type Chunk: Send;
    /// Integer counts of one worker thread, merged in any order (exactly).
    type Thread: Send;
    /// Buffers a chunk reuses from block to block.
    type Scratch<const L: usize>;

    fn chunk(&self) -> Self::Chunk;
    fn thread(&self) -> Self::Thread;

    /// The widest block this fold runs at: a fold that holds several
    /// blocks at once may ask for narrower ones, to stay in cache (the
    /// kernel is the same build; the results do not depend on the width).
    fn widest(&self) -> usize {
        MAX_LANES
    }
    fn scratch<const L: usize>(&self) -> Self::Scratch<L>;

    /// Simulate (through `sim`) and fold paths `first .. first + n`
    /// (`n <= L`; the block's last lanes are past the chunk when `n < L`).
    #[allow(clippy::too_many_arguments)]
    fn block<S: Simulator, const L: usize>(
        &self,
        sim: &S,
        first: u64,
        n: usize,
        scratch: &mut Self::Scratch<L>,
        chunk: &mut Self::Chunk,
        thread: &mut Self::Thread,
    );

    /// The end of a chunk, before its thread state goes back to the pool:
    /// a fold that holds work back in the scratch finishes it here.
    fn end_chunk<const L: usize>(&self, _scratch: &mut Self::Scratch<L>, _thread: &mut Self::Thread) {}

    fn merge(&self, a: &mut Self::Chunk, b: Self::Chunk);
    fn merge_threads(&self, a: &mut Self::Thread, b: Self::Thread);
}

/// Progress and cancellation of a drive.
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    /// Called with the paths of each finished chunk.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Read before each chunk: once cancelled, no chunk starts and the
    /// nodes returned are incomplete.
    pub cancel: &'a Cancel,
}

/// What a drive returns: the largest complete nodes of the merge tree
/// inside the range (each merged exactly as in a whole run, for
/// [`super::driver::rebuild`] to finish the tree) and the worker threads'
/// states merged (`None` when no chunk ran).
pub type Driven<F> = (Vec<Node<<F as Fold>::Chunk>>, Option<<F as Fold>::Thread>);

/// Run `fold` on every chunk of paths in `range` (chunk indices; a shard,
/// or `0..u64::MAX` for a whole run) of a run of `paths` paths, simulated
/// by `sim` in blocks of its width, on the current rayon pool.
pub fn drive<F: Fold, S: Simulator>(fold: &F, sim: &S, paths: u64, range: Range<u64>, watch: Watch) -> Driven<F> {
    match sim.lanes().min(fold.widest()) {
        MAX_LANES => drive_at::<F, S, MAX_LANES>(fold, sim, paths, range, watch),
        _ => drive_at::<F, S, LANES>(fold, sim, paths, range, watch),
    }
}

/// [`drive`] in blocks of `L` paths.
fn drive_at<F: Fold, S: Simulator, const L: usize>(
    fold: &F,
    sim: &S,
    paths: u64,
    range: Range<u64>,
    watch: Watch,
) -> Driven<F> {
    struct Ctx<'c, F: Fold, S> {
        fold: &'c F,
        sim: &'c S,
        paths: u64,
        chunks: u64,
        range: Range<u64>,
        threads: Mutex<Vec<F::Thread>>,
        watch: Watch<'c>,
    }
    /// One chunk: its paths in blocks of `L`, with a thread state taken
    /// from the pool (a worker holds at most one at a time).
    fn leaf<F: Fold, S: Simulator, const L: usize>(cx: &Ctx<F, S>, lo: u64) -> Option<F::Chunk> {
        // A cancelled run starts no more chunks: the nodes it returns are
        // incomplete, and the caller reports the cancellation.
        if cx.watch.cancel.is_cancelled() {
            return None;
        }
        let range = lo * CHUNK..((lo + 1) * CHUNK).min(cx.paths);
        let taken = cx.threads.lock().expect("no worker panicked").pop();
        let mut thread = taken.unwrap_or_else(|| cx.fold.thread());
        let mut chunk = cx.fold.chunk();
        let mut scratch = cx.fold.scratch::<L>();
        let mut first = range.start;
        while first < range.end {
            let n = (range.end - first).min(L as u64) as usize;
            cx.fold.block::<S, L>(cx.sim, first, n, &mut scratch, &mut chunk, &mut thread);
            first += L as u64;
        }
        cx.fold.end_chunk::<L>(&mut scratch, &mut thread);
        cx.threads.lock().expect("no worker panicked").push(thread);
        (cx.watch.progress)(range.end - range.start);
        Some(chunk)
    }
    /// The whole subtree `lo .. lo + size`.
    fn node<F: Fold, S: Simulator, const L: usize>(cx: &Ctx<F, S>, lo: u64, size: u64) -> Option<F::Chunk> {
        if lo >= cx.chunks {
            return None;
        }
        if size == 1 {
            return leaf::<F, S, L>(cx, lo);
        }
        let half = size / 2;
        let (left, right) = rayon::join(|| node::<F, S, L>(cx, lo, half), || node::<F, S, L>(cx, lo + half, half));
        let mut left = left?;
        if let Some(r) = right {
            cx.fold.merge(&mut left, r);
        }
        Some(left)
    }
    /// The largest subtrees of `lo .. lo + size` that lie inside the range.
    fn cover<F: Fold, S: Simulator, const L: usize>(cx: &Ctx<F, S>, lo: u64, size: u64) -> Vec<Node<F::Chunk>> {
        let hi = lo.saturating_add(size).min(cx.chunks);
        if lo >= hi || hi <= cx.range.start || lo >= cx.range.end {
            return Vec::new();
        }
        if cx.range.start <= lo && hi <= cx.range.end {
            return node::<F, S, L>(cx, lo, size).map(|value| Node { lo, size, value }).into_iter().collect();
        }
        let half = size / 2;
        let (mut left, right) =
            rayon::join(|| cover::<F, S, L>(cx, lo, half), || cover::<F, S, L>(cx, lo + half, half));
        left.extend(right);
        left
    }
    let chunks = paths.div_ceil(CHUNK);
    let cx = Ctx { fold, sim, paths, chunks, range, threads: Mutex::new(Vec::new()), watch };
    let nodes = cover::<F, S, L>(&cx, 0, chunks.next_power_of_two());
    let mut states = cx.threads.into_inner().expect("no worker panicked").into_iter();
    let merged = states.next().map(|mut first| {
        states.for_each(|o| fold.merge_threads(&mut first, o));
        first
    });
    (nodes, merged)
}
