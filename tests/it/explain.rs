//! `explain`: Sobol' indices, tornado and their errors (issue 10).

use crate::common::{self, bits, cmd, parse};

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
    let attr = std::fs::read_to_string(out.join("additive/attribution.csv")).unwrap();
    assert!(attr.starts_with("metric,driver,mean,p5,p50,p95,es95_contribution,es99_contribution\n"), "{attr}");
    let drivers: Vec<&str> = attr.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(drivers, ["parameters", "demand shocks", "total"]);
    assert!(out.join("additive/attribution.png").exists());
    let page = std::fs::read_to_string(out.join("additive/explain.html")).unwrap();
    assert!(page.contains(backlog_risk::writers::html::CSP) && page.contains("What drives the risk: additive"));
    assert!(page.contains("providers.a.other.backlog") && page.contains("demand shocks"), "both tables");
    assert_eq!(page.matches("data:image/png;base64,").count(), 2, "both charts embedded");

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
    assert!(err.contains("no uncertain parameter") && err.contains("--analysis attribution"), "{err}");
    assert!(!bad.join("t").exists(), "nothing written");
    // The attribution alone needs no uncertain parameter.
    cmd()
        .args(["explain", fixed.to_str().unwrap(), "-q", "--no-charts", "--analysis", "attribution", "--out"])
        .arg(&bad)
        .assert()
        .success();
    assert!(bad.join("t/attribution.csv").exists() && !bad.join("t/sensitivity.csv").exists());
}

/// Every driver at once: parameters, demand shocks, a shift, two rules.
pub(crate) const ALL_DRIVERS: &str = r#"[scenario]
name = "drivers"
start = "2026Q1"
quarters = 12
paths = 20000
seed = 9

[providers.azure]
recognition = { dist = "uniform", min = 0.05, max = 0.09 }
other = { backlog = 300.0, bookings = 30.0, growth = { dist = "uniform", min = 0.0, max = 0.2 }, volatility = 0.2, beta = 0.5 }

[providers.aws]
recognition = 0.07
other = { backlog = 200.0, bookings = 20.0, growth = 0.1, volatility = 0.2, beta = 0.5 }

[customers.openai]
bookings = { dist = "pert", min = 15.0, mode = 25.0, max = 45.0 }
growth = 0.1
volatility = 0.35
beta = 0.7
backlog = { azure = 250.0, aws = 40.0 }
allocation = { azure = 0.6, aws = 0.4 }

[[customers.openai.shift]]
from = "azure"
target = { dist = "uniform", min = 0.1, max = 0.4 }
half_life = 6.0
to = { aws = 1.0 }

[[renegotiation]]
customer = "openai"
provider = "azure"
hazard = 0.3
severity = { dist = "pert", min = 0.05, mode = 0.2, max = 0.5 }
migrate = 0.5
to = { aws = 1.0 }

[[renegotiation]]
customer = "openai"
provider = "aws"
hazard = 0.2
severity = 0.3
"#;

#[test]
fn attribution_sums_to_each_paths_loss_and_all_off_is_the_plan() {
    use backlog_risk::analysis::attribution;
    use backlog_risk::engine::Switches;
    let sc = parse(ALL_DRIVERS).unwrap();
    let engine = Engine::new(&sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let (mut ws, mut full) = (engine.workspace(), engine.workspace());
    let off = Switches { params: false, shocks: false, shifts: vec![false], rules: vec![false, false] };
    let on = Switches { params: true, shocks: true, shifts: vec![true], rules: vec![true, true] };
    for i in [0, 1, 17, 4095] {
        engine.path_with(&keys, i, &mut ws, Some(&off));
        assert_eq!(bits(&ws.metrics), bits(&engine.plan().metrics), "path {i}: every driver off is the plan");
        assert_eq!(bits(&ws.totals), bits(&engine.plan().backlog_path));
        engine.path_with(&keys, i, &mut ws, Some(&on));
        engine.path(&keys, i, &mut full);
        assert_eq!(bits(&ws.metrics), bits(&full.metrics), "path {i}: every driver on is the path");
    }
    // The block kernel switches drivers off with the same bits, for every
    // combination of switches.
    let mut b = engine.block_buffer();
    let mut m = Vec::new();
    for mask in 0..32u32 {
        let bit = |i: u32| mask & (1 << i) != 0;
        let sw = Switches { params: bit(0), shocks: bit(1), shifts: vec![bit(2)], rules: vec![bit(3), bit(4)] };
        engine.block_with(&keys, 64, &mut b, Some(&sw));
        for l in [0, 5, 15] {
            engine.path_with(&keys, 64 + l as u64, &mut ws, Some(&sw));
            b.lane_metrics(l, &mut m);
            assert_eq!(bits(&m), bits(&ws.metrics), "switches {sw:?}, lane {l}");
        }
    }
    let (acc, summary) = common::run(&sc);
    let k = sc.metric_names().iter().position(|m| m == "loss.azure").unwrap();
    for by_rule in [false, true] {
        let drivers = attribution::drivers(&sc, by_rule).unwrap();
        let names: Vec<&str> = drivers.iter().map(|d| d.name.as_str()).collect();
        let want: &[&str] = if by_rule {
            &["parameters", "demand shocks", "shift customers.openai.shift[0]", "renegotiation[0]", "renegotiation[1]"]
        } else {
            &["parameters", "demand shocks", "shifts", "renegotiation"]
        };
        assert_eq!(names, want);
        let a = attribution::attribution(&engine, sc.seed, sc.paths, k, &acc, &drivers, &|_| {}).unwrap();
        // Path by path, the contributions add up to the loss to rounding.
        assert!(a.max_gap < 1e-12, "{by_rule}: gap {}", a.max_gap);
        let (parts, total) = a.rows.split_at(drivers.len());
        let total = &total[0];
        let sum = |f: &dyn Fn(&attribution::AttributionRow) -> f64| parts.iter().map(f).sum::<f64>();
        let loss = summary.metric("loss.azure").unwrap();
        assert!((total.mean - loss.mean).abs() < 1e-9 * loss.mean.abs().max(1.0));
        for (got, want) in [
            (sum(&|r| r.mean), total.mean),
            (sum(&|r| r.es95_contribution), total.es95_contribution),
            (sum(&|r| r.es99_contribution), total.es99_contribution),
        ] {
            assert!((got - want).abs() < 1e-9 * want.abs().max(1.0), "{by_rule}: {got} vs {want}");
        }
        // The tail mean of the attributed paths is the run's ES99 (within
        // the sketch's resolution).
        let es99 = loss.es99.unwrap();
        assert!((total.es99_contribution - es99).abs() <= 2e-3 * es99.abs(), "{} vs {es99}", total.es99_contribution);
        // Every driver is at work on Azure's loss, except the rule on
        // OpenAI's AWS book, which moves nothing to Azure: exactly 0.
        for r in parts {
            let aws_rule = r.driver == "renegotiation[1]";
            assert_eq!(aws_rule, (r.mean, r.p5, r.p95, r.es99_contribution) == (0.0, 0.0, 0.0, 0.0), "{r:?}");
        }
    }
}

#[test]
fn too_many_drivers_by_rule_are_refused_with_the_fix() {
    let mut text = ALL_DRIVERS.to_string();
    for c in ["meta", "xai"] {
        text.push_str(&format!(
            "\n[customers.{c}]\nbookings = 1.0\nbacklog = {{ azure = 10.0 }}\nallocation = {{ azure = 1.0 }}\n\n[[renegotiation]]\ncustomer = \"{c}\"\nprovider = \"azure\"\nhazard = 0.1\nseverity = 0.1\n"
        ));
    }
    let sc = parse(&text).unwrap();
    let e = backlog_risk::analysis::attribution::drivers(&sc, true).unwrap_err().to_string();
    assert!(e.contains("7 drivers") && e.contains("leave out option `by` rule"), "{e}");
    assert_eq!(backlog_risk::analysis::attribution::drivers(&sc, false).unwrap().len(), 4);
}
