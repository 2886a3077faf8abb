//! Throughput of the engine in paths per second.
//!
//! `cargo bench` runs the shipped `openai-shift` scenario (28 quarters, 4
//! providers, 2 customers, a shift and 2 renegotiation rules) at 1 and 2
//! threads; criterion reports elements (= paths) per second.

use std::path::Path;

use backlog_risk::engine::Engine;
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

criterion_group!(benches, engine_throughput);
criterion_main!(benches);
