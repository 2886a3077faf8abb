//! Batch runs, `extends` variants, common random numbers and sweeps.

use crate::common;

use std::path::Path;

use backlog_risk::engine::Engine;
use backlog_risk::scenario;
use common::cmd;
use predicates::prelude::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const BASE: &str = r#"[scenario]
name = "base"
start = "2026Q1"
quarters = 8
paths = 2000
seed = 3

[providers.azure]
recognition = 0.07
other = { backlog = 300.0, bookings = 20.0, growth = 0.1, volatility = 0.2 }

[providers.aws]
recognition = 0.05

[customers.openai]
backlog = { azure = 280.0, aws = 40.0 }

[[renegotiation]]
customer = "openai"
provider = "azure"
hazard = 0.2
severity = 0.3
"#;

#[test]
fn a_variant_merges_tables_and_replaces_arrays() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.toml", BASE);
    let sub = dir.path().join("variants");
    std::fs::create_dir(&sub).unwrap();
    let v = write(
        &sub,
        "v.toml",
        "extends = \"../base.toml\"\n[scenario]\nname = \"variant\"\n[providers.azure.other]\nbookings = 5.0\n\
         [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"aws\"\nhazard = 0.5\nseverity = 0.1\n",
    );
    let sc = scenario::load(&v).unwrap();
    assert_eq!(sc.name, "variant");
    assert_eq!(sc.seed, 3, "inherited from the base");
    let azure = &sc.providers[0];
    assert_eq!(azure.other.bookings.mean(), 5.0, "overridden key");
    assert_eq!(azure.other_backlog.mean(), 300.0, "sibling key kept");
    assert_eq!(azure.other.volatility.mean(), 0.2);
    assert_eq!(sc.rules.len(), 1, "the renegotiation array is replaced whole");
    assert_eq!(sc.rules[0].provider, 1);
    // `show` prints the merged scenario, which loads to the same model.
    let out = cmd().arg("show").arg(&v).assert().success().get_output().stdout.clone();
    let shown = scenario::parse(std::str::from_utf8(&out).unwrap(), "shown.toml".as_ref()).unwrap();
    assert_eq!(shown, sc);
}

#[test]
fn extends_errors_name_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", "extends = \"b.toml\"\n");
    write(dir.path(), "b.toml", "extends = \"a.toml\"\n");
    let msg = scenario::load(&a).unwrap_err().to_string();
    assert!(msg.contains("comes back") && msg.contains("a.toml -> ") && msg.contains("b.toml -> "), "{msg}");
    let m = write(dir.path(), "m.toml", "extends = \"missing.toml\"\n");
    let msg = scenario::load(&m).unwrap_err().to_string();
    assert!(msg.contains("missing.toml") && msg.contains("does not exist") && msg.contains("m.toml"), "{msg}");
    // A folder is named as a folder, not as missing.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let f = write(dir.path(), "f.toml", "extends = \"sub\"\n");
    let msg = scenario::load(&f).unwrap_err().to_string();
    assert!(msg.contains("is a folder") && msg.contains("*.toml"), "{msg}");
    // A chain of 16 files loads; one of 17 is refused, quickly, naming the limit.
    write(dir.path(), "c0.toml", BASE);
    for k in 1..=16 {
        write(dir.path(), &format!("c{k}.toml"), &format!("extends = \"c{}.toml\"\n", k - 1));
    }
    scenario::load(&dir.path().join("c15.toml")).unwrap();
    let msg = scenario::load(&dir.path().join("c16.toml")).unwrap_err().to_string();
    assert!(msg.contains("deeper than 16") && msg.contains("c16.toml"), "{msg}");
    // A FIFO as a base is refused without reading it (reading would block).
    let fifo = dir.path().join("pipe.toml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let p = write(dir.path(), "p.toml", "extends = \"pipe.toml\"\n");
    let msg = scenario::load(&p).unwrap_err().to_string();
    assert!(msg.contains("not a regular file"), "{msg}");
    // An error in the merged scenario says where it came from.
    let bad = write(dir.path(), "bad.toml", "extends = \"base.toml\"\n[providers.azure]\nrecognition = 2.0\n");
    write(dir.path(), "base.toml", BASE);
    let msg = scenario::load(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("providers.azure.recognition") && msg.contains("resolved from") && msg.contains("base.toml"),
        "{msg}"
    );
}

#[test]
fn globs_and_batch_csv() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one.toml", BASE);
    write(dir.path(), "two.toml", &BASE.replace("name = \"base\"", "name = \"two\""));
    write(
        dir.path(),
        "three.toml",
        &BASE.replace("recognition = 0.05", "recognition = -0.05").replace("\"base\"", "\"three\""),
    );
    let out = dir.path().join("out");
    let pattern = dir.path().join("*.toml");
    cmd()
        .args(["run", "--quiet", "--no-charts", "--out"])
        .arg(&out)
        .arg(&pattern)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("three.toml:13: providers.aws.recognition"));
    let csv = std::fs::read_to_string(out.join("batch.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    for col in [
        "scenario",
        "status",
        "error",
        "top_customer",
        "top_share_p50",
        "azure.expected_loss",
        "azure.es99",
        "aws.var95",
    ] {
        assert!(header.iter().any(|h| h == col), "batch.csv lacks {col}");
    }
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 3, "one row per scenario");
    let status: Vec<&str> = records.iter().map(|r| r.get(2).unwrap()).collect();
    assert_eq!(status.iter().filter(|s| **s == "ok").count(), 2);
    assert!(records.iter().any(|r| r.get(2) == Some("failed") && r.get(3).unwrap().contains("recognition")));
    assert!(out.join("two").join("summary.csv").is_file() && out.join("base").join("summary.csv").is_file());
}

#[test]
fn paired_differences_are_more_precise_than_independent_runs() {
    let base = common::parse(BASE).unwrap();
    let variant = common::parse(&BASE.replace("hazard = 0.2", "hazard = 0.22")).unwrap();
    let (eb, ev) = (Engine::new(&base), Engine::new(&variant));
    let paths = 20_000;
    let r = ev.run_paired(&eb, base.seed, paths, &|_| {});
    let (av, sv) = common::run(&backlog_risk::model::Scenario { paths, ..variant.clone() });
    let (ab, sb) = common::run(&backlog_risk::model::Scenario { paths, ..base.clone() });
    // A paired run's own summaries are those of the two single runs, bit for
    // bit (the base's metrics: its bands are not folded in a paired run).
    assert!(r.mine == av && r.base.metrics == ab.metrics, "paired run summaries differ from single runs");
    assert!(r.base.fan.is_empty() && r.base.revenue.is_empty());
    let i = r.pairs.iter().position(|(n, _, _)| n == "loss.azure").unwrap();
    let (mv, mb) = (sv.metric("loss.azure").unwrap(), sb.metric("loss.azure").unwrap());
    // The paired mean difference is the difference of the two runs' means.
    assert!((r.diffs[i].mean() - (mv.mean - mb.mean)).abs() < 1e-9);
    let unpaired = (mv.se.powi(2) + mb.se.powi(2)).sqrt();
    let paired = r.diffs[i].se();
    assert!(paired < unpaired / 3.0, "paired se {paired} vs unpaired {unpaired}");
    // And the CLI writes it.
    let out = tempfile::tempdir().unwrap();
    let bf = write(out.path(), "base.toml", BASE);
    let vf = write(out.path(), "v.toml", &BASE.replace("hazard = 0.2", "hazard = 0.22").replace("\"base\"", "\"v\""));
    cmd()
        .args(["run", "--quiet", "--no-charts", "--paired"])
        .arg(&bf)
        .arg(&vf)
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.path().join("v").join("paired-base.csv")).unwrap();
    assert!(
        csv.starts_with("metric,mean,base_mean,diff,se_paired,se_unpaired,d_var99,d_var99_se,d_es99,d_es99_se\n"),
        "{csv}"
    );
}

/// The VaR99 and ES99 differences of a paired run are the differences of
/// the two runs' figures, and their batch-means standard errors agree with
/// the spread of those differences over 20 seeds (within a factor of 1.5;
/// the spread of 20 draws is itself known to about 16%).
#[test]
fn paired_var_and_es_differences_have_honest_standard_errors() {
    let base = common::parse(BASE).unwrap();
    let variant = common::parse(&BASE.replace("severity = 0.3", "severity = 0.4")).unwrap();
    let (eb, ev) = (Engine::new(&base), Engine::new(&variant));
    let paths = 100_000;
    let (mut d_var, mut d_es, mut se_var, mut se_es) = (vec![], vec![], vec![], vec![]);
    for seed in 0..20 {
        let r = ev.run_paired(&eb, seed, paths, &|_| {});
        let i = r.pairs.iter().position(|(n, _, _)| n == "loss.azure").unwrap();
        let t = r.tails[i].clone().expect("a loss metric has tail differences");
        if seed == 0 {
            let (a, b) = (&r.mine.metrics[r.pairs[i].1].sketch, &r.base.metrics[r.pairs[i].2].sketch);
            assert_eq!(t.d_var99, a.quantile(0.99) - b.quantile(0.99));
            assert_eq!(t.d_es99, a.tail_mean(0.99) - b.tail_mean(0.99));
        }
        d_var.push(t.d_var99);
        d_es.push(t.d_es99);
        se_var.push(t.d_var99_se.expect("5,000 paths per batch"));
        se_es.push(t.d_es99_se.expect("5,000 paths per batch"));
    }
    let sd = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
    };
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    for (what, spread, se) in [("VaR99", sd(&d_var), mean(&se_var)), ("ES99", sd(&d_es), mean(&se_es))] {
        let ratio = spread / se;
        assert!((1.0 / 1.5..=1.5).contains(&ratio), "{what}: spread over seeds {spread} vs reported se {se}");
    }
    // Below 5,000 paths per batch, no standard error is claimed.
    let r = ev.run_paired(&eb, 0, 20_000, &|_| {});
    assert!(r.tails.iter().flatten().all(|t| t.d_es99_se.is_none() && t.d_var99_se.is_none()));
}

#[test]
fn two_dimensional_sweep_has_one_row_per_point_and_monotone_loss() {
    let out = tempfile::tempdir().unwrap();
    cmd()
        .args(["sweep", "tests/fixtures/runoff.toml", "--vary", "renegotiation[0].hazard=0.05..0.8:4"])
        .args([
            "--vary",
            "renegotiation[0].migrate=0,1",
            "--metric",
            "loss.azure",
            "--stat",
            "mean",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();
    let dir = out.path().join("runoff");
    let slug = "renegotiation-0-hazard--renegotiation-0-migrate";
    let csv = std::fs::read_to_string(dir.join(format!("sweep-{slug}.csv"))).unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let header = rd.headers().unwrap().clone();
    assert_eq!(&header[0], "renegotiation[0].hazard");
    assert_eq!(&header[1], "renegotiation[0].migrate");
    let col = header.iter().position(|h| h == "loss.azure.mean").unwrap();
    let es = header.iter().position(|h| h == "loss.azure.es99").unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4 * 2);
    let get = |r: &csv::StringRecord, i: usize| r[i].parse::<f64>().unwrap();
    for migrate in ["0", "1"] {
        let line: Vec<(f64, f64, f64)> =
            rows.iter().filter(|r| &r[1] == migrate).map(|r| (get(r, 0), get(r, col), get(r, es))).collect();
        assert_eq!(line.len(), 4);
        assert!(line[3].1 > line[0].1 * 1.5, "the hazard must matter: {line:?}");
        for w in line.windows(2) {
            assert!(w[0].0 < w[1].0);
            assert!(w[1].1 >= w[0].1, "a higher hazard lowered the expected loss: {w:?}");
            assert!(w[1].2 >= w[0].2, "a higher hazard lowered ES99: {w:?}");
        }
    }
    assert!(dir.join(format!("sweep-{slug}.png")).is_file());
    assert_eq!(header.iter().next_back(), Some("loss.azure.mean_se"), "the charted statistic's se comes last");
    let se = rows.iter().map(|r| get(r, header.len() - 1)).collect::<Vec<_>>();
    assert!(rows.iter().zip(&se).all(|(r, s)| (get(r, col + 1) - s).abs() == 0.0), "the mean's se is the se column");
}

/// A second sweep of another parameter writes its own files beside the
/// first; an allocation share needs --renormalise, which keeps the shares
/// summing to 1; a parameter that is a distribution is replaced, with a note.
#[test]
fn sweeps_keep_their_own_files_and_renormalise_on_request() {
    let out = tempfile::tempdir().unwrap();
    let sweep = |vary: &str, extra: &[&str]| {
        let mut c = cmd();
        c.args(["sweep", "scenarios/openai-shift.toml", "--vary", vary, "--paths", "2000", "--no-charts", "--out"])
            .arg(out.path())
            .args(extra);
        c.assert()
    };
    let first = sweep("renegotiation[0].hazard=0.1,0.2", &[]).success();
    let stderr = String::from_utf8_lossy(&first.get_output().stderr).to_string();
    assert!(stderr.contains("renegotiation[0].hazard is a uniform distribution"), "{stderr}");
    sweep("customers.openai.allocation.azure=0.45,0.6", &[])
        .failure()
        .stderr(predicate::str::contains("give --renormalise"));
    sweep("customers.openai.allocation.azure=0.45,0.6", &["--renormalise"]).success();
    sweep("renegotiation[0].hazard=0.1,0.2", &["--renormalise"])
        .failure()
        .stderr(predicate::str::contains("none is varied"));
    let dir = out.path().join("openai-shift");
    assert!(dir.join("sweep-renegotiation-0-hazard.csv").is_file(), "the first sweep is kept");
    let csv = std::fs::read_to_string(dir.join("sweep-customers-openai-allocation-azure.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    // Renormalised: at 0.6 the other shares (aws 0.25, oci 0.20, coreweave
    // 0.10: 0.55 in all) scale to 0.4 in all.
    let text = std::fs::read_to_string("scenarios/openai-shift.toml").unwrap();
    let set = scenario::set_share_renormalised(&text, "customers.openai.allocation.azure", 0.6).unwrap();
    let sc = scenario::parse(&set, "x.toml".as_ref()).unwrap();
    let alloc = &sc.customers.iter().find(|c| c.name == "openai").unwrap().allocation;
    assert!((alloc.iter().sum::<f64>() - 1.0).abs() < 1e-12 && (alloc[0] - 0.6).abs() < 1e-12, "{alloc:?}");
}

#[test]
fn sweep_errors_name_the_path() {
    cmd()
        .args(["sweep", "tests/fixtures/runoff.toml", "--vary", "renegotiation[3].hazard=0.1,0.2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("renegotiation[3]").and(predicate::str::contains("1 entries")));
    cmd()
        .args([
            "sweep",
            "tests/fixtures/runoff.toml",
            "--vary",
            "renegotiation[0].severity=0.5,1.5",
            "--out",
            "/nonexistent-never",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("renegotiation[0].severity").and(predicate::str::contains("severity = 1.5")));
}
