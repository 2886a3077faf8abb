//! The files of a run's folder as one list of exporters.
//!
//! Each [`Exporter`] turns a finished run ([`RunContext`]) into one or more
//! files, handed to a [`Sink`] the front-end provides (the command line's
//! writes them into a staging folder); [`RUN_EXPORTERS`] lists them in the
//! order they are written, and [`run_owns`], derived from the same list,
//! says which files of an existing folder a new run replaces. Adding a
//! format is one new exporter (a file in this folder) and one line in the
//! list.

use std::io::Write;
use std::path::PathBuf;

use rayon::prelude::*;

use super::charts::{self, ChartSize};
use super::html::{self, ReportInput};
use super::output::{self, RunInfo};
use crate::model::Scenario;
use crate::report::{PairedRow, ScenarioSummary};
use crate::{Error, Result, scenario};

/// Which charts a run draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charts {
    None,
    /// loss.png for the focus provider, fan, exceedance, concentration.
    Key,
    /// Key charts plus loss-PROVIDER.png for every provider.
    All,
}

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
}

/// Where exported files go.
pub trait Sink {
    /// A whole file.
    fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<()>;
    /// A file written as it comes (a table too large to hold).
    fn stream(&mut self, name: &str, write: &mut dyn FnMut(&mut dyn Write) -> Result<()>) -> Result<()>;
    /// The bytes of a file put earlier in this export (the report embeds
    /// the charts).
    fn get(&self, name: &str) -> Option<&[u8]>;
}

/// One kind of file of a run's folder.
pub trait Exporter: Sync {
    /// Whether a file of this name in a run's folder is this exporter's
    /// (a new run replaces it, whether or not it writes it again).
    fn owns(&self, name: &str) -> bool;
    /// Write this exporter's files of `cx` (none, when it does not apply).
    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()>;
}

/// Every exporter of a run, in the order they write (`run.json` last: its
/// presence says the run's files are all there).
pub static RUN_EXPORTERS: &[&dyn Exporter] = &[
    &SamplesCsv,
    &Table("summary.csv", output::summary_csv),
    &Table("errors.csv", output::errors_csv),
    &Table("summary.json", output::summary_json),
    &Table("fan.csv", output::fan_csv),
    &Table("revenue.csv", output::revenue_csv),
    &ChartsPng,
    &PairedCsv,
    &ReportHtml,
    &RunJson,
];

/// Whether a file of a run's folder is one a new run replaces (every other
/// entry, such as a stress test's `portfolio-*` folder or shard files, is
/// kept).
///
/// ```
/// use backlog_risk::writers::export::run_owns;
/// assert!(run_owns("summary.csv") && run_owns("loss-aws.png") && run_owns("paired-base.csv"));
/// assert!(!run_owns("portfolio-ai-infra") && !run_owns("shard-0-of-3.bin"));
/// ```
pub fn run_owns(name: &str) -> bool {
    RUN_EXPORTERS.iter().any(|e| e.owns(name))
}

/// Export every file of a run to `sink`.
pub fn export_run(cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
    RUN_EXPORTERS.iter().try_for_each(|e| e.export(cx, sink))
}

/// A file that is one writer of the summary.
struct Table(&'static str, fn(&ScenarioSummary) -> Result<Vec<u8>>);

impl Exporter for Table {
    fn owns(&self, name: &str) -> bool {
        name == self.0
    }

    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
        sink.put(self.0, (self.1)(cx.summary)?)
    }
}

/// `samples.csv` (`--samples N`), streamed row by row.
struct SamplesCsv;

impl Exporter for SamplesCsv {
    fn owns(&self, name: &str) -> bool {
        name == "samples.csv"
    }

    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
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
struct ChartsPng;

impl Exporter for ChartsPng {
    fn owns(&self, name: &str) -> bool {
        matches!(name, "loss.png" | "fan.png" | "exceedance.png" | "concentration.png")
            || (name.starts_with("loss-") && name.ends_with(".png"))
    }

    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
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
        let pngs: Vec<(String, Result<Vec<u8>>)> = list
            .into_par_iter()
            .map(|(name, chart)| {
                let png = match chart {
                    Chart::Loss(p) => charts::loss_png(s, p, size),
                    Chart::Fan => charts::fan_png(s, size),
                    Chart::Exceedance => charts::exceedance_png(s, size),
                    Chart::Concentration => charts::concentration_png(s, size),
                };
                (name, png)
            })
            .collect();
        pngs.into_iter().try_for_each(|(name, png)| sink.put(&name, png?))
    }
}

/// `paired-BASE.csv` of a paired run.
struct PairedCsv;

impl Exporter for PairedCsv {
    fn owns(&self, name: &str) -> bool {
        name.starts_with("paired-") && name.ends_with(".csv")
    }

    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
        match cx.paired {
            Some((base, rows)) => sink.put(&format!("paired-{}.csv", base.name), output::rows_csv(rows)?),
            None => Ok(()),
        }
    }
}

/// `report.html`, with the charts drawn before it.
struct ReportHtml;

impl Exporter for ReportHtml {
    fn owns(&self, name: &str) -> bool {
        name == "report.html"
    }

    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
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

/// `run.json`: what was run.
struct RunJson;

impl Exporter for RunJson {
    fn owns(&self, name: &str) -> bool {
        name == "run.json"
    }

    fn export(&self, cx: &RunContext, sink: &mut dyn Sink) -> Result<()> {
        sink.put("run.json", output::run_json(cx.info)?)
    }
}
