//! `explain --given`: reverse stress tests (issue 30).

use crate::common::{cmd, parse, within_se};

use backlog_risk::analysis::given::{self, Given};
use backlog_risk::api::{self, ExplainWhat, GivenWhat, Observer, Options};
use backlog_risk::engine::{CHUNK, Engine};
use backlog_risk::model::Scenario;

/// One book of 100 that only recognises revenue, at a uniform rate: its
/// loss against plan is `100 (0.9^4 - (1 - rho)^4)`, a known increasing
/// function of `rho ~ U(0.05, 0.15)` (the plan has `rho` at its mean, 0.1).
const ONE_UNIFORM: &str = r#"[scenario]
name = "uniform"
start = "2026Q1"
quarters = 4
paths = 200000
seed = 11

[providers.a]
recognition = { dist = "uniform", min = 0.05, max = 0.15 }
other = { backlog = 100.0 }
"#;

/// Only the reverse stress test of `conds`.
fn given_of(sc: &Scenario, conds: &str, min_hits: Option<(u64, u64)>) -> backlog_risk::Result<Given> {
    let what = ExplainWhat {
        attribution: false,
        sensitivity: false,
        given: Some(GivenWhat { conditions: given::parse(conds)?, top: 5, min_hits }),
        ..ExplainWhat::default()
    };
    api::explain(sc, &what, &Options::default(), &Observer::new()).map(|e| e.given.expect("a condition was given"))
}

fn row<'g>(g: &'g Given, name: &str) -> &'g given::GivenRow {
    g.rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no row {name}"))
}

#[test]
fn a_condition_on_a_function_of_one_uniform_matches_its_closed_form() {
    let sc = parse(ONE_UNIFORM).unwrap();
    let plan = 100.0 * 0.9f64.powi(4);
    // loss >= c  <=>  rho >= r(c) = 1 - ((plan - c) / 100)^(1/4).
    let r = |c: f64| 1.0 - ((plan - c) / 100.0).powf(0.25);
    // E[loss | rho in [a, b]] = plan - 100 ((1 - a)^5 - (1 - b)^5) / (5 (b - a)).
    let loss_mean = |a: f64, b: f64| plan - 100.0 * ((1.0 - a).powi(5) - (1.0 - b).powi(5)) / (5.0 * (b - a));
    for (conds, lo, hi) in [("loss.a>=5", r(5.0), 0.15), ("loss.a>=-10,loss.a<=3", r(-10.0), r(3.0))] {
        let g = given_of(&sc, conds, None).unwrap();
        assert_eq!(g.condition, conds);
        let p = (hi - lo) / 0.1;
        within_se(&format!("P({conds})"), g.probability, g.probability_se, p, 4.0);
        assert_eq!(g.paths, sc.paths);
        assert_eq!(g.hits as f64 / g.paths as f64, g.probability);
        let rho = row(&g, "providers.a.recognition");
        within_se("E[rho | condition]", rho.given.mean, rho.given.se, (lo + hi) / 2.0, 4.0);
        within_se("E[rho]", rho.all.mean, rho.all.sd / (sc.paths as f64).sqrt(), 0.1, 4.0);
        let loss = row(&g, "loss.a");
        within_se("E[loss | condition]", loss.given.mean, loss.given.se, loss_mean(lo, hi), 4.0);
        // Every path that met it lies inside the condition's interval.
        assert!(rho.given.p5 >= lo * (1.0 - 1e-3) && rho.given.p95 <= hi * (1.0 + 1e-3), "{rho:?}");
        assert_eq!(rho.shift_sd, (rho.given.mean - rho.all.mean) / rho.all.sd);
        for p in &g.top {
            assert!(p.parameters[0] >= lo && p.parameters[0] <= hi, "{p:?}");
            // The density of a uniform is flat: ln(1 / 0.1) for every path,
            // so the lowest path indices come first.
            assert!((p.log_density - 10f64.ln()).abs() < 1e-12, "{p:?}");
        }
        assert!(g.top.windows(2).all(|w| w[0].path < w[1].path), "ties go to the lower path: {:?}", g.top);
        // Sorted by the size of the shift.
        assert!(g.rows.windows(2).all(|w| w[0].shift_sd.abs() >= w[1].shift_sd.abs()));
    }
}

#[test]
fn the_listed_paths_are_the_most_plausible_that_meet_it_on_any_threads() {
    let sc = parse(&crate::explain::ALL_DRIVERS.replace("paths = 20000", "paths = 6000")).unwrap();
    // Every path by the scalar reference (samples.csv's rows): its
    // uncertain parameters and metrics.
    let engine = Engine::new(&sc);
    let rows: Vec<(u64, Vec<f64>)> = engine.sample_rows(engine.keys(sc.seed, sc.paths), sc.paths, sc.paths).collect();
    let params = sc.parameters();
    let uncertain: Vec<usize> = (0..params.len()).filter(|&k| !params[k].dist.is_fixed()).collect();
    let k = sc.metric_names().iter().position(|m| m == "loss.azure").unwrap();
    let mut losses: Vec<f64> = rows.iter().map(|(_, r)| r[uncertain.len() + k]).collect();
    losses.sort_by(f64::total_cmp);
    let threshold = losses[losses.len() * 9 / 10];
    let cond = format!("loss.azure>={threshold:?}");
    let mut hits: Vec<(f64, u64)> = rows
        .iter()
        .filter(|(_, r)| r[uncertain.len() + k] >= threshold)
        .map(|(i, r)| (uncertain.iter().enumerate().map(|(j, &q)| params[q].dist.ln_density(r[j])).sum::<f64>(), *i))
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let g = given_of(&sc, &cond, None).unwrap();
    assert_eq!(g.hits, hits.len() as u64);
    let want: Vec<u64> = hits.iter().take(5).map(|h| h.1).collect();
    let got: Vec<u64> = g.top.iter().map(|p| p.path).collect();
    assert_eq!(got, want, "the five densest paths that meet it");
    for (p, h) in g.top.iter().zip(&hits) {
        assert!((p.log_density - h.0).abs() <= 1e-12 * h.0.abs().max(1.0), "{p:?} vs {h:?}");
        let (_, r) = &rows[p.path as usize];
        assert_eq!(p.parameters, r[..uncertain.len()], "path {}'s parameters, replayed", p.path);
        assert_eq!(p.metrics, [r[uncertain.len() + k]], "path {}'s loss, replayed", p.path);
    }
    // Conditional means by brute force over the same paths.
    let met: Vec<&Vec<f64>> =
        rows.iter().filter(|(_, r)| r[uncertain.len() + k] >= threshold).map(|(_, r)| r).collect();
    for (j, &q) in uncertain.iter().enumerate() {
        let mean = met.iter().map(|r| r[j]).sum::<f64>() / met.len() as f64;
        let r = row(&g, &params[q].path);
        assert!(
            (r.given.mean - mean).abs() <= 1e-9 * mean.abs().max(1.0),
            "{}: {} vs {mean}",
            params[q].path,
            r.given.mean
        );
    }
    // The same answer, bit for bit, on 1 and 3 threads.
    for n in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        assert_eq!(pool.install(|| given_of(&sc, &cond, None).unwrap()), g, "{n} threads");
    }
}

#[test]
fn min_hits_runs_rounds_until_enough_paths_meet_it_or_says_it_could_not() {
    let sc = parse(&ONE_UNIFORM.replace("paths = 200000", &format!("paths = {}", 2 * CHUNK))).unwrap();
    let plan = 100.0 * 0.9f64.powi(4);
    // rho >= 0.149: one path in a hundred.
    let c = plan - 100.0 * 0.851f64.powi(4);
    let cond = format!("loss.a>={c}");
    let g = given_of(&sc, &cond, Some((200, 100 * 2 * CHUNK))).unwrap();
    let (_, rounds) = g.min_hits.unwrap();
    assert!(g.met() && g.hits >= 200 && rounds > 1, "{:?} hits in {rounds} rounds", g.hits);
    assert_eq!(g.paths, rounds * 2 * CHUNK, "whole rounds");
    // Stopped at the first round that reached it.
    let before = given_of(&sc, &cond, Some((200, (rounds - 1) * 2 * CHUNK))).unwrap();
    assert!(!before.met() && before.hits < 200 && before.paths == (rounds - 1) * 2 * CHUNK);
    // A first round that is enough is the plain pass, bit for bit.
    let plain = given_of(&sc, "loss.a>=0", None).unwrap();
    let once = given_of(&sc, "loss.a>=0", Some((1, 10 * 2 * CHUNK))).unwrap();
    assert_eq!((once.rows, once.top, once.hits, once.min_hits), (plain.rows, plain.top, plain.hits, Some((1, 1))));
}

#[test]
fn explain_given_writes_its_files_and_refuses_bad_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("uniform.toml");
    std::fs::write(&file, ONE_UNIFORM.replace("paths = 200000", "paths = 20000")).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| cmd().args(["explain", file.to_str().unwrap(), "--out"]).arg(&out).args(extra).assert();
    let ok = run(&["--given", "loss.a>=5", "--analysis", "given", "--top", "3"]).success();
    let said = String::from_utf8(ok.get_output().stdout.clone()).unwrap();
    assert!(said.contains("P(loss.a>=5) = ") && said.contains("the most plausible paths that meet it: "), "{said}");
    let csv = std::fs::read_to_string(out.join("uniform/given.csv")).unwrap();
    assert!(csv.starts_with("condition,paths,hits,probability,probability_se,min_hits,met,kind,name,mean_given,se_given,p5_given,p50_given,p95_given,mean_all,sd_all,p5_all,p50_all,p95_all,shift_sd\n"), "{csv}");
    // The parameter, and the backlog, revenue and loss of the one provider.
    assert_eq!(csv.lines().count(), 1 + 1 + 3, "{csv}");
    let paths = std::fs::read_to_string(out.join("uniform/given-paths.csv")).unwrap();
    assert!(paths.starts_with("rank,path,log_density,loss.a,providers.a.recognition\n"), "{paths}");
    assert_eq!(paths.lines().count(), 1 + 3, "--top 3: {paths}");
    assert!(!out.join("uniform/sensitivity.csv").exists() && !out.join("uniform/attribution.csv").exists());
    // The chart, the page's section, and the story of every listed path,
    // linked from the page.
    assert!(out.join("uniform/given.png").exists());
    let page = std::fs::read_to_string(out.join("uniform/explain.html")).unwrap();
    assert!(page.contains("Given loss.a&gt;=5: how the bad case happens") && page.contains("given.png"), "{page}");
    for line in paths.lines().skip(1) {
        let n = line.split(',').nth(1).unwrap();
        assert!(page.contains(&format!("href=\"path-{n}/path-{n}.png\"")), "a link to path {n}");
        for f in [".csv", "-values.csv", ".png"] {
            assert!(out.join(format!("uniform/path-{n}/path-{n}{f}")).exists(), "path {n}: {f}");
        }
    }

    // Without charts, the page links to no chart that was not drawn.
    let nc = dir.path().join("no-charts");
    cmd()
        .args(["explain", file.to_str().unwrap(), "-q", "--no-charts", "--given", "loss.a>=5", "--out"])
        .arg(&nc)
        .assert()
        .success();
    let page = std::fs::read_to_string(nc.join("uniform/explain.html")).unwrap();
    assert!(page.contains("/path-") && !page.contains(".png\""), "no link to a missing chart");
    // --variant: each listed path's inputs fixed in a scenario of its own.
    let ok = run(&["--given", "loss.a>=5", "--analysis", "given", "--top", "2", "--variant", "-q"]).success();
    assert!(ok.get_output().stdout.is_empty());
    let paths = std::fs::read_to_string(out.join("uniform/given-paths.csv")).unwrap();
    for line in paths.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let v = out.join(format!("uniform/path-{0}/path-{0}-variant.toml", cells[1]));
        let sc = backlog_risk::scenario::load(&v).unwrap_or_else(|e| panic!("{}: {e}", v.display()));
        let rho: f64 = cells[4].parse().unwrap();
        assert_eq!(*sc.parameters()[0].dist, backlog_risk::dist::Dist::Fixed(rho), "{}", v.display());
    }

    let bad = dir.path().join("bad");
    let fails = |args: &[&str], says: &[&str]| {
        let a = cmd().args(["explain", file.to_str().unwrap(), "-q", "--out"]).arg(&bad).args(args).assert().failure();
        let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
        for s in says {
            assert!(err.contains(s), "{args:?}: `{s}` not in {err}");
        }
        assert!(!bad.join("uniform").exists(), "{args:?}: nothing written");
    };
    // No path loses more than the whole book.
    fails(&["--given", "loss.a>=1000"], &["no path of 20000 met the condition `loss.a>=1000`", "loss.a ran from"]);
    fails(&["--given", "loss.b>=1"], &["records no metric `loss.b`", "loss.a"]);
    fails(&["--given", "loss.a=3"], &["no `>=` or `<=`", "METRIC>=VALUE"]);
    fails(&["--given", "loss.a>=NaN"], &["not a number"]);
    fails(&["--analysis", "given"], &["--given"]);
    fails(&["--top", "3"], &["--given"]);
    fails(&["--variant"], &["--given"]);
}

#[test]
fn the_drivers_contributions_given_the_condition_add_up_to_the_metric_given_it() {
    let sc = parse(&crate::explain::ALL_DRIVERS.replace("paths = 20000", "paths = 8192")).unwrap();
    let what = ExplainWhat {
        sensitivity: false,
        given: Some(GivenWhat { conditions: given::parse("loss.azure>=100").unwrap(), top: 3, min_hits: None }),
        ..ExplainWhat::default()
    };
    let e = api::explain(&sc, &what, &Options::default(), &Observer::new()).unwrap();
    let g = e.given.unwrap();
    let drivers: Vec<&given::GivenRow> = g.rows.iter().filter(|r| r.kind == "driver").collect();
    let names = ["parameters", "demand shocks", "shifts", "renegotiation", "total"];
    assert_eq!(drivers.len(), names.len());
    assert!(names.iter().all(|n| drivers.iter().any(|r| r.name == *n)), "{drivers:?}");
    let total = drivers.iter().find(|r| r.name == "total").unwrap();
    // Each path's contributions add up to its loss against plan, so their
    // means over the same paths do too, given the condition or not.
    for (what, sum, want) in [
        ("given", drivers.iter().filter(|r| r.name != "total").map(|r| r.given.mean).sum::<f64>(), total.given.mean),
        ("all", drivers.iter().filter(|r| r.name != "total").map(|r| r.all.mean).sum::<f64>(), total.all.mean),
    ] {
        assert!((sum - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: {sum} vs {want}");
    }
    // The total is the metric against plan: the loss's own row less the plan.
    let loss = row(&g, "loss.azure");
    assert!((total.given.mean - (loss.given.mean - e.plan)).abs() <= 1e-9 * loss.given.mean.abs());
    // Over all paths, the attribution's own mean.
    let attr = e.attribution.unwrap();
    let t = attr.rows.iter().find(|r| r.driver == "total").unwrap();
    assert!((total.all.mean - t.mean).abs() <= 1e-9 * t.mean.abs().max(1.0), "{} vs {}", total.all.mean, t.mean);
    // A loss that high takes the shocks and the renegotiation above their mean.
    let shocks = drivers.iter().find(|r| r.name == "demand shocks").unwrap();
    assert!(shocks.shift_sd > 0.0, "{shocks:?}");
}
