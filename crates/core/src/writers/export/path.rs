//! The files of `path` ([`super::PATH_EXPORTERS`]), in the path's own
//! folder `OUT/NAME/path-N/`: the quarters (`path-N.csv`), the parameters
//! and metrics against the plan (`path-N-values.csv`), the chart
//! (`path-N.png`) and, when asked, a scenario that fixes every parameter at
//! the path's values (`path-N-variant.toml`).

use super::{Charts, Exporter, Owns, Sink};
use crate::Result;
use crate::api::PathStory;
use crate::writers::charts::{self, ChartSize};
use crate::writers::output;

/// One replayed path, as the exporters see it.
pub struct PathContext<'a> {
    pub story: &'a PathStory,
    /// The text of `path-N-variant.toml`, when asked for (the front-end
    /// knows where the scenario file lies, so it writes the `extends`).
    pub variant: Option<&'a str>,
    pub charts: Charts,
    pub chart_size: ChartSize,
}

/// The name of the folder of path `i`'s files: `path-i`.
pub fn path_folder(i: u64) -> String {
    format!("path-{i}")
}

/// One file of a path: its name after `path-N` and its bytes.
pub(super) struct File(pub &'static str, pub fn(&PathContext<'_>) -> Option<Result<Vec<u8>>>);

impl Owns for File {
    fn owns(&self, name: &str) -> bool {
        name.strip_prefix("path-").and_then(|r| r.split_once(|c: char| !c.is_ascii_digit())).is_some_and(
            |(digits, _)| !digits.is_empty() && name.ends_with(self.0) && name.len() == 5 + digits.len() + self.0.len(),
        )
    }
}

impl Exporter<PathContext<'_>> for File {
    fn export(&self, cx: &PathContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        match (self.1)(cx) {
            Some(bytes) => sink.put(&format!("path-{}{}", cx.story.path, self.0), bytes?),
            None => Ok(()),
        }
    }
}

pub(super) fn quarters_csv(cx: &PathContext<'_>) -> Option<Result<Vec<u8>>> {
    Some(output::path_csv(cx.story))
}

pub(super) fn values_csv(cx: &PathContext<'_>) -> Option<Result<Vec<u8>>> {
    Some(output::path_values_csv(cx.story))
}

pub(super) fn chart_png(cx: &PathContext<'_>) -> Option<Result<Vec<u8>>> {
    (cx.charts != Charts::None).then(|| charts::path_png(cx.story, cx.chart_size))
}

pub(super) fn variant_toml(cx: &PathContext<'_>) -> Option<Result<Vec<u8>>> {
    cx.variant.map(|v| Ok(v.as_bytes().to_vec()))
}
