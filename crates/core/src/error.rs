//! The core's one error type. Every public function of the core returns
//! [`Result`]; the front-ends add their own context (the command line with
//! `anyhow`, the Python module as exceptions). Each variant's message is the
//! text a user sees, so it names the input, the field and the fix.

use crate::scenario::ScenarioError;

/// What went wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file (or a portfolio) that cannot be used as written: the
    /// file, the field path, the line where known, and what to change.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run was cancelled through its [`crate::Cancel`] token.
    #[error("the run was cancelled")]
    Cancelled,
    /// A chart could not be drawn (the chart's file name and why).
    #[error("chart {chart}: {message}")]
    Chart { chart: String, message: String },
    /// A result could not be encoded as CSV.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// A file could not be read, or bytes could not be passed on.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A result could not be encoded as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A shard file that cannot be read back, or results that do not fit
    /// together.
    #[error("{0}")]
    Shard(String),
    /// A simulation whose results are not finite numbers (an input too
    /// large to simulate), naming the scenario and the metric.
    #[error("{0}")]
    Overflow(String),
    /// Options or inputs that cannot be combined, with what to do instead.
    #[error("{0}")]
    Invalid(String),
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
