//! More rules of MODEL.md against closed-form answers: per-path parameters,
//! severity drawn anew at each event, correlation through the common factor,
//! the plan built from distributions, migration below 1, two shifts on one
//! customer, revenue and shares. Each test states the alternative reading of
//! the rule that it rules out, and checks that the two readings differ by
//! far more than the tolerance, so that it can fail. Run in release mode.

use crate::common;

use backlog_risk::engine::{Engine, books_relative_error};
use backlog_risk::model::{DT, Scenario};
use common::*;

/// Every recorded metric of paths `0..n`, by the scalar reference kernel:
/// `(names, values[path][metric])`.
fn per_path(sc: &Scenario, n: u64) -> (Vec<String>, Vec<Vec<f64>>) {
    let engine = Engine::new(sc);
    let keys = engine.keys(sc.seed, sc.paths);
    let mut ws = engine.workspace();
    let rows = (0..n)
        .map(|i| {
            engine.path(&keys, i, &mut ws);
            ws.metrics.clone()
        })
        .collect();
    (sc.metric_names(), rows)
}

/// The column of metric `name`.
fn column(names: &[String], rows: &[Vec<f64>], name: &str) -> Vec<f64> {
    let k = names.iter().position(|n| n == name).unwrap_or_else(|| panic!("no metric {name}"));
    rows.iter().map(|r| r[k]).collect()
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
}

/// `true` when `a` and `b` differ by more than `rel` of their size.
fn differ(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() > rel * a.abs().max(b.abs())
}

/// A recognition rate drawn once per path, `rho ~ U(a, b)`: one book with
/// nothing else random ends at `B0 (1 - rho)^T`, whose mean is
/// `B0 ((1 - a)^(T+1) - (1 - b)^(T+1)) / ((T + 1)(b - a))`. Drawn anew each
/// quarter it would be `B0 (1 - (a + b)/2)^T`.
#[test]
fn a_parameter_is_drawn_once_per_path() {
    let (b0, a, b, t) = (100.0, 0.02f64, 0.30f64, 12i32);
    let text = format!(
        "{}[providers.azure]\nrecognition = {{ dist = \"uniform\", min = {a}, max = {b} }}\n\
         [customers.c]\nbacklog = {{ azure = {b0} }}\n",
        header(t as u32, 100_000)
    );
    let sc = parse(&text).unwrap();
    let (_, s) = run(&sc);
    let once = b0 * ((1.0 - a).powi(t + 1) - (1.0 - b).powi(t + 1)) / ((t + 1) as f64 * (b - a));
    let each_quarter = b0 * (1.0 - (a + b) / 2.0).powi(t);
    assert!(differ(once, each_quarter, 0.05), "the two readings must differ: {once} vs {each_quarter}");
    let m = s.metric("backlog.azure").unwrap();
    within_se("mean backlog, rho per path", m.mean, m.se, once, 4.0);
    // Second moment: E[(1 - rho)^2T] over the same uniform.
    let second = b0 * b0 * ((1.0 - a).powi(2 * t + 1) - (1.0 - b).powi(2 * t + 1)) / ((2 * t + 1) as f64 * (b - a));
    let sd = (second - once * once).sqrt();
    assert!((m.sd / sd - 1.0).abs() < 0.02, "sd {} vs {sd}", m.sd);
}

/// Per-path parameters of every sampled family reach the path as drawn: with
/// `rho = 1` and no demand noise the horizon backlog is the bookings
/// parameter itself, so its mean and variance are the family's.
#[test]
fn per_path_bookings_have_their_distributions_moments() {
    let (lo, mode, hi, lambda) = (10.0f64, 20.0f64, 40.0f64, 4.0f64);
    let (al, be) = (1.0 + lambda * (mode - lo) / (hi - lo), 1.0 + lambda * (hi - mode) / (hi - lo));
    let pert_var = al * be / ((al + be).powi(2) * (al + be + 1.0)) * (hi - lo) * (hi - lo);
    let cases = [
        (
            format!("{{ dist = \"pert\", min = {lo}, mode = {mode}, max = {hi} }}"),
            (lo + 4.0 * mode + hi) / 6.0,
            pert_var,
        ),
        (
            "{ dist = \"triangular\", min = 10.0, mode = 20.0, max = 40.0 }".into(),
            70.0 / 3.0,
            (100.0 + 1600.0 + 400.0 - 400.0 - 200.0 - 800.0) / 18.0,
        ),
        ("{ dist = \"lognormal\", mean = 20.0, sd = 5.0 }".into(), 20.0, 25.0),
        // Truncated symmetrically about the mean: the mean stays 20.
        ("{ dist = \"normal\", mean = 20.0, sd = 5.0, min = 15.0, max = 25.0 }".into(), 20.0, truncated_var(5.0, 1.0)),
        (
            "{ dist = \"beta\", alpha = 0.5, beta = 0.7, min = 10.0, max = 40.0 }".into(),
            10.0 + 30.0 * 0.5 / 1.2,
            900.0 * 0.35 / (1.44 * 2.2),
        ),
    ];
    for (dist, mean, var) in cases {
        let text = format!(
            "{}[providers.aws]\nrecognition = 1.0\n[customers.c]\nbookings = {dist}\nallocation = {{ aws = 1.0 }}\n",
            header(4, 100_000)
        );
        let (_, s) = run(&parse(&text).unwrap());
        let m = s.metric("backlog.aws").unwrap();
        within_se(&format!("mean of {dist}"), m.mean, m.se, mean, 4.0);
        assert!((m.sd * m.sd / var - 1.0).abs() < 0.03, "{dist}: variance {} vs {var}", m.sd * m.sd);
    }
}

/// Variance of a normal with sd `sd` truncated to `mean +- k sd`:
/// `sd^2 (1 - 2 k phi(k) / (2 Phi(k) - 1))`, with `Phi(1) - 1/2` from erf.
fn truncated_var(sd: f64, k: f64) -> f64 {
    assert_eq!(k, 1.0);
    let phi = (-0.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mass = 0.682_689_492_137_085_9; // erf(1 / sqrt 2)
    sd * sd * (1.0 - 2.0 * k * phi / mass)
}

/// Severity drawn anew at each event, `S ~ U(0, 0.8)`: with no recognition
/// and per-quarter firing probability `p`, `B_T = B0 prod (1 - S_k)`, so
/// `E[B_T^2] = B0^2 (1 - p + p E[(1 - S)^2])^T`. Drawn once per path it
/// would be `B0^2 E_S[(1 - p + p (1 - S)^2)^T]`, larger by Jensen.
#[test]
fn severity_is_drawn_anew_at_each_event() {
    let (b0, hazard, t) = (100.0, 2.0f64, 8i32);
    let text = format!(
        "{}[providers.azure]\nrecognition = 0.0\n[customers.c]\nbacklog = {{ azure = {b0} }}\n\
         [[renegotiation]]\ncustomer = \"c\"\nprovider = \"azure\"\nhazard = {hazard}\n\
         severity = {{ dist = \"uniform\", min = 0.0, max = 0.8 }}\nmax_events = 1000\n",
        header(t as u32, 200_000)
    );
    let (_, s) = run(&parse(&text).unwrap());
    let p = 1.0 - (-hazard * DT).exp();
    let (es, es2) = (0.4, 1.0 - 0.8 + 0.64 / 3.0); // E[S], E[(1 - S)^2]
    let mean = b0 * (1.0 - p * es).powi(t);
    let anew = b0 * b0 * (1.0 - p + p * es2).powi(t);
    // Once per path: Simpson's rule over S in [0, 0.8].
    let f = |x: f64| (1.0 - p + p * (1.0 - x) * (1.0 - x)).powi(t);
    let k = 2000;
    let h = 0.8 / k as f64;
    let simpson: f64 =
        (0..=k).map(|i| f(i as f64 * h) * if i == 0 || i == k { 1.0 } else { 2.0 + 2.0 * (i % 2) as f64 }).sum();
    let once = b0 * b0 * simpson * h / 3.0 / 0.8;
    assert!(differ(anew - mean * mean, once - mean * mean, 0.15), "readings must differ: {anew} vs {once}");
    let m = s.metric("backlog.azure").unwrap();
    within_se("mean", m.mean, m.se, mean, 4.0);
    let var = anew - mean * mean;
    assert!(
        (m.sd * m.sd / var - 1.0).abs() < 0.03,
        "variance {} vs {var} (once per path: {})",
        m.sd * m.sd,
        once - mean * mean
    );
}

/// Two customers loaded on the common factor with betas `b1`, `b2`: the logs
/// of their demand indices at T have correlation `b1 b2` (their shocks are
/// `b Z + sqrt(1 - b^2) xi`). With `rho = 1` each provider's backlog is one
/// customer's last bookings, so the correlation shows path by path.
#[test]
fn the_common_factor_correlates_demand() {
    for (b1, b2) in [(0.8, 0.6), (0.7, -0.5), (0.0, 0.9)] {
        let text = format!(
            "{}[providers.aws]\nrecognition = 1.0\n[providers.gcp]\nrecognition = 1.0\n\
             [customers.a]\nbookings = 10.0\nvolatility = 0.3\nbeta = {b1}\nallocation = {{ aws = 1.0 }}\n\
             [customers.b]\nbookings = 5.0\nvolatility = 0.5\nbeta = {b2}\nallocation = {{ gcp = 1.0 }}\n",
            header(12, 40_000)
        );
        let sc = parse(&text).unwrap();
        let (names, rows) = per_path(&sc, 40_000);
        let x: Vec<f64> = column(&names, &rows, "backlog.aws").iter().map(|v| v.ln()).collect();
        let y: Vec<f64> = column(&names, &rows, "backlog.gcp").iter().map(|v| v.ln()).collect();
        let ((mx, vx), (my, vy)) = (mean_var(&x), mean_var(&y));
        let cov = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum::<f64>() / (x.len() - 1) as f64;
        let r = cov / (vx * vy).sqrt();
        let rho: f64 = b1 * b2;
        let se = (1.0 - rho * rho) / (x.len() as f64).sqrt();
        assert!((r - rho).abs() < 4.0 * se + 1e-12, "betas {b1}, {b2}: correlation {r} vs {rho} (se {se})");
        // Each log index has variance sigma^2 T dt.
        assert!((vx / (0.09 * 3.0) - 1.0).abs() < 0.03, "log variance {vx}");
    }
}

/// The plan puts every parameter at its distribution's mean (uniform,
/// PERT, lognormal, truncated normal symmetric about its mean), every demand
/// index at `exp(mu t dt)`, and leaves out shifts and renegotiation. A
/// hand-written recursion with those means gives the plan's backlog.
#[test]
fn the_plan_uses_the_means_of_the_distributions() {
    let text = format!(
        "{}[providers.azure]\nrecognition = {{ dist = \"uniform\", min = 0.04, max = 0.08 }}\n\
         other = {{ backlog = {{ dist = \"lognormal\", mean = 300.0, sd = 30.0 }}, bookings = {{ dist = \"pert\", min = 10.0, mode = 20.0, max = 40.0 }}, \
         growth = {{ dist = \"normal\", mean = 0.1, sd = 0.1, min = 0.0, max = 0.2 }}, volatility = 0.2 }}\n\
         [providers.aws]\nrecognition = 0.05\n\
         [customers.c]\nbookings = {{ dist = \"triangular\", min = 2.0, mode = 5.0, max = 8.0 }}\ngrowth = {{ dist = \"uniform\", min = 0.0, max = 0.4 }}\nvolatility = 0.3\n\
         backlog = {{ azure = 100.0 }}\nallocation = {{ azure = 0.6, aws = 0.4 }}\n\
         [[customers.c.shift]]\nfrom = \"azure\"\ntarget = 0.1\nhalf_life = 2.0\nto = {{ aws = 1.0 }}\n\
         [[renegotiation]]\ncustomer = \"c\"\nprovider = \"azure\"\nhazard = 1.0\nseverity = 0.5\n",
        header(10, 10)
    );
    let sc = parse(&text).unwrap();
    let engine = Engine::new(&sc);
    let (mut azure, mut aws) = (300.0 + 100.0, 0.0f64);
    let (rho, other_bookings, other_mu, c_bookings, c_mu) = (0.06, (10.0 + 80.0 + 40.0) / 6.0, 0.1, 5.0, 0.2);
    for t in 1..=10 {
        let time = t as f64 * DT;
        azure -= rho * azure;
        aws -= 0.05 * aws;
        let c = c_bookings * (c_mu * time).exp();
        azure += other_bookings * (other_mu * time).exp() + c * 0.6;
        aws += c * 0.4;
    }
    let plan = &engine.plan().backlog;
    let tol = books_relative_error(10, 1, 0);
    assert!((plan[0] / azure - 1.0).abs() <= tol, "azure plan {} vs {azure}", plan[0]);
    assert!((plan[1] / aws - 1.0).abs() <= tol, "aws plan {} vs {aws}", plan[1]);
}

/// Migration below 1: an event cuts `S B`, moves `migrate S B` to the
/// destinations and loses the rest. Path by path, with no recognition and
/// no bookings, either nothing fired or the books are exactly these.
#[test]
fn migration_below_one_moves_part_of_the_cut() {
    let (sev, migrate) = (0.4, 0.25);
    let text = format!(
        "{}[providers.azure]\nrecognition = 0.0\n[providers.aws]\nrecognition = 0.0\n[providers.oci]\nrecognition = 0.0\n\
         [customers.c]\nbacklog = {{ azure = 100.0, aws = 20.0 }}\n\
         [[renegotiation]]\ncustomer = \"c\"\nprovider = \"azure\"\nhazard = 0.5\nseverity = {sev}\nmigrate = {migrate}\nto = {{ aws = 3.0, oci = 1.0 }}\n",
        header(8, 4000)
    );
    let sc = parse(&text).unwrap();
    let (names, rows) = per_path(&sc, 4000);
    let col = |n: &str| column(&names, &rows, n);
    let (azure, aws, oci, fired) =
        (col("backlog.azure"), col("backlog.aws"), col("backlog.oci"), col("events.c.azure"));
    let cut = sev * 100.0;
    // The books are single precision: within their documented bound.
    let tol = books_relative_error(8, 1, 1);
    for i in 0..rows.len() {
        let want = if fired[i] == 1.0 {
            [100.0 - cut, 20.0 + migrate * cut * 0.75, migrate * cut * 0.25]
        } else {
            assert_eq!(fired[i], 0.0);
            [100.0, 20.0, 0.0]
        };
        for (got, w) in [azure[i], aws[i], oci[i]].into_iter().zip(want) {
            assert!((got - w).abs() <= tol * w, "path {i}: {got} vs {w}");
        }
    }
    // The share fired matches 1 - (1 - p)^T within sampling error.
    let p = 1.0 - (-0.5 * DT).exp();
    let expected = 1.0 - (1.0 - p).powi(8);
    let (m, _) = mean_var(&fired);
    let se = (expected * (1.0 - expected) / rows.len() as f64).sqrt();
    within_se("share of paths that fired", m, se, expected, 4.0);
}

/// Two shifts on one customer, from different providers: each moves
/// `m_r(t) = (allocation.f - s*) (1 - 2^(-t / h))` to its destinations and
/// the shares still sum to 1. With `rho = 1` the horizon backlog is the last
/// quarter's bookings times the allocation.
#[test]
fn two_shifts_on_one_customer_add_up() {
    let t = 6u32;
    let text = format!(
        "{}[providers.azure]\nrecognition = 1.0\n[providers.aws]\nrecognition = 1.0\n[providers.gcp]\nrecognition = 1.0\n\
         [customers.c]\nbookings = 10.0\nallocation = {{ azure = 0.5, aws = 0.3, gcp = 0.2 }}\n\
         [[customers.c.shift]]\nfrom = \"azure\"\ntarget = 0.2\nhalf_life = 4.0\nto = {{ gcp = 1.0 }}\n\
         [[customers.c.shift]]\nfrom = \"aws\"\ntarget = 0.1\nhalf_life = 2.0\nto = {{ azure = 1.0, gcp = 3.0 }}\n",
        header(t, 50)
    );
    let (_, s) = run(&parse(&text).unwrap());
    let m1 = (0.5 - 0.2) * (1.0 - 2f64.powf(-(t as f64) / 4.0));
    let m2 = (0.3 - 0.1) * (1.0 - 2f64.powf(-(t as f64) / 2.0));
    let want = [("azure", 0.5 - m1 + 0.25 * m2), ("aws", 0.3 - m2), ("gcp", 0.2 + m1 + 0.75 * m2)];
    let (mut total, tol) = (0.0, books_relative_error(t as usize, 1, 0));
    for (p, a) in want {
        let got = s.metric(&format!("backlog.{p}")).unwrap().mean;
        assert!((got - 10.0 * a).abs() <= tol * 10.0 * a, "{p}: {got} vs {}", 10.0 * a);
        total += got;
    }
    assert!((total - 10.0).abs() <= tol * 10.0, "the shares sum to 1: {total}");
}

/// Revenue: with constant bookings `b` and recognition `rho`,
/// `B(t) = b / rho + (B0 - b / rho)(1 - rho)^t`, quarter t's revenue is
/// `rho B(t - 1)`, and their sum is `T b + (B0 - b / rho)(1 - (1 - rho)^T)`
/// (what came in minus what is left). Shares: each holder's book over the
/// provider's total, 0 where the total is 0.
#[test]
fn revenue_and_shares_follow_the_recursion() {
    let (b0, b, rho, t) = (200.0, 12.0, 0.08f64, 10i32);
    let text = format!(
        "{}[providers.azure]\nrecognition = {rho}\nother = {{ backlog = {b0}, bookings = {b} }}\n\
         [providers.gcp]\nrecognition = 0.1\n\
         [customers.c]\nbacklog = {{ azure = 50.0 }}\n",
        header(t as u32, 20)
    );
    let (_, s) = run(&parse(&text).unwrap());
    let book = |t: i32| b / rho + (b0 - b / rho) * (1.0 - rho).powi(t);
    let other_revenue = t as f64 * b + (b0 - b / rho) * (1.0 - (1.0 - rho).powi(t));
    let customer = 50.0 * (1.0 - rho).powi(t);
    let customer_revenue = 50.0 - customer;
    let rev = s.metric("revenue.azure").unwrap().mean;
    let tol = books_relative_error(t as usize, 1, 0);
    assert!((rev / (other_revenue + customer_revenue) - 1.0).abs() <= tol, "revenue {rev}");
    for (q, row) in s.revenue.iter().filter(|r| r.provider == "azure").enumerate() {
        let want = rho * (book(q as i32) + 50.0 * (1.0 - rho).powi(q as i32));
        assert_eq!(row.quarter as usize, q + 1);
        assert!((row.mean / want - 1.0).abs() <= tol, "quarter {}: revenue {} vs {want}", q + 1, row.mean);
        assert_eq!(row.p50, row.mean, "a constant's bands are exact");
    }
    let total = book(t) + customer;
    let share = s.metric("share.c.azure").unwrap().mean;
    assert!((share - customer / total).abs() <= 2.0 * tol, "share {share} vs {}", customer / total);
    assert_eq!(s.metric("share.c.gcp").unwrap().mean, 0.0, "no backlog at gcp: share 0");
    assert_eq!(s.metric("revenue.gcp").unwrap().mean, 0.0);
}
