//! Hostile input: mutated scenario and portfolio files never panic, hang or
//! produce a non-finite result; any valid scenario simulates to finite
//! outputs with shares in [0, 1] and backlogs >= 0.
//!
//! The mutation fuzzer runs a bounded number of cases here
//! (`FUZZ_CASES`, default 300, seed `FUZZ_SEED`); `scripts/fuzz.sh` runs it
//! for a stated time (`FUZZ_SECONDS`) with a fresh seed.

use crate::common;

use std::time::{Duration, Instant};

use backlog_risk::engine::Engine;
use backlog_risk::model::Scenario;
use backlog_risk::{portfolio, report, scenario};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Numbers that have broken simulators: overflow, underflow, signs, limits.
const HOSTILE: [&str; 22] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e-308",
    "inf",
    "nan",
    "120.0",
    "401",
    "1e6",
    "1000001",
    "3.0000001",
    "2.0",
    "-2.0",
    "0.9999999",
    "1.0000001",
    "4294967296",
    "9223372036854775807",
    "-0.0",
    "100",
    "1e15",
    "5e-324",
];

/// One random mutation of `text`.
fn mutate(text: &str, rng: &mut Xoshiro256PlusPlus) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let pick = |rng: &mut Xoshiro256PlusPlus, n: usize| rng.random_range(0..n.max(1));
    match rng.random_range(0..6) {
        // A number replaced by a hostile one.
        0 | 1 => {
            let spots: Vec<usize> = text
                .char_indices()
                .filter(|(i, c)| c.is_ascii_digit() && (*i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric()))
                .map(|(i, _)| i)
                .collect();
            if spots.is_empty() {
                return text.to_string();
            }
            let at = spots[pick(rng, spots.len())];
            let end =
                text[at..].find(|c: char| !(c.is_ascii_digit() || ".eE+-".contains(c))).map_or(text.len(), |e| at + e);
            format!("{}{}{}", &text[..at], HOSTILE[pick(rng, HOSTILE.len())], &text[end..])
        }
        // A line dropped or doubled.
        2 => {
            let k = pick(rng, lines.len());
            lines.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, l)| *l).collect::<Vec<_>>().join("\n")
        }
        3 => {
            let k = pick(rng, lines.len());
            let mut out: Vec<&str> = lines.clone();
            out.insert(k, lines.get(k).copied().unwrap_or(""));
            out.join("\n")
        }
        // A byte replaced, or the file cut short.
        4 => {
            let mut b = text.as_bytes().to_vec();
            if b.is_empty() {
                return String::new();
            }
            let k = pick(rng, b.len());
            b[k] = b"[]{}=,.\"'#\n0a-_"[pick(rng, 15)];
            String::from_utf8_lossy(&b).into_owned()
        }
        _ => text[..text.char_indices().nth(pick(rng, text.len())).map_or(text.len(), |(i, _)| i)].to_string(),
    }
}

/// Simulate a valid scenario briefly and check every output.
fn check_outputs(sc: &Scenario, what: &str) {
    let mut sc = sc.clone();
    sc.paths = 64;
    let engine = Engine::new(&sc);
    let acc = engine.run(sc.seed, sc.paths, &|_| {});
    assert!(acc.non_finite().is_none(), "{what}: a non-finite result");
    let s = report::summarise(&engine, &acc, sc.seed);
    for m in &s.metrics {
        let stats = [m.mean, m.sd, m.min, m.max, m.p5, m.p50, m.p95];
        assert!(stats.iter().all(|x| x.is_finite()), "{what}: {} is not finite: {stats:?}", m.metric);
        if m.metric.starts_with("share.") {
            assert!(m.min >= 0.0 && m.max <= 1.0 + 1e-12, "{what}: {} outside [0, 1]", m.metric);
        }
        if m.metric.starts_with("backlog.") || m.metric.starts_with("revenue.") {
            assert!(m.min >= 0.0, "{what}: {} below 0: {}", m.metric, m.min);
        }
    }
    for row in s.fan.iter().chain(&s.revenue) {
        assert!([row.mean, row.p5, row.p50, row.p95].iter().all(|x| x.is_finite() && *x >= 0.0), "{what}: a band");
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Mutations of every shipped scenario and portfolio: loading never panics;
/// whatever loads simulates to finite outputs; a portfolio that loads and
/// binds stresses to a finite P&L, a long-only one never losing more than
/// its value.
#[test]
fn mutated_files_never_panic_hang_or_give_non_finite_results() {
    let seed = env("FUZZ_SEED", 20261130);
    let deadline = Duration::from_secs(env("FUZZ_SECONDS", 0));
    let cases = env("FUZZ_CASES", 300);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut scenarios: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    scenarios.sort();
    let mut portfolios: Vec<String> = std::fs::read_dir("portfolios")
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    portfolios.sort();
    let base = scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    let started = Instant::now();
    let (mut n, mut valid) = (0u64, 0u64);
    while (deadline.is_zero() && n < cases) || (!deadline.is_zero() && started.elapsed() < deadline) {
        n += 1;
        if n % 5 == 0 {
            let text = mutate(&portfolios[rng.random_range(0..portfolios.len())], &mut rng);
            let Ok(p) = portfolio::parse(&text, "fuzz.toml".as_ref()) else { continue };
            let Ok(cut) = p.at_horizon(&base) else { continue };
            let cut = Scenario { paths: 64, ..cut };
            let engine = Engine::new(&cut);
            let Ok(bound) = p.bind(&engine) else { continue };
            valid += 1;
            let r = bound.stress(&engine, 1, 64, &|_| {});
            let what = format!("case {n} (seed {seed}), portfolio:\n{text}");
            assert!(r.risk.iter().filter(|m| m.measure != "diversification").all(|m| m.value.is_finite()), "{what}");
            if p.holdings.iter().all(|h| h.weight >= 0.0) {
                let total: f64 = p.holdings.iter().map(|h| h.weight).sum();
                assert!(-r.pnl.min <= p.value * total * (1.0 + 1e-9), "{what}: lost more than it holds");
            }
            continue;
        }
        let mut text = scenarios[rng.random_range(0..scenarios.len())].clone();
        for _ in 0..rng.random_range(1..4) {
            text = mutate(&text, &mut rng);
        }
        // Parsing must not panic, whatever the text; errors are fine.
        if let Ok(sc) = scenario::parse(&text, "fuzz.toml".as_ref()) {
            valid += 1;
            check_outputs(&sc, &format!("case {n} (seed {seed}):\n{text}"));
        }
    }
    eprintln!(
        "fuzz: {n} cases (seed {seed}) in {:.1} s, {valid} of them valid and simulated",
        started.elapsed().as_secs_f64()
    );
    assert!(valid > 0, "no mutation produced a valid file: the fuzzer tests nothing");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any valid scenario, its parameters anywhere in their documented
    /// ranges, simulates to finite outputs, shares in [0, 1], backlogs >= 0.
    #[test]
    fn any_valid_scenario_gives_finite_outputs(
        growth in -2.0f64..=2.0,
        vol in 0.0f64..=3.0,
        beta in -1.0f64..=1.0,
        backlog in 0.0f64..=1e6,
        bookings in 0.0f64..=1e6,
        hazard in 0.0f64..=100.0,
        severity in 0.0f64..=1.0,
        quarters in 1u32..=400,
        recognition in 0.0f64..=1.0,
    ) {
        let text = format!(
            "{}[providers.a]\nrecognition = {recognition}\nother = {{ backlog = {backlog}, bookings = {bookings}, growth = {growth}, volatility = {vol}, beta = {beta} }}\n\
             [providers.b]\nrecognition = 0.05\nother = {{ backlog = 10.0, bookings = 1.0 }}\n\
             [customers.c]\nbookings = {bookings}\ngrowth = {growth}\nvolatility = {vol}\nbeta = {beta}\nbacklog = {{ a = {backlog}, b = 1.0 }}\nallocation = {{ a = 0.5, b = 0.5 }}\n\
             [[renegotiation]]\ncustomer = \"c\"\nprovider = \"a\"\nhazard = {hazard}\nseverity = {severity}\nmigrate = 0.5\nto = {{ b = 1.0 }}\nmax_events = 3\n",
            common::header(quarters, 64)
        );
        let sc = common::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        check_outputs(&sc, &text);
    }
}
