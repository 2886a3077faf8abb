//! Helpers shared by the integration tests.
#![allow(dead_code)]

use backlog_risk::engine::{Accumulator, Engine};
use backlog_risk::model::Scenario;
use backlog_risk::report::{self, ScenarioSummary};
use backlog_risk::scenario::{self, ScenarioError};

/// Parse scenario text as if it came from `test.toml`.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    scenario::parse(text, "test.toml".as_ref())
}

/// Run a scenario on the current thread pool and summarise it.
pub fn run(sc: &Scenario) -> (Accumulator, ScenarioSummary) {
    let engine = Engine::new(sc);
    let acc = engine.run(sc.seed, sc.paths, &|_| {});
    let summary = report::summarise(&engine, &acc, sc.seed);
    (acc, summary)
}

/// A scenario header with the given quarters and paths.
pub fn header(quarters: u32, paths: u64) -> String {
    format!("[scenario]\nname = \"t\"\nstart = \"2026Q1\"\nquarters = {quarters}\npaths = {paths}\nseed = 7\n")
}

/// The bit patterns of `v`, for comparisons bit for bit (-0.0 against 0.0,
/// NaN payloads).
pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Assert `x` is within `k` standard errors of `expected`.
pub fn within_se(what: &str, x: f64, se: f64, expected: f64, k: f64) {
    assert!(
        (x - expected).abs() <= k * se,
        "{what}: {x} vs expected {expected} (se {se}, off by {:.2} se)",
        (x - expected) / se
    );
}

/// The binary under test. A command given no `--out` writes into a scratch
/// folder of this test process (`BACKLOG_RISK_OUT`), never into the
/// checkout's `output/`.
pub fn cmd() -> assert_cmd::Command {
    static SCRATCH: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let scratch = SCRATCH.get_or_init(|| tempfile::tempdir().expect("a scratch folder"));
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_backlog-risk"));
    c.env("BACKLOG_RISK_OUT", scratch.path().join("output"));
    c
}
