//! Portfolio stress tests against closed forms.

use crate::common;

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
    let cut = p.at_horizon(&sc).unwrap();
    let engine = Engine::new(&cut);
    let bound = p.bind(&engine).unwrap();
    bound.stress(&engine, cut.seed, cut.paths, &|_| {})
}

fn holding(name: &str, weight: f64, vol: f64, exposure: &str) -> String {
    format!("[[holding]]\nname = \"{name}\"\nweight = {weight}\nvolatility = {vol}\nexposure = {{ {exposure} }}\n")
}

const HEAD: &str = "[portfolio]\nname = \"p\"\nvalue = 1000.0\n";

/// Standard normal CDF.
fn phi_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile, by bisection on the CDF.
fn phi_inv(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if phi_cdf(mid) < p { lo = mid } else { hi = mid }
    }
    (lo + hi) / 2.0
}

/// VaR and ES at level `a` of the loss of `value * w * (g - 1)` with
/// `g = exp(s z - s^2 / 2)`, `z ~ N(0, 1)`, plus a constant loss `c`, and
/// their standard errors at `n` paths. For a long holding the loss is large
/// when `z` is small, for a short one when `z` is large;
/// `E[g 1{z <= k}] = Phi(k - s)` and `E[g^2 1{z <= k}] = e^{s^2} Phi(k - 2s)`.
/// The VaR's se is the order statistic's, `sqrt(a (1 - a) / n) / f(VaR)`;
/// the ES's the asymptotic `(Var[L | tail] + a (ES - VaR)^2) / (n (1 - a))`.
fn lognormal_var_es(value: f64, w: f64, s: f64, a: f64, c: f64, n: f64) -> [(f64, f64); 2] {
    let z = phi_inv(a);
    let v = value * w.abs();
    let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let se_z = (a * (1.0 - a) / n).sqrt() / density;
    let (var, slope, g1, g2) = if w > 0.0 {
        let g = (-s * z - s * s / 2.0).exp();
        (c + v * (1.0 - g), v * s * g, phi_cdf(-z - s), (s * s).exp() * phi_cdf(-z - 2.0 * s))
    } else {
        let g = (s * z - s * s / 2.0).exp();
        (c + v * (g - 1.0), v * s * g, 1.0 - phi_cdf(z - s), (s * s).exp() * (1.0 - phi_cdf(z - 2.0 * s)))
    };
    let (mean_g, mean_g2) = (g1 / (1.0 - a), g2 / (1.0 - a));
    let es = if w > 0.0 { c + v * (1.0 - mean_g) } else { c + v * (mean_g - 1.0) };
    let tail_var = v * v * (mean_g2 - mean_g * mean_g);
    let se_es = ((tail_var + a * (es - var).powi(2)) / (n * (1.0 - a))).sqrt();
    [(var, slope * se_z), (es, se_es)]
}

/// A deterministic exposure (the scenario has no randomness) plus one
/// lognormal holding, long and short, over a horizon of 8 of the scenario's
/// 16 quarters: VaR, ES and the contributions have closed forms. The
/// estimates must lie within 4 standard errors (plus the sketch's 0.1%);
/// the linear model's figures lie more than 20 away.
#[test]
fn lognormal_holding_has_the_closed_form_var_es_and_contributions() {
    let n = 200_000.0;
    let det = DET.replace("paths = 100000", "paths = 200000");
    for w in [0.6, -0.6] {
        let text = format!(
            "{HEAD}horizon = 8\n{}{}",
            holding("fixed", 0.4, 0.0, "\"backlog.azure\" = 0.7"),
            holding("lognormal", w, 0.6, "")
        );
        let r = stress(&det, &text);
        assert_eq!((r.horizon, r.horizon_label.as_str()), (8, "2027Q4"));
        let fixed = &r.contributions[0];
        // The fixed holding returns the same on every path; its tail
        // contribution is minus its P&L.
        let c = -fixed.mean_pnl;
        assert!(c.abs() < 1e-6, "the metric is at plan on every path: {c}");
        assert!((fixed.es99_contribution - c).abs() < 1e-9, "{} vs {c}", fixed.es99_contribution);
        let s = 0.6 * (8.0f64 * 0.25).sqrt();
        for (a, names) in [(0.95, ["var95", "es95"]), (0.99, ["var99", "es99"])] {
            let exact = lognormal_var_es(1000.0, w, s, a, c, n);
            for (name, (x, se)) in names.iter().zip(exact) {
                let got = r.measure(name).unwrap();
                let tol = 4.0 * se + 1e-3 * x.abs();
                assert!((got - x).abs() <= tol, "w {w}: {name} {got} vs closed form {x} (se {se})");
            }
            // The linear model's VaR, `value |w| s z`, is far off.
            let linear = 1000.0 * w.abs() * s * phi_inv(a);
            assert!((linear - exact[0].0).abs() > 20.0 * exact[0].1, "the test cannot tell the models apart");
        }
        let es = r.measure("es99").unwrap();
        let sum: f64 = r.contributions.iter().map(|c| c.es99_contribution).sum();
        assert!((sum - es).abs() < 1e-9 * es.abs(), "contributions {sum} vs ES99 {es}");
        assert!((r.contributions[1].es99_contribution - (es - c)).abs() < 1e-9 * es.abs());
        let shares: f64 = r.contributions.iter().map(|c| c.es99_share.expect("ES99 is not 0")).sum();
        assert!((shares - 1.0).abs() < 1e-12);
        // Expected P&L: E[g] = 1, so 0 up to sampling error.
        let sd = 1000.0 * w.abs() * ((s * s).exp() - 1.0).sqrt();
        common::within_se("expected P&L", r.measure("expected_pnl").unwrap(), sd / n.sqrt(), 0.0, 4.0);
    }
}

/// A long-only portfolio can lose at most its value, however volatile its
/// holdings and however far the scenario moves (the old linear model lost
/// more than the portfolio was worth here).
#[test]
fn a_long_only_portfolio_never_loses_more_than_its_value() {
    let scenario =
        std::fs::read_to_string("scenarios/openai-shift.toml").unwrap().replace("paths = 100000", "paths = 20000");
    let text = format!(
        "{HEAD}{}{}",
        holding("wild", 0.7, 3.0, "\"backlog.azure\" = 5.0, \"revenue.aws\" = 3.0"),
        holding("calm", 0.3, 0.5, "\"backlog.oci\" = 2.0")
    );
    let r = stress(&scenario, &text);
    assert!(r.pnl.min >= -1000.0, "P&L minimum {} below -value", r.pnl.min);
    assert!(r.loss.max <= 1000.0, "loss maximum {}", r.loss.max);
    assert!(r.measure("es99").unwrap() <= 1000.0);
    // Volatile enough that the tail comes close to losing everything.
    assert!(r.measure("var99").unwrap() > 900.0, "VaR99 {}", r.measure("var99").unwrap());
}

/// The metrics a portfolio sees are those at its horizon: backlog at
/// quarter H, revenue summed over 1..H; a horizon beyond the scenario is a
/// skip that says so.
#[test]
fn a_shorter_horizon_reads_the_metrics_at_that_quarter() {
    let text =
        std::fs::read_to_string("scenarios/openai-shift.toml").unwrap().replace("paths = 100000", "paths = 4096");
    let sc = common::parse(&text).unwrap();
    let p = portfolio::parse(
        &format!("{HEAD}horizon = 6\n{}", holding("a", 1.0, 0.2, "\"backlog.aws\" = 0.5")),
        "p.toml".as_ref(),
    )
    .unwrap();
    let r = stress(&text, &format!("{HEAD}horizon = 6\n{}", holding("a", 1.0, 0.2, "\"backlog.aws\" = 0.5")));
    assert_eq!((r.horizon, r.horizon_label.as_str()), (6, "2027Q2"));
    let (acc, summary) = common::run(&sc);
    let np = sc.providers.len();
    let tail = |m: &str| r.tail.iter().find(|t| t.metric == m).unwrap().mean;
    for (pi, prov) in sc.providers.iter().enumerate() {
        let backlog = acc.fan[5 * np + pi].mean();
        let revenue: f64 = (0..6).map(|t| acc.revenue[t * np + pi].mean()).sum();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert!(close(tail(&format!("backlog.{}", prov.name)), backlog), "backlog.{} at quarter 6", prov.name);
        assert!(close(tail(&format!("revenue.{}", prov.name)), revenue), "revenue.{} over 1..6", prov.name);
        // And not the figures at the scenario's own horizon.
        let at_t = summary.metric(&format!("backlog.{}", prov.name)).unwrap().mean;
        assert!(!close(tail(&format!("backlog.{}", prov.name)), at_t));
    }
    let long = p.clone();
    let short_sc = common::parse(&text.replace("quarters = 28", "quarters = 4")).unwrap();
    let e = long.at_horizon(&short_sc).unwrap_err();
    assert!(
        e.skip && e.message.contains("horizon of 6 quarters") && e.message.contains("covers only 4"),
        "{}",
        e.message
    );
}

/// Each holding's idiosyncratic draw is keyed by its name: adding a holding
/// leaves another holding's own distribution unchanged, bit for bit.
#[test]
fn adding_a_holding_leaves_the_others_draws_alone() {
    let one = stress(DET, &format!("{HEAD}{}", holding("a", 0.5, 0.3, "\"backlog.azure\" = 0.7")));
    let two = stress(
        DET,
        &format!("{HEAD}{}{}", holding("new", 0.5, 0.3, ""), holding("a", 0.5, 0.3, "\"backlog.azure\" = 0.7")),
    );
    let (a1, a2) = (&one.contributions[0], &two.contributions[1]);
    assert_eq!((a1.mean_pnl, a1.var99, a1.es99), (a2.mean_pnl, a2.var99, a2.es99));
    // The new holding, alike in all but name, draws its own numbers.
    assert_ne!(two.contributions[0].es99, a2.es99);
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
    assert!(e.skip, "a scenario without the metric is skipped, not failed");
    let e = e.message;
    assert!(e.contains("backlog.gcp (held by x)") && e.contains("its providers: azure, aws"), "{e}");
    let p = portfolio::parse(&format!("{HEAD}{}", holding("y", 1.0, 0.1, "\"loss.azure\" = 1.0")), "p.toml".as_ref())
        .unwrap();
    let e = p.bind(&engine).unwrap_err();
    assert!(!e.skip, "an exposure to a zero-plan metric is an error in the portfolio");
    let e = e.message;
    assert!(e.contains("`y`") && e.contains("loss.azure") && e.contains("plan value"), "{e}");
    let e = portfolio::parse(
        "[portfolio]\nname = \"p\"\nvalue = 1.0\n[[holding]]\nname = \"a\"\nwieght = 1.0\n",
        "p.toml".as_ref(),
    )
    .unwrap_err();
    let backlog_risk::Error::Portfolio(e) = e else { panic!("a portfolio error: {e}") };
    assert_eq!((e.file.to_str(), e.field.as_str(), e.line), (Some("p.toml"), "holding[0].wieght", Some(6)), "{e}");
    assert!(e.message.contains("wieght"), "{e}");
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
    assert_eq!(
        measures,
        [
            "measure",
            "expected_pnl",
            "var95",
            "es95",
            "var99",
            "es99",
            "p_loss_gt_10pct",
            "sum_standalone_es99",
            "diversification"
        ]
    );
    // Every file says the horizon (the shipped portfolio's: 8 quarters).
    assert!(risk.starts_with("measure,value,horizon,horizon_quarters\n") && risk.contains(",2027Q4,8\n"), "{risk}");
    let contrib = std::fs::read_to_string(dir.join("contributions.csv")).unwrap();
    assert!(
        contrib
            .starts_with("holding,weight,mean_pnl,var99,es99,es99_contribution,es99_share,horizon,horizon_quarters\n")
    );
    let pnl = std::fs::read_to_string(dir.join("pnl.csv")).unwrap();
    assert!(pnl.lines().nth(1).unwrap().starts_with("pnl,") && pnl.lines().nth(1).unwrap().ends_with(",2027Q4,8"));
    let tail = std::fs::read_to_string(dir.join("tail.csv")).unwrap();
    assert!(tail.starts_with("metric,tail_mean,mean,horizon,horizon_quarters\n"));
    let across = std::fs::read_to_string(out.path().join("portfolio-aws-vs-msft.csv")).unwrap();
    assert_eq!(across.lines().count(), 3);
    assert!(across.starts_with("scenario,paths,horizon,horizon_quarters,expected_pnl,"));
    assert!(out.path().join("portfolio-aws-vs-msft.png").is_file());
}

/// A shipped portfolio over every shipped scenario: those that lack a
/// metric it needs are skipped with one line each, the run exits 0; when
/// every scenario is skipped it exits 1 and says why.
#[test]
fn stress_skips_scenarios_without_the_metrics_and_exits_0() {
    let out = tempfile::tempdir().unwrap();
    let run = common::cmd()
        .args(["stress", "--portfolio", "portfolios/aws-vs-msft.toml", "scenarios/", "--paths", "1000", "--no-charts"])
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    let skips: Vec<&str> = stderr.lines().filter(|l| l.starts_with("skip ")).collect();
    assert_eq!(skips.len(), 2, "{stderr}");
    assert!(skips.iter().any(|l| l.contains("coreweave-concentration") && l.contains("backlog.aws, revenue.aws")));
    let across = std::fs::read_to_string(out.path().join("portfolio-aws-vs-msft.csv")).unwrap();
    assert_eq!(across.lines().count(), 5, "four scenarios ran");
    let none = common::cmd()
        .args(["stress", "--portfolio", "portfolios/ai-infra.toml", "scenarios/status-quo.toml", "--paths", "1000"])
        .arg("--out")
        .arg(out.path())
        .assert()
        .code(2);
    // A metric that no scenario given records is an error, not a skip.
    let stderr = String::from_utf8_lossy(&none.get_output().stderr).to_string();
    assert!(
        stderr.contains("no scenario given (status-quo) records `backlog.coreweave`") && !stderr.contains("skip "),
        "{stderr}"
    );
}

/// `--paired BASE`: the base against itself differs by exactly 0 on every
/// path; a variant's differences come with a standard error far below the
/// P&L's own spread (common random numbers), and a horizon that differs
/// between the two is refused.
#[test]
fn paired_stress_differences_are_exact_and_precise() {
    let text =
        std::fs::read_to_string("scenarios/openai-shift.toml").unwrap().replace("paths = 100000", "paths = 8000");
    let base = common::parse(&text).unwrap();
    let variant =
        common::parse(&text.replace("hazard = { dist = \"uniform\", min = 0.02, max = 0.10 }", "hazard = 0.6"))
            .unwrap();
    assert_ne!(base, variant, "the variant differs");
    let p = portfolio::parse(
        &format!("{HEAD}horizon = 12\n{}", holding("a", 1.0, 0.3, "\"backlog.azure\" = 0.5")),
        "p.toml".as_ref(),
    )
    .unwrap();
    let (cb, cv) = (p.at_horizon(&base).unwrap(), p.at_horizon(&variant).unwrap());
    let (eb, ev) = (Engine::new(&cb), Engine::new(&cv));
    let (bb, bv) = (p.bind(&eb).unwrap(), p.bind(&ev).unwrap());
    let same = bb.stress_paired(&eb, (&bb, &eb), 42, 8000, &|_| {});
    assert_eq!((same.diff.mean(), same.diff.sd(), same.diff.count()), (0.0, 0.0, 8000));
    let d = bv.stress_paired(&ev, (&bb, &eb), 42, 8000, &|_| {});
    assert!(d.diff.mean() < 0.0, "more renegotiation lowers Azure's backlog and the holding: {}", d.diff.mean());
    assert!(d.diff.sd() < 0.5 * d.mine.pnl.sd, "paired sd {} vs P&L sd {}", d.diff.sd(), d.mine.pnl.sd);
    // The paired run's own results are those of the unpaired runs, bit for bit.
    let alone = bv.stress(&ev, 42, 8000, &|_| {});
    assert_eq!((alone.risk, alone.contributions), (d.mine.risk.clone(), d.mine.contributions.clone()));
    let row = d.row();
    assert_eq!(row.d_es99, Some(d.mine.measure("es99").unwrap() - d.base.measure("es99").unwrap()));
    // Horizons must agree: a portfolio without one takes each scenario's.
    let out = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.toml");
    std::fs::write(
        &short,
        text.replace("quarters = 28", "quarters = 20").replace("name = \"openai-shift\"", "name = \"short\""),
    )
    .unwrap();
    let pf = dir.path().join("p.toml");
    std::fs::write(&pf, format!("{HEAD}{}", holding("a", 1.0, 0.3, "\"backlog.azure\" = 0.5"))).unwrap();
    let run = common::cmd()
        .args(["stress", "--portfolio"])
        .arg(&pf)
        .arg(&short)
        .args(["--paired", "scenarios/openai-shift.toml", "--paths", "500", "--out"])
        .arg(out.path())
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(stderr.contains("set portfolio.horizon") && stderr.contains("20 quarters"), "{stderr}");
    // The same number of quarters from another start is refused too.
    let later = dir.path().join("later.toml");
    std::fs::write(
        &later,
        text.replace("start = \"2026Q1\"", "start = \"2026Q3\"").replace("name = \"openai-shift\"", "name = \"later\""),
    )
    .unwrap();
    let run = common::cmd()
        .args(["stress", "--portfolio"])
        .arg(&pf)
        .arg(&later)
        .args(["--paired", "scenarios/openai-shift.toml", "--paths", "500", "--out"])
        .arg(out.path())
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(stderr.contains("starts at 2026Q3") && stderr.contains("same scenario.start"), "{stderr}");
}

/// Portfolio values and weights that would overflow the P&L sums are
/// refused at load, naming the field, its line and the limit.
#[test]
fn overflowing_portfolio_values_are_refused() {
    for (from, to, field, limit) in [
        ("value = 1000.0", "value = 1e308", "portfolio.value", "at most 1e15"),
        ("weight = 0.5", "weight = 1e300", "holding[0].weight", "from -100 to 100"),
        ("volatility = 0.2", "volatility = 1e308", "holding[0].volatility", "from 0 to 5"),
        ("value = 1000.0", "value = 1000.0\nhorizon = 0", "portfolio.horizon", "from 1 to 400"),
        (
            "\"backlog.azure\" = 0.5",
            "\"backlog.azure\" = 1e9",
            "holding[0].exposure.\"backlog.azure\"",
            "from -100 to 100",
        ),
    ] {
        let text = format!("{HEAD}{}", holding("a", 0.5, 0.2, "\"backlog.azure\" = 0.5")).replacen(from, to, 1);
        assert!(text.contains(to), "test bug: {from} not in the text");
        let line = text.lines().position(|l| l.contains(to.lines().last().unwrap())).unwrap() + 1;
        let e = portfolio::parse(&text, "p.toml".as_ref()).unwrap_err();
        let backlog_risk::Error::Portfolio(e) = e else { panic!("a portfolio error: {e}") };
        assert_eq!((e.field.as_str(), e.line), (field, Some(line)), "{to}: {e}");
        assert!(e.to_string().starts_with(&format!("p.toml:{line}: {field}: ")) && e.message.contains(limit), "{e}");
    }
}
