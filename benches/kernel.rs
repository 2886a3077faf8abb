//! The block kernel against the cost of its own maths (issue 31).
//!
//! `cargo bench --bench kernel` times, for each build of the kernel this
//! CPU runs (baseline, AVX2, AVX-512), on one thread:
//!
//! - `kernel/BUILD`: the kernel alone (no fold) on `openai-shift`, in
//!   lane-quarters (one path's quarter): criterion's elements per second,
//!   so `1e9 / rate` is ns per lane-quarter; and `run-1-thread`, a whole
//!   run of 8 chunks (kernel, fold, merge) on the widest build, whose rate
//!   is reported for one chunk: divide it by 8; and the kernel on the same
//!   paths cut to 4 quarters, whose difference from the whole horizon
//!   splits the kernel's time into its quarter loop and its per-block
//!   set-up (parameters drawn, metrics recorded);
//! - `maths/BUILD/F`: the crate's own `exp`, `ln`, `sincos_2pi`,
//!   `normal_pair` (Box-Muller: one `ln`, one `sqrt`, one `sincos` for two
//!   normals) and Philox4x32-10 (`philox_lanes`, four words per lane), each
//!   over 4,096 values in a loop compiled with the build's instruction set,
//!   as the kernel's copy is: elements per second, so `1e9 / rate` is ns
//!   per value (per lane for Philox).
//!
//! A quarter of one path needs, for `u` demand units and `r` rules, `u + 1`
//! normals (the common factor and each unit), `u` exps, and `(u + 1 + r) /
//! 4` Philox calls (four words each: four quarters of normals or event
//! words). The README sets the kernel's ns per lane-quarter against that
//! sum: how far the kernel is from its own maths.

use std::hint::black_box;
use std::path::Path;

use backlog_risk::engine::{Block, CHUNK, Engine, Kernel, MAX_LANES};
use backlog_risk::stats::Sketch;
use backlog_risk::{math, rng, scenario};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Values per maths loop.
const N: usize = 4096;

/// The operations timed, by number.
const EXP: u8 = 0;
const LN: u8 = 1;
const SINCOS: u8 = 2;
const NORMAL_PAIR: u8 = 3;
const PHILOX: u8 = 4;
const PHILOX2: u8 = 5;
const EXP_F32: u8 = 6;
const NORMAL_PAIR_F32: u8 = 7;

/// The instruction set of a copy, as the kernel's (Philox has intrinsics
/// of its own in the AVX2 and AVX-512 kernels).
const GENERIC: u8 = 0;
#[cfg(target_arch = "x86_64")]
const AVX2: u8 = 1;
#[cfg(target_arch = "x86_64")]
const AVX512: u8 = 2;

/// Philox4x32-10 of `MAX_LANES` paths, as the kernel of `ISA` draws it.
#[inline(always)]
fn philox<const ISA: u8>(path0: u64) -> [[u32; MAX_LANES]; 4] {
    let key = [0x1234_5678, 0x9abc_def0];
    #[cfg(target_arch = "x86_64")]
    if ISA == AVX512 {
        // SAFETY: only called from `maths_avx512`, run only with AVX-512F.
        let (a, b) = unsafe { (rng::philox16_avx512(path0, 7, 1, key), rng::philox16_avx512(path0 + 16, 7, 1, key)) };
        return std::array::from_fn(|j| std::array::from_fn(|l| if l < 16 { a[j][l] } else { b[j][l - 16] }));
    }
    #[cfg(target_arch = "x86_64")]
    if ISA == AVX2 {
        // SAFETY: only called from `maths_avx2`, run only with AVX2.
        let parts: [[[u32; 8]; 4]; 4] =
            std::array::from_fn(|h| unsafe { rng::philox8_avx2(path0 + 8 * h as u64, 7, 1, key) });
        return std::array::from_fn(|j| std::array::from_fn(|l| parts[l / 8][j][l % 8]));
    }
    rng::philox_lanes::<MAX_LANES>(path0, 7, 1, key)
}

/// One operation over `x` (and the words `w`) into `out`, in a loop over
/// lanes as the kernel's, which the compiler vectorises with whatever
/// instruction set it is built for.
#[inline(always)]
fn maths<const OP: u8, const ISA: u8>(x: &[f64], w: &[u32], out: &mut [f64]) {
    match OP {
        EXP => x.iter().zip(out.iter_mut()).for_each(|(x, o)| *o = math::exp(*x)),
        LN => x.iter().zip(out.iter_mut()).for_each(|(x, o)| *o = math::ln(*x)),
        SINCOS => x.iter().zip(out.iter_mut()).for_each(|(x, o)| {
            let (c, s) = math::sincos_2pi(*x - 0.5);
            *o = c + s;
        }),
        NORMAL_PAIR => {
            // Two normals per lane from two words, block by block.
            let (w0, w1) = w.split_at(w.len() / 2);
            let blocks = w0.chunks_exact(MAX_LANES).zip(w1.chunks_exact(MAX_LANES));
            for ((a, b), o) in blocks.zip(out.chunks_exact_mut(2 * MAX_LANES)) {
                let (o0, o1) = o.split_at_mut(MAX_LANES);
                for l in 0..MAX_LANES {
                    (o0[l], o1[l]) = math::normal_pair(a[l], b[l]);
                }
            }
        }
        PHILOX2 => philox2::<ISA>(out),
        // The single-precision candidates, in and out of f32 arrays
        // (the arguments and results in f32 bits).
        EXP_F32 => {
            let (x, out) = (f32s(x), f32s_mut(out));
            x.iter().zip(out.iter_mut()).for_each(|(x, o)| *o = math::single::exp(*x));
        }
        NORMAL_PAIR_F32 => {
            let out = f32s_mut(out);
            let (w0, w1) = w.split_at(w.len() / 2);
            let blocks = w0.chunks_exact(2 * MAX_LANES).zip(w1.chunks_exact(2 * MAX_LANES));
            for ((a, b), o) in blocks.zip(out.chunks_exact_mut(4 * MAX_LANES)) {
                let (o0, o1) = o.split_at_mut(2 * MAX_LANES);
                for l in 0..2 * MAX_LANES {
                    (o0[l], o1[l]) = math::single::normal_pair(a[l], b[l]);
                }
            }
        }
        _ => {
            for (b, o) in out.chunks_exact_mut(MAX_LANES).enumerate() {
                let words = philox::<ISA>((b * MAX_LANES) as u64);
                for (l, o) in o.iter_mut().enumerate() {
                    *o = f64::from(words[0][l] ^ words[1][l] ^ words[2][l] ^ words[3][l]);
                }
            }
        }
    }
}

/// The first half of an f64 buffer's bytes as f32s (the single-precision
/// candidates' arguments and results: as many values in half the bytes).
fn f32s(x: &[f64]) -> &[f32] {
    // SAFETY: f32 has no invalid bit patterns and a smaller alignment.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) }
}

fn f32s_mut(x: &mut [f64]) -> &mut [f32] {
    // SAFETY: as in `f32s`, through the one mutable borrow.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len()) }
}

/// Philox4x32-10 as the AVX-512 kernel draws a group of quarters: two
/// runs of 16 lanes side by side, rounds interleaved (the other builds
/// draw one run at a time, as [`philox`]).
#[inline(always)]
fn philox2<const ISA: u8>(out: &mut [f64]) {
    let key = [0x1234_5678, 0x9abc_def0];
    #[cfg(target_arch = "x86_64")]
    if ISA == AVX512 {
        use std::arch::x86_64::_mm512_storeu_si512;
        for (b, o) in out.chunks_exact_mut(32).enumerate() {
            let path0: [u64; 2] = std::array::from_fn(|i| (32 * b + 16 * i) as u64);
            let mut words = [0u32; 128];
            // SAFETY: only called from `maths_avx512`, run only with AVX-512F.
            let runs = unsafe { rng::philox16xn_avx512(path0, 7, 1, [key; 2]) };
            for (c, w) in runs.iter().flatten().enumerate() {
                // SAFETY: as above; unaligned stores inside `words`.
                unsafe { _mm512_storeu_si512(words[16 * c..].as_mut_ptr().cast(), *w) };
            }
            // Run i's word j of lane l is words[16 (4 i + j) + l].
            for (i, o) in o.chunks_exact_mut(16).enumerate() {
                let w = &words[64 * i..];
                for (l, o) in o.iter_mut().enumerate() {
                    *o = f64::from(w[l] ^ w[16 + l] ^ w[32 + l] ^ w[48 + l]);
                }
            }
        }
        return;
    }
    maths::<PHILOX, ISA>(&[], &[], out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn maths_avx2<const OP: u8>(x: &[f64], w: &[u32], out: &mut [f64]) {
    maths::<OP, AVX2>(x, w, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512dq,avx512vl")]
fn maths_avx512<const OP: u8>(x: &[f64], w: &[u32], out: &mut [f64]) {
    maths::<OP, AVX512>(x, w, out)
}

/// [`maths`] built as `kernel`'s copy is.
fn maths_on<const OP: u8>(kernel: Kernel, x: &[f64], w: &[u32], out: &mut [f64]) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Kernel::available` lists AVX-512 only when the CPU has it.
        Kernel::Avx512 => unsafe { maths_avx512::<OP>(x, w, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: likewise for AVX2.
        Kernel::Avx2 => unsafe { maths_avx2::<OP>(x, w, out) },
        _ => maths::<OP, GENERIC>(x, w, out),
    }
}

fn maths_cost(c: &mut Criterion) {
    // Arguments in the ranges the kernel sees: exp of a quarter's log
    // step, ln of a unit draw, sincos of a unit draw.
    let x: Vec<f64> = (0..N).map(|i| (i as f64 + 0.5) / N as f64).collect();
    let steps: Vec<f64> = x.iter().map(|u| 0.3 * (u - 0.5)).collect();
    // The same steps as f32 bits, in the first half of an f64 buffer.
    let mut steps32 = vec![0.0f64; N];
    f32s_mut(&mut steps32).iter_mut().zip(&steps).for_each(|(s, x)| *s = *x as f32);
    let w: Vec<u32> = (0..N as u32).map(|i| rng::mix(u64::from(i)) as u32).collect();
    let mut out = vec![0.0; N];
    let mut group = c.benchmark_group("maths");
    group.throughput(Throughput::Elements(N as u64));
    for kernel in Kernel::available() {
        let build = format!("{kernel:?}");
        group.bench_function(format!("{build}/exp"), |b| {
            b.iter(|| maths_on::<EXP>(kernel, black_box(&steps), &w, black_box(&mut out)))
        });
        group.bench_function(format!("{build}/ln"), |b| {
            b.iter(|| maths_on::<LN>(kernel, black_box(&x), &w, black_box(&mut out)))
        });
        group.bench_function(format!("{build}/sincos"), |b| {
            b.iter(|| maths_on::<SINCOS>(kernel, black_box(&x), &w, black_box(&mut out)))
        });
        group.bench_function(format!("{build}/normal_pair (per normal)"), |b| {
            b.iter(|| maths_on::<NORMAL_PAIR>(kernel, &x, black_box(&w), black_box(&mut out)))
        });
        group.bench_function(format!("{build}/exp f32"), |b| {
            b.iter(|| maths_on::<EXP_F32>(kernel, black_box(&steps32), &w, black_box(&mut out)))
        });
        group.bench_function(format!("{build}/normal_pair f32 (per normal)"), |b| {
            b.iter(|| maths_on::<NORMAL_PAIR_F32>(kernel, &x, black_box(&w), black_box(&mut out)))
        });
        group.bench_function(format!("{build}/philox (per lane)"), |b| {
            b.iter(|| maths_on::<PHILOX>(kernel, &x, &w, black_box(&mut out)))
        });
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 {
            group.bench_function(format!("{build}/philox, two runs interleaved (per lane)"), |b| {
                b.iter(|| maths_on::<PHILOX2>(kernel, &x, &w, black_box(&mut out)))
            });
        }
    }
    group.finish();
}

/// The kernel alone over one chunk of paths, at the build's width.
fn kernel_cost(c: &mut Criterion) {
    let sc = scenario::load(Path::new("scenarios/openai-shift.toml")).expect("shipped scenario loads");
    let mut group = c.benchmark_group("kernel/openai-shift");
    group.throughput(Throughput::Elements(CHUNK * sc.quarters as u64));
    group.sample_size(20);
    // The whole run (kernel, fold and merge) of 8 chunks on one thread,
    // in the same unit, for the fold's share.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
    let engine = Engine::new(&sc);
    group.bench_function(format!("run-1-thread-{:?} (per lane-quarter, 1/8 of the time)", engine.kernel()), |b| {
        b.iter(|| pool.install(|| engine.run(sc.seed, 8 * CHUNK, &|_| {})))
    });
    // The same paths cut to the first four quarters: the difference from
    // the whole horizon is the quarter loop alone, the rest the per-block
    // set-up (drawing the parameters, the metrics at the end).
    let mut short = sc.clone();
    short.quarters = 4;
    for kernel in Kernel::available() {
        for (sc, what) in [(&sc, String::new()), (&short, format!(", {} quarters", short.quarters))] {
            let engine = Engine::new(sc).with_kernel(kernel);
            let keys = engine.keys(sc.seed, CHUNK);
            let name = format!("{kernel:?}-{}-lanes{what} (per lane-quarter)", kernel.lanes());
            group.throughput(Throughput::Elements(CHUNK * sc.quarters as u64));
            if kernel.lanes() == MAX_LANES {
                let mut block: Block<MAX_LANES> = engine.block_buffer_of();
                group.bench_function(name, |b| b.iter(|| chunk(&engine, kernel, &keys, &mut block)));
            } else {
                let mut block: Block = engine.block_buffer();
                group.bench_function(name, |b| b.iter(|| chunk(&engine, kernel, &keys, &mut block)));
            }
        }
    }
    group.finish();
}

fn chunk<const L: usize>(engine: &Engine, kernel: Kernel, keys: &backlog_risk::engine::Keys, block: &mut Block<L>) {
    for first in (0..CHUNK).step_by(L) {
        engine.block_on(kernel, keys, first, block, None);
        black_box(&block.metrics);
    }
}

/// The fold's counting against a bare counter: the values one chunk of
/// `openai-shift` gives the fold (every metric and every fan and revenue
/// cell of its 2,048 paths), counted eight at a time into sketches already
/// holding a chunk (`Sketch::add8`, as the AVX2 and baseline builds' fold
/// counts them; the AVX-512 build's stages the band cells and counts them
/// cell by cell, and this bench runs the portable build of `add8`), against
/// one byte incremented per value at an index read from a table (the least
/// a histogram can do). Elements are values, so `1e9 / rate` is ns per value.
fn fold_cost(c: &mut Criterion) {
    let sc = scenario::load(Path::new("scenarios/openai-shift.toml")).expect("shipped scenario loads");
    let engine = Engine::new(&sc);
    let kernel = engine.kernel();
    let keys = engine.keys(sc.seed, CHUNK);
    let mut block: Block<MAX_LANES> = engine.block_buffer_of();
    // cells[k]: the chunk's values of cell k, in path order.
    let mut cells: Vec<Vec<f64>> = Vec::new();
    for first in (0..CHUNK).step_by(MAX_LANES) {
        engine.block_on(kernel, &keys, first, &mut block, None);
        let rows = block.metrics.iter().chain(&block.totals).chain(&block.quarter_revenue);
        if cells.is_empty() {
            cells = vec![Vec::with_capacity(CHUNK as usize); rows.clone().count()];
        }
        cells.iter_mut().zip(rows).for_each(|(cell, row)| cell.extend_from_slice(row));
    }
    let values: u64 = cells.iter().map(|c| c.len() as u64).sum();
    let mut group = c.benchmark_group(format!("fold/openai-shift ({} cells)", cells.len()));
    group.throughput(Throughput::Elements(values));
    let mut sketches: Vec<Sketch> = cells
        .iter()
        .map(|cell| {
            let mut s = Sketch::new();
            s.add_slice(cell);
            s
        })
        .collect();
    group.bench_function("sketch add8 (per value)", |b| {
        b.iter(|| {
            for (s, cell) in sketches.iter_mut().zip(&cells) {
                cell.as_chunks::<8>().0.iter().for_each(|x| s.add8(x));
            }
        })
    });
    // The bare counter: a byte per bucket of the value's key, the index
    // computed beforehand.
    let index: Vec<Vec<u32>> =
        cells.iter().map(|cell| cell.iter().map(|x| (x.abs().to_bits() >> 43) as u32 & 0xfff).collect()).collect();
    let mut counts = vec![vec![0u8; 4096]; cells.len()];
    group.bench_function("bare counter (per value)", |b| {
        b.iter(|| {
            for (c, idx) in counts.iter_mut().zip(&index) {
                idx.iter().for_each(|&i| c[i as usize] = c[i as usize].wrapping_add(1));
            }
            black_box(&counts);
        })
    });
    group.finish();
}

criterion_group!(benches, kernel_cost, maths_cost, fold_cost);
criterion_main!(benches);
