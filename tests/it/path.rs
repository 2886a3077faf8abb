//! `path`: one path of a run replayed, quarter by quarter (issue 30).

use std::collections::HashMap;

use crate::common::cmd;

use backlog_risk::api::{self, Observer, Options};
use backlog_risk::dist::Dist;
use backlog_risk::engine::{Engine, MAX_LANES};

/// A CSV file as a header and rows of cells.
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().map(|l| l.split(',').map(String::from).collect::<Vec<_>>());
    (lines.next().unwrap(), lines.collect())
}

#[test]
fn a_replayed_path_is_the_runs_record_of_it_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = "scenarios/openai-shift.toml";
    let run =
        |args: &[&str]| cmd().args(args).arg("--out").arg(&out).args(["-q", "--paths", "4096"]).assert().success();
    run(&["run", file, "--samples", "300"]);
    let (header, rows) = read_csv(&out.join("openai-shift/samples.csv"));
    for i in [0u64, 137, 299] {
        run(&["path", file, "--path", &i.to_string(), "--variant"]);
        let folder = out.join(format!("openai-shift/path-{i}"));
        let (_, values) = read_csv(&folder.join(format!("path-{i}-values.csv")));
        let value: HashMap<&str, &str> = values.iter().map(|r| (r[1].as_str(), r[2].as_str())).collect();
        // Every parameter and metric of samples.csv's row, the same digits.
        let row = &rows[i as usize];
        assert_eq!(row[0], i.to_string());
        for (name, cell) in header.iter().zip(row).skip(1) {
            assert_eq!(value.get(name.as_str()), Some(&cell.as_str()), "path {i}: {name}");
        }
        assert_eq!(values.len(), header.len() - 1, "path {i}: the same parameters and metrics");
        // The quarters end where the metrics do: the horizon's backlog and
        // the revenue summed over the quarters, in the engine's order.
        let (qh, quarters) = read_csv(&folder.join(format!("path-{i}.csv")));
        let col = |name: &str| qh.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
        let num = |s: &str| s.parse::<f64>().unwrap();
        for p in ["azure", "aws", "oci", "coreweave"] {
            let last = &quarters[quarters.len() - 1];
            assert_eq!(num(&last[col(&format!("backlog.{p}"))]), num(value[format!("backlog.{p}").as_str()]));
            let revenue = quarters.iter().fold(0.0, |a, q| a + num(&q[col(&format!("revenue.{p}"))]));
            assert_eq!(revenue, num(value[format!("revenue.{p}").as_str()]), "path {i}: revenue.{p}");
        }
        for rule in ["openai.azure", "openai.oci"] {
            let events = quarters.iter().filter(|q| q[col(&format!("event.{rule}"))] == "1").count();
            assert_eq!(events as f64, num(value[format!("events.{rule}").as_str()]), "path {i}: {rule}");
        }
        for q in &quarters {
            let share: f64 = ["azure", "aws", "oci", "coreweave"]
                .iter()
                .map(|p| num(&q[col(&format!("allocation.openai.{p}"))]))
                .sum();
            assert!((share - 1.0).abs() < 1e-12, "path {i}: openai's allocation sums to {share}");
        }
        assert!(folder.join(format!("path-{i}.png")).exists());
        // The variant fixes every uncertain parameter at the path's value.
        let v = backlog_risk::scenario::load(&folder.join(format!("path-{i}-variant.toml"))).unwrap();
        assert_eq!(v.name, format!("openai-shift-path-{i}"));
        let base = backlog_risk::scenario::load(file.as_ref()).unwrap();
        let (bp, vp) = (base.parameters(), v.parameters());
        let mut fixed = 0;
        for (b, p) in bp.iter().zip(&vp) {
            assert_eq!(b.path, p.path);
            if !b.dist.is_fixed() {
                assert_eq!(*p.dist, Dist::Fixed(num(value[b.path.as_str()])), "{}", b.path);
                fixed += 1;
            } else {
                assert_eq!(b.dist, p.dist, "{}", b.path);
            }
        }
        assert_eq!(fixed, header.iter().filter(|h| bp.iter().any(|p| &p.path == *h)).count());
    }
    // The block kernel's record of the same paths, through the API.
    let sc = backlog_risk::scenario::load(file.as_ref()).unwrap();
    let opts = Options { paths: Some(4096), ..Options::default() };
    let story = api::path(&sc, 137, &opts, &Observer::new()).unwrap();
    let sc = opts.apply(&sc).unwrap();
    let engine = Engine::new(&sc);
    let mut block = engine.block_buffer_of::<MAX_LANES>();
    let first = 137 / MAX_LANES as u64 * MAX_LANES as u64;
    engine.block(&engine.keys(sc.seed, sc.paths), first, &mut block);
    let mut lane = Vec::new();
    block.lane_metrics((137 - first) as usize, &mut lane);
    let mine: Vec<f64> = story.metrics.iter().map(|m| m.1).collect();
    assert_eq!(mine, lane, "the block kernel's metrics of path 137");
}

#[test]
fn a_path_outside_the_run_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let a = cmd()
        .args(["path", "scenarios/openai-shift.toml", "--paths", "100", "--path", "100", "-q", "--out"])
        .arg(&out)
        .assert()
        .failure();
    assert_eq!(a.get_output().status.code(), Some(1));
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(err.contains("--path") && err.contains("0 to 99"), "{err}");
    assert!(!out.join("openai-shift").exists(), "nothing written");
    let a = cmd().args(["path", "scenarios/openai-shift.toml", "--path", "-1"]).assert().failure();
    assert_eq!(a.get_output().status.code(), Some(2));
}

#[test]
fn the_variant_of_a_correlated_scenario_drops_its_correlation_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corr.toml");
    let text = crate::common::header(8, 4096)
        + "[providers.a]\nrecognition = 0.1\nother = { backlog = 100.0, bookings = 10.0, growth = { dist = \"uniform\", min = 0.0, max = 0.2 }, volatility = 0.2 }\n\
           [providers.b]\nrecognition = 0.1\nother = { backlog = 100.0, bookings = 10.0, growth = { dist = \"uniform\", min = 0.0, max = 0.2 }, volatility = 0.2 }\n\
           [[correlation]]\nparameters = [\"providers.a.other.growth\", \"providers.b.other.growth\"]\nrank = [[1.0, 0.6], [0.6, 1.0]]\n";
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    cmd()
        .args(["path", file.to_str().unwrap(), "--path", "5", "--variant", "-q", "--out"])
        .arg(&out)
        .assert()
        .success();
    let variant = out.join("t/path-5/path-5-variant.toml");
    let v = backlog_risk::scenario::load(&variant).unwrap();
    assert!(v.correlations.is_empty() && v.parameters().iter().all(|p| p.dist.is_fixed()));
    let (_, values) = read_csv(&out.join("t/path-5/path-5-values.csv"));
    let growth = |name: &str| values.iter().find(|r| r[1] == name).unwrap()[2].parse::<f64>().unwrap();
    let params = v.parameters();
    let fixed = |name: &str| params.iter().find(|p| p.path == name).unwrap().dist.mean();
    for p in ["providers.a.other.growth", "providers.b.other.growth"] {
        assert_eq!(fixed(p), growth(p), "{p}");
    }
    cmd()
        .args(["run", variant.to_str().unwrap(), "-q", "--no-charts", "--out"])
        .arg(dir.path().join("run"))
        .assert()
        .success();
    // explain: the Sobol' indices are refused before any path is run, with
    // the analyses that do work on correlated inputs.
    let ex = dir.path().join("explain");
    let run = |extra: &[&str]| {
        cmd()
            .args(["explain", file.to_str().unwrap(), "-q", "--no-charts", "--given", "loss.a>=5", "--out"])
            .arg(&ex)
            .args(extra)
            .assert()
    };
    let a = run(&[]).failure();
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("[[correlation]]") && err.contains("--analysis attribution") && err.contains("--analysis given"),
        "{err}"
    );
    assert!(!ex.join("t").exists(), "nothing written");
    run(&["--analysis", "attribution"]).success();
    assert!(ex.join("t/given.csv").exists() && ex.join("t/attribution.csv").exists());
}
