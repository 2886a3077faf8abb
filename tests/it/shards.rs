//! `run --shard K/N` and `merge`: a run split into shard processes merges
//! into the files one run writes, byte for byte; a missing, repeated or
//! foreign shard is refused by name and nothing is written.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::cmd;
use predicates::prelude::*;

const SCENARIO: &str = "scenarios/openai-shift.toml";
const PATHS: &str = "30000";
const FILES: [&str; 4] = ["summary.csv", "fan.csv", "revenue.csv", "errors.csv"];

/// Start shard K of N of the test scenario as its own process.
fn shard(out: &Path, k: u64, n: u64, seed: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_backlog-risk"))
        .args(["run", SCENARIO, "--paths", PATHS, "--seed", seed, "--threads", "1", "--quiet", "--no-charts"])
        .arg("--shard")
        .arg(format!("{k}/{n}"))
        .arg("--out")
        .arg(out)
        .spawn()
        .expect("the binary starts")
}

/// All N shards, in parallel, started in reverse order.
fn shards(out: &Path, n: u64) {
    let children: Vec<_> = (0..n).rev().map(|k| shard(out, k, n, "11")).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
}

fn merge(inputs: &[&Path], out: &Path) -> assert_cmd::assert::Assert {
    cmd().arg("merge").args(inputs).args(["--quiet", "--no-charts", "--out"]).arg(out).assert()
}

#[test]
fn shards_merge_into_the_files_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    cmd()
        .args(["run", SCENARIO, "--paths", PATHS, "--seed", "11", "--quiet", "--no-charts", "--out"])
        .arg(&one)
        .assert()
        .success();
    for n in [3, 7] {
        let split = dir.path().join(format!("split{n}"));
        shards(&split, n);
        merge(&[&split.join("openai-shift")], &split).success();
        for f in FILES {
            let (a, b) = (one.join("openai-shift").join(f), split.join("openai-shift").join(f));
            assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{f} differs with {n} shards");
        }
    }
}

#[test]
fn merge_refuses_a_missing_a_repeated_or_a_foreign_shard() {
    let dir = tempfile::tempdir().unwrap();
    let split = dir.path().join("split");
    shards(&split, 3);
    let folder = split.join("openai-shift");
    let file = |k: u64| folder.join(format!("shard-{k}-of-3.bin"));
    let out = dir.path().join("merged");
    let nothing_written = || assert!(!out.exists(), "a refused merge wrote {}", out.display());

    merge(&[&file(0), &file(2)], &out)
        .failure()
        .stderr(predicates::str::contains("shard 1 of 3 of scenario openai-shift missing"));
    nothing_written();

    merge(&[&file(0), &file(1), &file(2), &file(1)], &out)
        .failure()
        .stderr(predicates::str::contains("are both shard 1 of 3"));
    nothing_written();

    let other = dir.path().join("other");
    let mut c = shard(&other, 1, 3, "12");
    assert!(c.wait().unwrap().success());
    let foreign = other.join("openai-shift").join("shard-1-of-3.bin");
    merge(&[&file(0), &foreign, &file(2)], &out)
        .failure()
        .stderr(predicates::str::contains("a shard of another run").and(predicates::str::contains("seed differs")));
    nothing_written();

    // A file of another format version is refused with the version named.
    let mut bytes = std::fs::read(file(0)).unwrap();
    bytes[19] = 9;
    let old = dir.path().join("shard-0-of-3.bin");
    std::fs::write(&old, bytes).unwrap();
    merge(&[&old], &out).failure().stderr(predicates::str::contains("shard format version 9"));
    nothing_written();

    // --shard checks its argument.
    cmd().args(["run", SCENARIO, "--shard", "3/3"]).assert().failure().stderr(predicates::str::contains("0 <= K < N"));
}

/// `--shard auto` under a Slurm job array writes the shard the array index
/// names; with no scheduler it says what it needs.
#[test]
fn shard_auto_follows_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    cmd()
        .args(["run", SCENARIO, "--paths", PATHS, "--quiet", "--no-charts", "--shard", "auto", "--out"])
        .arg(dir.path())
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .env_remove("JOB_COMPLETION_INDEX")
        .assert()
        .success();
    assert!(dir.path().join("openai-shift/shard-2-of-4.bin").is_file());
    cmd()
        .args(["run", SCENARIO, "--shard", "auto", "--out"])
        .arg(dir.path())
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .assert()
        .failure()
        .stderr(predicates::str::contains("neither is set"));
}

/// `sweep --shard K/N` runs a share of the grid points; merged, the shards
/// give the sweep.csv of the whole sweep, byte for byte. Shards of a run and
/// of a sweep are not merged together.
#[test]
fn sweep_shards_merge_into_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let vary = "renegotiation[0].hazard=0.05..0.5:5";
    let sweep = |out: &Path, shard: Option<&str>| {
        let mut c = cmd();
        c.args(["sweep", SCENARIO, "--vary", vary, "--paths", "4000", "--quiet", "--no-charts", "--out"]).arg(out);
        if let Some(s) = shard {
            c.args(["--shard", s]);
        }
        c.assert().success();
    };
    let one = dir.path().join("one");
    sweep(&one, None);
    let split = dir.path().join("split");
    for k in 0..3 {
        sweep(&split, Some(&format!("{k}/3")));
    }
    merge(&[&split.join("openai-shift")], &split).success();
    let read = |d: &Path| std::fs::read(d.join("openai-shift/sweep-renegotiation-0-hazard.csv")).unwrap();
    assert!(read(&one) == read(&split), "sweep.csv differs when split in 3");

    shard(&split, 0, 1, "11").wait().unwrap();
    merge(&[&split.join("openai-shift")], &dir.path().join("mixed"))
        .failure()
        .stderr(predicates::str::contains("of a run and of a sweep"));
}

/// `run --paired BASE --shard K/N`: merged, the shards give the paired
/// differences of the whole run, byte for byte.
#[test]
fn paired_shards_merge_into_the_paired_run() {
    let dir = tempfile::tempdir().unwrap();
    let base = "scenarios/status-quo.toml";
    let run = |out: &Path, shard: Option<&str>| {
        let mut c = cmd();
        // 100,000 paths: enough for the VaR99 and ES99 difference standard
        // errors, whose 20 path blocks the 3 shards split.
        c.args(["run", SCENARIO, "--paired", base, "--paths", "100000", "--quiet", "--no-charts", "--out"]).arg(out);
        if let Some(s) = shard {
            c.args(["--shard", s]);
        }
        c.assert().success();
    };
    let one = dir.path().join("one");
    run(&one, None);
    let split = dir.path().join("split");
    for k in [2, 0, 1] {
        run(&split, Some(&format!("{k}/3")));
    }
    merge(&[&split.join("openai-shift")], &split).success();
    for f in ["summary.csv", "paired-status-quo.csv"] {
        let read = |d: &Path| std::fs::read(d.join("openai-shift").join(f)).unwrap();
        assert!(read(&one) == read(&split), "{f} differs when split in 3");
    }
    let paired = std::fs::read_to_string(one.join("openai-shift/paired-status-quo.csv")).unwrap();
    let azure = paired.lines().find(|l| l.starts_with("loss.azure,")).unwrap();
    assert!(!azure.ends_with(',') && azure.split(',').all(|c| !c.is_empty()), "standard errors present: {azure}");
}

/// Shard K of N of a stress test of the test scenario, as its own process.
fn stress_shard(out: &Path, portfolio: &Path, k: u64, n: u64) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_backlog-risk"))
        .args(["stress", "--portfolio"])
        .arg(portfolio)
        .args([SCENARIO, "--paths", PATHS, "--seed", "11", "--threads", "1", "--quiet", "--no-charts"])
        .arg("--shard")
        .arg(format!("{k}/{n}"))
        .arg("--out")
        .arg(out)
        .spawn()
        .expect("the binary starts")
}

/// `stress --shard K/N` in 3 and in 7 parallel processes merges into the
/// stress files of one process, byte for byte; a shard of another
/// portfolio is refused by name and nothing is written.
#[test]
fn stress_shards_merge_into_the_files_of_one_stress_test() {
    const STRESS: [&str; 4] = ["pnl.csv", "risk.csv", "contributions.csv", "tail.csv"];
    let dir = tempfile::tempdir().unwrap();
    let portfolio = Path::new("portfolios/ai-infra.toml");
    let one = dir.path().join("one");
    cmd()
        .args(["stress", "--portfolio", "portfolios/ai-infra.toml", SCENARIO, "--paths", PATHS, "--seed", "11"])
        .args(["--quiet", "--no-charts", "--out"])
        .arg(&one)
        .assert()
        .success();
    let at = |root: &Path| root.join("openai-shift").join("portfolio-ai-infra");
    for n in [3, 7] {
        let split = dir.path().join(format!("split{n}"));
        let children: Vec<_> = (0..n).rev().map(|k| stress_shard(&split, portfolio, k, n)).collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        merge(&[&at(&split)], &split).success();
        for f in STRESS {
            let (a, b) = (at(&one).join(f), at(&split).join(f));
            assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{f} differs with {n} shards");
        }
    }
    // A shard of the same scenario under another portfolio (same name, one
    // weight changed) does not belong with the others.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, std::fs::read_to_string(portfolio).unwrap().replace("weight = 0.30", "weight = 0.31"))
        .unwrap();
    let foreign = dir.path().join("foreign");
    assert!(stress_shard(&foreign, &other, 1, 3).wait().unwrap().success());
    let split = at(&dir.path().join("split3"));
    let out = dir.path().join("merged");
    merge(
        &[&split.join("shard-0-of-3.bin"), &at(&foreign).join("shard-1-of-3.bin"), &split.join("shard-2-of-3.bin")],
        &out,
    )
    .failure()
    .stderr(
        predicates::str::contains("shard-1-of-3.bin").and(predicates::str::contains("portfolio (SHA-256) differs")),
    );
    assert!(!out.exists(), "a refused merge wrote {}", out.display());
    // And a run's shard is not a stress test's.
    shards(&dir.path().join("runs"), 3);
    let run_shard = dir.path().join("runs").join("openai-shift").join("shard-1-of-3.bin");
    merge(&[&split.join("shard-0-of-3.bin"), &run_shard, &split.join("shard-2-of-3.bin")], &out).failure();
    assert!(!out.exists());
}

/// `stress --paired BASE --shard K/N` merges into the files of one paired
/// stress test, `paired-BASE.csv` included.
#[test]
fn paired_stress_shards_merge_into_the_paired_stress_test() {
    const FILES: [&str; 5] = ["pnl.csv", "risk.csv", "contributions.csv", "tail.csv", "paired-openai-shift.csv"];
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backlog-risk"));
        c.args(["stress", "--portfolio", "portfolios/ai-infra.toml", "scenarios/variants/openai-shift-fast.toml"])
            .args(["--paired", SCENARIO, "--paths", "12000", "--threads", "1", "--quiet", "--no-charts", "--out"])
            .arg(out);
        c
    };
    let one = dir.path().join("one");
    assert!(args(&one).status().unwrap().success());
    let split = dir.path().join("split");
    let children: Vec<_> = (0..3).map(|k| args(&split).arg("--shard").arg(format!("{k}/3")).spawn().unwrap()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let at = |root: &Path| root.join("openai-shift-fast").join("portfolio-ai-infra");
    merge(&[&at(&split)], &split).success();
    for f in FILES {
        let (a, b) = (at(&one).join(f), at(&split).join(f));
        assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{f} differs");
    }
}
