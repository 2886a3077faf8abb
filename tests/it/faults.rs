//! Faults: a run killed at any moment leaves each result folder whole, old
//! or new; a second writer into the same output folder is refused.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use backlog_risk_cli::outdir::OutLock;

const SCENARIOS: [&str; 2] = ["scenarios/openai-shift.toml", "scenarios/status-quo.toml"];
const FILES: [&str; 9] = [
    "summary.csv",
    "errors.csv",
    "fan.csv",
    "revenue.csv",
    "run.json",
    "loss.png",
    "fan.png",
    "exceedance.png",
    "concentration.png",
];

fn run(out: &Path, seed: u64) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_backlog-risk"));
    c.arg("run").args(SCENARIOS).args(["--paths", "150000", "--quiet", "--chart-size", "640x400", "--seed"]);
    c.arg(seed.to_string()).arg("--out").arg(out);
    c
}

/// The seed a folder's run.json records.
fn seed_of(dir: &Path) -> u64 {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    json["seed"].as_u64().unwrap()
}

/// A file's bytes, for run.json without its timing fields.
fn untimed(name: &str, bytes: Vec<u8>) -> Vec<u8> {
    if name != "run.json" {
        return bytes;
    }
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let o = json.as_object_mut().unwrap();
    o.remove("wall_seconds");
    o.remove("paths_per_second");
    o.remove("scenario_file");
    serde_json::to_vec(&json).unwrap()
}

/// kill -9 at many moments of a batch that re-runs two scenarios with a new
/// seed: every folder is complete and is either the old run or the new one,
/// file for file (compared with reference runs of each seed).
#[test]
fn kill_at_any_moment_leaves_whole_folders() {
    let root = tempfile::tempdir().unwrap();
    let refs = [root.path().join("seed1"), root.path().join("seed2")];
    for (r, seed) in refs.iter().zip([1, 2]) {
        assert!(run(r, seed).status().unwrap().success());
    }
    let live = root.path().join("live");
    assert!(run(&live, 1).status().unwrap().success());
    let mut seen_new = 0;
    for ms in [5, 30, 80, 150, 250, 400, 600, 800, 1100, 1500] {
        let mut child = run(&live, 2).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for name in ["openai-shift", "status-quo"] {
            let dir = live.join(name);
            let seed = seed_of(&dir);
            assert!(seed == 1 || seed == 2, "{name}: seed {seed}");
            seen_new += usize::from(seed == 2);
            let reference = refs[seed as usize - 1].join(name);
            for f in FILES {
                let (a, b) = (std::fs::read(dir.join(f)), std::fs::read(reference.join(f)));
                assert!(a.is_ok(), "killed after {ms} ms: {name}/{f} missing");
                let (a, b) = (untimed(f, a.unwrap()), untimed(f, b.unwrap()));
                assert!(a == b, "killed after {ms} ms: {name}/{f} is not that of seed {seed}");
            }
        }
        // Back to the old results for the next round.
        assert!(run(&live, 1).status().unwrap().success());
    }
    // The kills landed on both sides of the swap at least once (a run that
    // finished before its kill also counts as new).
    assert!(seen_new > 0, "no kill came late enough to see the new results");
    let leftovers: Vec<_> = std::fs::read_dir(&live)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".staging-") || n.contains(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "a complete run leaves no staging folder: {leftovers:?}");
}

/// A second command into an output folder another process is writing is
/// refused at once, naming that process, and writes nothing.
#[test]
fn a_second_writer_into_one_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let _held = OutLock::acquire(&out).unwrap();
    let assert = common::cmd()
        .args(["run", "scenarios/openai-shift.toml", "--paths", "1000", "--out"])
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains(&format!("process {}", std::process::id())), "{stderr}");
    assert!(!out.join("openai-shift").exists(), "the refused run wrote its folder");
    for args in [
        vec!["stress", "--portfolio", "portfolios/msft-azure.toml", "scenarios/openai-shift.toml"],
        vec!["sweep", "scenarios/openai-shift.toml", "--vary", "renegotiation[0].hazard=0.1,0.2"],
    ] {
        common::cmd().args(&args).args(["--paths", "1000", "--out"]).arg(&out).assert().code(2);
    }
}

/// Two runs into one folder at once, as two processes: the second is
/// refused while the first works, naming the first's process id.
#[test]
fn two_concurrent_runs_one_refused() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let mut first = Command::new(env!("CARGO_BIN_EXE_backlog-risk"))
        .args(["run", "scenarios/openai-shift.toml", "--paths", "50000000", "--quiet", "--no-charts", "--out"])
        .arg(&out)
        .spawn()
        .unwrap();
    // Wait until the first holds the lock (it writes its id into the file).
    let lock = out.join(".backlog-risk.lock");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("process")) {
        assert!(started.elapsed() < Duration::from_secs(20), "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = common::cmd()
        .args(["run", "scenarios/openai-shift.toml", "--paths", "1000", "--out"])
        .arg(&out)
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&second.get_output().stderr).to_string();
    let _ = first.kill();
    let _ = first.wait();
    assert!(stderr.contains(&format!("process {}", first.id())), "{stderr}");
}
