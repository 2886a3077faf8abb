//! The files of a run's folder ([`super::RUN_EXPORTERS`]).

use std::path::PathBuf;

use rayon::prelude::*;

use super::{Charts, Exporter, Owns, Sink};
use crate::model::Scenario;
use crate::report::{PairedRow, ScenarioSummary};
use crate::writers::charts::{self, ChartSize};
use crate::writers::html::{self, ReportInput};
use crate::writers::output::{self, RunInfo};
use crate::writers::xlsx;
use crate::{Error, Result, scenario};

/// A finished run, as the exporters see it.
pub struct RunContext<'a> {
    pub scenario: &'a Scenario,
    /// The scenario file and the files of its `extends` chain.
    pub chain: &'a [PathBuf],
    pub summary: &'a ScenarioSummary,
    /// What `run.json` records (and the report shows).
    pub info: &'a RunInfo,
    /// The console line of the run (the report shows it).
    pub headline: &'a str,
    pub charts: Charts,
    pub chart_size: ChartSize,
    /// The base of a paired run and the paired rows.
    pub paired: Option<(&'a Scenario, &'a [PairedRow])>,
    /// `--samples N`: the first N paths' draws, keyed to a run of this many
    /// paths (a run to a precision keys them to its round).
    pub samples: Option<(u64, u64)>,
    /// Whether to write `report.xlsx`.
    pub workbook: bool,
}

/// A file that is one writer of the summary.
pub(super) struct Table(pub &'static str, pub fn(&ScenarioSummary) -> Result<Vec<u8>>);

impl Owns for Table {
    fn owns(&self, name: &str) -> bool {
        name == self.0
    }
}

impl Exporter<RunContext<'_>> for Table {
    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        sink.put(self.0, (self.1)(cx.summary)?)
    }
}

/// `samples.csv` (`--samples N`), streamed row by row.
pub(super) struct SamplesCsv;

impl Owns for SamplesCsv {
    fn owns(&self, name: &str) -> bool {
        name == "samples.csv"
    }
}

impl Exporter<RunContext<'_>> for SamplesCsv {
    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((rows, keyed_paths)) = cx.samples else { return Ok(()) };
        let engine = crate::engine::Engine::new(cx.scenario);
        let sc = cx.scenario;
        let rows = engine.sample_rows(engine.keys(sc.seed, keyed_paths), sc.paths, rows);
        let header = rows.header();
        let mut rows = Some(rows);
        sink.stream("samples.csv", &mut |w| {
            let rows = rows.take().ok_or_else(|| Error::Invalid("samples.csv is written once".into()))?;
            output::samples_csv(w, &header, rows)
        })
    }
}

/// The charts: `loss.png` (the focus provider), `fan.png`,
/// `exceedance.png`, `concentration.png`, and with [`Charts::All`]
/// `loss-PROVIDER.png` for every provider; drawn side by side on the rayon
/// pool, put in this order.
pub(super) struct ChartsPng;

impl Owns for ChartsPng {
    fn owns(&self, name: &str) -> bool {
        matches!(name, "loss.png" | "fan.png" | "exceedance.png" | "concentration.png")
            || (name.starts_with("loss-") && name.ends_with(".png"))
    }
}

impl Exporter<RunContext<'_>> for ChartsPng {
    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if cx.charts == Charts::None {
            return Ok(());
        }
        let (s, size) = (cx.summary, cx.chart_size);
        // A loss chart per provider index, or one of the other three.
        enum Chart {
            Loss(usize),
            Fan,
            Exceedance,
            Concentration,
        }
        let mut list = vec![
            ("loss.png".to_string(), Chart::Loss(s.focus)),
            ("fan.png".to_string(), Chart::Fan),
            ("exceedance.png".to_string(), Chart::Exceedance),
            ("concentration.png".to_string(), Chart::Concentration),
        ];
        if cx.charts == Charts::All {
            list.extend(s.providers.iter().enumerate().map(|(p, name)| (format!("loss-{name}.png"), Chart::Loss(p))));
        }
        // Drawn in the order loss, exceedance, fan, concentration, then the
        // other losses, each chart a task of its own: rayon's halves then
        // give each of two threads one of the two slow charts (the loss
        // and the fan take about twice as long as the other two). Put in
        // the list's order.
        let mut order: Vec<usize> = (0..list.len()).collect();
        order.swap(1, 2);
        let mut pngs: Vec<(usize, Result<Vec<u8>>)> = order
            .into_par_iter()
            .with_max_len(1)
            .map(|i| {
                let png = match list[i].1 {
                    Chart::Loss(p) => charts::loss_png(s, p, size),
                    Chart::Fan => charts::fan_png(s, size),
                    Chart::Exceedance => charts::exceedance_png(s, size),
                    Chart::Concentration => charts::concentration_png(s, size),
                };
                (i, png)
            })
            .collect();
        pngs.sort_by_key(|(i, _)| *i);
        pngs.into_iter().try_for_each(|(i, png)| sink.put(&list[i].0, png?))
    }
}

/// `paired-BASE.csv` of a paired run.
pub(super) struct PairedCsv;

impl Owns for PairedCsv {
    fn owns(&self, name: &str) -> bool {
        name.starts_with("paired-") && name.ends_with(".csv")
    }
}

impl Exporter<RunContext<'_>> for PairedCsv {
    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        match cx.paired {
            Some((base, rows)) => sink.put(&format!("paired-{}.csv", base.name), output::rows_csv(rows)?),
            None => Ok(()),
        }
    }
}

/// `report.html`, with the charts drawn before it.
pub(super) struct ReportHtml;

impl Owns for ReportHtml {
    fn owns(&self, name: &str) -> bool {
        name == "report.html"
    }
}

impl Exporter<RunContext<'_>> for ReportHtml {
    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        let assumptions = scenario::assumptions::assumptions(cx.scenario, cx.chain);
        let names = ["loss.png", "fan.png", "exceedance.png", "concentration.png"].map(String::from);
        let extra = cx.summary.providers.iter().map(|p| format!("loss-{p}.png"));
        let charts: Vec<(String, Vec<u8>)> =
            names.into_iter().chain(extra).filter_map(|n| sink.get(&n).map(|b| (n.clone(), b.to_vec()))).collect();
        let page = html::report_html(&ReportInput {
            summary: cx.summary,
            assumptions: &assumptions,
            headline: cx.headline,
            info: cx.info,
            charts: &charts,
        });
        sink.put("report.html", page.into_bytes())
    }
}

/// `report.xlsx`: the run as a workbook ([`xlsx::run_workbook`]), unless
/// the front-end turned it off.
pub(super) struct ReportXlsx;

impl Owns for ReportXlsx {
    fn owns(&self, name: &str) -> bool {
        name == "report.xlsx"
    }
}

impl Exporter<RunContext<'_>> for ReportXlsx {
    /// The workbook (a few milliseconds) is made while the charts are
    /// drawn.
    fn beside(&self) -> bool {
        true
    }

    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        if !cx.workbook {
            return Ok(());
        }
        let assumptions = scenario::assumptions::assumptions(cx.scenario, cx.chain);
        let engine = crate::engine::Engine::new(cx.scenario);
        let samples = cx.samples.map(|(rows, keyed_paths)| {
            let sc = cx.scenario;
            let rows = engine.sample_rows(engine.keys(sc.seed, keyed_paths), sc.paths, rows);
            let header = rows.header();
            (header, Box::new(rows) as xlsx::SampleRows<'_>)
        });
        let bytes = xlsx::run_workbook(xlsx::RunBook {
            summary: cx.summary,
            assumptions: &assumptions,
            info: cx.info,
            headline: cx.headline,
            paired: cx.paired.map(|(base, rows)| (base.name.as_str(), rows)),
            samples,
        })?;
        sink.put("report.xlsx", bytes)
    }
}

/// `run.json`: what was run.
pub(super) struct RunJson;

impl Owns for RunJson {
    fn owns(&self, name: &str) -> bool {
        name == "run.json"
    }
}

impl Exporter<RunContext<'_>> for RunJson {
    fn export(&self, cx: &RunContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        sink.put("run.json", output::run_json(cx.info)?)
    }
}
