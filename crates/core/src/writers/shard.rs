//! Shard files: what `run --shard K/N` writes and `merge` reads.
//!
//! A shard file is `OUT/NAME/shard-K-of-N.bin`: the 19 bytes
//! `backlog-risk-shard\n`, the format version as a little-endian `u32`
//! ([`FORMAT`]), the length of the body as a little-endian `u64`, the body:
//! a [`ShardFile`] in postcard's serde encoding
//! (<https://postcard.jamesmunns.com/wire-format>): the scenario as run
//! (its resolved TOML text and SHA-256, seed, paths), which shard of how
//! many, and the shard's partial result (complete nodes of the merge tree
//! over its chunks, and integer sketch counts); last the SHA-256 of every
//! byte before it. A file of another format version is refused with a
//! message that says which version wrote it; a file whose length or
//! checksum does not match (a bit changed in storage or transfer, a file
//! cut short) is refused before its body is read; the texts it carries
//! (the scenario, a base, a portfolio) must match their SHA-256, and the
//! shard count is at most [`MAX_SHARDS`]. What the partial results hold is
//! checked against the scenario by `api::merge` before any is merged.
//!
//! The checksum is SHA-256 (the `sha2` crate, already used for the
//! scenario's digest) rather than a CRC: its cost is small beside the
//! simulation of a shard, and it detects every change a CRC does.
//!
//! The payload is one [`Payload`] per command: a run, a paired run, a
//! stress test (written as `OUT/NAME/portfolio-PORTFOLIO/shard-K-of-N.bin`),
//! a paired stress test, a sweep.

use serde::{Deserialize, Serialize};

use crate::engine::{PairedPartial, Partial};
use crate::portfolio::{PairedStressPartial, StressPartial};
use crate::report::MetricRow;
use crate::{Error, Result};

/// Magic bytes at the start of every shard file.
const MAGIC: &[u8] = b"backlog-risk-shard\n";
/// Version of the layout after the magic bytes (3: paired shards carry the
/// batch sketches of the VaR99 and ES99 difference standard errors; 4: the
/// sampling design of the per-path parameters; 5: the payload is one enum,
/// [`Payload`], instead of optional fields with a rule between them; 6: the
/// body's length before it and its SHA-256 after it).
pub const FORMAT: u32 = 6;

/// The most shards a run may be split into (a million shards of one
/// chunk each is already a run of two billion paths).
pub const MAX_SHARDS: u64 = 1_000_000;

/// Bytes of the checksum at the end of a shard file.
const DIGEST: usize = 32;

/// One shard of one run: what it ran, and what it computed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardFile {
    pub header: ShardHeader,
    /// What the shard computed; each command owns its kind.
    pub payload: Payload,
}

/// What a shard ran: the scenario, its seed, paths and sampling, and which
/// shard of how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardHeader {
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
}

impl ShardHeader {
    /// The header of shard `k` of `n` of `sc`, read from `scenario_file`
    /// (resolved to `text`; `extends` the files of its `extends` chain after
    /// it).
    pub fn new(
        sc: &crate::model::Scenario,
        scenario_file: &str,
        text: &str,
        extends: &[String],
        (k, n): (u64, u64),
    ) -> Self {
        use sha2::{Digest, Sha256};
        ShardHeader {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            scenario: sc.name.clone(),
            scenario_file: scenario_file.to_string(),
            scenario_sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
            scenario_text: text.to_string(),
            extends: extends.to_vec(),
            seed: sc.seed,
            paths: sc.paths,
            sampling: sc.sampling,
            shards: n,
            shard: k,
        }
    }
}

impl Attached {
    /// `text`, read from `file`, with its SHA-256.
    pub fn new(file: &str, text: &str) -> Self {
        use sha2::{Digest, Sha256};
        Attached {
            file: file.to_string(),
            sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
            text: text.to_string(),
        }
    }
}

/// A file a shard carries whole (a `--paired` base, a portfolio), so that
/// `merge` needs none of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attached {
    /// The file as given on the command line.
    pub file: String,
    pub sha256: String,
    /// Its text (a scenario's resolved text, with `extends` merged in).
    pub text: String,
}

/// What a shard computed, by command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Payload {
    /// `run --shard K/N`: the shard's part of the run.
    Run(Partial),
    /// `run --paired BASE --shard K/N`: the base and both scenarios' part.
    Paired { base: Attached, partial: PairedPartial },
    /// `stress --shard K/N`: the portfolio and the shard's part.
    Stress { portfolio: Attached, partial: StressPartial },
    /// `stress --paired BASE --shard K/N`.
    PairedStress { portfolio: Attached, base: Attached, partial: PairedStressPartial },
    /// `sweep --shard K/N`: its points' statistics.
    Sweep(SweepShard),
}

impl Payload {
    /// What kind of run wrote it, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Run(_) => "a run",
            Payload::Paired { .. } => "a paired run",
            Payload::Stress { .. } => "a stress test",
            Payload::PairedStress { .. } => "a paired stress test",
            Payload::Sweep(_) => "a sweep",
        }
    }
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

/// The bytes of shard file `s`.
pub fn encode(s: &ShardFile) -> Result<Vec<u8>> {
    use sha2::{Digest, Sha256};
    let body = postcard::to_allocvec(s).map_err(|e| Error::Shard(format!("cannot encode the shard: {e}")))?;
    let mut out = MAGIC.to_vec();
    out.extend(FORMAT.to_le_bytes());
    out.extend((body.len() as u64).to_le_bytes());
    out.extend(body);
    let digest = Sha256::digest(&out);
    out.extend(digest);
    Ok(out)
}

/// A shard file read back from `bytes`: its format, length and checksum
/// checked, then its body decoded and its own consistency checked
/// ([`ShardFile::check`]). The messages do not name the file: the caller
/// knows it.
pub fn decode(bytes: &[u8]) -> Result<ShardFile> {
    use sha2::{Digest, Sha256};
    let bad = |m: String| Error::Shard(m);
    let again = "write this shard again with the same `--shard K/N` command";
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Err(bad("not a shard file of backlog-risk (it does not start with `backlog-risk-shard`)".into()));
    };
    let Some((version, rest)) = rest.split_first_chunk::<4>() else {
        return Err(bad(format!("the shard file is cut short ({} bytes); {again}", bytes.len())));
    };
    let version = u32::from_le_bytes(*version);
    if version != FORMAT {
        return Err(bad(format!(
            "written in shard format version {version}; this backlog-risk ({}) reads version {FORMAT}: run the shards again with one version of the tool",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let Some((len, rest)) = rest.split_first_chunk::<8>() else {
        return Err(bad(format!("the shard file is cut short ({} bytes); {again}", bytes.len())));
    };
    let len = u64::from_le_bytes(*len);
    let held = rest.len().saturating_sub(DIGEST) as u64;
    if rest.len() < DIGEST || len != held {
        return Err(bad(format!(
            "the shard file is cut short or has bytes added: it declares {len} bytes of results and holds {held}; {again}"
        )));
    }
    let (body, digest) = rest.split_at(rest.len() - DIGEST);
    if Sha256::digest(&bytes[..bytes.len() - DIGEST]).as_slice() != digest {
        return Err(bad(format!(
            "the shard file is damaged: its SHA-256 checksum does not match its contents (a byte changed in storage or transfer); {again}"
        )));
    }
    let file: ShardFile =
        postcard::from_bytes(body).map_err(|e| bad(format!("the shard file cannot be read ({e}); {again}")))?;
    file.check()?;
    Ok(file)
}

impl ShardFile {
    /// What a shard file must say of itself: which shard of how many
    /// (`0 <= K < N <= MAX_SHARDS`), and texts that match their SHA-256.
    pub fn check(&self) -> Result<()> {
        let h = &self.header;
        if h.shards == 0 || h.shards > MAX_SHARDS || h.shard >= h.shards {
            return Err(Error::Shard(format!(
                "it says it is shard {} of {}: a shard is K of N with 0 <= K < N <= {MAX_SHARDS}",
                h.shard, h.shards
            )));
        }
        let text = |what: &str, text: &str, sha: &str| {
            use sha2::{Digest, Sha256};
            if format!("{:x}", Sha256::digest(text.as_bytes())) == sha {
                Ok(())
            } else {
                Err(Error::Shard(format!(
                    "the {what} it carries does not match its SHA-256 (it was edited after the shard was written); write the shard again"
                )))
            }
        };
        text("scenario text", &h.scenario_text, &h.scenario_sha256)?;
        match &self.payload {
            Payload::Paired { base, .. } => text("paired base", &base.text, &base.sha256),
            Payload::Stress { portfolio, .. } => text("portfolio", &portfolio.text, &portfolio.sha256),
            Payload::PairedStress { portfolio, base, .. } => {
                text("portfolio", &portfolio.text, &portfolio.sha256)?;
                text("paired base", &base.text, &base.sha256)
            }
            Payload::Run(_) | Payload::Sweep(_) => Ok(()),
        }
    }
}
