//! Throughput of the engine in paths per second.
//!
//! `cargo bench` runs the shipped `openai-shift` scenario (28 quarters, 4
//! providers, 2 customers, a shift and 2 renegotiation rules) at 1 and 2
//! threads, and each build of the block kernel this CPU runs (baseline,
//! AVX2, AVX-512) on one thread; criterion reports elements (= paths) per
//! second.

use std::path::Path;

use backlog_risk::engine::{Engine, Kernel};
use backlog_risk::scenario;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const PATHS: u64 = 50_000;

fn engine_throughput(c: &mut Criterion) {
    let sc = scenario::load(Path::new("scenarios/openai-shift.toml")).expect("shipped scenario loads");
    let engine = Engine::new(&sc);
    let mut group = c.benchmark_group("engine/openai-shift");
    group.throughput(Throughput::Elements(PATHS));
    group.sample_size(10);
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| pool.install(|| engine.run(sc.seed, PATHS, &|_| {})))
        });
    }
    group.finish();
}

/// Every build of the block kernel this CPU runs, one thread (each gives
/// the same numbers).
fn kernels(c: &mut Criterion) {
    let sc = scenario::load(Path::new("scenarios/openai-shift.toml")).expect("shipped scenario loads");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
    let mut group = c.benchmark_group("kernel/openai-shift");
    group.throughput(Throughput::Elements(PATHS));
    group.sample_size(10);
    for kernel in Kernel::available() {
        let engine = Engine::new(&sc).with_kernel(kernel);
        let name = format!("{kernel:?}-{}-lanes", kernel.lanes());
        group.bench_function(name, |b| b.iter(|| pool.install(|| engine.run(sc.seed, PATHS, &|_| {}))));
    }
    group.finish();
}

/// A ten-holding portfolio evaluated on every path, against the simulation
/// alone, both on 2 threads.
fn portfolio_overhead(c: &mut Criterion) {
    let sc = scenario::load(Path::new("scenarios/openai-shift.toml")).expect("shipped scenario loads");
    let engine = Engine::new(&sc);
    let metrics = ["backlog.azure", "backlog.aws", "backlog.oci", "backlog.coreweave", "revenue.azure"];
    let mut text = String::from("[portfolio]\nname = \"ten\"\nvalue = 1000.0\n");
    for i in 0..10 {
        let (a, b) = (metrics[i % 5], metrics[(i + 2) % 5]);
        text.push_str(&format!(
            "[[holding]]\nname = \"h{i}\"\nweight = 0.1\nvolatility = 0.25\nexposure = {{ \"{a}\" = 0.3, \"{b}\" = 0.2 }}\n"
        ));
    }
    let portfolio = backlog_risk::portfolio::parse(&text, Path::new("bench.toml")).expect("bench portfolio");
    let bound = portfolio.bind(&engine).expect("binds");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("thread pool");
    let mut group = c.benchmark_group("portfolio/openai-shift");
    group.throughput(Throughput::Elements(PATHS));
    group.sample_size(10);
    group.bench_function("simulation-only", |b| b.iter(|| pool.install(|| engine.run(sc.seed, PATHS, &|_| {}))));
    group
        .bench_function("ten-holdings", |b| b.iter(|| pool.install(|| bound.stress(&engine, sc.seed, PATHS, &|_| {}))));
    group.finish();
}

criterion_group!(benches, engine_throughput, kernels, portfolio_overhead);
criterion_main!(benches);
