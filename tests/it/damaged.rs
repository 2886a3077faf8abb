//! Shard files are untrusted input: a damaged, cut, extended, edited or
//! forged shard is refused by name, never merged into other figures,
//! never a panic or an abort.
//!
//! `bit_flip_campaign` runs a bounded campaign here; `scripts/shard-fuzz.sh`
//! runs it for a stated time (SHARD_FUZZ_SECONDS).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backlog_risk::api::{self, Observer, Shard};
use backlog_risk::writers::shard::{self, ShardFile};
use predicates::prelude::*;
use sha2::{Digest, Sha256};

use crate::common::cmd;

const SCENARIO: &str = "scenarios/openai-shift.toml";

/// The shard files of a small run split in `n`, in `out/openai-shift/`.
fn write_shards(out: &Path, n: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|k| {
            cmd()
                .args(["run", SCENARIO, "--paths", "10000", "--seed", "5", "--quiet", "--shard"])
                .arg(format!("{k}/{n}"))
                .arg("--out")
                .arg(out)
                .assert()
                .success();
            out.join("openai-shift").join(shard::file_name(k, n))
        })
        .collect()
}

fn merge(inputs: &[PathBuf], out: &Path) -> assert_cmd::assert::Assert {
    cmd().arg("merge").args(inputs).args(["--quiet", "--no-charts", "--out"]).arg(out).assert()
}

/// `bytes` with a fresh checksum: what a forger (or a bug that wrote
/// wrong results with a right checksum) would give.
fn redigest(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 32;
    let digest = Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&digest);
    bytes
}

#[test]
fn damaged_cut_and_extended_shards_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_shards(&dir.path().join("s"), 2);
    let good = std::fs::read(&files[1]).unwrap();
    let out = dir.path().join("merged");
    let bad = dir.path().join("shard-1-of-2.bin");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a bit flipped in the results", {
            let mut b = good.clone();
            let i = good.len() / 2;
            b[i] ^= 0x10;
            b
        }),
        ("a bit flipped in the checksum", {
            let mut b = good.clone();
            let i = good.len() - 3;
            b[i] ^= 1;
            b
        }),
        ("cut short", good[..good.len() - 100].to_vec()),
        ("bytes added", [&good[..], b"extra"].concat()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&bad, &bytes).unwrap();
        merge(&[files[0].clone(), bad.clone()], &out)
            .code(2)
            .stderr(predicate::str::contains(bad.display().to_string()))
            .stderr(predicate::str::contains("write this shard again"));
        assert!(!out.exists(), "{what}: nothing is written");
    }
}

#[test]
fn edited_texts_impossible_counts_and_foreign_results_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_shards(&dir.path().join("s"), 3);
    let read = |k: usize| shard::decode(&std::fs::read(&files[k]).unwrap()).unwrap();
    let refused = |file: ShardFile, what: &str| {
        let bytes = shard::encode(&file).unwrap();
        let e = shard::decode(&bytes).map(|_| ()).and_then(|()| {
            let s = |k: usize, f: ShardFile| Ok(Shard { source: format!("shard {k}"), file: f });
            api::merge([s(0, read(0)), s(1, file), s(2, read(2))], &Observer::new()).map(|_| ())
        });
        let e = e.expect_err(what).to_string();
        assert!(e.contains(what), "{e}");
    };
    // The scenario text edited under its stored SHA-256.
    let mut f = read(1);
    f.header.scenario_text = f.header.scenario_text.replace("seed", "seed ");
    refused(f, "does not match its SHA-256");
    // A shard count beyond the bound, and a shard beyond its count.
    let mut f = read(1);
    f.header.shards = u64::MAX;
    refused(f, "0 <= K < N <= 1000000");
    let mut f = read(1);
    f.header.shard = 7;
    refused(f, "0 <= K < N");
    // Shard 0's results under shard 1's name.
    let mut f = read(0);
    f.header.shard = 1;
    refused(f, "shard 1: its results are not those of chunks");

    // The command line refuses an N beyond the bound before running.
    cmd()
        .args(["run", SCENARIO, "--shard", "0/18446744073709551615"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("N <= 1000000"));
}

#[test]
fn missing_shards_are_listed_as_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let n = 8;
    for k in [0, 3, 7] {
        cmd()
            .args(["run", SCENARIO, "--paths", "4096", "--quiet", "--shard"])
            .arg(format!("{k}/{n}"))
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    }
    merge(&[out.join("openai-shift")], &dir.path().join("m"))
        .code(2)
        .stderr(predicate::str::contains("shard 1-2, 4-6 of 8 of scenario openai-shift missing"));
}

/// Flip one random bit of a random shard: the merge is refused. Then the
/// same with the checksum recomputed (a forged file): the merge either
/// refuses or gives figures, and never panics or aborts.
#[test]
fn bit_flip_campaign() {
    let seconds: u64 = std::env::var("SHARD_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let budget = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().unwrap();
    let files = write_shards(&dir.path().join("s"), 3);
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let decoded = |b: &[u8]| shard::decode(b);
    let good: Vec<ShardFile> = bytes.iter().map(|b| decoded(b).unwrap()).collect();
    let whole = api::merge(
        good.iter().enumerate().map(|(k, f)| Ok(Shard { source: format!("{k}"), file: f.clone() })),
        &Observer::new(),
    )
    .unwrap();
    let api::Merged::Run(whole) = whole.merged else { panic!("a run") };
    let mut state = std::env::var("SHARD_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_u64);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let started = Instant::now();
    let (mut flips, mut forged, mut forged_merged) = (0u64, 0u64, 0u64);
    while flips < 400 || started.elapsed() < budget {
        let k = (next() % 3) as usize;
        let mut b = bytes[k].clone();
        let bit = next() % (8 * b.len() as u64);
        b[(bit / 8) as usize] ^= 1 << (bit % 8);
        assert!(decoded(&b).is_err(), "a flip of bit {bit} of shard {k} was read back");
        flips += 1;
        // Forged: the flip kept, the checksum recomputed (only bits of the
        // body: a flip in the framing is refused as above).
        let body_start = 19 + 4 + 8;
        if (bit / 8) as usize >= body_start && ((bit / 8) as usize) < b.len() - 32 {
            forged += 1;
            if let Ok(f) = decoded(&redigest(b)) {
                let mut files = good.clone();
                files[k] = f;
                let shards = files.into_iter().enumerate().map(|(k, f)| Ok(Shard { source: format!("{k}"), file: f }));
                if let Ok(m) = api::merge(shards, &Observer::new()) {
                    forged_merged += 1;
                    let api::Merged::Run(r) = m.merged else { panic!("a run's shards merge into a run") };
                    // What merges is finite (never NaN reported as a figure)
                    // and of the same paths.
                    assert_eq!(r.accumulator.non_finite(), None, "bit {bit} of shard {k}");
                    assert_eq!(r.accumulator.paths(), whole.accumulator.paths(), "bit {bit} of shard {k}");
                }
            }
        }
    }
    eprintln!("shard fuzz: {flips} flips refused, {forged} forged, {forged_merged} forged merged (no panic)");
    assert!(flips >= 400 && forged > 0);
}

/// `merge DIR` writes beside its shards unless `--out` says otherwise, says
/// where, honours `--focus` for a run, and its help offers only what it
/// accepts.
#[test]
fn merge_writes_beside_its_shards_and_honours_focus() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    write_shards(&results, 2);
    let folder = results.join("openai-shift");
    let merged = cmd().arg("merge").arg(&folder).args(["--no-charts", "--focus", "aws"]).assert().success();
    let stdout = String::from_utf8(merged.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains(&format!("wrote {}", folder.display())), "{stdout}");
    assert!(stdout.contains("AWS"), "the headline is about the focus provider: {stdout}");
    let summary = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
    // The same figures as one run of all the paths, focused on aws.
    let one = dir.path().join("one");
    cmd()
        .args(["run", SCENARIO, "--paths", "10000", "--seed", "5", "--quiet", "--no-charts", "--focus", "aws"])
        .arg("--out")
        .arg(&one)
        .assert()
        .success();
    assert_eq!(summary, std::fs::read_to_string(one.join("openai-shift/summary.csv")).unwrap());
    let one_line = cmd()
        .args(["run", SCENARIO, "--paths", "10000", "--seed", "5", "--no-charts", "--focus", "aws", "--out"])
        .arg(dir.path().join("two"))
        .assert()
        .success();
    let headline = String::from_utf8(one_line.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains(headline.lines().next().unwrap()), "{stdout} / {headline}");

    // A stress test's shards merge into their own folder too; --focus
    // means nothing to them and is refused.
    let stress = ["stress", "--portfolio", "portfolios/ai-infra.toml", SCENARIO, "--paths", "8192", "--quiet"];
    for k in 0..2 {
        cmd().args(stress).args(["--shard", &format!("{k}/2"), "--out"]).arg(&results).assert().success();
    }
    let pf = folder.join("portfolio-ai-infra");
    cmd()
        .arg("merge")
        .arg(&pf)
        .args(["--focus", "aws"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--focus aws: the shards are of a stress test or a sweep"));
    assert!(!pf.join("pnl.csv").exists());
    cmd().arg("merge").arg(&pf).args(["--no-charts", "-q"]).assert().success();
    assert!(pf.join("pnl.csv").exists() && pf.join("shard-0-of-2.bin").exists());

    let help = cmd().args(["merge", "--help"]).assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone()).unwrap();
    for absent in ["--paths", "--seed", "--sampling", "--allow-huge"] {
        assert!(!help.contains(absent), "merge --help offers {absent}");
    }
    assert!(help.contains("--focus") && help.contains("--out"));
    cmd().args(["merge"]).arg(&folder).args(["--seed", "3"]).assert().code(2);
}
