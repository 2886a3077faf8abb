//! The engine's two kernels, its keyed draws and the precision of what it
//! reports.

use crate::common;

use backlog_risk::engine::{Engine, Kernel, LANES, MAX_LANES, books_relative_error};
use backlog_risk::model::{Sampling, Scenario};
use backlog_risk::report;
use backlog_risk::stats::{self, RELATIVE_ERROR, ZERO_BAND};
use common::{bits, parse};

fn shipped() -> Vec<Scenario> {
    let mut files: Vec<_> = std::fs::read_dir("scenarios").unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|f| f.extension().is_some_and(|e| e == "toml"));
    files.push("tests/fixtures/pinned.toml".into());
    files.sort();
    files.iter().map(|f| backlog_risk::scenario::load(f).unwrap()).collect()
}

/// The block kernel (every build this CPU runs, at both block widths)
/// against the scalar reference, bit for bit, on every shipped scenario
/// under every sampling design, for paths whose index crosses 2^32.
#[test]
fn block_kernel_agrees_with_the_scalar_reference_bit_for_bit() {
    let designs = [Sampling::Mc, Sampling::Lhs, Sampling::Sobol];
    let kernels = Kernel::available();
    eprintln!("kernels compared with the scalar reference: {kernels:?}");
    for sc in shipped().into_iter().flat_map(|sc| designs.map(|sampling| Scenario { sampling, ..sc.clone() })) {
        for &kernel in &kernels {
            agrees_with_scalar::<LANES>(&sc, kernel);
            agrees_with_scalar::<MAX_LANES>(&sc, kernel);
        }
    }
}

/// Blocks of `L` paths from `kernel` against the scalar reference.
fn agrees_with_scalar<const L: usize>(sc: &Scenario, kernel: Kernel) {
    agrees_with_scalar_at::<L>(sc, kernel, &[0, 8, 4096, (1u64 << 32) - 4]);
}

/// [`agrees_with_scalar`] on the blocks starting at `firsts`.
fn agrees_with_scalar_at<const L: usize>(sc: &Scenario, kernel: Kernel, firsts: &[u64]) {
    let engine = Engine::new(sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let (mut ws, mut m) = (engine.workspace(), Vec::new());
    let built = Engine::new(sc).with_kernel(kernel);
    let mut b = built.block_buffer_of::<L>();
    for &first in firsts {
        built.block(&keys, first, &mut b);
        for l in 0..L {
            let path = first + l as u64;
            let at = format!("{} {kernel:?} {L} lanes path {path}", sc.name);
            engine.path(&keys, path, &mut ws);
            b.lane_metrics(l, &mut m);
            assert_eq!(bits(&m), bits(&ws.metrics), "{at}: metrics");
            let lane = |v: &[[f64; L]]| v.iter().map(|x| x[l].to_bits()).collect::<Vec<_>>();
            assert_eq!(lane(&b.totals), bits(&ws.totals), "{at}: backlog");
            assert_eq!(lane(&b.quarter_revenue), bits(&ws.quarter_revenue), "{at}: revenue");
        }
    }
}

/// Frequent events, up to four per rule, with severities whose first try
/// is often rejected (a tightly truncated normal, a PERT of small shape):
/// the block kernel's lane-wise first severities and its scalar fallbacks
/// against the scalar reference, every build at both widths.
#[test]
fn frequent_events_and_rejected_severities_agree_with_the_scalar_reference() {
    let base_rule = r#"hazard = { dist = "uniform", min = 0.1, max = 0.5 }
severity = { dist = "pert", min = 0.05, mode = 0.2, max = 0.6 }
migrate = 0.5
to = { aws = 1.0 }"#;
    let frequent = r#"hazard = { dist = "uniform", min = 1.0, max = 3.0 }
severity = { dist = "pert", min = 0.0, mode = 0.02, max = 0.9, lambda = 0.5 }
max_events = 3"#;
    assert!(BASE.contains(base_rule));
    let text = BASE.replace("paths = 4000", "paths = 1024").replace(base_rule, frequent)
        + r#"
[[renegotiation]]
customer = "openai"
provider = "aws"
hazard = 3.0
severity = { dist = "normal", mean = 0.2, sd = 0.3, min = 0.15, max = 0.25 }
migrate = 0.5
to = { azure = 1.0 }
max_events = 4
"#;
    let sc = parse(&text).unwrap();
    let firsts: Vec<u64> = (0..32).map(|i| 32 * i).collect();
    for kernel in Kernel::available() {
        agrees_with_scalar_at::<LANES>(&sc, kernel, &firsts);
        agrees_with_scalar_at::<MAX_LANES>(&sc, kernel, &firsts);
    }
    // The events do happen, more than once on some paths.
    let engine = Engine::new(&sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let mut ws = engine.workspace();
    let names = sc.metric_names();
    let events = names.iter().position(|n| n.starts_with("events.")).expect("an event count metric");
    let counts: Vec<f64> = (0..256)
        .map(|i| {
            engine.path(&keys, i, &mut ws);
            ws.metrics[events]
        })
        .collect();
    assert!(counts.iter().any(|c| *c >= 2.0), "no path had two events: {counts:?}");
}

/// The books in single precision against the same paths with their books
/// in double (the same draws, the same demand indices), on every shipped
/// scenario and on frequent events with migration: every quarter's total
/// backlog and revenue of every provider within
/// `books_relative_error(t, customers, events)` of its double value, shares
/// within twice that, losses within it times the backlog; and that bound,
/// at the horizon, under a tenth of the sketches' resolution.
#[test]
fn single_precision_books_stay_within_their_bound_of_double() {
    let mut scenarios = shipped();
    let frequent = BASE
        .replace("paths = 4000", "paths = 512")
        .replace("migrate = 0.5\nto = { aws = 1.0 }\n", "migrate = 0.5\nto = { aws = 1.0 }\nmax_events = 3\n")
        .replace("hazard = { dist = \"uniform\", min = 0.1, max = 0.5 }", "hazard = 2.0");
    assert!(frequent.contains("max_events = 3") && frequent.contains("hazard = 2.0"));
    scenarios.push(parse(&frequent).unwrap());
    let mut differed = 0usize;
    for sc in &scenarios {
        let engine = Engine::new(sc);
        let keys = engine.keys(sc.seed, sc.paths);
        let (mut narrow, mut wide) = (engine.workspace(), engine.workspace());
        let names = sc.metric_names();
        let (np, nc, tq) = (sc.providers.len(), sc.customers.len(), sc.quarters as usize);
        for i in 0..sc.paths.min(512) {
            engine.path(&keys, i, &mut narrow);
            engine.path_double(&keys, i, &mut wide);
            let events: f64 =
                names.iter().zip(&narrow.metrics).filter(|(n, _)| n.starts_with("events.")).map(|(_, x)| x).sum();
            let bound = |t: usize| books_relative_error(t, nc, events as usize);
            assert!(bound(tq) < RELATIVE_ERROR / 10.0, "{}: bound {} at the horizon", sc.name, bound(tq));
            for (k, (a, b)) in narrow.totals.iter().zip(&wide.totals).enumerate() {
                let t = k / np + 1;
                assert!((a - b).abs() <= bound(t) * b.abs(), "{} path {i} quarter {t}: backlog {a} vs {b}", sc.name);
                differed += usize::from(a != b);
            }
            for (k, (a, b)) in narrow.quarter_revenue.iter().zip(&wide.quarter_revenue).enumerate() {
                let t = k / np + 1;
                assert!((a - b).abs() <= bound(t) * b.abs(), "{} path {i} quarter {t}: revenue {a} vs {b}", sc.name);
            }
            let backlog = &wide.metrics[..np];
            for ((name, a), b) in names.iter().zip(&narrow.metrics).zip(&wide.metrics) {
                let within = if name.starts_with("share.") {
                    2.0 * bound(tq) * b.abs()
                } else if name.starts_with("loss.") {
                    let p = sc.providers.iter().position(|p| name.ends_with(&format!(".{}", p.name))).unwrap();
                    bound(tq) * backlog[p].abs()
                } else if name.starts_with("events.") {
                    0.0
                } else {
                    bound(tq) * b.abs()
                };
                assert!((a - b).abs() <= within, "{} path {i}: {name} {a} vs {b}", sc.name);
            }
        }
    }
    assert!(differed > 0, "single and double never differed: the books are not single precision");
}

/// Totals beyond single precision's range: a path whose backlog overflows
/// single precision runs its books in double (the scalar reference and
/// every build of the block kernel alike, lane by lane within a block),
/// and nothing it reports is infinite or NaN.
#[test]
fn totals_beyond_single_precision_fall_back_to_double() {
    let text = format!(
        "{}[providers.azure]
recognition = 0.05
other = {{ backlog = 10.0, bookings = 1.0, growth = 2.0, volatility = 0.3 }}
         [customers.c]
bookings = 1.0
growth = 1.0
volatility = 0.2
backlog = {{ azure = 5.0 }}
allocation = {{ azure = 1.0 }}
",
        common::header(174, 2048)
    );
    let sc = parse(&text).unwrap();
    let engine = Engine::new(&sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let (mut ws, mut wide) = (engine.workspace(), engine.workspace());
    let mut fell_back = 0;
    for i in 0..sc.paths {
        engine.path(&keys, i, &mut ws);
        let horizon = ws.metrics[0];
        assert!(horizon.is_finite(), "path {i}: backlog {horizon}");
        if horizon > f64::from(f32::MAX) {
            fell_back += 1;
            engine.path_double(&keys, i, &mut wide);
            assert_eq!(bits(&ws.metrics), bits(&wide.metrics), "path {i}: its books in double");
            assert_eq!(bits(&ws.totals), bits(&wide.totals), "path {i}: its backlog path in double");
        }
    }
    // Some paths of every block of 32, not all of them.
    assert!(fell_back > 20 && fell_back < 1000, "{fell_back} of {} paths beyond single precision", sc.paths);
    let firsts: Vec<u64> = (0..16).map(|i| 32 * i).collect();
    for kernel in Kernel::available() {
        agrees_with_scalar_at::<LANES>(&sc, kernel, &firsts);
        agrees_with_scalar_at::<MAX_LANES>(&sc, kernel, &firsts);
    }
    let (_, s) = common::run(&sc);
    for m in &s.metrics {
        assert!([m.mean, m.sd, m.min, m.max, m.p50, m.p99].iter().all(|x| x.is_finite()), "{}: {m:?}", m.metric);
    }
}

/// The engine runs the widest build the CPU has (unless told otherwise in
/// the environment), at its block width.
#[test]
fn the_widest_kernel_is_chosen() {
    if std::env::var_os("BACKLOG_RISK_NO_SIMD").is_some() || std::env::var_os("BACKLOG_RISK_NO_AVX512").is_some() {
        eprintln!("a narrower kernel is asked for in the environment: not tested");
        return;
    }
    let available = Kernel::available();
    assert_eq!(available[0], Kernel::Generic);
    let widest = *available.last().unwrap();
    assert_eq!(Kernel::detect(), widest);
    let lanes: Vec<usize> = available.iter().map(|k| k.lanes()).collect();
    assert!(lanes.iter().all(|&l| l == LANES || l == MAX_LANES), "{lanes:?}");
    assert!(lanes.windows(2).all(|w| w[0] <= w[1]), "wider builds take at least as many lanes: {lanes:?}");
    eprintln!("kernel {widest:?}, {} lanes", widest.lanes());
}

/// A whole run (and a paired run) folds the same accumulator whichever
/// kernel, and so whichever block width, the driver uses: a path count that
/// leaves partial blocks of both widths.
#[test]
fn runs_are_identical_for_every_kernel_and_block_width() {
    let sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    let fast = backlog_risk::scenario::load("scenarios/variants/openai-shift-fast.toml".as_ref()).unwrap();
    let paths = 2 * 2048 + 16 + 8 + 3;
    let kernels = Kernel::available();
    let run = |k: Kernel| Engine::new(&sc).with_kernel(k).run(7, paths, &|_| {});
    let paired = |k: Kernel| {
        let p = Engine::new(&fast).with_kernel(k).run_paired(&Engine::new(&sc).with_kernel(k), 7, paths, &|_| {});
        (p.mine, p.base, p.diffs)
    };
    let (want, want_paired) = (run(Kernel::Generic), paired(Kernel::Generic));
    assert_eq!(want.paths(), paths);
    for &k in &kernels[1..] {
        assert_eq!(run(k), want, "{k:?} ({} lanes) against the baseline build", k.lanes());
        assert_eq!(paired(k), want_paired, "{k:?}: paired run");
    }
}

const BASE: &str = r#"
[scenario]
name = "base"
start = "2026Q1"
quarters = 12
paths = 4000
seed = 3

[providers.azure]
recognition = { dist = "uniform", min = 0.05, max = 0.09 }
other = { backlog = 300.0, bookings = 30.0, growth = 0.1, volatility = 0.2, beta = 0.5 }

[providers.aws]
recognition = 0.07
other = { backlog = 200.0, bookings = 20.0, growth = 0.08, volatility = 0.2, beta = 0.4 }

[customers.openai]
bookings = { dist = "pert", min = 15.0, mode = 25.0, max = 45.0 }
growth = 0.2
volatility = 0.35
beta = 0.7
backlog = { azure = 281.0, aws = 38.0 }
allocation = { azure = 0.45, aws = 0.55 }

[[customers.openai.shift]]
from = "azure"
target = { dist = "uniform", min = 0.1, max = 0.3 }
half_life = 6.0
to = { aws = 1.0 }

[[renegotiation]]
customer = "openai"
provider = "azure"
hazard = { dist = "uniform", min = 0.1, max = 0.5 }
severity = { dist = "pert", min = 0.05, mode = 0.2, max = 0.6 }
migrate = 0.5
to = { aws = 1.0 }
"#;

/// A provider and a customer that touch nothing else, added before the
/// others in the file: every metric of the untouched providers is exactly
/// the base's on every path (keyed draws), so the paired difference is 0
/// with sd 0.
#[test]
fn entities_added_elsewhere_leave_paired_differences_exactly_zero() {
    let base = parse(BASE).unwrap();
    let variant_text = BASE.replace(
        "[providers.azure]",
        "[providers.coreweave]\nrecognition = 0.1\nother = { backlog = 10.0, bookings = 1.0, growth = 0.3, volatility = 0.5, beta = 0.6 }\n\n\
         [customers.meta]\nbookings = { dist = \"uniform\", min = 1.0, max = 3.0 }\ngrowth = 0.1\nvolatility = 0.3\nbeta = 0.2\n\
         backlog = { coreweave = 14.0 }\nallocation = { coreweave = 1.0 }\n\n[providers.azure]",
    );
    let variant = parse(&variant_text.replace("\"base\"", "\"variant\"")).unwrap();
    assert_eq!(variant.providers[0].name, "coreweave", "the new provider comes first");
    let (ev, eb) = (Engine::new(&variant), Engine::new(&base));
    let r = ev.run_paired(&eb, base.seed, base.paths, &|_| {});
    let untouched = ["azure", "aws"];
    let mut checked = 0;
    for ((metric, _, _), d) in r.pairs.iter().zip(&r.diffs) {
        let name = metric.to_string();
        if untouched.iter().any(|p| name.ends_with(&format!(".{p}"))) && !name.starts_with("share.meta.") {
            assert_eq!((d.mean(), d.sd(), d.min(), d.max()), (0.0, 0.0, 0.0, 0.0), "{name}");
            checked += 1;
        }
    }
    // backlog, revenue, loss of 2 providers, openai's 2 shares, 1 event count.
    assert_eq!(checked, 3 * 2 + 2 + 1, "{:?}", r.pairs);
    // Reordering the file's entities changes nothing at all.
    let (az, aws, cust) = (
        BASE.find("[providers.azure]").unwrap(),
        BASE.find("[providers.aws]").unwrap(),
        BASE.find("[customers").unwrap(),
    );
    let swapped = format!("{}{}{}{}", &BASE[..az], &BASE[aws..cust], &BASE[az..aws], &BASE[cust..]);
    let reordered = parse(&swapped).unwrap();
    assert_eq!(reordered.providers[0].name, "aws");
    let (_, a) = common::run(&base);
    let (_, b) = common::run(&reordered);
    for m in &a.metrics {
        assert_eq!(Some(m), b.metric(&m.metric), "{}", m.metric);
    }
}

/// Fan and revenue bands against exact sample quantiles of the same paths.
#[test]
fn bands_are_within_the_bound_of_exact_sample_quantiles() {
    let sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    let paths = 20_000u64;
    let engine = Engine::new(&sc);
    let summary = report::summarise(&engine, &engine.run(sc.seed, paths, &|_| {}), sc.seed);
    let keys = engine.keys(sc.seed, sc.paths);
    let mut ws = engine.workspace();
    let cells = ws.totals.len();
    let (mut backlog, mut revenue) = (vec![Vec::new(); cells], vec![Vec::new(); cells]);
    for i in 0..paths {
        engine.path(&keys, i, &mut ws);
        for c in 0..cells {
            backlog[c].push(ws.totals[c]);
            revenue[c].push(ws.quarter_revenue[c]);
        }
    }
    let np = sc.providers.len();
    for (rows, values) in [(&summary.fan, &mut backlog), (&summary.revenue, &mut revenue)] {
        for row in rows.iter() {
            let p = sc.providers.iter().position(|x| x.name == row.provider).unwrap();
            let v = &mut values[(row.quarter as usize - 1) * np + p];
            v.sort_by(f64::total_cmp);
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            assert!((row.mean - mean).abs() <= 1e-9 * mean.abs(), "{} q{} mean", row.provider, row.quarter);
            for (level, got) in report::FAN_LEVELS.iter().zip([row.p5, row.p25, row.p50, row.p75, row.p95]) {
                let exact = stats::exact_quantile(v, *level);
                assert!(
                    (got - exact).abs() <= RELATIVE_ERROR * exact.abs() + ZERO_BAND,
                    "{} q{} p{level}: {got} vs exact {exact}",
                    row.provider,
                    row.quarter
                );
            }
        }
    }
    const { assert!(RELATIVE_ERROR < 0.001, "the bound is within 0.1%") };
}

/// The reported standard error of ES99 against the spread of ES99 over 20
/// seeds: they agree within a factor of 1.4.
#[test]
fn es99_standard_error_matches_its_spread_over_seeds() {
    let sc = parse(BASE).unwrap();
    let engine = Engine::new(&sc);
    let (mut es, mut se) = (Vec::new(), Vec::new());
    for seed in 0..20 {
        let s = report::summarise(&engine, &engine.run(seed, 20_000, &|_| {}), seed);
        let row = s.errors.iter().find(|r| r.metric == "loss.azure" && r.stat == "es99").unwrap();
        assert!(row.ci_low < row.estimate && row.estimate < row.ci_high);
        es.push(row.estimate);
        se.push(row.se);
    }
    let m = es.iter().sum::<f64>() / 20.0;
    let spread = (es.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 19.0).sqrt();
    let reported = se.iter().sum::<f64>() / 20.0;
    let ratio = spread / reported;
    assert!((1.0 / 1.4..=1.4).contains(&ratio), "sd of ES99 over seeds {spread} vs reported se {reported}");
}

/// A run split into shards (3, 7, and more shards than chunks), finished
/// from the shards' partial results in any order, is the whole run bit for
/// bit; a missing or repeated shard is refused.
#[test]
fn shards_finish_to_the_whole_run_bit_for_bit() {
    use backlog_risk::engine::{CHUNK, shard_chunks};
    let sc = backlog_risk::scenario::load("tests/fixtures/pinned.toml".as_ref()).unwrap();
    let engine = Engine::new(&sc);
    // Not a multiple of the chunk size: the last chunk is partial.
    let paths = 9 * CHUNK + 123;
    let whole = engine.run(sc.seed, paths, &|_| {});
    for n in [1u64, 3, 7, 16] {
        let mut parts: Vec<_> =
            (0..n).map(|k| engine.run_chunks(sc.seed, paths, shard_chunks(paths, k, n), &|_| {})).collect();
        parts.reverse();
        assert!(engine.finish(paths, parts.clone()).unwrap() == whole, "{n} shards differ from one run");
        if n > 1 {
            let missing = parts[1..].to_vec();
            assert!(engine.finish(paths, missing).unwrap_err().to_string().contains("no result covers chunk"));
            let mut twice = parts.clone();
            twice.push(parts[0].clone());
            assert!(engine.finish(paths, twice).is_err());
        }
    }
    // The split covers every chunk once, in order.
    let covered: Vec<u64> = (0..7).flat_map(|k| shard_chunks(paths, k, 7)).collect();
    assert_eq!(covered, (0..paths.div_ceil(CHUNK)).collect::<Vec<_>>());
}

/// The seam: a run and a paired run folded from blocks the scalar reference
/// simulated (one path at a time, lane by lane) equal those of every build
/// of the block kernel, bit for bit, partial blocks included.
#[test]
fn folds_on_the_reference_simulator_equal_every_kernel() {
    use backlog_risk::engine::Reference;
    let sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    let fast = backlog_risk::scenario::load("scenarios/variants/openai-shift-fast.toml".as_ref()).unwrap();
    let paths = 2048 + 40 + 3;
    let (e, b) = (Engine::new(&fast), Engine::new(&sc));
    let keys = e.keys(5, paths);
    let reference = e.finish(paths, vec![e.run_chunks_on(&Reference, &keys, paths, 0..u64::MAX, &|_| {})]).unwrap();
    let paired_ref = e
        .finish_paired(&b, paths, vec![e.run_paired_chunks_on(&Reference, &b, 5, paths, 0..u64::MAX, &|_| {})])
        .unwrap();
    for k in Kernel::available() {
        let run = e.finish(paths, vec![e.run_chunks_on(&k, &keys, paths, 0..u64::MAX, &|_| {})]).unwrap();
        assert_eq!(run, reference, "{k:?}");
        let p =
            e.finish_paired(&b, paths, vec![e.run_paired_chunks_on(&k, &b, 5, paths, 0..u64::MAX, &|_| {})]).unwrap();
        assert_eq!((&p.mine, &p.base, &p.diffs), (&paired_ref.mine, &paired_ref.base, &paired_ref.diffs), "{k:?}");
        assert_eq!(p.tails, paired_ref.tails, "{k:?}");
    }
}
