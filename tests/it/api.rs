//! The core's API in-process: each function gives what the engine's own
//! drivers give, bit for bit, and a cancelled call stops within a chunk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backlog_risk::api::{self, Observer, Options};
use backlog_risk::engine::{CHUNK, Engine};
use backlog_risk::precision::Target;
use backlog_risk::{Cancel, Error, report, scenario};

fn shipped(name: &str) -> backlog_risk::model::Scenario {
    scenario::load(format!("scenarios/{name}").as_ref()).unwrap()
}

#[test]
fn run_equals_the_engine_and_ignores_threads() {
    let sc = shipped("openai-shift.toml");
    let opts = Options { paths: Some(30_000), seed: Some(11), threads: Some(2), ..Options::default() };
    let done = AtomicU64::new(0);
    let count = |n: u64| {
        done.fetch_add(n, Ordering::Relaxed);
    };
    let r = api::run(&sc, &opts, &Observer::new().with_progress(&count)).unwrap();
    assert_eq!(done.load(Ordering::Relaxed), 30_000, "progress counts every path once");
    let engine = Engine::new(&r.scenario);
    let acc = engine.run(11, 30_000, &|_| {});
    assert_eq!(r.accumulator, acc);
    assert_eq!(r.summary, report::summarise(&engine, &acc, 11));
    let one = api::run(&sc, &Options { threads: Some(1), ..opts }, &Observer::new()).unwrap();
    assert_eq!(one.accumulator, acc);
}

#[test]
fn paired_run_equals_the_engine_and_a_variant_equal_to_its_base_differs_by_zero() {
    let (sc, base) = (shipped("variants/openai-shift-fast.toml"), shipped("openai-shift.toml"));
    let opts = Options { paths: Some(20_000), ..Options::default() };
    let r = api::run_paired(&sc, &base, &opts, &Observer::new()).unwrap();
    let mine = Options { paths: Some(20_000), ..Options::default() }.apply(&sc).unwrap();
    let theirs = Options { paths: Some(20_000), seed: Some(mine.seed), ..Options::default() }.apply(&base).unwrap();
    let p = Engine::new(&mine).run_paired(&Engine::new(&theirs), mine.seed, 20_000, &|_| {});
    assert_eq!((&r.paired.mine, &r.paired.base, &r.paired.diffs), (&p.mine, &p.base, &p.diffs));
    assert!(r.rows.iter().any(|row| row.metric == "loss.azure" && row.diff != 0.0));
    // The base against itself under another name: every difference is 0.
    let mut twin = base.clone();
    twin.name = "twin".into();
    let same = api::run_paired(&twin, &base, &opts, &Observer::new()).unwrap();
    assert!(same.paired.diffs.iter().all(|d| d.mean() == 0.0 && d.max() == 0.0 && d.min() == 0.0));
}

/// A base recorded once and run against gives the paired run that
/// simulates it, bit for bit: one partial chunk, and several chunks under
/// a Latin hypercube (whose design depends on the path count) on 2 threads.
#[test]
fn paired_run_against_a_recorded_base_equals_the_paired_run() {
    let (sc, base) = (shipped("variants/openai-shift-fast.toml"), shipped("openai-shift.toml"));
    for (paths, sampling) in [(2_000, None), (9_000, Some(backlog_risk::model::Sampling::Lhs))] {
        let opts = Options { paths: Some(paths), seed: Some(base.seed), sampling, threads: Some(2) };
        let recorded = api::record_base(&base, &opts, &Observer::new()).unwrap();
        assert_eq!(recorded.paths(), paths);
        let a = api::run_paired_against(&sc, &recorded, &opts, &Observer::new()).unwrap();
        let b = api::run_paired(&sc, &base, &opts, &Observer::new()).unwrap();
        // Sketches compare by their counts (their stores' layout depends
        // on the threads); the figures read off them compare by their bits.
        assert_eq!((&a.run.accumulator, &a.paired.base), (&b.run.accumulator, &b.paired.base), "{paths} paths");
        let bits =
            |r: &api::PairedRun| format!("{:?}", (&r.run.summary, &r.paired.diffs, &r.paired.tails, &r.rows, &r.notes));
        assert_eq!(bits(&a), bits(&b), "{paths} paths");
        assert!(a.rows.iter().any(|row| row.metric == "loss.azure" && row.diff != 0.0));
    }
    let opts = Options { paths: Some(2_000), seed: Some(base.seed), ..Options::default() };
    let recorded = api::record_base(&base, &opts, &Observer::new()).unwrap();
    let e =
        api::run_paired_against(&sc, &recorded, &Options { paths: Some(4_000), ..opts }, &Observer::new()).unwrap_err();
    assert!(e.to_string().contains("recorded on 2000 paths") && e.to_string().contains("this run has 4000"), "{e}");
    let lhs = Options { sampling: Some(backlog_risk::model::Sampling::Lhs), ..opts };
    let e = api::run_paired_against(&sc, &recorded, &lhs, &Observer::new()).unwrap_err();
    assert!(e.to_string().contains("mc sampling") && e.to_string().contains("lhs sampling"), "{e}");
}

#[test]
fn paired_runs_of_other_horizons_are_refused() {
    let base = shipped("openai-shift.toml");
    let mut short = base.clone();
    short.name = "short".into();
    short.quarters -= 1;
    let e = api::run_paired(&short, &base, &Options::default(), &Observer::new()).unwrap_err();
    assert!(matches!(e, Error::Option { option: "paired", .. }), "{e:?}");
    assert!(e.to_string().contains("give both the same start and quarters"), "{e}");
}

#[test]
fn run_to_precision_is_a_run_of_the_paths_it_took() {
    let sc = shipped("openai-shift.toml");
    let t = Target::parse("mean:loss.azure<=5%").unwrap();
    let rounds = AtomicU64::new(0);
    let after = |_: u64, _: f64, _: f64| {
        rounds.fetch_add(1, Ordering::Relaxed);
    };
    let (r, reached) =
        api::run_to_precision(&sc, &t, (8 * CHUNK, 64 * CHUNK), &Options::default(), &Observer::new(), &after).unwrap();
    assert!(reached.met && reached.relative_half_width <= 0.05, "{reached:?}");
    assert_eq!(rounds.load(Ordering::Relaxed), reached.rounds);
    assert_eq!(r.scenario.paths, reached.paths);
    // Keyed to its rounds (the Latin hypercube of a round), the same draws
    // as a whole run under plain Monte Carlo.
    assert_eq!(r.accumulator, Engine::new(&sc).run(sc.seed, reached.paths, &|_| {}));
    let e = api::run_to_precision(&sc, &t, (1000, 64 * CHUNK), &Options::default(), &Observer::new(), &|_, _, _| {});
    assert!(e.unwrap_err().to_string().contains("not a whole number of chunks"));
}

/// A 10M-path run cancelled while it runs: it returns `Cancelled`, and no
/// chunk starts after the request (at most one chunk per thread was in
/// flight). The delay is printed, not asserted (timings belong in
/// benchmarks); the bound of 5 s only catches a run that ignores the token.
#[test]
fn a_cancelled_ten_million_path_run_stops_within_a_chunk() {
    let sc = shipped("openai-shift.toml");
    let opts = Options { paths: Some(10_000_000), threads: Some(2), ..Options::default() };
    let token = Cancel::new();
    let done = AtomicU64::new(0);
    let count = |n: u64| {
        done.fetch_add(n, Ordering::SeqCst);
    };
    let (at_cancel, result, delay) = std::thread::scope(|s| {
        let obs = Observer::new().with_progress(&count).with_cancel(&token);
        let worker = s.spawn(move || {
            let r = api::run(&sc, &opts, &obs);
            (r, Instant::now())
        });
        while done.load(Ordering::SeqCst) < 100 * CHUNK {
            std::thread::sleep(Duration::from_millis(5));
        }
        token.cancel();
        let asked = Instant::now();
        let at_cancel = done.load(Ordering::SeqCst);
        let (r, ended) = worker.join().unwrap();
        (at_cancel, r, ended.saturating_duration_since(asked))
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    let after = done.load(Ordering::SeqCst);
    assert!(after <= at_cancel + 2 * CHUNK, "{after} paths done, {at_cancel} when cancelled");
    assert!(after < 10_000_000);
    assert!(delay < Duration::from_secs(5), "{delay:?}");
    eprintln!("cancelled after {at_cancel} paths; returned {delay:?} after the request");
}

/// Run the binary with `args` and read `file` of its output folder.
fn cli_file(args: &[&str], file: &str) -> Vec<u8> {
    let out = tempfile::tempdir().unwrap();
    crate::common::cmd().args(args).args(["--quiet", "--no-charts", "--out"]).arg(out.path()).assert().success();
    std::fs::read(out.path().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The API and the command line are one computation: what the API returns,
/// written by the core's writers, is the CLI's file byte for byte.
#[test]
fn the_api_writes_what_the_command_line_writes() {
    use backlog_risk::writers::output;
    let sc = shipped("openai-shift.toml");
    let o = Options { paths: Some(6000), ..Options::default() };
    let r = api::run(&sc, &o, &Observer::new()).unwrap();
    let cli = cli_file(&["run", "scenarios/openai-shift.toml", "--paths", "6000"], "openai-shift/summary.csv");
    assert_eq!(output::summary_csv(&r.summary).unwrap(), cli);

    let what = api::ExplainWhat::default();
    let e = api::explain(&sc, &what, &Options { paths: Some(2048), ..Options::default() }, &Observer::new()).unwrap();
    let cli = cli_file(&["explain", "scenarios/openai-shift.toml", "--paths", "2048"], "openai-shift/attribution.csv");
    assert_eq!(output::rows_csv(&e.attribution.unwrap().rows).unwrap(), cli);

    let text = std::fs::read_to_string("scenarios/litigation-shock.toml").unwrap();
    let file = std::path::Path::new("scenarios/litigation-shock.toml");
    let spec = api::SweepSpec {
        vary: vec![api::parse_vary("renegotiation[0].hazard=0.1,0.3").unwrap()],
        stat: "es99".into(),
        metric: None,
        renormalise: false,
    };
    let base = scenario::load(file).unwrap();
    let s =
        api::sweep(base, &text, file, &spec, &Options { paths: Some(4096), ..Options::default() }, &Observer::new())
            .unwrap();
    let names: Vec<&str> = s.plan.vary.iter().map(|(p, _)| p.as_str()).collect();
    let mine = output::sweep_csv(&names, &s.plan.grid, &s.points, (&s.plan.metric, &s.plan.stat)).unwrap();
    let args = ["sweep", "scenarios/litigation-shock.toml", "--vary", "renegotiation[0].hazard=0.1,0.3"];
    let cli = cli_file(
        &[&args[..], &["--stat", "es99", "--paths", "4096"]].concat(),
        "litigation-shock/sweep-renegotiation-0-hazard.csv",
    );
    assert_eq!(mine, cli);

    let portfolio = backlog_risk::portfolio::load("portfolios/aws-vs-msft.toml".as_ref()).unwrap();
    let base = shipped("status-quo.toml");
    let o = Options { paths: Some(8192), ..Options::default() };
    let api::Stressed::Ran(_, row) = api::stress(&portfolio, &sc, Some(&base), &o, &Observer::new()).unwrap() else {
        panic!("the shipped portfolio fits the shipped scenario")
    };
    let args = ["stress", "--portfolio", "portfolios/aws-vs-msft.toml", "--paired", "scenarios/status-quo.toml"];
    let cli = cli_file(
        &[&args[..], &["scenarios/openai-shift.toml", "--paths", "8192"]].concat(),
        "openai-shift/portfolio-aws-vs-msft/paired-status-quo.csv",
    );
    assert_eq!(output::rows_csv(std::slice::from_ref(&row)).unwrap(), cli);
}

/// Every API function stops on a token cancelled before it starts.
#[test]
fn every_api_function_honours_a_cancelled_token() {
    let token = Cancel::new();
    token.cancel();
    let obs = Observer::new().with_cancel(&token);
    let (sc, base) = (shipped("openai-shift.toml"), shipped("status-quo.toml"));
    let o = Options { paths: Some(50_000), ..Options::default() };
    let cancelled = |r: Result<(), Error>| assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    cancelled(api::run(&sc, &o, &obs).map(|_| ()));
    cancelled(api::run_paired(&sc, &base, &o, &obs).map(|_| ()));
    let t = Target::parse("es99:loss.azure<=0.1%").unwrap();
    cancelled(api::run_to_precision(&sc, &t, (8 * CHUNK, 64 * CHUNK), &o, &obs, &|_, _, _| {}).map(|_| ()));
    cancelled(api::explain(&sc, &api::ExplainWhat::default(), &o, &obs).map(|_| ()));
    let portfolio = backlog_risk::portfolio::load("portfolios/ai-infra.toml".as_ref()).unwrap();
    cancelled(api::stress(&portfolio, &sc, None, &o, &obs).map(|_| ()));
    let file = std::path::Path::new("scenarios/litigation-shock.toml");
    let text = std::fs::read_to_string(file).unwrap();
    let spec = api::SweepSpec {
        vary: vec![api::parse_vary("renegotiation[0].hazard=0.1,0.3").unwrap()],
        stat: "mean".into(),
        metric: None,
        renormalise: false,
    };
    cancelled(api::sweep(scenario::load(file).unwrap(), &text, file, &spec, &o, &obs).map(|_| ()));
}

/// `api::merge` refuses shards that do not belong together, naming the
/// source: another kind of run, another `--paired` base, a missing shard.
#[test]
fn merge_refuses_shards_of_other_runs_by_name() {
    use backlog_risk::writers::shard::{Attached, Payload, ShardFile, ShardHeader};
    let (sc, base) = (shipped("variants/openai-shift-fast.toml"), shipped("openai-shift.toml"));
    let sc = Options { paths: Some(3 * CHUNK), ..Options::default() }.apply(&sc).unwrap();
    let (e, b) = (Engine::new(&sc), Engine::new(&base));
    let text = scenario::resolve("scenarios/variants/openai-shift-fast.toml".as_ref()).unwrap().text;
    let header = |k| ShardHeader::new(&sc, "fast.toml", &text, &[], (k, 3));
    let paired = |k, base_text: &str| {
        let partial =
            e.run_paired_chunks(&b, sc.seed, sc.paths, backlog_risk::engine::shard_chunks(sc.paths, k, 3), &|_| {});
        let file = ShardFile {
            header: header(k),
            payload: Payload::Paired { base: Attached::new("base.toml", base_text), partial },
        };
        Ok(api::Shard { source: format!("s{k}.bin"), file })
    };
    let plain = |k| {
        let partial = e.run_chunks(sc.seed, sc.paths, backlog_risk::engine::shard_chunks(sc.paths, k, 3), &|_| {});
        Ok(api::Shard {
            source: format!("p{k}.bin"),
            file: ShardFile { header: header(k), payload: Payload::Run(partial) },
        })
    };
    let err = |shards: Vec<Result<api::Shard, Error>>| api::merge(shards, &Observer::new()).unwrap_err().to_string();
    // Two bases (the texts are checked against their SHA-256 and read).
    let base_text = |f: &str| scenario::resolve(format!("scenarios/{f}").as_ref()).unwrap().text;
    let (a, b) = (base_text("openai-shift.toml"), base_text("status-quo.toml"));
    let m = err(vec![paired(0, &a), plain(1), paired(2, &a)]);
    assert!(m.starts_with("p1.bin: a shard of another run than s0.bin (its kind of run differs)"), "{m}");
    let m = err(vec![paired(0, &a), paired(1, &b), paired(2, &a)]);
    assert!(m.contains("s1.bin") && m.contains("its paired base differs"), "{m}");
    let m = err(vec![plain(0), plain(2)]);
    assert!(m.starts_with("shard 1 of 3 of scenario openai-shift-fast missing"), "{m}");
    // All three, in any order: the whole run.
    let merged = api::merge(vec![plain(2), plain(0), plain(1)], &Observer::new()).unwrap();
    let api::Merged::Run(r) = merged.merged else { panic!("a run") };
    assert_eq!(r.accumulator, e.run(sc.seed, sc.paths, &|_| {}));
}
