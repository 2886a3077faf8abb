//! The command line, end to end.

use crate::common;

use std::path::Path;

use common::cmd;
use predicates::prelude::*;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const BAD: &str =
    "[scenario]\nname = \"bad\"\nstart = \"2026Q1\"\nquarters = 4\n\n[providers.azure]\nrecognition = 1.5\n";

#[test]
fn run_writes_summary_fan_and_run_json() {
    let out = tempfile::tempdir().unwrap();
    cmd()
        .args(["run", "scenarios/status-quo.toml", "--paths", "3000", "--seed", "9", "--out"])
        .arg(out.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("status-quo:").and(predicate::str::contains("VaR99")));
    let dir = out.path().join("status-quo");
    let summary = read(&dir.join("summary.csv"));
    assert_eq!(
        summary.lines().next().unwrap(),
        "metric,mean,sd,se,min,p1,p5,p10,p25,p50,p75,p90,p95,p99,max,var95,es95,var99,es99"
    );
    // 4 providers x (backlog, revenue, loss) + 2 customers x 4 providers shares, no rules.
    assert_eq!(summary.lines().count(), 1 + 4 * 3 + 8);
    assert!(summary.lines().any(|l| l.starts_with("loss.azure,") && !l.ends_with(",,,,")));
    assert!(summary.lines().any(|l| l.starts_with("share.openai.azure,") && l.ends_with(",,,,")));
    let fan = read(&dir.join("fan.csv"));
    assert_eq!(fan.lines().next().unwrap(), "provider,quarter,label,mean,p5,p25,p50,p75,p95");
    assert_eq!(fan.lines().count(), 1 + 4 * 28);
    assert!(fan.lines().nth(1).unwrap().starts_with("azure,1,2026Q1,"));
    assert!(fan.lines().any(|l| l.starts_with("gcp,28,2032Q4,")));
    let revenue = read(&dir.join("revenue.csv"));
    assert_eq!(revenue.lines().next().unwrap(), "provider,quarter,label,mean,p5,p25,p50,p75,p95");
    assert_eq!(revenue.lines().count(), 1 + 4 * 28);
    let errors = read(&dir.join("errors.csv"));
    assert_eq!(errors.lines().next().unwrap(), "metric,stat,estimate,se,ci_low,ci_high");
    // mean, p5, p50, p95 for every metric, and VaR/ES rows for the 4 losses.
    assert_eq!(errors.lines().count(), 1 + 20 * 4 + 4 * 4);
    assert!(errors.lines().any(|l| l.starts_with("loss.azure,es99,")));
    let info: serde_json::Value = serde_json::from_str(&read(&dir.join("run.json"))).unwrap();
    assert_eq!(info["seed"], 9);
    assert_eq!(info["paths"], 3000);
    assert_eq!(info["scenario"], "status-quo");
    assert_eq!(info["scenario_sha256"].as_str().unwrap().len(), 64);
    assert!(info["quantiles"]["relative_error"].as_f64().unwrap() > 0.0);
    // The files and the key charts, no temporaries left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "concentration.png",
            "errors.csv",
            "exceedance.png",
            "fan.csv",
            "fan.png",
            "loss.png",
            "report.html",
            "report.xlsx",
            "revenue.csv",
            "run.json",
            "summary.csv",
            "summary.json"
        ]
    );
}

fn png_size(path: &Path) -> (u32, u32) {
    let d = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let r = d.read_info().unwrap();
    (r.info().width, r.info().height)
}

#[test]
fn chart_options_select_and_size_the_charts() {
    let out = tempfile::tempdir().unwrap();
    let run = |args: &[&str], dir: &str| {
        cmd()
            .args(["run", "scenarios/litigation-shock.toml", "--paths", "500", "--quiet", "--out"])
            .arg(out.path().join(dir))
            .args(args)
            .assert()
            .success();
        out.path().join(dir).join("litigation-shock")
    };
    let none = run(&["--no-charts"], "none");
    assert!(std::fs::read_dir(&none).unwrap().all(|e| e.unwrap().path().extension().unwrap() != "png"));
    let all = run(&["--charts", "all", "--chart-size", "640x400"], "all");
    for f in ["loss.png", "loss-azure.png", "loss-aws.png", "fan.png", "exceedance.png", "concentration.png"] {
        assert_eq!(png_size(&all.join(f)), (640, 400), "{f}");
    }
    let default = run(&[], "default");
    assert_eq!(png_size(&default.join("fan.png")), (1600, 1000));
    cmd().args(["run", "--chart-size", "10x10"]).assert().code(2).stderr(predicate::str::contains("outside 640..8000"));
    cmd()
        .args(["run", "--chart-size", "800x300"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("height of 300 pixels is outside 400..8000"));
}

#[test]
fn a_batch_writes_the_comparison() {
    let out = tempfile::tempdir().unwrap();
    cmd()
        .args([
            "run",
            "scenarios/litigation-shock.toml",
            "scenarios/oracle-concentration.toml",
            "--paths",
            "1000",
            "--charts",
            "all",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();
    let csv = read(&out.path().join("comparison.csv"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "provider,display,scenario,focus,horizon,horizon_quarters,mean,p5,p25,p50,p75,p95,var95,es95,var99,es99"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // litigation-shock: azure (focus), aws; oracle-concentration: oci (focus),
    // azure. One focus each: the tie goes to the first, azure, whose group
    // comes first; every group holds one provider.
    let cols: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[2], r[3])).collect();
    assert_eq!(cols.len(), 4);
    assert_eq!(&cols[..2].iter().map(|c| c.0).collect::<Vec<_>>(), &["azure", "azure"]);
    assert!(cols.contains(&("azure", "litigation-shock", "true")));
    assert!(cols.contains(&("azure", "oracle-concentration", "false")));
    assert!(cols.contains(&("oci", "oracle-concentration", "true")));
    assert_eq!(rows[0][1], "Microsoft Azure", "the display name");
    assert!(rows.iter().all(|r| r[4] == "2032Q4" && r[5] == "28"), "the horizon on every row");
    let es99 = |r: &Vec<&str>| r[15].parse::<f64>().unwrap();
    assert!(es99(&rows[0]) >= es99(&rows[1]), "sorted by ES99 within a provider, worst first");
    assert_eq!(png_size(&out.path().join("comparison.png")), (1600, 1000));
    assert!(out.path().join("comparison-azure.png").is_file(), "--charts all: one chart per shared provider");
    assert!(!out.path().join("comparison-oci.png").exists(), "oci is in one scenario only");
}

/// `scenario.focus` picks the provider of the headline and loss.png;
/// `--focus` overrides it; a provider the scenario lacks is refused.
#[test]
fn the_focus_provider_is_chosen_by_file_or_flag() {
    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut c = cmd();
        c.args(["run", "scenarios/coreweave-concentration.toml", "--paths", "500", "--no-charts", "--out"])
            .arg(out.path())
            .args(extra);
        c.assert()
    };
    let text = |a: assert_cmd::assert::Assert| String::from_utf8(a.get_output().stdout.clone()).unwrap();
    let by_file = text(run(&[]).success());
    assert!(by_file.contains("coreweave-concentration: CoreWeave ("), "{by_file}");
    let by_flag = text(run(&["--focus", "azure"]).success());
    assert!(by_flag.contains("coreweave-concentration: Microsoft Azure ("), "{by_flag}");
    let batch = read(&out.path().join("batch.csv"));
    assert!(batch.lines().nth(1).unwrap().contains(",2030Q4,azure,openai,"), "{batch}");
    run(&["--focus", "oci"])
        .failure()
        .stderr(predicate::str::contains("--focus"))
        .stderr(predicate::str::contains("no provider `oci`; its providers are coreweave, azure"));
}

#[test]
fn output_files_are_identical_for_1_and_4_threads() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, threads) in [(&a, "1"), (&b, "4")] {
        cmd()
            .args(["run", "scenarios/openai-shift.toml", "--paths", "20000", "--quiet", "--threads", threads, "--out"])
            .arg(dir.path())
            .assert()
            .success();
    }
    for f in ["summary.csv", "fan.csv"] {
        let (x, y) = (read(&a.path().join("openai-shift").join(f)), read(&b.path().join("openai-shift").join(f)));
        assert!(x == y, "{f} differs between 1 and 4 threads");
    }
}

#[test]
fn run_without_inputs_runs_every_shipped_scenario() {
    let out = tempfile::tempdir().unwrap();
    cmd().args(["run", "--paths", "500", "--quiet", "--out"]).arg(out.path()).assert().success().stdout("");
    let mut expected: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert!(expected.len() >= 6, "at least six shipped scenarios");
    for name in &expected {
        assert!(out.path().join(name).join("summary.csv").is_file(), "{name} has no summary");
    }
}

#[test]
fn validate_reports_the_field_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, BAD).unwrap();
    cmd()
        .args(["validate", "scenarios/status-quo.toml"])
        .arg(&bad)
        .assert()
        .failure()
        .stdout(predicate::str::contains("ok    scenarios/status-quo.toml"))
        .stderr(
            predicate::str::contains("bad.toml:7: providers.azure.recognition")
                .and(predicate::str::contains("at most 1")),
        );
}

#[test]
fn a_bad_file_does_not_stop_the_others_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, BAD).unwrap();
    let out = dir.path().join("out");
    cmd()
        .args(["run", "--paths", "500", "scenarios/litigation-shock.toml"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("litigation-shock:"))
        .stderr(predicate::str::contains("providers.azure.recognition").and(predicate::str::contains("1 failed")));
    assert!(out.join("litigation-shock").join("run.json").is_file());
    assert!(!out.join("bad").exists(), "a rejected scenario writes nothing");
}

#[test]
fn missing_input_is_a_clear_error() {
    cmd()
        .args(["run", "no-such-file.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-file.toml: no such file or folder"));
}

#[test]
fn duplicate_scenario_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("scenarios/litigation-shock.toml", dir.path().join("a.toml")).unwrap();
    std::fs::copy("scenarios/litigation-shock.toml", dir.path().join("b.toml")).unwrap();
    cmd()
        .args(["run", "--paths", "200", "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already used by"));
}

#[test]
fn help_explains_every_option() {
    let assert = cmd().args(["run", "--help"]).assert().success();
    let text = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for opt in ["--paths", "--seed", "--threads", "--out", "--quiet", "--no-charts", "FILES_OR_DIRS"] {
        assert!(text.contains(opt), "--help lacks {opt}");
    }
    assert!(text.contains("whatever the number of threads"));
}

/// The inputs of issue 14 that used to overflow the simulation (growth of
/// 12,000% a year, a backlog of 1e308, a uniform growth up to 401, a
/// volatility of 1e308) are refused at validation, naming the file, the
/// field and the limit: non-zero exit, nothing written, no hang.
#[test]
fn overflowing_inputs_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("growth = 120.0", "providers.azure.other.growth", "must be at most 2"),
        ("backlog = 1e308", "providers.azure.other.backlog", "must be at most 1000000"),
        ("growth = { dist = \"uniform\", min = 0.0, max = 401.0 }", "providers.azure.other.growth", "up to 401"),
        ("volatility = 1e308", "providers.azure.other.volatility", "must be at most 3"),
        (
            "growth = { dist = \"normal\", mean = 0.1, sd = 1.0 }",
            "providers.azure.other.growth",
            "add `min` truncation",
        ),
    ];
    for (field, path, says) in cases {
        let file = dir.path().join("overflow.toml");
        std::fs::write(
            &file,
            format!(
                "[scenario]\nname = \"overflow\"\nstart = \"2026Q1\"\nquarters = 28\npaths = 2000\nseed = 1\n\
                 [providers.azure]\nrecognition = 0.05\nother = {{ bookings = 10.0, {field} }}\n"
            ),
        )
        .unwrap();
        let out = dir.path().join("out");
        let done = cmd()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .timeout(std::time::Duration::from_secs(60))
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
        assert!(
            stderr.contains("overflow.toml:") && stderr.contains(path) && stderr.contains(says),
            "{field}: {stderr}"
        );
        assert!(!out.join("overflow").exists(), "{field}: no result folder");
    }
}

/// Limits with clear messages, refused at once and writing nothing: a
/// 1000 x 1000 sweep grid, one parameter swept twice, more than 10^10 paths
/// without --shard or --allow-huge.
#[test]
fn oversized_work_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let refused = |args: &[&str], says: &str| {
        let done =
            cmd().args(args).arg("--out").arg(&out).timeout(std::time::Duration::from_secs(30)).assert().failure();
        let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!out.join("openai-shift").exists(), "{args:?} wrote results");
    };
    refused(
        &[
            "sweep",
            "scenarios/openai-shift.toml",
            "--vary",
            "renegotiation[0].hazard=0.0..1.0:1000",
            "--vary",
            "renegotiation[1].hazard=0.0..1.0:1000",
        ],
        "1000000 points",
    );
    refused(
        &[
            "sweep",
            "scenarios/openai-shift.toml",
            "--vary",
            "renegotiation[0].hazard=0.1,0.2",
            "--vary",
            "renegotiation[0].hazard=0.3",
        ],
        "given twice",
    );
    refused(&["run", "scenarios/openai-shift.toml", "--paths", "20000000000"], "--shard K/N");
    refused(
        &[
            "stress",
            "--portfolio",
            "portfolios/msft-azure.toml",
            "scenarios/openai-shift.toml",
            "--paths",
            "20000000000",
        ],
        "--allow-huge",
    );
    assert!(started.elapsed().as_secs() < 20, "the refusals took {:?}", started.elapsed());
}

/// `--paired` refuses a base with another horizon or no provider in common
/// (writing nothing), and names the providers and customers present in one
/// file only.
#[test]
fn paired_runs_check_their_base() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let paired = |file: &str, base: &str| {
        cmd().args(["run", file, "--paired", base, "--paths", "2000", "--no-charts", "--out"]).arg(&out).assert()
    };
    let done = paired("scenarios/coreweave-concentration.toml", "scenarios/status-quo.toml").failure();
    let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
    assert!(stderr.contains("2030Q4 (20 quarters") && stderr.contains("2032Q4 (28 quarters"), "{stderr}");
    assert!(!out.join("coreweave-concentration").exists());
    let lonely = dir.path().join("lonely.toml");
    std::fs::write(
        &lonely,
        "[scenario]\nname = \"lonely\"\nstart = \"2026Q1\"\nquarters = 28\n[providers.nowhere]\nrecognition = 0.05\nother = { backlog = 10.0 }\n",
    )
    .unwrap();
    let done = paired(lonely.to_str().unwrap(), "scenarios/status-quo.toml").failure();
    assert!(String::from_utf8_lossy(&done.get_output().stderr).contains("share no provider"));
    assert!(!out.join("lonely").exists());
    // openai-shift has coreweave and meta; status-quo has gcp and anthropic.
    let done = paired("scenarios/openai-shift.toml", "scenarios/status-quo.toml").success();
    let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
    for n in [
        "provider coreweave only in `openai-shift`",
        "provider gcp only in `status-quo`",
        "customer meta only in `openai-shift`",
        "customer anthropic only in `status-quo`",
    ] {
        assert!(stderr.contains(n), "{n}: {stderr}");
    }
}

/// Small things a new user meets: `validate` with no argument checks
/// `scenarios/` and says "1 customer"; a range without `:N` says to add it;
/// a pattern that matches nothing among other inputs is a warning.
#[test]
fn small_things_a_new_user_meets() {
    let out = cmd().arg("validate").assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 6, "{stdout}");
    assert!(stdout.contains("1 customer, 1 renegotiation rule,"), "{stdout}");
    cmd()
        .args(["sweep", "scenarios/openai-shift.toml", "--vary", "renegotiation[0].hazard=0.1..0.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("add `:N`, e.g. `renegotiation[0].hazard=0.1..0.5:10`"));
    let dir = tempfile::tempdir().unwrap();
    cmd()
        .args(["run", "scenarios/litigation-shock.toml", "nowhere/*.toml", "--paths", "500", "--no-charts", "--out"])
        .arg(dir.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: nowhere/*.toml: the pattern matches no file"));
    assert!(dir.path().join("litigation-shock").join("summary.csv").is_file());
}

/// A scenario paired with itself is refused with a clear message, and
/// writes nothing; a paired run prints one line of differences.
#[test]
fn a_scenario_paired_with_itself_is_refused() {
    let out = tempfile::tempdir().unwrap();
    cmd()
        .args(["run", "scenarios/openai-shift.toml", "--paired", "scenarios/openai-shift.toml", "--out"])
        .arg(out.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("`openai-shift` is the --paired base itself"));
    assert!(!out.path().join("openai-shift").exists());
    let done = cmd()
        .args([
            "run",
            "scenarios/variants/openai-shift-fast.toml",
            "--paired",
            "scenarios/openai-shift.toml",
            "--paths",
            "2000",
            "--no-charts",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&done.get_output().stdout).to_string();
    let line = stdout.lines().find(|l| l.contains("minus openai-shift")).expect("the paired line");
    assert!(line.contains("loss.azure path by path: expected +$") && line.contains("VaR99") && line.contains("ES99"));
    assert!(line.contains("no se: fewer than 100,000 paths"), "{line}");
}

/// Shell completions and man pages come from the command definitions.
#[test]
fn completions_and_man_pages_are_generated() {
    let out = cmd().args(["completions", "bash"]).assert().success();
    let script = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(script.contains("_backlog__risk()") && script.contains("--renormalise") && script.contains("stress"));
    cmd().args(["completions", "tcsh"]).assert().failure().stderr(predicate::str::contains("possible values"));
    let dir = tempfile::tempdir().unwrap();
    cmd().args(["man", "--out"]).arg(dir.path()).assert().success();
    for page in ["backlog-risk.1", "backlog-risk-run.1", "backlog-risk-sweep.1", "backlog-risk-stress.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let sweep = std::fs::read_to_string(dir.path().join("backlog-risk-sweep.1")).unwrap();
    assert!(sweep.contains("sweep\\-SLUG.csv"), "the sweep page describes its outputs");
}

/// A failing scenario's error is printed once, with one `error:` prefix.
#[test]
fn an_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[scenario]\nname = \"bad\"\nstart = \"2026Q1\"\nquarters = 8\n[providers.azure]\nrecognition = 1.5\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    for args in [
        vec!["run", "--out", out],
        vec!["validate"],
        vec!["sweep", "--vary", "providers.azure.recognition=0.1,0.2", "--out", out],
    ] {
        let done = cmd().args(&args).arg(&bad).assert().failure();
        let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
        assert_eq!(stderr.matches("a share must be at most 1").count(), 1, "{args:?}: {stderr}");
        assert_eq!(stderr.matches("error: ").count(), 1, "{args:?}: {stderr}");
    }
}
