//! The core's one error type. Every public function of the core returns
//! [`Result`]; the front-ends add their own context (the command line with
//! `anyhow`, the Python module as exceptions). Each variant's message is the
//! text a user sees, so it names the input, the field and the fix.
//!
//! Input files (scenarios and portfolios) share one [`InputError`]: the
//! file, the dotted field path, the line where the TOML gives one, and the
//! message. Options of an API call (`paths`, `focus`, `metric`, `vary`...)
//! are named by [`Error::Option`] with the option's API name, which each
//! front-end shows in its own syntax (`--vary` on the command line).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario or portfolio file that cannot be used as written, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub file: PathBuf,
    /// Dotted field path (`customers.openai.shift[0].target`,
    /// `holding[1].weight`), empty when the error is about the whole file.
    pub field: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for InputError {}

impl InputError {
    /// An error at `field` (empty: the whole file) of `file`, with no line.
    pub fn new(file: &Path, field: &str, message: impl Into<String>) -> InputError {
        InputError { file: file.to_path_buf(), field: field.to_string(), line: None, message: message.into() }
    }
}

/// An input file's name and text, to turn TOML spans into lines in
/// [`InputError`]s (scenarios and portfolios alike).
pub(crate) struct Cx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    /// Where asked for ([`crate::scenario::valid_ranges`]), each
    /// parameter's valid range `(field, lo, hi)` as validation checks it.
    pub ranges: Option<std::cell::RefCell<Vec<(String, f64, f64)>>>,
}

impl<'a> Cx<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Cx { file, text, ranges: None }
    }

    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    /// An error at `field`, on the line of `span` where given.
    pub fn err(&self, field: &str, span: Option<&Range<usize>>, message: impl Into<String>) -> InputError {
        InputError {
            file: self.file.to_path_buf(),
            field: field.to_string(),
            line: span.map(|s| self.line(s)),
            message: message.into(),
        }
    }

    pub fn toml_error(&self, field: &str, e: &toml::de::Error) -> InputError {
        let mut message = e.message().trim().to_string();
        let mut field = field.to_string();
        // "`values[1]`: ..." from a table read in two steps (a distribution):
        // the field inside it.
        if let Some((sub, rest)) = message.strip_prefix('`').and_then(|m| m.split_once("`: "))
            && !sub.is_empty()
            && sub.chars().all(|c| c.is_ascii_alphanumeric() || "_[].".contains(c))
        {
            (field, message) = (format!("{field}.{sub}"), rest.to_string());
        }
        if message.starts_with("unknown field") {
            message.push_str("; remove it or correct its spelling");
        }
        // The parser names no key: the span does.
        let key = e.span().and_then(|r| self.text.get(r)).map(|k| k.trim().trim_matches('"').to_string());
        if let Some(key) = key.filter(|k| message == "duplicate key" && !k.is_empty() && k.len() <= 80) {
            message = format!("duplicate key `{key}`: a key may be given once in a table; remove one of the two");
        }
        self.err(&field, e.span().as_ref(), message)
    }

    /// The text read as `T`: a TOML syntax error, an unknown key or a wrong
    /// type is an error at its field path and line.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, InputError> {
        let de = toml::Deserializer::parse(self.text).map_err(|e| self.toml_error("", &e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            // toml's span wrappers show up as path segments of their own.
            let field = e.path().to_string().replace(".$__serde_spanned_private_value", "");
            let field = field.trim_start_matches("$__serde_spanned_private_value").trim_start_matches('.');
            self.toml_error(field, e.inner())
        })
    }
}

/// What went wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file that cannot be used as written: the file, the field
    /// path, the line where known, and what to change.
    #[error(transparent)]
    Scenario(#[from] InputError),
    /// A portfolio file that cannot be used as written (as for scenarios).
    #[error(transparent)]
    Portfolio(InputError),
    /// An option of the call that cannot be used: `option` is its API name
    /// (`paths`, `sampling`, `focus`, `metric`, `stat`, `vary`,
    /// `renormalise`, `paired`, `precision`), which a front-end shows in its
    /// own syntax; `message` says what is wrong and what to give instead.
    ///
    /// Messages refer to other options as ``option `name` `` so that a
    /// front-end can show those in its syntax too.
    #[error("{option} {message}")]
    Option { option: &'static str, message: String },
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
    /// Inputs that cannot be combined, with what to do instead.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// An [`Error::Option`].
    pub fn option(option: &'static str, message: impl Into<String>) -> Error {
        Error::Option { option, message: message.into() }
    }

    /// This error as one about the value `value` of option `option`: an
    /// [`Error::Invalid`] becomes an [`Error::Option`] whose message starts
    /// with the value; other errors are kept as they are.
    ///
    /// ```
    /// use backlog_risk::Error;
    /// let e = Error::invalid("no such metric").about("metric", "loss.b");
    /// assert_eq!(e.to_string(), "metric loss.b: no such metric");
    /// ```
    pub fn about(self, option: &'static str, value: impl fmt::Display) -> Error {
        match self {
            Error::Invalid(m) => Error::Option { option, message: format!("{value}: {m}") },
            e => e,
        }
    }

    /// An [`Error::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
