//! The commands: find scenario files, run each in isolation, write its
//! results as soon as it finishes, and report.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use backlog_risk::api;
use backlog_risk::engine::{CHUNK, Engine, shard_chunks};
use backlog_risk::model::{Sampling, Scenario};
use backlog_risk::report::{self, ScenarioSummary};
use backlog_risk::scenario;
use backlog_risk::writers::charts::{self, ChartSize};
use backlog_risk::writers::output::{self, QuantileMethod, RunInfo};
use backlog_risk::writers::shard::{self, ShardFile, SweepShard};

mod explain;
mod run;
mod shards;
mod stress;
mod sweep;

pub use explain::{ExplainWhat, explain};
pub use run::{batch_report, run, write_comparison};
pub use shards::{merge, run_shard};
pub use stress::stress;
pub use sweep::{SweepOptions, parse_vary, sweep};

/// Which charts a run draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charts {
    None,
    /// loss.png for the focus provider, fan, exceedance, concentration.
    Key,
    /// Key charts plus loss-PROVIDER.png for every provider.
    All,
}

/// Validated settings of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inputs: Vec<PathBuf>,
    pub paths: Option<u64>,
    pub seed: Option<u64>,
    pub threads: usize,
    pub out: PathBuf,
    pub quiet: bool,
    pub charts: Charts,
    pub chart_size: ChartSize,
    /// Base scenario for paired differences (common random numbers).
    pub paired: Option<PathBuf>,
    /// More than [`MAX_PATHS`] paths in one process (`--allow-huge`, or a
    /// shard).
    pub allow_huge: bool,
    /// `--focus`: the provider the headline and key charts are about.
    pub focus: Option<String>,
    /// `--sampling`, overriding `scenario.sampling`.
    pub sampling: Option<Sampling>,
    /// `--samples N`: write the first N paths to samples.csv.
    pub samples: Option<u64>,
    /// `--precision`, with the paths per round and the most paths.
    pub precision: Option<(backlog_risk::precision::Target, u64, u64)>,
}

/// The most paths one process runs without `--allow-huge` or `--shard`.
pub const MAX_PATHS: u64 = 10_000_000_000;

/// The refusal of a run above [`MAX_PATHS`] paths, if it is one.
fn too_many_paths(paths: u64, opts: &RunOptions) -> Option<String> {
    (paths > MAX_PATHS && !opts.allow_huge).then(|| {
        format!(
            "{paths} paths is more than {MAX_PATHS} in one process: split the run with --shard K/N (docs/cluster.md), or give --allow-huge to run it here"
        )
    })
}

/// Expand files and folders into scenario files, in a stable order.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let toml = |p: &Path| p.extension().is_some_and(|e| e == "toml");
            files.extend(list_folder(input, toml, "*.toml scenario files")?);
        } else if input.is_file() {
            files.push(input.clone());
        } else if input.exists() {
            bail!(
                "{}: not a regular file (a FIFO, socket or device); give a scenario file (*.toml) or a folder of them",
                input.display()
            );
        } else if input.to_string_lossy().contains(['*', '?', '[']) {
            let pattern = input.to_string_lossy();
            let mut found: Vec<PathBuf> = glob::glob(&pattern)
                .with_context(|| format!("{pattern}: not a valid pattern"))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                // Among other inputs a pattern that matches nothing is a
                // warning; alone, it is the end of the run.
                if inputs.len() == 1 {
                    bail!("{pattern}: the pattern matches no file");
                }
                eprintln!("warning: {pattern}: the pattern matches no file; going on with the other inputs");
            }
            files.extend(found);
        } else {
            bail!("{}: no such file or folder; give a scenario file (*.toml) or a folder of them", input.display());
        }
    }
    if files.is_empty() {
        bail!("no scenario file among the inputs: every pattern matched nothing");
    }
    Ok(files)
}

/// The files directly inside `dir` that `keep` accepts, sorted; an error
/// naming `what` when there are none.
fn list_folder(dir: &Path, keep: impl Fn(&Path) -> bool, what: &str) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && keep(p))
        .collect();
    found.sort();
    if found.is_empty() {
        bail!("{}: the folder holds no {what}", dir.display());
    }
    Ok(found)
}

/// What happened to one scenario file.
#[derive(Debug)]
pub struct Outcome {
    pub file: PathBuf,
    pub result: Result<ScenarioSummary, String>,
}

/// `1 customer`, `2 customers`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `backlog-risk validate`: true when every file is valid.
pub fn validate(inputs: &[PathBuf]) -> Result<bool> {
    let mut ok = true;
    for file in collect_inputs(inputs)? {
        match scenario::load(&file) {
            Ok(sc) => println!(
                "ok    {} (scenario {}: {}, {}, {}, {})",
                file.display(),
                sc.name,
                count(sc.providers.len(), "provider"),
                count(sc.customers.len(), "customer"),
                count(sc.rules.len(), "renegotiation rule"),
                count(sc.quarters as usize, "quarter")
            ),
            Err(e) => {
                ok = false;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(ok)
}

fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} paths  {rate}  ETA {eta}")
            .expect("static template")
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}k paths/s", s.per_sec() / 1000.0);
            })
            .progress_chars("=> "),
    );
    bar
}

/// A scenario as run and the resolved text it came from.
type Loaded = (Scenario, scenario::Resolved);

/// Load a scenario and apply `--paths` and `--seed`.
fn load_with_overrides(file: &Path, opts: &RunOptions) -> Result<Loaded, scenario::ScenarioError> {
    let (mut sc, r) = scenario::load_resolved(file)?;
    if let Some(p) = opts.paths {
        sc.paths = p;
    }
    if let Some(s) = opts.seed {
        sc.seed = s;
    }
    if let Some(s) = opts.sampling {
        sc.sampling = s;
    }
    if let Some(message) = sc.sampling_problem() {
        let field = if opts.sampling.is_some() { "--sampling" } else { "scenario.sampling" };
        return Err(scenario::ScenarioError { file: file.to_path_buf(), field: field.into(), line: None, message });
    }
    apply_focus(&mut sc, opts.focus.as_deref(), file)?;
    if let Some(message) = too_many_paths(sc.paths, opts) {
        let field = if opts.paths.is_some() { "--paths" } else { "scenario.paths" };
        return Err(scenario::ScenarioError { file: file.to_path_buf(), field: field.into(), line: None, message });
    }
    Ok((sc, r))
}

/// Point `sc.focus` at the provider named by `--focus`, if given; an error
/// naming the scenario's providers when it has no such provider.
fn apply_focus(sc: &mut Scenario, focus: Option<&str>, file: &Path) -> Result<(), scenario::ScenarioError> {
    let Some(name) = focus else { return Ok(()) };
    match sc.providers.iter().position(|p| p.name == name) {
        Some(p) => {
            sc.focus = p;
            Ok(())
        }
        None => Err(scenario::ScenarioError {
            file: file.to_path_buf(),
            field: "--focus".into(),
            line: None,
            message: format!(
                "scenario `{}` has no provider `{name}`; its providers are {}",
                sc.name,
                sc.providers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// The worker threads of a command.
fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start the worker threads")
}

/// The header of shard `k` of `n` of scenario `sc`, read from `file`
/// (resolved as `resolved`).
fn shard_header(sc: &Scenario, file: &Path, resolved: &scenario::Resolved, kn: (u64, u64)) -> shard::ShardHeader {
    let extends: Vec<String> = resolved.chain.iter().skip(1).map(|p| p.display().to_string()).collect();
    shard::ShardHeader::new(sc, &file.display().to_string(), &resolved.text, &extends, kn)
}

/// What `run.json` says about a run.
fn run_info(sc: &Scenario, file: &Path, text: &str, chain: &[PathBuf], threads: usize, wall: f64) -> RunInfo {
    RunInfo {
        scenario: sc.name.clone(),
        scenario_file: file.display().to_string(),
        scenario_sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
        extends: chain.iter().skip(1).map(|p| p.display().to_string()).collect(),
        seed: sc.seed,
        paths: sc.paths,
        quarters: sc.quarters,
        threads,
        tool: env!("CARGO_PKG_NAME"),
        tool_version: env!("CARGO_PKG_VERSION"),
        wall_seconds: wall,
        paths_per_second: sc.paths as f64 / wall,
        sampling: sc.sampling.name(),
        precision: None,
        quantiles: QuantileMethod::default(),
    }
}

/// Write a scenario's results into `dir`: the CSV files, the charts, the
/// paired differences, and `run.json` last (its presence says the run's
/// files are all there).
/// Files of a run's folder that a new run replaces (every other entry, such
/// as a stress test's `portfolio-*` folder or shard files, is kept).
fn run_owns(name: &str) -> bool {
    matches!(
        name,
        "summary.csv"
            | "summary.json"
            | "report.html"
            | "errors.csv"
            | "fan.csv"
            | "revenue.csv"
            | "run.json"
            | "samples.csv"
            | "loss.png"
            | "fan.png"
            | "exceedance.png"
            | "concentration.png"
    ) || (name.starts_with("loss-") && name.ends_with(".png"))
        || (name.starts_with("paired-") && name.ends_with(".csv"))
}

/// Write a run's files into a staging folder beside `target` and move it
/// into place in one step ([`crate::outdir`]): the previous results stay
/// whole until the new ones are.
#[allow(clippy::too_many_arguments)]
fn write_outputs(
    target: &Path,
    sc: &Scenario,
    chain: &[PathBuf],
    summary: &ScenarioSummary,
    info: RunInfo,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    paired: Option<(&Scenario, &[report::PairedRow])>,
    samples: Option<backlog_risk::engine::SampleRows>,
) -> Result<()> {
    let staging = crate::outdir::Staging::new(target)?;
    let dir = staging.dir.as_path();
    if let Some(rows) = samples {
        crate::files::samples_csv(&dir.join("samples.csv"), &rows.header(), rows)?;
    }
    crate::files::write_atomic(&dir.join("summary.csv"), &output::summary_csv(summary)?)?;
    crate::files::write_atomic(&dir.join("errors.csv"), &output::errors_csv(summary)?)?;
    crate::files::write_atomic(&dir.join("summary.json"), &output::summary_json(summary)?)?;
    crate::files::write_atomic(&dir.join("fan.csv"), &output::fan_csv(summary)?)?;
    crate::files::write_atomic(&dir.join("revenue.csv"), &output::revenue_csv(summary)?)?;
    let charts = write_charts(dir, summary, opts, pool)?;
    if let Some((base, rows)) = paired {
        crate::files::write_atomic(&dir.join(format!("paired-{}.csv", base.name)), &output::rows_csv(rows)?)?;
    }
    let assumptions = scenario::assumptions::assumptions(sc, chain);
    let page = backlog_risk::writers::html::report_html(&backlog_risk::writers::html::ReportInput {
        summary,
        assumptions: &assumptions,
        headline: &headline(summary),
        info: &info,
        charts: &charts,
    });
    crate::files::write_atomic(&dir.join("report.html"), page.as_bytes())?;
    crate::files::write_atomic(&dir.join("run.json"), &output::run_json(&info)?)?;
    staging.commit(run_owns)
}

/// Draw the scenario's charts into `dir`: rendered side by side on the
/// run's thread pool, then written in a fixed order. Returns them by file
/// name, for the report.
fn write_charts(
    dir: &Path,
    s: &ScenarioSummary,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
) -> Result<Vec<(String, Vec<u8>)>> {
    if opts.charts == Charts::None {
        return Ok(Vec::new());
    }
    let size = opts.chart_size;
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
    if opts.charts == Charts::All {
        list.extend(s.providers.iter().enumerate().map(|(p, name)| (format!("loss-{name}.png"), Chart::Loss(p))));
    }
    let pngs: Vec<(String, backlog_risk::Result<Vec<u8>>)> = pool.install(|| {
        list.into_par_iter()
            .map(|(name, chart)| {
                let png = match chart {
                    Chart::Loss(p) => charts::loss_png(s, p, size),
                    Chart::Fan => charts::fan_png(s, size),
                    Chart::Exceedance => charts::exceedance_png(s, size),
                    Chart::Concentration => charts::concentration_png(s, size),
                };
                (name, png)
            })
            .collect()
    });
    let mut drawn = Vec::new();
    for (name, png) in pngs {
        let path = dir.join(&name);
        let png = png.with_context(|| format!("cannot draw {}", path.display()))?;
        crate::files::write_atomic(&path, &png)?;
        drawn.push((name, png));
    }
    Ok(drawn)
}

/// `$12.3bn`, `-$4.0bn`, `$1,235.8bn`: one decimal, thousands grouped.
pub fn money(x: f64) -> String {
    charts::bn_axis(10.0)(x)
}

/// One line per scenario: the focus provider's loss against plan.
pub fn headline(s: &ScenarioSummary) -> String {
    let c = &s.concentration[s.focus];
    let shown = &s.display[s.focus];
    let who = match &c.customer {
        Some(cu) => format!("{shown} ({cu} {:.0}% of its starting backlog)", c.share * 100.0),
        None => shown.clone(),
    };
    let horizon = s.labels.last().map_or("", |l| l.as_str());
    match s.loss(&c.provider) {
        Some(l) => format!(
            "{}: {who}: loss vs plan at {horizon}: expected {} (se {:.2}), VaR99 {}, ES99 {} [plan backlog {}, {} paths]",
            s.name,
            money(l.mean),
            l.se,
            money(l.var99.unwrap_or(f64::NAN)),
            money(l.es99.unwrap_or(f64::NAN)),
            money(s.plan.backlog[s.focus]),
            s.paths
        ),
        None => format!("{}: {who}", s.name),
    }
}

/// `backlog-risk show`: the resolved scenario (with `extends` merged) as TOML.
pub fn show(file: &Path) -> Result<bool> {
    let r = scenario::resolve(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{}", r.text);
    if !r.text.ends_with('\n') {
        println!();
    }
    match scenario::parse_resolved(&r, file) {
        Ok(_) => Ok(true),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(false)
        }
    }
}
