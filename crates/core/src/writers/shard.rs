//! Shard files: what `run --shard K/N` writes and `merge` reads.
//!
//! A shard file is `OUT/NAME/shard-K-of-N.bin`: the 19 bytes
//! `backlog-risk-shard\n`, the format version as a little-endian `u32`
//! ([`FORMAT`]), then a [`ShardFile`] in postcard's serde encoding
//! (<https://postcard.jamesmunns.com/wire-format>): the scenario as run
//! (its resolved TOML text and SHA-256, seed, paths), which shard of how
//! many, and the shard's partial result (complete nodes of the merge tree
//! over its chunks, and integer sketch counts). A file of another format
//! version is refused with a message that says which version wrote it.
//!
//! Version 2 added the stress-test shard (`stress --shard K/N`), written as
//! `OUT/NAME/portfolio-PORTFOLIO/shard-K-of-N.bin`.

use serde::{Deserialize, Serialize};

use crate::engine::{PairedPartial, Partial};
use crate::portfolio::{PairedStressPartial, StressPartial};
use crate::report::MetricRow;
use crate::{Error, Result};

/// Magic bytes at the start of every shard file.
const MAGIC: &[u8] = b"backlog-risk-shard\n";
/// Version of the layout after the magic bytes (3: paired shards carry the
/// batch sketches of the VaR99 and ES99 difference standard errors; 4: the
/// sampling design of the per-path parameters).
pub const FORMAT: u32 = 4;

/// One shard of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardFile {
    pub tool_version: String,
    /// The scenario's `name`.
    pub scenario: String,
    /// The scenario file as given to `run`.
    pub scenario_file: String,
    /// SHA-256 of the resolved scenario text.
    pub scenario_sha256: String,
    /// The resolved scenario text (its `extends` merged in), so that `merge`
    /// needs no scenario file.
    pub scenario_text: String,
    /// The files of the `extends` chain after the scenario file.
    pub extends: Vec<String>,
    pub seed: u64,
    pub paths: u64,
    /// The sampling design the shard ran with (`--sampling` or the file's).
    pub sampling: crate::model::Sampling,
    /// How many shards the run was split into (N) and which this is (K).
    pub shards: u64,
    pub shard: u64,
    /// The shard's part of a run (empty for a sweep shard).
    pub partial: Partial,
    /// For a shard of `sweep`: its points' whole accumulators.
    pub sweep: Option<SweepShard>,
    /// For a shard of `run --paired BASE`: the base and both scenarios'
    /// partial results (then `partial` is empty).
    pub paired: Option<PairedShard>,
    /// For a shard of `stress`: the portfolio and the shard's partial
    /// result (then `partial` is empty).
    pub stress: Option<StressShard>,
}

/// The portfolio of a stress test's shard and its partial result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StressShard {
    /// The portfolio file as given to `--portfolio`.
    pub file: String,
    pub sha256: String,
    /// Its text, so that `merge` needs no portfolio file.
    pub text: String,
    pub partial: StressPartial,
    /// For `stress --paired BASE`: the base and the paired partial result
    /// (then `partial` is empty).
    pub paired: Option<PairedStressShard>,
}

/// The base of a paired stress test's shard and the shard's paired result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedStressShard {
    /// The base scenario file as given to `--paired`.
    pub file: String,
    pub sha256: String,
    /// Its resolved TOML text.
    pub text: String,
    pub partial: PairedStressPartial,
}

/// The base of a paired run and the shard's paired partial result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedShard {
    /// The base scenario file as given to `--paired`.
    pub file: String,
    pub sha256: String,
    /// Its resolved TOML text.
    pub text: String,
    pub partial: PairedPartial,
}

/// The points a shard of `sweep --shard K/N` ran: points
/// `floor(K P / N) .. floor((K + 1) P / N)` of the `P` grid points, in grid
/// order, each a whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepShard {
    pub vary: Vec<(String, Vec<f64>)>,
    pub stat: String,
    pub metric: String,
    /// Whether an allocation share's siblings were rescaled (`--renormalise`).
    pub renormalise: bool,
    /// The index of the first point in the grid.
    pub first_point: u64,
    /// Every point's statistics.
    pub points: Vec<SweepPoint>,
}

/// What a sweep keeps of one grid point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Every metric's statistics (what `sweep-SLUG.csv` shows).
    pub rows: Vec<MetricRow>,
    /// The Monte Carlo standard error of the charted statistic, where one
    /// is known (mean, p5, p50, p95, VaR and ES).
    pub se: Option<f64>,
}

/// The file name of shard `k` of `n`.
pub fn file_name(k: u64, n: u64) -> String {
    format!("shard-{k}-of-{n}.bin")
}

/// The file name of shard `k` of `n` of the sweep named `slug`
/// (`sweep-SLUG-shard-K-of-N.bin`).
pub fn sweep_file_name(slug: &str, k: u64, n: u64) -> String {
    format!("sweep-{slug}-{}", file_name(k, n))
}

/// What a file name says it is: `Some(false)` a run's shard, `Some(true)`
/// a sweep's, `None` neither.
pub fn kind(name: &str) -> Option<bool> {
    let shaped = |n: &str| n.starts_with("shard-") && n.ends_with(".bin") && n.contains("-of-");
    match name.strip_prefix("sweep-").and_then(|rest| rest.find("shard-").map(|i| &rest[i..])) {
        Some(rest) if shaped(rest) => Some(true),
        _ if shaped(name) => Some(false),
        _ => None,
    }
}

/// Whether `path` is named as a sweep's shard.
pub fn is_sweep(path: &std::path::Path) -> bool {
    path.file_name().and_then(|n| kind(&n.to_string_lossy())) == Some(true)
}

pub fn encode(s: &ShardFile) -> Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    out.extend(FORMAT.to_le_bytes());
    postcard::to_extend(s, out).map_err(|e| Error::Shard(format!("cannot encode the shard: {e}")))
}

pub fn decode(bytes: &[u8]) -> Result<ShardFile> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Err(Error::Shard(
            "not a shard file of backlog-risk (it does not start with `backlog-risk-shard`)".into(),
        ));
    };
    let Some((version, body)) = rest.split_first_chunk::<4>() else {
        return Err(Error::Shard("the shard file is cut short".into()));
    };
    let version = u32::from_le_bytes(*version);
    if version != FORMAT {
        return Err(Error::Shard(format!(
            "written in shard format version {version}; this backlog-risk ({}) reads version {FORMAT}: run the shards again with one version of the tool",
            env!("CARGO_PKG_VERSION")
        )));
    }
    postcard::from_bytes(body).map_err(|e| Error::Shard(format!("the shard file is damaged or cut short: {e}")))
}
