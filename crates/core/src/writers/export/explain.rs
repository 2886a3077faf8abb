//! The files of `explain` ([`super::EXPLAIN_EXPORTERS`]): the attribution
//! (`attribution.csv`, `attribution.png`), the sensitivity
//! (`sensitivity.csv`, `tornado.png`) and the page that shows both
//! (`explain.html`), and the workbook `explain.xlsx`.

use super::{Charts, Exporter, Owns, Sink};
use crate::Result;
use crate::analysis::attribution::AttributionRow;
use crate::analysis::given::Given;
use crate::analysis::sensitivity::SensitivityRow;
use crate::writers::charts::{self, ChartSize};
use crate::writers::html::{self, ExplainInput};
use crate::writers::{output, xlsx};

/// One scenario's `explain` results, as the exporters see them.
pub struct ExplainContext<'a> {
    pub scenario: &'a str,
    /// The scenario file, as the page names it.
    pub scenario_file: &'a str,
    /// The metric explained.
    pub metric: &'a str,
    pub paths: u64,
    pub seed: u64,
    /// The metric on the plan path, and its mean over the paths.
    pub plan: f64,
    pub mean: f64,
    pub attribution: Option<&'a [AttributionRow]>,
    pub sensitivity: Option<&'a [SensitivityRow]>,
    /// The reverse stress test, when a condition was given.
    pub given: Option<&'a Given>,
    pub charts: Charts,
    pub chart_size: ChartSize,
    /// Whether to write `explain.xlsx`.
    pub workbook: bool,
}

/// One file of `explain`, when its analysis ran (and for a chart, when
/// charts are drawn): the file's name and its bytes.
pub(super) struct File(pub &'static str, pub fn(&ExplainContext<'_>) -> Option<Result<Vec<u8>>>);

impl Owns for File {
    fn owns(&self, name: &str) -> bool {
        name == self.0
    }
}

impl Exporter<ExplainContext<'_>> for File {
    fn export(&self, cx: &ExplainContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        match (self.1)(cx) {
            Some(bytes) => sink.put(self.0, bytes?),
            None => Ok(()),
        }
    }
}

/// `attribution.csv`: each driver's Shapley value, path by path.
pub(super) fn attribution_csv(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    cx.attribution.map(output::rows_csv)
}

/// `attribution.png`: the waterfall from plan to the metric's mean.
pub(super) fn attribution_png(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    let rows = cx.attribution.filter(|_| cx.charts != Charts::None)?;
    Some(charts::attribution_png(cx.scenario, cx.metric, cx.plan, rows, cx.chart_size))
}

/// `sensitivity.csv`: Sobol' indices of every uncertain input.
pub(super) fn sensitivity_csv(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    cx.sensitivity.map(output::rows_csv)
}

/// `tornado.png`: the metric's swing over each input's range.
pub(super) fn tornado_png(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    let rows = cx.sensitivity.filter(|_| cx.charts != Charts::None)?;
    Some(charts::tornado_png(cx.scenario, cx.metric, cx.mean, rows, cx.chart_size))
}

/// `given.csv`: the condition's probability and every quantity given it.
pub(super) fn given_csv(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    cx.given.map(output::given_csv)
}

/// `given.png`: the inputs the condition moves most.
pub(super) fn given_png(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    let g = cx.given.filter(|_| cx.charts != Charts::None)?;
    Some(charts::given_png(cx.scenario, g, cx.chart_size))
}

/// `given-paths.csv`: the most plausible paths that meet the condition.
pub(super) fn given_paths_csv(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    cx.given.map(output::given_paths_csv)
}

/// `explain.xlsx`: the analyses that ran, as a workbook
/// ([`xlsx::explain_workbook`]).
pub(super) fn explain_xlsx(cx: &ExplainContext<'_>) -> Option<Result<Vec<u8>>> {
    let ran = cx.attribution.is_some() || cx.sensitivity.is_some();
    (cx.workbook && ran).then(|| xlsx::explain_workbook(cx))
}

/// `explain.html`, with the charts drawn before it.
pub(super) struct ExplainHtml;

impl Owns for ExplainHtml {
    fn owns(&self, name: &str) -> bool {
        name == "explain.html"
    }
}

impl Exporter<ExplainContext<'_>> for ExplainHtml {
    fn export(&self, cx: &ExplainContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let charts: Vec<(String, Vec<u8>)> = ["attribution.png", "tornado.png", "given.png"]
            .into_iter()
            .filter_map(|n| sink.get(n).map(|b| (n.to_string(), b.to_vec())))
            .collect();
        let page = html::explain_html(&ExplainInput {
            scenario: cx.scenario,
            scenario_file: cx.scenario_file,
            metric: cx.metric,
            paths: cx.paths,
            seed: cx.seed,
            attribution: cx.attribution,
            sensitivity: cx.sensitivity,
            given: cx.given,
            charts: &charts,
        });
        sink.put("explain.html", page.into_bytes())
    }
}
