//! `explain`: Sobol' indices, tornado and their errors (issue 10).

use crate::common::{self, cmd, parse};

use backlog_risk::analysis::sensitivity;
use backlog_risk::engine::Engine;

/// A provider whose horizon backlog is `c1 B0 + c2 K`: its other book `B0`
/// and bookings `K` are independent uniforms, its demand index is 1 on
/// every path (no growth, no volatility), nothing else varies.
const ADDITIVE: &str = r#"[scenario]
name = "additive"
start = "2026Q1"
quarters = 8
paths = 200000
seed = 5

[providers.a]
recognition = 0.1
other = { backlog = { dist = "uniform", min = 100.0, max = 500.0 }, bookings = { dist = "uniform", min = 0.0, max = 40.0 }, growth = 0.0, volatility = 0.0, beta = 0.0 }
"#;

#[test]
fn sobol_indices_of_an_additive_metric_match_their_closed_form() {
    let sc = parse(ADDITIVE).unwrap();
    // Each quarter recognises 10% of the book, then adds the bookings:
    // B_T = 0.9^T B0 + K sum_{t<T} 0.9^t.
    let c1 = 0.9f64.powi(8);
    let c2: f64 = (0..8).map(|t| 0.9f64.powi(t)).sum();
    let (v1, v2) = (c1 * c1 * 400.0 * 400.0 / 12.0, c2 * c2 * 40.0 * 40.0 / 12.0);
    let engine = Engine::new(&sc);
    let (acc, _) = common::run(&sc);
    let k = sc.metric_names().iter().position(|m| m == "loss.a").unwrap();
    let rows = sensitivity::sensitivity(&engine, sc.seed, sc.paths, k, &acc, &|_| {}).unwrap();
    let row = |p: &str| rows.iter().find(|r| r.parameter == p).unwrap();
    for (p, want) in [("providers.a.other.backlog", v1 / (v1 + v2)), ("providers.a.other.bookings", v2 / (v1 + v2))] {
        let r = row(p);
        assert!((r.first_order - want).abs() <= 0.03, "{p}: first order {} vs {want}", r.first_order);
        // Additive: the total order equals the first.
        assert!((r.total_order - want).abs() <= 0.03, "{p}: total order {} vs {want}", r.total_order);
        assert!(r.first_order_se > 0.0 && r.first_order_se < 0.01, "{p}: se {}", r.first_order_se);
        // The loss falls as the input rises: rank correlation negative,
        // the swing from high to low.
        assert!(r.rank_corr.unwrap() < -0.3 && r.swing_low.unwrap() > r.swing_high.unwrap(), "{r:?}");
    }
    // The same bits on any number of threads.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let again = pool.install(|| sensitivity::sensitivity(&engine, sc.seed, sc.paths, k, &acc, &|_| {}).unwrap());
    assert_eq!(rows, again, "1 or 2 threads against 3");
    let noise = row("noise");
    assert_eq!((noise.first_order, noise.total_order), (0.0, 0.0), "nothing but the two inputs varies");
}

#[test]
fn explain_writes_sensitivity_csv_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("additive.toml");
    std::fs::write(&file, ADDITIVE.replace("paths = 200000", "paths = 20000")).unwrap();
    let out = dir.path().join("out");
    let run =
        |extra: &[&str]| cmd().args(["explain", file.to_str().unwrap(), "-q", "--out"]).arg(&out).args(extra).assert();
    run(&["--chart-size", "960x600"]).success();
    let csv = std::fs::read_to_string(out.join("additive/sensitivity.csv")).unwrap();
    assert!(csv.starts_with(
        "metric,parameter,first_order,first_order_se,total_order,total_order_se,rank_corr,swing_low,swing_high\n"
    ));
    assert_eq!(csv.lines().count(), 1 + 3, "two parameters and noise: {csv}");
    assert!(out.join("additive/tornado.png").exists());

    let bad = dir.path().join("bad");
    let e = cmd()
        .args(["explain", file.to_str().unwrap(), "-q", "--metric", "loss.b", "--out"])
        .arg(&bad)
        .assert()
        .failure();
    let err = String::from_utf8(e.get_output().stderr.clone()).unwrap();
    assert!(err.contains("--metric loss.b") && err.contains("loss.a"), "{err}");
    assert!(!bad.exists() || !bad.join("additive").exists(), "nothing written");

    let fixed = dir.path().join("fixed.toml");
    std::fs::write(
        &fixed,
        common::header(4, 1000) + "[providers.a]\nrecognition = 0.1\nother = { backlog = 100.0, bookings = 10.0 }\n",
    )
    .unwrap();
    let e = cmd().args(["explain", fixed.to_str().unwrap(), "-q", "--out"]).arg(&bad).assert().failure();
    let err = String::from_utf8(e.get_output().stderr.clone()).unwrap();
    assert!(err.contains("no uncertain parameter"), "{err}");
    assert!(!bad.join("t").exists(), "nothing written");
}
