//! Pinned seeded output: the summary of a fixed scenario and seed must not
//! drift. After an intended change of the numbers, regenerate with
//! `UPDATE_PINNED=1 cargo test --release --test pinned` and explain the
//! change in the commit message.
//!
//! Tolerance: none; the figures must match bit for bit, on any platform.
//! Everything that produces them is platform-independent: Philox draws, the
//! engine's own `exp`, `ln`, `sin`/`cos` and samplers built from
//! `+ - * / sqrt` without fused multiply-add (`src/math.rs`,
//! `src/dist/sample.rs`), the pure-Rust `libm` crate for the few
//! transcendental functions of set-up (lognormal parameters, the normal
//! CDF), integer sketches, and sums in a fixed order.

use crate::common;

use backlog_risk::writers::output;

const SUMMARY: &str = "tests/fixtures/pinned-summary.csv";

#[test]
fn pinned_summary_does_not_drift() {
    let sc = backlog_risk::scenario::load("tests/fixtures/pinned.toml".as_ref()).unwrap();
    let (_, summary) = common::run(&sc);
    let got = String::from_utf8(output::summary_csv(&summary).unwrap()).unwrap();
    if std::env::var_os("UPDATE_PINNED").is_some() {
        std::fs::write(SUMMARY, &got).unwrap();
    }
    let want = std::fs::read_to_string(SUMMARY).expect("pinned summary exists (UPDATE_PINNED=1 to create it)");
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} of {SUMMARY} drifted", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "number of rows changed");
}
