//! Correlated parameters, sampling designs and samples.csv (issue 11).

use crate::common::{self, cmd, parse};

use backlog_risk::engine::Engine;
use backlog_risk::model::{Sampling, Scenario};

/// A scenario with three uncertain parameters of different families, the
/// first two rank-correlated at `rho`.
fn correlated(rho: f64, paths: u64) -> String {
    format!(
        r#"[scenario]
name = "corr"
start = "2026Q1"
quarters = 4
paths = {paths}
seed = 11

[providers.a]
recognition = {{ dist = "uniform", min = 0.05, max = 0.10 }}
other = {{ backlog = {{ dist = "pert", min = 50.0, mode = 80.0, max = 150.0 }}, bookings = 10.0, growth = {{ dist = "normal", mean = 0.05, sd = 0.05 }}, volatility = 0.2, beta = 0.0 }}

[[correlation]]
parameters = ["providers.a.recognition", "providers.a.other.backlog"]
rank = [[1.0, {rho}], [{rho}, 1.0]]
"#
    )
}

/// Ranks 0..n of `x` (no ties in continuous draws).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let mut r = vec![0.0; x.len()];
    for (k, &i) in order.iter().enumerate() {
        r[i] = k as f64;
    }
    r
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let m = (x.len() as f64 - 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - m) * (b - m);
        sxx += (a - m) * (a - m);
        syy += (b - m) * (b - m);
    }
    sxy / (sxx * syy).sqrt()
}

/// The columns of samples.csv by header.
fn columns(csv: &std::path::Path) -> std::collections::HashMap<String, Vec<f64>> {
    let mut r = csv::Reader::from_path(csv).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for rec in r.records() {
        for (c, v) in cols.iter_mut().zip(rec.unwrap().iter()) {
            c.push(v.parse().unwrap());
        }
    }
    header.into_iter().zip(cols).collect()
}

#[test]
fn declared_rank_correlation_holds_in_samples_csv_with_exact_marginals() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corr.toml");
    std::fs::write(&file, correlated(0.8, 100_000)).unwrap();
    let sc = backlog_risk::scenario::load(&file).unwrap();
    let params = sc.parameters();
    let dist = |path: &str| params.iter().find(|p| p.path == path).unwrap().dist.clone();
    for design in ["mc", "lhs", "sobol"] {
        let out = dir.path().join(design);
        cmd()
            .args(["run", file.to_str().unwrap(), "--samples", "100000", "--no-charts", "-q", "--sampling", design])
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let report = std::fs::read_to_string(out.join("corr/report.html")).unwrap();
        assert!(
            report.contains("providers.a.recognition ~ providers.a.other.backlog")
                && report.contains("rank correlation 0.8"),
            "the report's assumptions list the correlation"
        );
        let cols = columns(&out.join("corr/samples.csv"));
        assert_eq!(cols["path"].len(), 100_000);
        let (rec, book, growth) =
            (&cols["providers.a.recognition"], &cols["providers.a.other.backlog"], &cols["providers.a.other.growth"]);
        let rho = spearman(rec, book);
        assert!((rho - 0.8).abs() <= 0.02, "{design}: Spearman {rho}, declared 0.8");
        let free = spearman(rec, growth);
        assert!(free.abs() <= 0.02, "{design}: an uncorrelated parameter has Spearman {free}");
        // Each marginal is the file's: the share of draws below the
        // family's p-quantile is p, within 6 binomial standard errors.
        for (path, xs) in [
            ("providers.a.recognition", rec),
            ("providers.a.other.backlog", book),
            ("providers.a.other.growth", growth),
        ] {
            let d = dist(path);
            for p in [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] {
                let q = d.quantile(p);
                let below = xs.iter().filter(|x| **x <= q).count() as f64 / xs.len() as f64;
                let se = (p * (1.0 - p) / xs.len() as f64).sqrt();
                assert!((below - p).abs() <= 6.0 * se, "{design} {path}: P(X <= q{p}) = {below}");
            }
        }
        // The rows are the run's paths: path 0's metrics equal the
        // library's scalar simulation of path 0.
        let mut sc = sc.clone();
        sc.sampling = Sampling::parse(design).unwrap();
        let engine = Engine::new(&sc);
        let mut ws = engine.workspace();
        engine.path(&engine.keys(sc.seed, sc.paths), 0, &mut ws);
        assert_eq!(cols["backlog.a"][0], ws.metrics[0]);
    }
}

#[test]
fn an_invalid_matrix_is_refused_with_its_eigenvalue_and_the_nearest_valid_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = correlated(0.5, 1000).replace(
        "parameters = [\"providers.a.recognition\", \"providers.a.other.backlog\"]\nrank = [[1.0, 0.5], [0.5, 1.0]]",
        "parameters = [\"providers.a.recognition\", \"providers.a.other.backlog\", \"providers.a.other.growth\"]\nrank = [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]",
    );
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, &text).unwrap();
    let out = dir.path().join("out");
    let got = cmd().args(["run", file.to_str().unwrap(), "-q"]).arg("--out").arg(&out).assert().failure();
    let err = String::from_utf8(got.get_output().stderr.clone()).unwrap();
    assert!(err.contains("correlation[0].rank") && err.contains("smallest eigenvalue -0.8"), "{err}");
    assert!(!out.join("corr").exists(), "nothing is written for a refused scenario");
    // The suggested matrix, pasted in, is accepted.
    let line = err.lines().find(|l| l.trim_start().starts_with("rank = ")).expect("a matrix to paste");
    let fixed = text.replace("rank = [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]", line.trim());
    assert!(parse(&fixed).is_ok(), "the suggested {line} is refused: {:?}", parse(&fixed).err());

    // The other checks, each with its fix.
    for (from, to, says) in [
        ("[[1.0, 0.5], [0.5, 1.0]]", "[[1.0, 0.5], [0.4, 1.0]]", "not symmetric"),
        ("[[1.0, 0.5], [0.5, 1.0]]", "[[1.0, 1.5], [1.5, 1.0]]", "lie in [-1, 1]"),
        ("[[1.0, 0.5], [0.5, 1.0]]", "[[0.9, 0.5], [0.5, 1.0]]", "correlation with itself is 1"),
        ("[[1.0, 0.5], [0.5, 1.0]]", "[[1.0, 0.5]]", "must be 2 x 2"),
        ("\"providers.a.recognition\", ", "\"providers.a.other.bookings\", ", "is a plain number"),
        (
            "\"providers.a.recognition\", ",
            "\"providers.b.recognition\", ",
            "uncertain parameters are: providers.a.recognition",
        ),
    ] {
        let t = correlated(0.5, 1000).replace(from, to);
        let e = parse(&t).expect_err(to).to_string();
        assert!(e.contains(says), "{to}: {e}");
    }
}

/// A scenario whose backlog at the horizon is a smooth function of three
/// uncertain parameters alone (no volatility, no events).
const SMOOTH: &str = r#"[scenario]
name = "smooth"
start = "2026Q1"
quarters = 8
paths = 4096
seed = 1

[providers.a]
recognition = { dist = "uniform", min = 0.05, max = 0.10 }
other = { backlog = { dist = "uniform", min = 50.0, max = 150.0 }, bookings = 10.0, growth = { dist = "triangular", min = 0.0, mode = 0.05, max = 0.2 }, volatility = 0.0, beta = 0.0 }
"#;

/// Spread over 20 seeds of the mean of `backlog.a` under a design.
fn spread_of_the_mean(sampling: Sampling) -> f64 {
    let base = parse(SMOOTH).unwrap();
    let means: Vec<f64> = (0..20)
        .map(|seed| {
            let sc = Scenario { sampling, seed, ..base.clone() };
            common::run(&sc).1.metric("backlog.a").unwrap().mean
        })
        .collect();
    let m = means.iter().sum::<f64>() / 20.0;
    (means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 19.0).sqrt()
}

#[test]
fn stratified_designs_shrink_the_spread_of_the_mean() {
    let (mc, lhs, sobol) =
        (spread_of_the_mean(Sampling::Mc), spread_of_the_mean(Sampling::Lhs), spread_of_the_mean(Sampling::Sobol));
    eprintln!("sd of the mean over 20 seeds: mc {mc:.3e}, lhs {lhs:.3e}, sobol {sobol:.3e}");
    assert!(mc >= 5.0 * lhs, "lhs: sd {lhs:.3e} vs mc {mc:.3e}, less than 5 times smaller");
    assert!(sobol <= lhs, "sobol: sd {sobol:.3e} vs lhs {lhs:.3e}");
}

/// Every design, with a correlation on top, gives the same bits on 1, 2
/// and 7 threads and split into shards.
#[test]
fn designs_are_bit_identical_across_threads_and_shards() {
    let base = parse(&correlated(0.6, 10_000)).unwrap();
    for sampling in [Sampling::Mc, Sampling::Lhs, Sampling::Sobol] {
        let sc = Scenario { sampling, ..base.clone() };
        let engine = Engine::new(&sc);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| engine.run(sc.seed, sc.paths, &|_| {}))
        };
        let one = on(1);
        assert_eq!(one, on(2), "{sampling:?}: 1 vs 2 threads");
        assert_eq!(one, on(7), "{sampling:?}: 1 vs 7 threads");
        let parts: Vec<_> = (0..3)
            .map(|k| {
                let chunks = backlog_risk::engine::shard_chunks(sc.paths, k, 3);
                engine.run_chunks(sc.seed, sc.paths, chunks, &|_| {})
            })
            .collect();
        assert_eq!(one, engine.finish(sc.paths, parts).unwrap(), "{sampling:?}: 3 shards");
    }
}

/// es99 and its 95% half-width relative to it, from errors.csv.
fn es99_of(dir: &std::path::Path) -> (f64, f64) {
    let mut r = csv::Reader::from_path(dir.join("errors.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[0] == "loss.a" && &rec[1] == "es99" {
            let (est, lo, hi): (f64, f64, f64) =
                (rec[2].parse().unwrap(), rec[4].parse().unwrap(), rec[5].parse().unwrap());
            return (est, (hi - lo) / 2.0 / est.abs());
        }
    }
    panic!("no es99 row")
}

#[test]
fn precision_stops_at_the_first_round_that_meets_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corr.toml");
    std::fs::write(&file, correlated(0.5, 1000)).unwrap();
    let run = |extra: &[&str], out: &str| {
        cmd()
            .args(["run", file.to_str().unwrap(), "--no-charts", "-q", "--out"])
            .arg(dir.path().join(out))
            .args(extra)
            .assert()
            .success();
        dir.path().join(out).join("corr")
    };
    let got = run(&["--precision", "es99:loss.a<=2%", "--round-paths", "2048"], "p");
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(got.join("run.json")).unwrap()).unwrap();
    let p = &info["precision"];
    let (paths, rounds) = (p["paths"].as_u64().unwrap(), p["rounds"].as_u64().unwrap());
    assert!(p["met"].as_bool().unwrap() && rounds >= 3, "{p}");
    assert_eq!((paths, info["paths"].as_u64().unwrap()), (rounds * 2048, paths));
    let (_, reached) = es99_of(&got);
    assert!(reached <= 0.02 && (reached - p["relative_half_width"].as_f64().unwrap()).abs() < 1e-12);
    // The round before did not meet the target; the result is that of a
    // plain run of as many paths, bit for bit.
    let before = run(&["--paths", &(paths - 2048).to_string()], "before");
    assert!(es99_of(&before).1 > 0.02, "the round before already met the target");
    let same = run(&["--paths", &paths.to_string()], "same");
    for f in ["summary.csv", "errors.csv", "fan.csv"] {
        assert_eq!(std::fs::read(got.join(f)).unwrap(), std::fs::read(same.join(f)).unwrap(), "{f}");
    }
    // Out of budget: said on stderr (with -q too), recorded, exit status 3;
    // --max-paths is a hard maximum (two whole rounds of 2048 within 5000).
    let short = dir.path().join("short");
    let o = cmd()
        .args(["run", file.to_str().unwrap(), "--no-charts", "-q", "--out"])
        .arg(&short)
        .args(["--precision", "es99:loss.a<=0.01%", "--round-paths", "2048", "--max-paths", "5000"])
        .assert()
        .code(3);
    let err = String::from_utf8(o.get_output().stderr.clone()).unwrap();
    assert!(err.contains("NOT met within --max-paths 4096"), "{err}");
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(short.join("corr").join("run.json")).unwrap()).unwrap();
    assert_eq!((info["precision"]["met"].as_bool(), info["paths"].as_u64()), (Some(false), Some(4096)));
    // Less than one round is refused before anything runs.
    cmd()
        .args(["run", file.to_str().unwrap(), "-q", "--precision", "es99:loss.a<=1%", "--max-paths", "100", "--out"])
        .arg(dir.path().join("tiny"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--max-paths 100: less than one round of 65536 paths"));
    // Bad targets: a clear message, nothing written.
    for (target, says) in [("es99:loss.b<=1%", "no metric `loss.b`"), ("es99:loss.a=1%", "no `<=`")] {
        let out = dir.path().join("bad");
        let e = cmd()
            .args(["run", file.to_str().unwrap(), "-q", "--precision", target, "--out"])
            .arg(&out)
            .assert()
            .failure();
        let err = String::from_utf8(e.get_output().stderr.clone()).unwrap();
        assert!(err.contains(says), "{target}: {err}");
        assert!(!out.join("corr").exists());
    }
}

#[test]
fn the_stated_half_width_agrees_with_the_spread_over_seeds() {
    let base = parse(&correlated(0.5, 1000)).unwrap();
    let target = backlog_risk::precision::Target::parse("es99:loss.a<=3%").unwrap();
    let (mut estimates, mut halves) = (Vec::new(), Vec::new());
    for seed in 0..20 {
        let sc = Scenario { seed, ..base.clone() };
        let engine = Engine::new(&sc);
        let (_, r) =
            backlog_risk::precision::run_to_precision(&engine, seed, &target, (4096, 1 << 22), &|_| {}, &|_, _, _| {})
                .unwrap();
        assert!(r.met);
        estimates.push(r.estimate);
        halves.push(r.half_width);
    }
    let m = estimates.iter().sum::<f64>() / 20.0;
    let sd = (estimates.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 19.0).sqrt();
    let stated = halves.iter().sum::<f64>() / 20.0 / 1.959_963_984_540_054;
    eprintln!("es99 over 20 seeds: sd {sd:.4}, stated se {stated:.4}");
    assert!(sd / stated < 1.4 && stated / sd < 1.4, "spread {sd} vs stated se {stated}");
}

/// Under `lhs`, every parameter of a correlation block fills every stratum
/// (rank reordering, Iman-Conover), and the declared rank correlations hold
/// within sampling error.
#[test]
fn correlated_lhs_keeps_every_parameter_stratified() {
    let three = |paths: u64| {
        correlated(0.8, paths).replace(
            "parameters = [\"providers.a.recognition\", \"providers.a.other.backlog\"]\nrank = [[1.0, 0.8], [0.8, 1.0]]",
            "parameters = [\"providers.a.recognition\", \"providers.a.other.backlog\", \"providers.a.other.growth\"]\n\
             rank = [[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]]",
        )
    };
    assert!(three(10).contains("0.5, 1.0]]"), "test bug: the block was not replaced");
    let dir = tempfile::tempdir().unwrap();
    let names = ["providers.a.recognition", "providers.a.other.backlog", "providers.a.other.growth"];
    for paths in [1000u64, 20_000] {
        let file = dir.path().join(format!("three-{paths}.toml"));
        std::fs::write(&file, three(paths)).unwrap();
        let sc = backlog_risk::scenario::load(&file).unwrap();
        let params = sc.parameters();
        let out = dir.path().join(format!("out-{paths}"));
        cmd()
            .args(["run", file.to_str().unwrap(), "--sampling", "lhs", "--no-charts", "-q", "--samples"])
            .arg(paths.to_string())
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let cols = columns(&out.join("corr/samples.csv"));
        for name in names {
            let d = &params.iter().find(|p| p.path == name).unwrap().dist;
            // Stratum k of n holds the values between the k/n and (k+1)/n quantiles.
            let cuts: Vec<f64> = (1..paths).map(|k| d.quantile(k as f64 / paths as f64)).collect();
            let mut filled = vec![false; paths as usize];
            for x in &cols[name] {
                filled[cuts.partition_point(|c| c < x)] = true;
            }
            let n = filled.iter().filter(|f| **f).count();
            assert_eq!(n as u64, paths, "{name}: {n} of {paths} strata filled under correlated lhs");
        }
        if paths == 20_000 {
            // Spearman's sd is about (1 - rho^2) / sqrt(n) and below 0.01 here.
            for ((a, b), rho) in [((0, 1), 0.8), ((0, 2), 0.3), ((1, 2), 0.5)] {
                let got = spearman(&cols[names[a]], &cols[names[b]]);
                assert!((got - rho).abs() <= 0.03, "{} ~ {}: Spearman {got}, declared {rho}", names[a], names[b]);
            }
        }
    }
}
