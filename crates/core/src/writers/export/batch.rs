//! The files of a run of several scenarios ([`super::BATCH_EXPORTERS`]):
//! `comparison.csv` and its charts, `index.html` and `batch.csv`.

use std::path::Path;

use super::{Charts, Exporter, Owns, Sink};
use crate::Result;
use crate::report::{self, ScenarioSummary};
use crate::writers::charts::{self, ChartSize};
use crate::writers::html::{self, IndexEntry};
use crate::writers::text::headline;
use crate::writers::{output, xlsx};

/// A run of several scenarios, as the exporters see it.
pub struct BatchContext<'a> {
    /// Every scenario file given, in order, and its summary or error.
    pub outcomes: &'a [(&'a Path, &'a std::result::Result<ScenarioSummary, String>)],
    pub charts: Charts,
    pub chart_size: ChartSize,
    /// Whether to write `comparison.xlsx`.
    pub workbook: bool,
}

impl BatchContext<'_> {
    fn summaries(&self) -> Vec<&ScenarioSummary> {
        self.outcomes.iter().filter_map(|(_, r)| r.as_ref().ok()).collect()
    }
}

/// `comparison.csv`: every provider of every scenario that ran (two or
/// more), grouped by provider.
pub(super) struct ComparisonCsv;

impl Owns for ComparisonCsv {
    fn owns(&self, name: &str) -> bool {
        name == "comparison.csv"
    }
}

impl Exporter<BatchContext<'_>> for ComparisonCsv {
    fn export(&self, cx: &BatchContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let ok = cx.summaries();
        if ok.len() < 2 {
            return Ok(());
        }
        sink.put("comparison.csv", output::rows_csv(&report::comparison(&ok))?)
    }
}

/// `comparison.xlsx`: `comparison.csv` as a workbook, worst ES99 first
/// ([`xlsx::comparison_workbook`]).
pub(super) struct ComparisonXlsx;

impl Owns for ComparisonXlsx {
    fn owns(&self, name: &str) -> bool {
        name == "comparison.xlsx"
    }
}

impl Exporter<BatchContext<'_>> for ComparisonXlsx {
    fn export(&self, cx: &BatchContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let ok = cx.summaries();
        if !cx.workbook || ok.len() < 2 {
            return Ok(());
        }
        sink.put("comparison.xlsx", xlsx::comparison_workbook(&ok)?)
    }
}

/// `comparison.png` for the provider that is the focus of the most
/// scenarios; with [`Charts::All`], also `comparison-PROVIDER.png` for
/// every provider two or more scenarios share.
pub(super) struct ComparisonPng;

impl Owns for ComparisonPng {
    fn owns(&self, name: &str) -> bool {
        name.starts_with("comparison") && name.ends_with(".png")
    }
}

impl Exporter<BatchContext<'_>> for ComparisonPng {
    fn export(&self, cx: &BatchContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let ok = cx.summaries();
        if ok.len() < 2 || cx.charts == Charts::None {
            return Ok(());
        }
        let rows = report::comparison(&ok);
        let of = |p: &str| rows.iter().filter(|r| r.provider == p).collect::<Vec<_>>();
        let mut charts_to_draw = Vec::new();
        if let Some(focus) = report::comparison_focus(&ok) {
            charts_to_draw.push(("comparison.png".to_string(), of(&focus)));
        }
        if cx.charts == Charts::All {
            let mut seen: Vec<&str> = Vec::new();
            for r in &rows {
                if !seen.contains(&r.provider.as_str()) {
                    seen.push(&r.provider);
                    let group = of(&r.provider);
                    if group.len() >= 2 {
                        charts_to_draw.push((format!("comparison-{}.png", r.provider), group));
                    }
                }
            }
        }
        for (name, group) in charts_to_draw {
            sink.put(&name, charts::comparison_png(&group, cx.chart_size)?)?;
        }
        Ok(())
    }
}

/// `index.html`: one line per scenario and the comparison chart.
pub(super) struct IndexHtml;

impl Owns for IndexHtml {
    fn owns(&self, name: &str) -> bool {
        name == "index.html"
    }
}

impl Exporter<BatchContext<'_>> for IndexHtml {
    fn export(&self, cx: &BatchContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if cx.outcomes.len() < 2 {
            return Ok(());
        }
        let entries: Vec<IndexEntry> = cx
            .outcomes
            .iter()
            .map(|(file, result)| IndexEntry {
                file: file.display().to_string(),
                result: result.as_ref().map(|s| (s, headline(s))).map_err(String::as_str),
            })
            .collect();
        let page = html::index_html(&entries, sink.get("comparison.png"));
        sink.put("index.html", page.into_bytes())
    }
}

/// `batch.csv`: one row per scenario, ok or failed.
pub(super) struct BatchCsv;

impl Owns for BatchCsv {
    fn owns(&self, name: &str) -> bool {
        name == "batch.csv"
    }
}

impl Exporter<BatchContext<'_>> for BatchCsv {
    fn export(&self, cx: &BatchContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        sink.put("batch.csv", output::batch_csv(cx.outcomes)?)
    }
}
