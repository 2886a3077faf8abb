//! The commands: find scenario files, run each in isolation, write its
//! results as soon as it finishes, and report.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use backlog_risk::api;
use backlog_risk::engine::{CHUNK, Engine, shard_chunks};
use backlog_risk::model::{Sampling, Scenario};
use backlog_risk::report::{self, ScenarioSummary};
use backlog_risk::scenario;
use backlog_risk::writers::charts::ChartSize;
use backlog_risk::writers::export;
use backlog_risk::writers::output::RunInfo;
use backlog_risk::writers::shard::{self, ShardFile, SweepShard};
use backlog_risk_files::DirSink;

mod explain;
mod path;
mod run;
mod shards;
mod stress;
mod sweep;

pub use explain::{ExplainWhat, explain};
pub use path::path;
pub use run::{batch_report, run};
pub use shards::{merge, run_shard};
pub use stress::stress;
pub use sweep::{SweepOptions, parse_vary, sweep};

pub use backlog_risk::writers::export::Charts;
pub use backlog_risk::writers::text::{headline, money};

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
    /// Write the Excel workbooks (not `--no-xlsx`).
    pub workbooks: bool,
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
    /// False when a `--precision` target was not met within `--max-paths`.
    pub met: bool,
}

/// `1 customer`, `2 customers`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Whether `file` is a portfolio file (a TOML file with a top-level
/// `[portfolio]` table) rather than a scenario.
fn is_portfolio(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else { return false };
    match text.parse::<toml::Table>() {
        Ok(t) => t.get("portfolio").is_some_and(toml::Value::is_table) && t.get("scenario").is_none(),
        // A file that is not valid TOML: by its tables' headers.
        Err(_) => {
            let has = |h: &str| text.lines().any(|l| l.trim() == h);
            has("[portfolio]") && !has("[scenario]")
        }
    }
}

/// `backlog-risk validate`: true when every file (a scenario or a
/// portfolio) is valid.
pub fn validate(inputs: &[PathBuf], quiet: bool) -> Result<bool> {
    let mut ok = true;
    for file in collect_inputs(inputs)? {
        if is_portfolio(&file) {
            match backlog_risk::portfolio::load(&file) {
                Ok(_) if quiet => {}
                Ok(p) => println!(
                    "ok    {} (portfolio {}: {}, value {} {}, {})",
                    file.display(),
                    p.name,
                    count(p.holdings.len(), "holding"),
                    p.value,
                    p.unit,
                    p.horizon.map_or("each scenario's horizon".to_string(), |h| format!("horizon {h} quarters"))
                ),
                Err(e) => {
                    ok = false;
                    eprintln!("error: {}", crate::errors::core_text(&e));
                }
            }
            continue;
        }
        match scenario::load(&file) {
            Ok(_) if quiet => {}
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

/// Load a scenario and apply `--paths`, `--seed`, `--sampling` and
/// `--focus`. A flag that does not fit the scenario is an
/// [`backlog_risk::Error::Option`] in the file's context (the command line
/// shows it as `FILE: --FLAG VALUE: why`); a field of the file names its
/// field and line.
fn load_with_overrides(file: &Path, opts: &RunOptions) -> Result<Loaded> {
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
        return Err(match opts.sampling {
            Some(s) => in_file(file, backlog_risk::Error::option("sampling", format!("{}: {message}", s.name()))),
            None => field_error(file, "scenario.sampling", message),
        });
    }
    apply_focus(&mut sc, opts.focus.as_deref(), file)?;
    if let Some(message) = too_many_paths(sc.paths, opts) {
        return Err(match opts.paths {
            Some(p) => in_file(file, backlog_risk::Error::option("paths", format!("{p}: {message}"))),
            None => field_error(file, "scenario.paths", message),
        });
    }
    Ok((sc, r))
}

/// A core error about a flag, in the context of the file it applies to.
fn in_file(file: &Path, e: backlog_risk::Error) -> anyhow::Error {
    anyhow::Error::new(e).context(file.display().to_string())
}

/// An error at a field of a scenario file, with no line (the value is the
/// resolved one, perhaps from a base file).
fn field_error(file: &Path, field: &str, message: String) -> anyhow::Error {
    scenario::ScenarioError::new(file, field, message).into()
}

/// Point `sc.focus` at the provider named by `--focus`, if given; an error
/// naming the scenario's providers when it has no such provider.
fn apply_focus(sc: &mut Scenario, focus: Option<&str>, file: &Path) -> Result<()> {
    let Some(name) = focus else { return Ok(()) };
    match sc.providers.iter().position(|p| p.name == name) {
        Some(p) => {
            sc.focus = p;
            Ok(())
        }
        None => Err(in_file(
            file,
            backlog_risk::Error::option(
                "focus",
                format!(
                    "{name}: scenario `{}` has no provider `{name}`; its providers are {}",
                    sc.name,
                    sc.providers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
        )),
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
    RunInfo::new(sc, &file.display().to_string(), text, chain, threads, wall)
}

/// An observer that reports progress through `advance` and stops when
/// Ctrl-C is pressed ([`crate::interrupt`]).
fn observer<'a>(advance: &'a (dyn Fn(u64) + Sync)) -> api::Observer<'a> {
    api::Observer::new().with_progress(advance).with_cancel(&crate::interrupt::token())
}

/// Write a run's files ([`export::RUN_EXPORTERS`]) into a staging folder
/// beside `target` and move it into place in one step ([`crate::outdir`]):
/// the previous results stay whole until the new ones are.
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
    samples: Option<(u64, u64)>,
) -> Result<()> {
    let line = headline(summary);
    let cx = export::RunContext {
        scenario: sc,
        chain,
        summary,
        info: &info,
        headline: &line,
        charts: opts.charts,
        chart_size: opts.chart_size,
        paired,
        samples,
        workbook: opts.workbooks,
    };
    let what = format!("the results of {}", sc.name);
    backlog_risk_files::write_folder(target, export::run_owns, &what, |sink| {
        pool.install(|| export::export_run(&cx, sink))
    })
}

/// Write shard file `file` into folder `dir` ([`export::SHARD_EXPORTERS`]);
/// returns its path.
fn write_shard(dir: &Path, file: &ShardFile) -> Result<PathBuf> {
    export::export_shard(&export::ShardContext { file }, &mut DirSink::new(dir))?;
    Ok(dir.join(export::shard_name(file)))
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

/// `serve`: load the scenarios, listen, print the URL, serve until the
/// process is stopped.
pub fn serve(args: &crate::cli::ServeArgs) -> Result<()> {
    let inputs = if args.inputs.is_empty() { vec![PathBuf::from("scenarios")] } else { args.inputs.clone() };
    let files = collect_inputs(&inputs)?;
    let limits = backlog_risk_serve::Limits { max_paths: args.max_paths, ..Default::default() };
    let explorer = std::sync::Arc::new(backlog_risk_serve::Explorer::load(&files, limits)?);
    let n = explorer.entries().len();
    let quiet = args.quiet;
    let addr = format!("{}:{}", args.host, args.port);
    backlog_risk_serve::serve(explorer, &addr, backlog_risk_serve::WORKERS, &crate::interrupt::token(), |bound| {
        println!("serving {n} scenario(s) at http://{bound}/ (stop with Ctrl-C)");
        if !quiet && !bound.ip().is_loopback() {
            eprintln!("warning: {bound} is reachable from other machines; the explorer has no login");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}
