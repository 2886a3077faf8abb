//! `--quiet` hides progress and result lines only: what a user must know
//! (a skipped scenario, a note, an unmet target) still reaches stderr, and
//! every command accepts it.

use crate::common::cmd;

/// stdout and stderr of a finished command, and its exit status.
fn said(args: &[&str]) -> (String, String, Option<i32>) {
    let o = cmd().args(args).output().unwrap();
    (String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap(), o.status.code())
}

#[test]
fn quiet_keeps_skips_and_notes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (stdout, stderr, code) = said(&[
        "stress",
        "--portfolio",
        "portfolios/ai-infra.toml",
        "scenarios/status-quo.toml",
        "scenarios/openai-shift.toml",
        "--paths",
        "2048",
        "-q",
        "--no-charts",
        "--out",
        out,
    ]);
    assert_eq!((stdout.as_str(), code), ("", Some(0)));
    assert!(stderr.contains("skip  scenarios/status-quo.toml: portfolio ai-infra needs backlog.coreweave"), "{stderr}");
    // A sweep's note (a distribution replaced by fixed values).
    let (stdout, stderr, code) = said(&[
        "sweep",
        "scenarios/litigation-shock.toml",
        "--vary",
        "renegotiation[0].hazard=0.1,0.2",
        "--paths",
        "2048",
        "-q",
        "--no-charts",
        "--out",
        out,
    ]);
    assert_eq!((stdout.as_str(), code), ("", Some(0)));
    assert!(!stderr.is_empty(), "the sweep's note is said with -q");
}

#[test]
fn validate_and_show_accept_quiet() {
    let (stdout, stderr, code) = said(&["validate", "-q", "scenarios/openai-shift.toml"]);
    assert_eq!((stdout.as_str(), stderr.as_str(), code), ("", "", Some(0)));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = \"Bad Name\"\n").unwrap();
    let (_, stderr, code) = said(&["validate", "-q", bad.to_str().unwrap()]);
    assert!(code != Some(0) && !stderr.is_empty(), "an invalid file is still reported under -q");
    let (stdout, _, code) = said(&["show", "-q", "scenarios/openai-shift.toml"]);
    assert!(code == Some(0) && stdout.contains("[scenario]"), "{stdout}");
}
