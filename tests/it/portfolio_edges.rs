//! Portfolios at their edges: a portfolio that cannot lose gives empty
//! shares, not NaN; `pnl.csv` carries the losses of `risk.csv`; a stress
//! test paired with itself is refused; a missing input creates nothing.

use std::path::Path;

use crate::common::cmd;

fn table(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(path).unwrap();
    r.records().map(|rec| rec.unwrap().iter().map(String::from).collect()).collect()
}

#[test]
fn a_zero_weight_portfolio_has_no_shares_and_no_nan() {
    let dir = tempfile::tempdir().unwrap();
    let pf = dir.path().join("zero.toml");
    std::fs::write(
        &pf,
        "[portfolio]\nname = \"zero\"\nvalue = 100.0\n[[holding]]\nname = \"MSFT\"\nweight = 0.0\nexposure = { \"backlog.azure\" = 0.2 }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    cmd()
        .args(["stress", "--portfolio"])
        .arg(&pf)
        .args(["scenarios/openai-shift.toml", "--paths", "4096", "-q", "--out"])
        .arg(&out)
        .assert()
        .success();
    let folder = out.join("openai-shift/portfolio-zero");
    for f in ["pnl.csv", "risk.csv", "contributions.csv", "tail.csv"] {
        let text = std::fs::read_to_string(folder.join(f)).unwrap();
        assert!(!text.to_lowercase().contains("nan"), "{f}: {text}");
    }
    let c = table(&folder.join("contributions.csv"));
    let col = c[0].iter().position(|h| h == "es99_share").unwrap();
    assert_eq!(c[1][col], "", "no share of an ES99 of 0");
}

#[test]
fn pnl_csv_carries_the_losses_of_risk_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    cmd()
        .args(["stress", "--portfolio", "portfolios/ai-infra.toml", "scenarios/openai-shift.toml"])
        .args(["--paths", "8192", "-q", "--no-charts", "--out"])
        .arg(&out)
        .assert()
        .success();
    let folder = out.join("openai-shift/portfolio-ai-infra");
    let pnl = table(&folder.join("pnl.csv"));
    let risk = table(&folder.join("risk.csv"));
    for m in ["var95", "es95", "var99", "es99"] {
        let col = pnl[0].iter().position(|h| h == m).unwrap();
        let row = risk.iter().find(|r| r[0] == m).unwrap();
        assert!(!pnl[1][col].is_empty(), "{m} is empty in pnl.csv");
        assert_eq!(pnl[1][col], row[1], "{m}");
    }
}

#[test]
fn a_stress_test_paired_with_itself_and_a_missing_input_are_refused_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    cmd()
        .args(["stress", "--portfolio", "portfolios/aws-vs-msft.toml", "scenarios/openai-shift.toml"])
        .args(["--paired", "scenarios/openai-shift.toml", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is the --paired base itself"));
    assert!(!out.exists(), "a refused stress test created {}", out.display());
    cmd()
        .args(["stress", "--portfolio", "portfolios/no-such.toml", "scenarios/openai-shift.toml", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no-such.toml"));
    let sweep = ["sweep", "scenarios/no-such.toml", "--vary", "renegotiation[0].hazard=0.1,0.2", "--out"];
    cmd().args(sweep).arg(&out).assert().code(2);
    assert!(!out.exists(), "a missing input created {}", out.display());
}

#[test]
fn validate_checks_portfolios_too() {
    let o = cmd().args(["validate", "portfolios/", "scenarios/openai-shift.toml"]).assert().success();
    let out = String::from_utf8(o.get_output().stdout.clone()).unwrap();
    assert!(out.contains("ok    portfolios/ai-infra.toml (portfolio ai-infra: 5 holdings"), "{out}");
    assert!(out.contains("scenario openai-shift"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string("portfolios/ai-infra.toml").unwrap().replacen(
        "volatility = 0.20",
        "volatility = -0.2",
        1,
    );
    std::fs::write(&bad, &text).unwrap();
    let o = cmd().arg("validate").arg(&bad).assert().code(1);
    let err = String::from_utf8(o.get_output().stderr.clone()).unwrap();
    assert!(err.contains("holding[0].volatility") && err.contains("bad.toml:23:"), "{err}");
    assert!(!err.contains("unknown field `portfolio`"), "{err}");
    std::fs::write(&bad, text.replace("[portfolio]\n", "[portfolio]\nname = \"dup\"\n")).unwrap();
    let o = cmd().arg("validate").arg(&bad).assert().code(1);
    let err = String::from_utf8(o.get_output().stderr.clone()).unwrap();
    assert!(err.contains("bad.toml:13: duplicate key `name`"), "a duplicate key is named: {err}");
}

#[test]
fn a_metric_no_scenario_records_is_an_error_naming_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    let pf = dir.path().join("typo.toml");
    let text = std::fs::read_to_string("portfolios/ai-infra.toml").unwrap();
    std::fs::write(&pf, text.replace("\"backlog.azure\" = 0.15", "\"backlog.azrue\" = 0.15")).unwrap();
    let out = dir.path().join("out");
    cmd()
        .args(["stress", "--portfolio"])
        .arg(&pf)
        .args(["scenarios/", "--paths", "2048", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("holding[0].exposure.\"backlog.azrue\""))
        .stderr(predicates::str::contains("did you mean `backlog.azure`?"));
    assert!(!out.exists());
}

#[test]
fn a_portfolio_name_follows_the_scenario_name_rule() {
    let dir = tempfile::tempdir().unwrap();
    for (name, says) in
        [(&"p".repeat(70)[..], "is too long (70 characters): use at most 64"), ("Big Fund", "use only a-z")]
    {
        let pf = dir.path().join("p.toml");
        std::fs::write(
            &pf,
            format!("[portfolio]\nname = \"{name}\"\nvalue = 100.0\n[[holding]]\nname = \"M\"\nweight = 1.0\nexposure = {{ \"backlog.azure\" = 0.2 }}\n"),
        )
        .unwrap();
        let out = cmd().arg("validate").arg(&pf).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("portfolio.name") && err.contains(says) && err.contains("names the output folder"),
            "{err}"
        );
    }
}
