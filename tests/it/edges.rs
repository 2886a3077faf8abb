//! The edges a new user hits on the command line: counts written as `1e6`
//! or `1_000_000` and their messages, `--samples` beyond the run, a
//! read-only output folder, and Ctrl-C in the middle of a batch.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::cmd;

const BIN: &str = env!("CARGO_BIN_EXE_backlog-risk");

fn run_json_paths(folder: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("run.json")).unwrap()).unwrap();
    v["paths"].as_u64().unwrap()
}

#[test]
fn counts_accept_exponents_and_underscores() {
    let dir = tempfile::tempdir().unwrap();
    for (given, paths) in [("4.096e3", 4096), ("6_144", 6144)] {
        let out = dir.path().join(given);
        cmd()
            .args(["run", "scenarios/status-quo.toml", "--no-charts", "-q", "--paths", given, "--seed", "1e3", "--out"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(run_json_paths(&out.join("status-quo")), paths, "--paths {given}");
    }
}

#[test]
fn bad_counts_say_what_to_give() {
    for (flag, given, says) in [
        ("--paths", "-5", "`-5` is negative: give a whole number of at least 1, e.g. 100000, 100_000 or 1e5"),
        ("--paths", "0", "0 is too few: give at least 1"),
        ("--paths", "2.5", "`2.5` is not a whole number"),
        ("--paths", "1e30", "`1e30` is too large"),
        ("--threads", "2000", "2000 is too many: give at most 1024"),
        ("--seed", "-1", "`-1` is negative"),
        ("--samples", "-3", "`-3` is negative"),
    ] {
        let out = cmd().args(["run", "scenarios/status-quo.toml", flag, given]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {given}: {err}");
        assert!(err.contains(says), "{flag} {given}: {err}");
        assert!(!err.contains("tip:"), "no clap tip about `--`: {err}");
    }
}

#[test]
fn samples_beyond_the_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd()
        .args(["run", "scenarios/status-quo.toml", "--paths", "4096", "--samples", "5000", "-q", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--samples 5000 asks for more paths than the 4096") && err.contains("--samples 4096 or fewer")
    );
    assert!(!dir.path().join("status-quo").exists(), "nothing written for it");
}

/// A command run as a user other than root (the file permissions below
/// bind no root process): directly when this process is not root, else
/// through `setpriv` as `nobody`; `None` (with a note) where neither works.
fn unprivileged(root: &Path) -> Option<impl Fn() -> Command> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let make = move || {
        if euid == 0 {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
            c
        } else {
            Command::new(BIN)
        }
    };
    if euid == 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let works = make().arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !works.is_ok_and(|s| s.success()) {
            eprintln!("skipped: running as root and `setpriv` cannot run the binary as nobody");
            return None;
        }
    }
    Some(make)
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_read_only_output_folder_is_refused_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let Some(as_user) = unprivileged(root.path()) else { return };
    let out = root.path().join("out");
    let run = || {
        as_user()
            .args(["run", "scenarios/status-quo.toml", "--paths", "4096", "--no-charts", "-q", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let summary = std::fs::read(out.join("status-quo/summary.csv")).unwrap();

    // A results folder made read-only is kept, and no staging folder is left.
    chmod(&out.join("status-quo"), 0o555);
    let second = run();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("is read-only") && err.contains("chmod -R u+w"), "{err}");
    assert_eq!(std::fs::read(out.join("status-quo/summary.csv")).unwrap(), summary);
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging"))
        .collect();
    assert!(left.is_empty(), "staging folders left: {left:?}");
    chmod(&out.join("status-quo"), 0o755);

    // A read-only output folder: refused before anything runs.
    chmod(&out, 0o555);
    let third = run();
    chmod(&out, 0o777);
    let err = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write into") && err.contains("make it writable"), "{err}");
}

#[test]
fn ctrl_c_in_a_batch_says_what_was_written_and_keeps_the_batch_files_true() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A quick first scenario and a second of minutes, each with its own paths.
    let with_paths = |name: &str, paths: &str| {
        let text = std::fs::read_to_string(format!("scenarios/{name}.toml")).unwrap();
        assert!(text.contains("\npaths = 100000\n"), "test bug: {name} sets no paths");
        let file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&file, text.replace("\npaths = 100000\n", &format!("\npaths = {paths}\n"))).unwrap();
        file
    };
    let (quick, long) = (with_paths("status-quo", "2048"), with_paths("openai-shift", "400000000"));
    // An earlier run of the second scenario, which the batch will not finish.
    cmd()
        .args(["run", "scenarios/openai-shift.toml", "--paths", "2048", "--no-charts", "-q", "--out"])
        .arg(&out)
        .assert()
        .success();
    let earlier = std::fs::read(out.join("openai-shift/summary.csv")).unwrap();

    let mut child = Command::new(BIN)
        .arg("run")
        .args([&quick, &long])
        .args(["--no-charts", "-q", "--threads", "1", "--out"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = out.join("status-quo/summary.csv");
    let started = Instant::now();
    while !first.exists() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(first.exists(), "the first scenario was not written within 2 minutes");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if stopped.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("still running 60 s after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("2 scenarios: 1 ok, 1 failed"), "{err}");
    assert!(err.contains("interrupted by Ctrl-C while it ran: not written"), "{err}");

    // The earlier results of the second stay, and the batch files say so.
    assert_eq!(std::fs::read(out.join("openai-shift/summary.csv")).unwrap(), earlier);
    let batch = std::fs::read_to_string(out.join("batch.csv")).unwrap();
    let rows: Vec<&str> = batch.lines().collect();
    assert_eq!(rows.len(), 3, "{batch}");
    assert!(rows[1].starts_with("status-quo,") && rows[1].contains(",ok,"), "{batch}");
    assert!(rows[2].contains(",failed,") && rows[2].contains("interrupted by Ctrl-C"), "{batch}");
    assert!(rows[2].contains("holds an earlier run's results"), "{batch}");
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("1 ok, 1 failed") && index.contains("interrupted by Ctrl-C"), "index.html");
    let staging =
        std::fs::read_dir(&out).unwrap().flatten().any(|e| e.file_name().to_string_lossy().contains("staging"));
    assert!(!staging, "a staging folder was left");
}
