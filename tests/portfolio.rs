//! Portfolio stress tests against closed forms.

mod common;

use backlog_risk::engine::Engine;
use backlog_risk::portfolio::{self, StressResult};

/// A scenario with no randomness at all: every metric equals its plan.
const DET: &str = r#"[scenario]
name = "det"
start = "2026Q1"
quarters = 16
paths = 100000
seed = 5
[providers.azure]
recognition = 0.07
other = { backlog = 300.0, bookings = 20.0, growth = 0.1 }
[providers.aws]
recognition = 0.05
other = { backlog = 200.0, bookings = 10.0 }
"#;

fn stress(scenario: &str, portfolio: &str) -> StressResult {
    let sc = common::parse(scenario).unwrap();
    let p = portfolio::parse(portfolio, "p.toml".as_ref()).unwrap();
    let engine = Engine::new(&sc);
    let bound = p.bind(&engine).unwrap();
    bound.stress(&engine, sc.seed, sc.paths, &|_| {})
}

fn holding(name: &str, weight: f64, vol: f64, exposure: &str) -> String {
    format!("[[holding]]\nname = \"{name}\"\nweight = {weight}\nvolatility = {vol}\nexposure = {{ {exposure} }}\n")
}

const HEAD: &str = "[portfolio]\nname = \"p\"\nvalue = 1000.0\n";

/// Only the idiosyncratic shock is random: the P&L is normal with mean 0 and
/// sd `value w sigma sqrt(T dt)`, so VaR = sd z_a and ES = sd phi(z_a) / (1 - a).
#[test]
fn normal_pnl_has_the_normal_var_and_es() {
    let r = stress(DET, &format!("{HEAD}{}", holding("a", 0.5, 0.2, "\"backlog.azure\" = 0.7")));
    let sd = 1000.0 * 0.5 * 0.2 * (16.0f64 * 0.25).sqrt();
    let phi = |z: f64| (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    for (a, z) in [(0.95, 1.644_853_626_951_472_2), (0.99, 2.326_347_874_040_841)] {
        let var = r.measure(if a == 0.95 { "var95" } else { "var99" }).unwrap();
        let es = r.measure(if a == 0.95 { "es95" } else { "es99" }).unwrap();
        assert!((var / (sd * z) - 1.0).abs() < 0.02, "VaR{a} {var} vs {}", sd * z);
        assert!((es / (sd * phi(z) / (1.0 - a)) - 1.0).abs() < 0.03, "ES{a} {es} vs {}", sd * phi(z) / (1.0 - a));
    }
    assert!(r.measure("expected_pnl").unwrap().abs() < 4.0 * sd / (100_000f64).sqrt());
    assert!((r.pnl.sd / sd - 1.0).abs() < 0.01);
}

#[test]
fn contributions_sum_to_es99_and_shorts_have_the_opposite_sign() {
    let scenario =
        std::fs::read_to_string("scenarios/openai-shift.toml").unwrap().replace("paths = 100000", "paths = 30000");
    let text = format!(
        "{HEAD}{}{}{}",
        holding("long", 0.6, 0.1, "\"backlog.azure\" = 1.0"),
        holding("short", -0.3, 0.0, "\"backlog.azure\" = 1.0"),
        holding("other", 0.4, 0.3, "\"revenue.aws\" = 0.5")
    );
    let r = stress(&scenario, &text);
    let sum: f64 = r.contributions.iter().map(|c| c.es99_contribution).sum();
    let es = r.measure("es99").unwrap();
    assert!((sum - es).abs() < 1e-9 * es.abs(), "contributions {sum} vs ES99 {es}");
    let c = |n: &str| r.contributions.iter().find(|c| c.holding == n).unwrap().es99_contribution;
    assert!(c("long") > 0.0 && c("short") < 0.0, "long {} short {}", c("long"), c("short"));
    // ES99 from the tail buckets agrees with the loss sketch's ES99.
    let sketch_es = r.loss.es99.unwrap();
    assert!((es - sketch_es).abs() < 0.01 * es.abs(), "{es} vs {sketch_es}");
    // The tail paths have lower Azure backlog than the average path.
    let t = r.tail.iter().find(|t| t.metric == "backlog.azure").unwrap();
    assert!(t.tail_mean < t.mean);
}

#[test]
fn zero_exposure_and_zero_volatility_give_zero_pnl() {
    let text = format!("{HEAD}{}", holding("flat", 1.0, 0.0, ""));
    let scenario =
        std::fs::read_to_string("scenarios/litigation-shock.toml").unwrap().replace("paths = 100000", "paths = 5000");
    let r = stress(&scenario, &text);
    assert_eq!((r.pnl.min, r.pnl.max, r.pnl.mean), (0.0, 0.0, 0.0));
    assert_eq!(r.measure("es99"), Some(0.0));
    assert_eq!(r.measure("p_loss_gt_10pct"), Some(0.0));
}

#[test]
fn results_do_not_depend_on_threads() {
    let scenario =
        std::fs::read_to_string("scenarios/openai-shift.toml").unwrap().replace("paths = 100000", "paths = 10000");
    let text = format!("{HEAD}{}", holding("a", 1.0, 0.2, "\"backlog.aws\" = 0.5"));
    let run = |t: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
        pool.install(|| stress(&scenario, &text))
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.risk, b.risk);
    assert_eq!(a.contributions, b.contributions);
    assert_eq!(a.tail, b.tail);
}

#[test]
fn unknown_or_zero_plan_metrics_are_errors_naming_them() {
    let sc = common::parse(DET).unwrap();
    let engine = Engine::new(&sc);
    let p = portfolio::parse(&format!("{HEAD}{}", holding("x", 1.0, 0.1, "\"backlog.gcp\" = 1.0")), "p.toml".as_ref())
        .unwrap();
    let e = p.bind(&engine).unwrap_err();
    assert!(e.contains("`x`") && e.contains("backlog.gcp") && e.contains("backlog.azure, backlog.aws"), "{e}");
    let p = portfolio::parse(&format!("{HEAD}{}", holding("y", 1.0, 0.1, "\"loss.azure\" = 1.0")), "p.toml".as_ref())
        .unwrap();
    let e = p.bind(&engine).unwrap_err();
    assert!(e.contains("`y`") && e.contains("loss.azure") && e.contains("plan value"), "{e}");
    let e = portfolio::parse(
        "[portfolio]\nname = \"p\"\nvalue = 1.0\n[[holding]]\nname = \"a\"\nwieght = 1.0\n",
        "p.toml".as_ref(),
    )
    .unwrap_err();
    assert!(e.contains("p.toml") && e.contains("wieght"), "{e}");
}

#[test]
fn stress_command_writes_every_file() {
    let out = tempfile::tempdir().unwrap();
    common::cmd()
        .args([
            "stress",
            "--portfolio",
            "portfolios/aws-vs-msft.toml",
            "scenarios/openai-shift.toml",
            "scenarios/litigation-shock.toml",
        ])
        .args(["--paths", "3000", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let dir = out.path().join("openai-shift").join("portfolio-aws-vs-msft");
    for f in ["pnl.csv", "risk.csv", "contributions.csv", "tail.csv", "pnl.png", "contributions.png"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let risk = std::fs::read_to_string(dir.join("risk.csv")).unwrap();
    let measures: Vec<&str> = risk.lines().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(measures, ["measure", "expected_pnl", "var95", "es95", "var99", "es99", "p_loss_gt_10pct"]);
    let contrib = std::fs::read_to_string(dir.join("contributions.csv")).unwrap();
    assert!(contrib.starts_with("holding,weight,es99_contribution,standalone_es99\n"));
    assert!(std::fs::read_to_string(dir.join("pnl.csv")).unwrap().lines().nth(1).unwrap().starts_with("pnl,"));
    let across = std::fs::read_to_string(out.path().join("portfolio-aws-vs-msft.csv")).unwrap();
    assert_eq!(across.lines().count(), 3);
    assert!(out.path().join("portfolio-aws-vs-msft.png").is_file());
}
