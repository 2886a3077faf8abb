//! The model rules of MODEL.md against closed-form answers. Run in release
//! mode (`cargo test --release`): these simulate up to a few hundred
//! thousand paths.

use crate::common;

use backlog_risk::engine::{Engine, books_relative_error};
use backlog_risk::model::DT;
use backlog_risk::stats::{self, RELATIVE_ERROR, ZERO_BAND};
use common::*;

/// One book, fixed hazard and severity, nothing else random: the backlog at T
/// is `B0 (1 - rho)^T (1 - S)^N` with N the number of events.
#[test]
fn single_renegotiation_has_the_analytic_expected_backlog() {
    let (b0, rho, lambda, sev, t) = (100.0, 0.05f64, 0.4f64, 0.3, 12u32);
    for max_events in [1u32, 1000] {
        let text = format!(
            "{}[providers.azure]\nrecognition = {rho}\n[customers.openai]\nbacklog = {{ azure = {b0} }}\n\
             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = {lambda}\nseverity = {sev}\nmax_events = {max_events}\n",
            header(t, 200_000)
        );
        let sc = parse(&text).unwrap();
        let (_, s) = run(&sc);
        let p = 1.0 - (-lambda * DT).exp();
        let decay = (1.0f64 - rho).powi(t as i32);
        let expected = if max_events == 1 {
            // At most one event: fires with probability 1 - (1 - p)^T.
            b0 * decay * (1.0 - sev * (1.0 - (1.0 - p).powi(t as i32)))
        } else {
            // Independent Bernoulli(p) each quarter.
            b0 * decay * (1.0 - sev * p).powi(t as i32)
        };
        let m = s.metric("backlog.azure").unwrap();
        within_se(&format!("backlog, max_events = {max_events}"), m.mean, m.se, expected, 4.0);
        let events = s.metric("events.openai.azure").unwrap();
        let expected_events = if max_events == 1 { 1.0 - (1.0 - p).powi(t as i32) } else { p * t as f64 };
        within_se("events", events.mean, events.se, expected_events, 4.0);
        // Loss against a plan with no renegotiation.
        let loss = s.metric("loss.azure").unwrap();
        within_se("loss", loss.mean, loss.se, b0 * decay - expected, 4.0);
    }
}

/// With rho = 1 the whole book is recognised each quarter, so the backlog at
/// T is exactly the last bookings, `b D_T`, and `D_T` is lognormal with mean
/// `exp(mu T dt)` and variance `exp(2 mu T dt) (exp(sigma^2 T dt) - 1)`.
#[test]
fn lognormal_demand_index_has_mean_exp_mu_t() {
    let (b, mu, sigma, t) = (10.0, 0.12, 0.3, 20u32);
    let text = format!(
        "{}[providers.aws]\nrecognition = 1.0\n[customers.c]\nbookings = {b}\ngrowth = {mu}\nvolatility = {sigma}\nbeta = 0.6\nallocation = {{ aws = 1.0 }}\n",
        header(t, 200_000)
    );
    let sc = parse(&text).unwrap();
    let (_, s) = run(&sc);
    let horizon = t as f64 * DT;
    let mean = b * (mu * horizon).exp();
    let sd = mean * ((sigma * sigma * horizon).exp() - 1.0).sqrt();
    let m = s.metric("backlog.aws").unwrap();
    within_se("backlog = b D_T", m.mean, m.se, mean, 4.0);
    assert!((m.sd / sd - 1.0).abs() < 0.03, "sd {} vs {sd}", m.sd);
    // The plan puts D on its expected path, so the expected loss is 0.
    let loss = s.metric("loss.aws").unwrap();
    within_se("loss", loss.mean, loss.se, 0.0, 4.0);
    // The median of a lognormal is exp(mu T dt - sigma^2 T dt / 2).
    let median = b * ((mu - sigma * sigma / 2.0) * horizon).exp();
    assert!((m.p50 / median - 1.0).abs() < 0.01, "median {} vs {median}", m.p50);
}

/// No randomness at all: every path is the plan, every loss is 0.
#[test]
fn deterministic_scenario_reproduces_the_plan() {
    let text = format!(
        "{}[providers.azure]\nrecognition = 0.07\nother = {{ backlog = 300.0, bookings = 20.0, growth = 0.1 }}\n\
         [providers.aws]\nrecognition = 0.05\n\
         [customers.c]\nbookings = 5.0\ngrowth = 0.2\nbacklog = {{ azure = 100.0, aws = 10.0 }}\nallocation = {{ azure = 0.5, aws = 0.5 }}\n",
        header(16, 3000)
    );
    let sc = parse(&text).unwrap();
    let engine = Engine::new(&sc);
    let (_, s) = run(&sc);
    for p in ["azure", "aws"] {
        let l = s.metric(&format!("loss.{p}")).unwrap();
        assert!(l.min.abs() < 1e-9 && l.max.abs() < 1e-9, "loss.{p} in [{}, {}]", l.min, l.max);
    }
    // Hand-computed recursion for aws: B = B (1 - 0.05) + 5 e^{0.2 t dt} 0.5.
    let mut b = 10.0f64;
    for t in 1..=16 {
        b -= 0.05 * b;
        b += 5.0 * (0.2 * t as f64 * DT).exp() * 0.5;
    }
    let tol = books_relative_error(16, 1, 0);
    assert!((engine.plan().backlog[1] - b).abs() <= tol * b, "plan {} vs {b}", engine.plan().backlog[1]);
}

/// A shift with fixed target and half-life moves `(a_f - s*) (1 - 2^(-t/h))`
/// of new commitments; with rho = 1 the horizon backlog is the last bookings.
#[test]
fn shift_follows_the_half_life_formula() {
    let (t, h, target) = (8u32, 4.0, 0.2);
    let text = format!(
        "{}[providers.azure]\nrecognition = 1.0\n[providers.aws]\nrecognition = 1.0\n[providers.gcp]\nrecognition = 1.0\n\
         [customers.c]\nbookings = 10.0\nallocation = {{ azure = 0.5, aws = 0.3, gcp = 0.2 }}\n\
         [[customers.c.shift]]\nfrom = \"azure\"\ntarget = {target}\nhalf_life = {h}\nto = {{ aws = 3.0, gcp = 1.0 }}\n",
        header(t, 100)
    );
    let sc = parse(&text).unwrap();
    let (_, s) = run(&sc);
    let m = (0.5 - target) * (1.0 - 2f64.powf(-(t as f64) / h));
    let expect = [("azure", 0.5 - m), ("aws", 0.3 + 0.75 * m), ("gcp", 0.2 + 0.25 * m)];
    for (p, share) in expect {
        let got = s.metric(&format!("backlog.{p}")).unwrap();
        assert!((got.mean - 10.0 * share).abs() < 1e-9, "{p}: {} vs {}", got.mean, 10.0 * share);
        assert_eq!(got.sd, 0.0);
    }
}

/// Migration moves `migrate * cut` to the destinations; with no recognition
/// and migrate = 1 the customer's total backlog is conserved.
#[test]
fn full_migration_conserves_the_customer_backlog() {
    let text = format!(
        "{}[providers.azure]\nrecognition = 0.0\n[providers.aws]\nrecognition = 0.0\n[providers.oci]\nrecognition = 0.0\n\
         [customers.c]\nbacklog = {{ azure = 100.0, aws = 20.0 }}\n\
         [[renegotiation]]\ncustomer = \"c\"\nprovider = \"azure\"\nhazard = 2.0\nseverity = {{ dist = \"uniform\", min = 0.1, max = 0.9 }}\nmigrate = 1.0\nto = {{ aws = 1.0, oci = 1.0 }}\nmax_events = 5\n",
        header(8, 5000)
    );
    let sc = parse(&text).unwrap();
    let engine = Engine::new(&sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let mut ws = engine.workspace();
    let (mut fired, tol) = (0.0, books_relative_error(8, 1, 5));
    for i in 0..5000 {
        engine.path(&keys, i, &mut ws);
        let (azure, aws, oci) = (ws.metrics[0], ws.metrics[1], ws.metrics[2]);
        assert!((azure + aws + oci - 120.0).abs() <= tol * 120.0, "path {i}: {azure} + {aws} + {oci}");
        assert!((oci - (aws - 20.0)).abs() <= tol * aws, "equal weights split the cut evenly");
        fired += ws.metrics.last().unwrap();
    }
    assert!(fired > 0.0);
}

/// The sketch's quantiles, VaR and ES against exact order statistics of the
/// same paths.
#[test]
fn sketch_statistics_match_exact_quantiles_within_the_stated_bound() {
    let sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    let paths = 20_000;
    let engine = Engine::new(&sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let acc = engine.run(sc.seed, paths, &|_| {});
    let summary = backlog_risk::report::summarise(&engine, &acc, sc.seed);
    let mut ws = engine.workspace();
    let names = sc.metric_names();
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(paths as usize); names.len()];
    for i in 0..paths {
        engine.path(&keys, i, &mut ws);
        for (v, x) in values.iter_mut().zip(&ws.metrics) {
            v.push(*x);
        }
    }
    for ((name, v), row) in names.iter().zip(values.iter_mut()).zip(&summary.metrics) {
        v.sort_by(f64::total_cmp);
        let ok = |got: f64, exact: f64| (got - exact).abs() <= RELATIVE_ERROR * exact.abs() + 2.0 * ZERO_BAND;
        let levels = [row.p1, row.p5, row.p10, row.p25, row.p50, row.p75, row.p90, row.p95, row.p99];
        for (p, got) in backlog_risk::report::LEVELS.iter().zip(levels) {
            let exact = stats::exact_quantile(v, *p);
            assert!(ok(got, exact), "{name} p{p}: sketch {got} exact {exact}");
        }
        assert_eq!((row.min, row.max), (v[0], v[v.len() - 1]), "{name} min/max are exact");
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((row.mean - mean).abs() <= 1e-9 * mean.abs().max(1.0), "{name} mean");
        if name.starts_with("loss.") {
            let scale = v.iter().map(|x| x.abs()).fold(0.0, f64::max);
            for (a, var, es) in [(0.95, row.var95, row.es95), (0.99, row.var99, row.es99)] {
                let (var, es) = (var.unwrap(), es.unwrap());
                assert!(ok(var, stats::exact_quantile(v, a)), "{name} VaR{a}");
                let exact_es = stats::exact_tail_mean(v, a);
                assert!((es - exact_es).abs() <= RELATIVE_ERROR * scale, "{name} ES{a}: {es} vs {exact_es}");
            }
        } else {
            assert!(row.var95.is_none() && row.es99.is_none(), "{name} has no risk columns");
        }
    }
}

/// Same seed, any number of threads: identical accumulators, bit for bit.
#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    let engine = Engine::new(&sc);
    let run_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| engine.run(sc.seed, 30_000, &|_| {}))
    };
    let one = run_on(1);
    for threads in [2, 4, 7] {
        assert!(one == run_on(threads), "{threads} threads differ from 1");
    }
}

/// A path's numbers depend on (seed, index) alone, not on which paths the
/// workspace simulated before: so a run can be split across processes.
#[test]
fn a_path_depends_only_on_seed_and_index() {
    let sc = backlog_risk::scenario::load("scenarios/litigation-shock.toml".as_ref()).unwrap();
    let engine = Engine::new(&sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let mut fresh = engine.workspace();
    engine.path(&keys, 1234, &mut fresh);
    let alone = fresh.metrics.clone();
    let mut used = engine.workspace();
    for i in [5, 99, 1233, 1235] {
        engine.path(&keys, i, &mut used);
    }
    engine.path(&keys, 1234, &mut used);
    assert_eq!(alone, used.metrics);
    assert_eq!(fresh.totals, used.totals);
    engine.path(&engine.keys(sc.seed + 1, sc.paths), 1234, &mut used);
    assert_ne!(alone, used.metrics, "another seed gives another path");
}
