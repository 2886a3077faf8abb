//! The commands: find scenario files, run each in isolation, write its
//! results as soon as it finishes, and report.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::charts::{self, ChartSize};
use crate::engine::driver::Paired;
use crate::engine::{Accumulator, CHUNK, Engine, shard_chunks};
use crate::model::Scenario;
use crate::output::{self, QuantileMethod, RunInfo};
use crate::report::{self, ScenarioSummary};
use crate::scenario;
use crate::shard::{self, ShardFile, SweepShard};

/// Which charts a run draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charts {
    None,
    /// loss.png for the most concentrated provider, fan, exceedance, concentration.
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
        } else if input.to_string_lossy().contains(['*', '?', '[']) {
            let pattern = input.to_string_lossy();
            let mut found: Vec<PathBuf> = glob::glob(&pattern)
                .with_context(|| format!("{pattern}: not a valid pattern"))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("{pattern}: the pattern matches no file");
            }
            files.extend(found);
        } else {
            bail!("{}: no such file or folder; give a scenario file (*.toml) or a folder of them", input.display());
        }
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

/// `backlog-risk validate`: true when every file is valid.
pub fn validate(inputs: &[PathBuf]) -> Result<bool> {
    let mut ok = true;
    for file in collect_inputs(inputs)? {
        match scenario::load(&file) {
            Ok(sc) => println!(
                "ok    {} (scenario {}: {} providers, {} customers, {} renegotiation rules, {} quarters)",
                file.display(),
                sc.name,
                sc.providers.len(),
                sc.customers.len(),
                sc.rules.len(),
                sc.quarters
            ),
            Err(e) => {
                ok = false;
                eprintln!("error {e}");
            }
        }
    }
    Ok(ok)
}

/// `backlog-risk run`: every scenario is loaded, run and written on its own;
/// one failure does not stop the others. Returns the outcomes in input order.
pub fn run(opts: &RunOptions) -> Result<Vec<Outcome>> {
    let files = collect_inputs(&opts.inputs)?;
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build().context("cannot start the worker threads")?;

    let mut loaded: Vec<(PathBuf, Result<Loaded, String>)> = Vec::new();
    for file in files {
        let res = load_with_overrides(&file, opts).map_err(|e| e.to_string()).and_then(|(sc, r)| {
            match loaded.iter().find(|(_, l)| l.as_ref().is_ok_and(|(o, _)| o.name == sc.name)) {
                Some((other, _)) => Err(format!(
                    "{}: scenario.name `{}` is already used by {}; both would write to the same output folder, so give this one another name",
                    file.display(),
                    sc.name,
                    other.display()
                )),
                None => Ok((sc, r)),
            }
        });
        loaded.push((file, res));
    }

    let base = match &opts.paired {
        Some(p) => Some(scenario::load(p).map_err(|e| anyhow::anyhow!("--paired: {e}"))?),
        None => None,
    };
    let total_paths: u64 = loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|(s, _)| s.paths).sum();
    let bar = progress_bar(total_paths, opts.quiet);
    let mut outcomes = Vec::new();
    let count = loaded.len();
    for (i, (file, sc)) in loaded.into_iter().enumerate() {
        let result = match sc {
            Err(e) => Err(e),
            Ok((sc, resolved)) => {
                bar.set_prefix(format!("[{}/{count}] {}", i + 1, sc.name));
                run_one(&file, &sc, &resolved, opts, &pool, &bar, base.as_ref())
                    .map_err(|e| format!("{}: {e:#}", file.display()))
            }
        };
        match &result {
            Ok(s) if !opts.quiet => bar.suspend(|| println!("{}", headline(s))),
            Err(e) => bar.suspend(|| eprintln!("error {e}")),
            _ => {}
        }
        outcomes.push(Outcome { file, result });
    }
    bar.finish_and_clear();
    write_comparison(&outcomes, opts)?;
    output::write_atomic(
        &opts.out.join("batch.csv"),
        &output::batch_csv(&outcomes.iter().map(|o| (o.file.as_path(), &o.result)).collect::<Vec<_>>())?,
    )?;
    Ok(outcomes)
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
    Ok((sc, r))
}

fn run_one(
    file: &Path,
    sc: &Scenario,
    resolved: &scenario::Resolved,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    bar: &ProgressBar,
    base: Option<&Scenario>,
) -> Result<ScenarioSummary> {
    let started = Instant::now();
    let engine = Engine::new(sc);
    let base = base.filter(|b| b.name != sc.name);
    // A paired run simulates both scenarios once, side by side.
    let (acc, paired) = match base {
        Some(b) => {
            let r = pool.install(|| engine.run_paired(&Engine::new(b), sc.seed, sc.paths, &|n| bar.inc(n)));
            (r.mine.clone(), Some((b, r)))
        }
        None => (pool.install(|| engine.run(sc.seed, sc.paths, &|n| bar.inc(n))), None),
    };
    let summary = report::summarise(&engine, &acc, sc.seed);
    let wall = started.elapsed().as_secs_f64();
    let info = run_info(sc, file, &resolved.text, &resolved.chain, opts.threads, wall);
    write_outputs(&opts.out.join(&sc.name), &summary, info, opts, pool, paired.as_ref().map(|(b, r)| (*b, r)))?;
    Ok(summary)
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
        quantiles: QuantileMethod::default(),
    }
}

/// Write a scenario's results into `dir`: the CSV files, the charts, the
/// paired differences, and `run.json` last (its presence says the run's
/// files are all there).
fn write_outputs(
    dir: &Path,
    summary: &ScenarioSummary,
    info: RunInfo,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    paired: Option<(&Scenario, &Paired)>,
) -> Result<()> {
    output::write_atomic(&dir.join("summary.csv"), &output::summary_csv(summary)?)?;
    output::write_atomic(&dir.join("errors.csv"), &output::errors_csv(summary)?)?;
    output::write_atomic(&dir.join("fan.csv"), &output::fan_csv(summary)?)?;
    output::write_atomic(&dir.join("revenue.csv"), &output::revenue_csv(summary)?)?;
    write_charts(dir, summary, opts, pool)?;
    if let Some((base, r)) = paired {
        let rows = report::paired(summary, r);
        output::write_atomic(&dir.join(format!("paired-{}.csv", base.name)), &output::rows_csv(&rows)?)?;
    }
    output::write_atomic(&dir.join("run.json"), &output::run_json(&info)?)?;
    Ok(())
}

/// `backlog-risk run --shard K/N`: simulate shard K of N of every scenario
/// and write `OUT/NAME/shard-K-of-N.bin` for `merge`. True when every
/// scenario ran.
pub fn run_shard(opts: &RunOptions, (k, n): (u64, u64)) -> Result<bool> {
    if opts.paired.is_some() {
        bail!("--shard with --paired is not supported yet: run the shards without --paired");
    }
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build().context("cannot start the worker threads")?;
    let mut ok = true;
    for file in collect_inputs(&opts.inputs)? {
        let (sc, resolved) = match load_with_overrides(&file, opts) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error {e}");
                ok = false;
                continue;
            }
        };
        let engine = Engine::new(&sc);
        let chunks = shard_chunks(sc.paths, k, n);
        let (first, last) = (chunks.start * CHUNK, (chunks.end * CHUNK).min(sc.paths));
        let bar = progress_bar(last.saturating_sub(first), opts.quiet);
        bar.set_prefix(format!("{} shard {k}/{n}", sc.name));
        let partial = pool.install(|| engine.run_chunks(sc.seed, sc.paths, chunks, &|x| bar.inc(x)));
        bar.finish_and_clear();
        let info = run_info(&sc, &file, &resolved.text, &resolved.chain, opts.threads, 0.0);
        let shard = ShardFile {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            scenario: sc.name.clone(),
            scenario_file: info.scenario_file,
            scenario_sha256: info.scenario_sha256,
            scenario_text: resolved.text.clone(),
            extends: info.extends,
            seed: sc.seed,
            paths: sc.paths,
            shards: n,
            shard: k,
            partial,
            sweep: None,
        };
        let path = opts.out.join(&sc.name).join(shard::file_name(k, n));
        output::write_atomic(&path, &shard::encode(&shard)?)?;
        if !opts.quiet {
            println!("{}: shard {k} of {n}, paths {first}..{last} of {}: wrote {}", sc.name, sc.paths, path.display());
        }
    }
    Ok(ok)
}

/// Read and decode one shard file.
fn read_shard(f: &Path) -> Result<ShardFile> {
    let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
    shard::decode(&bytes).with_context(|| f.display().to_string())
}

/// `merge` of the shards of a sweep: every point's accumulator, in grid
/// order, then the files `sweep` writes.
fn merge_sweep(files: &[PathBuf], opts: &RunOptions) -> Result<()> {
    let first_file = &files[0];
    let first = read_shard(first_file)?;
    let mut seen: Vec<Option<&PathBuf>> = vec![None; first.shards as usize];
    let mut parts: Vec<(u64, u64, Vec<Accumulator>)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let s = if i == 0 { first.clone() } else { read_shard(f)? };
        admit(first_file, &first, f, &s, &mut seen)?;
        let w = s.sweep.with_context(|| format!("{}: not a sweep shard", f.display()))?;
        parts.push((s.shard, w.first_point, w.points));
    }
    all_there(&seen, &first)?;
    parts.sort_by_key(|p| p.0);
    let w = first.sweep.as_ref().expect("checked above");
    let file = PathBuf::from(&first.scenario_file);
    let base = scenario::parse(&first.scenario_text, &file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let run = RunOptions { paths: Some(first.paths), seed: Some(first.seed), ..opts.clone() };
    let plan = plan_sweep(&file, base, &first.scenario_text, &w.vary, Some(&w.metric), &w.stat, &run)?;
    let mut accs = Vec::with_capacity(plan.points.len());
    for (k, at, points) in parts {
        if at as usize != accs.len() || shard_points(plan.points.len(), k, first.shards).len() != points.len() {
            bail!("sweep shard {k} of {} does not hold the points it should", first.shards);
        }
        accs.extend(points);
    }
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build().context("cannot start the worker threads")?;
    let sweep = SweepOptions {
        file,
        vary: w.vary.clone(),
        stat: w.stat.clone(),
        metric: Some(w.metric.clone()),
        run,
        shard: None,
    };
    write_sweep(&plan, accs, &sweep, &pool)
}

/// Check shard file `f` against the first of its run, and that no other
/// file was the same shard.
fn admit<'a>(
    first_file: &Path,
    first: &ShardFile,
    f: &'a PathBuf,
    s: &ShardFile,
    seen: &mut [Option<&'a PathBuf>],
) -> Result<()> {
    let differs = [
        ("scenario", s.scenario != first.scenario),
        ("scenario text (SHA-256)", s.scenario_sha256 != first.scenario_sha256),
        ("seed", s.seed != first.seed),
        ("paths", s.paths != first.paths),
        ("shard count N", s.shards != first.shards),
        ("tool version", s.tool_version != first.tool_version),
        (
            "swept parameters",
            s.sweep.as_ref().map(|w| (&w.vary, &w.stat, &w.metric))
                != first.sweep.as_ref().map(|w| (&w.vary, &w.stat, &w.metric)),
        ),
    ];
    if let Some((what, _)) = differs.iter().find(|(_, d)| *d) {
        bail!(
            "{}: a shard of another run than {} (its {what} differs); merge the shards of one run",
            f.display(),
            first_file.display()
        );
    }
    let n = first.shards;
    match seen.get_mut(s.shard as usize) {
        Some(Some(earlier)) => bail!("{} and {} are both shard {} of {n}", earlier.display(), f.display(), s.shard),
        Some(slot) => *slot = Some(f),
        None => bail!("{}: shard {} of {n} is out of range", f.display(), s.shard),
    }
    Ok(())
}

/// Every shard 0 .. N seen, or an error listing the missing ones.
fn all_there(seen: &[Option<&PathBuf>], first: &ShardFile) -> Result<()> {
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(k, _)| k.to_string()).collect();
    if !missing.is_empty() {
        bail!(
            "shard {} of {} of scenario {} missing (expected {} for each missing K)",
            missing.join(", "),
            first.shards,
            first.scenario,
            shard::file_name(0, first.shards).replace("-0-", "-K-")
        );
    }
    Ok(())
}

/// `backlog-risk merge`: read the shard files of one run (folders stand for
/// the `shard-*-of-*.bin` files inside), check that they are all there once
/// and belong together, and write the outputs of the whole run into
/// `OUT/NAME/`. Nothing is written when a check fails.
pub fn merge(inputs: &[PathBuf], opts: &RunOptions) -> Result<()> {
    let started = Instant::now();
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let keep = |p: &Path| p.file_name().is_some_and(|n| shard::kind(&n.to_string_lossy()).is_some());
            files.extend(list_folder(input, keep, "shard-K-of-N.bin files (written by `run --shard K/N`)")?);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            bail!("{}: no such file or folder; give shard files or the folder that holds them", input.display());
        }
    }
    let sweeps = files.iter().filter(|f| shard::is_sweep(f)).count();
    if sweeps == files.len() {
        return merge_sweep(&files, opts);
    } else if sweeps > 0 {
        bail!("the shards given are of a run and of a sweep; merge each on its own (shard-*.bin or sweep-shard-*.bin)");
    }
    // One shard in memory at a time: checked against the first, then its
    // partial result merged and dropped.
    let first_file = &files[0];
    let mut first = read_shard(first_file)?;
    let mut first_partial = std::mem::take(&mut first.partial);
    let n = first.shards;
    let file = PathBuf::from(&first.scenario_file);
    let mut sc = scenario::parse(&first.scenario_text, &file).map_err(|e| anyhow::anyhow!("{e}"))?;
    (sc.seed, sc.paths) = (first.seed, first.paths);
    let engine = Engine::new(&sc);
    let mut merger = engine.merger();
    let mut seen: Vec<Option<&PathBuf>> = vec![None; n as usize];
    for (i, f) in files.iter().enumerate() {
        let mut other = if i == 0 { None } else { Some(read_shard(f)?) };
        let s = other.as_ref().unwrap_or(&first);
        admit(first_file, &first, f, s, &mut seen)?;
        let partial = match other.take() {
            Some(o) => o.partial,
            None => std::mem::take(&mut first_partial),
        };
        merger.add(partial).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
    }
    all_there(&seen, &first)?;
    let (text, chain) = (first.scenario_text.clone(), first.extends.iter().map(PathBuf::from).collect::<Vec<_>>());
    let acc = merger.finish(sc.paths).map_err(|e| anyhow::anyhow!("the shards do not fit together: {e}"))?;
    let summary = report::summarise(&engine, &acc, sc.seed);
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build().context("cannot start the worker threads")?;
    let chain: Vec<PathBuf> = std::iter::once(file.clone()).chain(chain).collect();
    let info = run_info(&sc, &file, &text, &chain, opts.threads, started.elapsed().as_secs_f64());
    write_outputs(&opts.out.join(&sc.name), &summary, info, opts, &pool, None)?;
    if !opts.quiet {
        println!("merged {n} shards: {}", headline(&summary));
    }
    Ok(())
}

/// Draw the scenario's charts into `dir`: rendered side by side on the
/// run's thread pool, then written in a fixed order.
fn write_charts(dir: &Path, s: &ScenarioSummary, opts: &RunOptions, pool: &rayon::ThreadPool) -> Result<()> {
    if opts.charts == Charts::None {
        return Ok(());
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
        ("loss.png".to_string(), Chart::Loss(s.most_concentrated)),
        ("fan.png".to_string(), Chart::Fan),
        ("exceedance.png".to_string(), Chart::Exceedance),
        ("concentration.png".to_string(), Chart::Concentration),
    ];
    if opts.charts == Charts::All {
        list.extend(s.providers.iter().enumerate().map(|(p, name)| (format!("loss-{name}.png"), Chart::Loss(p))));
    }
    let pngs: Vec<(String, Result<Vec<u8>>)> = pool.install(|| {
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
    for (name, png) in pngs {
        let path = dir.join(&name);
        output::write_atomic(&path, &png.with_context(|| format!("cannot draw {}", path.display()))?)?;
    }
    Ok(())
}

/// `OUT/comparison.csv` and, with charts, `OUT/comparison.png` for a run of
/// several scenarios.
pub fn write_comparison(outcomes: &[Outcome], opts: &RunOptions) -> Result<()> {
    let ok: Vec<&ScenarioSummary> = outcomes.iter().filter_map(|o| o.result.as_ref().ok()).collect();
    if ok.len() < 2 {
        return Ok(());
    }
    let rows = report::comparison(&ok);
    output::write_atomic(&opts.out.join("comparison.csv"), &output::rows_csv(&rows)?)?;
    if opts.charts != Charts::None {
        let png = charts::comparison_png(&rows, opts.chart_size).context("cannot draw comparison.png")?;
        output::write_atomic(&opts.out.join("comparison.png"), &png)?;
    }
    Ok(())
}

/// `$12.3bn`, `-$4.0bn`.
pub fn money(x: f64) -> String {
    if x < 0.0 { format!("-${:.1}bn", -x) } else { format!("${x:.1}bn") }
}

/// One line per scenario: the most concentrated provider's loss against plan.
pub fn headline(s: &ScenarioSummary) -> String {
    let c = &s.concentration[s.most_concentrated];
    let who = match &c.customer {
        Some(cu) => format!("{} ({} {:.0}% of its starting backlog)", c.provider, cu, c.share * 100.0),
        None => c.provider.clone(),
    };
    let horizon = s.labels.last().map_or("", |l| l.as_str());
    match s.metric(&format!("loss.{}", c.provider)) {
        Some(l) => format!(
            "{}: {who}: loss vs plan at {horizon}: expected {} (se {:.2}), VaR99 {}, ES99 {} [plan backlog {}, {} paths]",
            s.name,
            money(l.mean),
            l.se,
            money(l.var99.unwrap_or(f64::NAN)),
            money(l.es99.unwrap_or(f64::NAN)),
            money(s.plan.backlog[s.most_concentrated]),
            s.paths
        ),
        None => format!("{}: {who}", s.name),
    }
}

/// The closing report of a batch: one line per scenario, ok or its error.
pub fn batch_report(outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let mut s = format!("{} scenarios: {} ok, {} failed\n", outcomes.len(), outcomes.len() - failed, failed);
    for o in outcomes {
        match &o.result {
            Ok(sum) => s.push_str(&format!("  ok     {} ({})\n", o.file.display(), sum.name)),
            Err(e) => s.push_str(&format!("  failed {}: {e}\n", o.file.display())),
        }
    }
    s
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
            eprintln!("error {e}");
            Ok(false)
        }
    }
}

/// Settings of `sweep`.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub file: PathBuf,
    /// Field path and its values, one or two.
    pub vary: Vec<(String, Vec<f64>)>,
    pub stat: String,
    pub metric: Option<String>,
    pub run: RunOptions,
    /// Run only the points of shard K of N and write a sweep shard file.
    pub shard: Option<(u64, u64)>,
}

/// Parse `PATH=SPEC` with SPEC a list `0.1,0.2` or a range `0.05..0.5:10`
/// (10 evenly spaced values, both ends included).
pub fn parse_vary(s: &str) -> Result<(String, Vec<f64>), String> {
    let (path, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write PATH=SPEC, e.g. renegotiation[0].hazard=0.05..0.5:10"))?;
    let num = |v: &str| v.trim().parse::<f64>().map_err(|_| format!("`{v}` in `{s}` is not a number"));
    let values = if let Some((range, n)) = spec.split_once(':') {
        let (a, b) = range.split_once("..").ok_or_else(|| format!("`{spec}`: a range is LO..HI:N"))?;
        let (a, b) = (num(a)?, num(b)?);
        let n: usize = n.trim().parse().map_err(|_| format!("`{n}` in `{s}` is not a whole number of points"))?;
        if !(2..=1000).contains(&n) {
            return Err(format!("`{s}`: use 2 to 1000 points"));
        }
        // Rounded to 12 decimals so that 0.05..0.5:6 gives 0.23, not 0.22999999999999998.
        (0..n).map(|i| ((a + (b - a) * i as f64 / (n - 1) as f64) * 1e12).round() / 1e12).collect()
    } else {
        spec.split(',').map(num).collect::<Result<Vec<f64>, String>>()?
    };
    if values.is_empty() {
        return Err(format!("`{s}` gives no values"));
    }
    Ok((path.trim().to_string(), values))
}

/// `backlog-risk sweep`: run every grid point with the same seed (common
/// random numbers), in parallel, and write `sweep.csv` and `sweep.png`.
pub fn sweep(opts: &SweepOptions) -> Result<()> {
    let (base, resolved) = scenario::load_resolved(&opts.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = plan_sweep(&opts.file, base, &resolved.text, &opts.vary, opts.metric.as_deref(), &opts.stat, &opts.run)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.run.threads)
        .build()
        .context("cannot start the worker threads")?;
    // The points of this shard, or all of them.
    let (k, n) = opts.shard.unwrap_or((0, 1));
    let share = shard_points(plan.points.len(), k, n);
    let points = &plan.points[share.clone()];
    let bar = progress_bar(points.iter().map(|p| p.paths).sum(), opts.run.quiet);
    let done = AtomicU64::new(0);
    let prefix = |d: u64| format!("{} sweep [{d}/{} points]", plan.base.name, points.len());
    bar.set_prefix(prefix(0));
    let accs: Vec<Accumulator> = pool.install(|| {
        points
            .par_iter()
            .map(|sc| {
                let acc = Engine::new(sc).run(sc.seed, sc.paths, &|n| bar.inc(n));
                bar.set_prefix(prefix(done.fetch_add(1, Ordering::Relaxed) + 1));
                acc
            })
            .collect()
    });
    bar.finish_and_clear();
    if opts.shard.is_none() {
        return write_sweep(&plan, accs, opts, &pool);
    }
    let path = opts.run.out.join(&plan.base.name).join(shard::sweep_file_name(k, n));
    let info = run_info(&plan.base, &opts.file, &resolved.text, &resolved.chain, opts.run.threads, 0.0);
    let file = ShardFile {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        scenario: plan.base.name.clone(),
        scenario_file: info.scenario_file,
        scenario_sha256: info.scenario_sha256,
        scenario_text: resolved.text.clone(),
        extends: info.extends,
        seed: plan.points[0].seed,
        paths: plan.points[0].paths,
        shards: n,
        shard: k,
        partial: Default::default(),
        sweep: Some(SweepShard {
            vary: opts.vary.clone(),
            stat: opts.stat.clone(),
            metric: plan.metric.clone(),
            first_point: share.start as u64,
            points: accs,
        }),
    };
    output::write_atomic(&path, &shard::encode(&file)?)?;
    if !opts.run.quiet {
        println!(
            "{}: sweep shard {k} of {n}, points {}..{} of {}: wrote {}",
            plan.base.name,
            share.start,
            share.end,
            plan.points.len(),
            path.display()
        );
    }
    Ok(())
}

/// The points of sweep shard `k` of `n` out of `points`:
/// `floor(k P / n) .. floor((k + 1) P / n)`.
fn shard_points(points: usize, k: u64, n: u64) -> std::ops::Range<usize> {
    let at = |k: u64| (k as u128 * points as u128 / n as u128) as usize;
    at(k)..at(k + 1)
}

/// A sweep made concrete: the base scenario, the grid of values and one
/// scenario per point, the metric and statistic checked.
struct SweepPlan {
    base: Scenario,
    grid: Vec<Vec<f64>>,
    points: Vec<Scenario>,
    metric: String,
    stat: String,
    vary: Vec<(String, Vec<f64>)>,
}

fn plan_sweep(
    file: &Path,
    base: Scenario,
    text: &str,
    vary: &[(String, Vec<f64>)],
    metric: Option<&str>,
    stat: &str,
    run: &RunOptions,
) -> Result<SweepPlan> {
    let grid: Vec<Vec<f64>> = match vary {
        [(_, xs)] => xs.iter().map(|x| vec![*x]).collect(),
        [(_, xs), (_, ys)] => xs.iter().flat_map(|x| ys.iter().map(move |y| vec![*x, *y])).collect(),
        _ => bail!("give one or two --vary options"),
    };
    let mut points = Vec::new();
    for values in &grid {
        let mut text = text.to_string();
        for ((path, _), v) in vary.iter().zip(values) {
            text = scenario::set_number(&text, path, *v).map_err(|e| anyhow::anyhow!("--vary {path}: {e}"))?;
        }
        let at = vary.iter().zip(values).map(|((p, _), v)| format!("{p} = {v}")).collect::<Vec<_>>().join(", ");
        let mut sc = scenario::parse(&text, file).map_err(|mut e| {
            e.line = None;
            anyhow::anyhow!("{e} (at the sweep point {at})")
        })?;
        sc.paths = run.paths.unwrap_or(base.paths);
        sc.seed = run.seed.unwrap_or(base.seed);
        points.push(sc);
    }
    let names = base.metric_names();
    let metric = match metric {
        Some(m) if names.iter().any(|n| n == m) => m.to_string(),
        Some(m) => bail!("--metric {m}: the scenario records no such metric; use one of {}", names.join(", ")),
        None => {
            let (_, most) = report::concentration(&base, &report::start_shares(&base));
            format!("loss.{}", base.providers[most].name)
        }
    };
    if !report::STAT_NAMES.contains(&stat) {
        bail!("--stat {stat}: use one of {}", report::STAT_NAMES.join(", "));
    }
    if !metric.starts_with("loss.") && ["var95", "es95", "var99", "es99"].contains(&stat) {
        bail!("--stat {stat}: VaR and ES are reported for loss.* metrics only; choose --metric loss.PROVIDER");
    }
    Ok(SweepPlan { base, grid, points, metric, stat: stat.to_string(), vary: vary.to_vec() })
}

/// Summarise every point of a sweep and write `sweep.csv` and `sweep.png`.
fn write_sweep(plan: &SweepPlan, accs: Vec<Accumulator>, opts: &SweepOptions, pool: &rayon::ThreadPool) -> Result<()> {
    let (metric, stat) = (&plan.metric, &plan.stat);
    let summaries: Vec<ScenarioSummary> = pool.install(|| {
        plan.points.par_iter().zip(accs).map(|(sc, acc)| report::summarise(&Engine::new(sc), &acc, sc.seed)).collect()
    });
    let dir = opts.run.out.join(&plan.base.name);
    let vary_names: Vec<&str> = plan.vary.iter().map(|(p, _)| p.as_str()).collect();
    output::write_atomic(&dir.join("sweep.csv"), &output::sweep_csv(&vary_names, &plan.grid, &summaries)?)?;
    let z: Vec<f64> =
        summaries.iter().map(|s| s.metric(metric).and_then(|m| m.stat(stat)).unwrap_or(f64::NAN)).collect();
    if opts.run.charts != Charts::None {
        let title = format!("{}: {stat} of {metric} across the sweep", plan.base.name);
        let subtitle = format!(
            "{} paths per point, seed {} at every point (common random numbers)",
            plan.points[0].paths, plan.points[0].seed
        );
        let is_money = !metric.starts_with("share.") && !metric.starts_with("events.");
        let fmt_money = |v: f64| charts::fmt_bn(v);
        let fmt_other = |v: f64| format!("{v:.3}");
        let stat_label = format!("{stat} of {metric}{}", if is_money { " ($bn)" } else { "" });
        let plot = charts::SweepPlot {
            title: &title,
            subtitle: &subtitle,
            stat: &stat_label,
            fmt: if is_money { &fmt_money } else { &fmt_other },
        };
        let png = match plan.vary.as_slice() {
            [(xname, xs)] => charts::sweep_line_png(&plot, xname, xs, &z, opts.run.chart_size),
            [(xname, xs), (yname, ys)] => {
                let rows: Vec<Vec<f64>> = z.chunks(ys.len()).map(|c| c.to_vec()).collect();
                charts::sweep_heatmap_png(&plot, (xname, xs), (yname, ys), &rows, opts.run.chart_size)
            }
            _ => unreachable!("one or two --vary checked above"),
        }
        .context("cannot draw sweep.png")?;
        output::write_atomic(&dir.join("sweep.png"), &png)?;
    }
    if !opts.run.quiet {
        for (values, v) in plan.grid.iter().zip(&z) {
            let at = vary_names.iter().zip(values).map(|(p, x)| format!("{p} = {x}")).collect::<Vec<_>>().join(", ");
            println!("{at}: {stat} of {metric} = {v:.4}");
        }
        println!("wrote {}", dir.join("sweep.csv").display());
    }
    Ok(())
}

/// `backlog-risk stress`: evaluate a portfolio on every path of each
/// scenario; results in `OUT/NAME/portfolio-PORTFOLIO/`, and across
/// scenarios `OUT/portfolio-PORTFOLIO.csv` and `.png`. Returns whether every
/// scenario succeeded.
pub fn stress(portfolio_file: &Path, opts: &RunOptions) -> Result<bool> {
    let portfolio = crate::portfolio::load(portfolio_file).map_err(|e| anyhow::anyhow!(e))?;
    let files = collect_inputs(&opts.inputs)?;
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build().context("cannot start the worker threads")?;
    let mut loaded = Vec::new();
    for file in files {
        let sc = load_with_overrides(&file, opts).map(|(sc, _)| sc);
        loaded.push((file, sc));
    }
    let bar = progress_bar(loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|s| s.paths).sum(), opts.quiet);
    let mut results = Vec::new();
    let mut ok = true;
    for (file, sc) in loaded {
        let res = sc.map_err(|e| e.to_string()).and_then(|sc| {
            bar.set_prefix(format!("{} x {}", portfolio.name, sc.name));
            let engine = Engine::new(&sc);
            let bound = portfolio.bind(&engine).map_err(|e| format!("{}: {e}", file.display()))?;
            let r = pool.install(|| bound.stress(&engine, sc.seed, sc.paths, &|n| bar.inc(n)));
            write_stress(&r, opts).map_err(|e| format!("{}: {e:#}", file.display()))?;
            Ok(r)
        });
        match &res {
            Ok(r) if !opts.quiet => bar.suspend(|| {
                println!(
                    "{} under {}: expected P&L {}, VaR99 {}, ES99 {}, P(loss > 10%) {} [{} paths]",
                    r.portfolio,
                    r.scenario,
                    charts::fmt_amount(r.measure("expected_pnl").unwrap_or(f64::NAN)),
                    charts::fmt_amount(r.measure("var99").unwrap_or(f64::NAN)),
                    charts::fmt_amount(r.measure("es99").unwrap_or(f64::NAN)),
                    charts::fmt_pct(r.measure("p_loss_gt_10pct").unwrap_or(f64::NAN)),
                    r.paths
                )
            }),
            Err(e) => {
                ok = false;
                bar.suspend(|| eprintln!("error {e}"));
            }
            _ => {}
        }
        if let Ok(r) = res {
            results.push(r);
        }
    }
    bar.finish_and_clear();
    if !results.is_empty() {
        let rows: Vec<crate::portfolio::ScenarioRisk> =
            results.iter().map(crate::portfolio::ScenarioRisk::from).collect();
        let name = format!("portfolio-{}", portfolio.name);
        output::write_atomic(&opts.out.join(format!("{name}.csv")), &output::rows_csv(&rows)?)?;
        if opts.charts != Charts::None {
            let mut cmp: Vec<report::ComparisonRow> = results
                .iter()
                .map(|r| report::ComparisonRow {
                    scenario: r.scenario.clone(),
                    // The title names the portfolio; rows need only the scenario.
                    provider: String::new(),
                    mean: r.loss.mean,
                    p5: r.loss.p5,
                    p25: r.loss.p25,
                    p50: r.loss.p50,
                    p75: r.loss.p75,
                    p95: r.loss.p95,
                    var95: r.measure("var95").unwrap_or(f64::NAN),
                    es95: r.measure("es95").unwrap_or(f64::NAN),
                    var99: r.measure("var99").unwrap_or(f64::NAN),
                    es99: r.measure("es99").unwrap_or(f64::NAN),
                })
                .collect();
            cmp.sort_by(|a, b| b.es99.total_cmp(&a.es99));
            let title = format!("Portfolio {} across scenarios: loss (negative P&L)", portfolio.name);
            let png = charts::intervals_png(
                &cmp,
                &format!("{name}.png"),
                &title,
                "portfolio loss at the horizon (currency units)",
                &charts::fmt_amount,
                opts.chart_size,
            )?;
            output::write_atomic(&opts.out.join(format!("{name}.png")), &png)?;
        }
    }
    Ok(ok)
}

fn write_stress(r: &crate::portfolio::StressResult, opts: &RunOptions) -> Result<()> {
    let dir = opts.out.join(&r.scenario).join(format!("portfolio-{}", r.portfolio));
    output::write_atomic(&dir.join("pnl.csv"), &output::rows_csv(std::slice::from_ref(&r.pnl))?)?;
    output::write_atomic(&dir.join("risk.csv"), &output::rows_csv(&r.risk)?)?;
    output::write_atomic(&dir.join("contributions.csv"), &output::rows_csv(&r.contributions)?)?;
    output::write_atomic(&dir.join("tail.csv"), &output::rows_csv(&r.tail)?)?;
    if opts.charts != Charts::None {
        let neg = |m: &str| -r.measure(m).unwrap_or(f64::NAN);
        let plot = charts::DistributionPlot {
            file: "pnl.png",
            title: format!("{} under {}: P&L", r.portfolio, r.scenario),
            subtitle: format!(
                "Portfolio value {}, {} paths; VaR99 and ES99 drawn where the P&L equals minus the loss in risk.csv; {} of paths beyond the axis",
                charts::fmt_amount(r.value),
                r.paths,
                charts::fmt_pct(r.histogram.outside as f64 / r.paths as f64)
            ),
            xdesc: "P&L at the horizon (portfolio currency units)".to_string(),
            hist: &r.histogram,
            paths: r.paths,
            marks: vec![
                charts::Mark { label: "mean", x: r.pnl.mean, color: charts::style::DARK, dashed: false },
                charts::Mark { label: "VaR99", x: neg("var99"), color: charts::style::ACCENT, dashed: false },
                charts::Mark { label: "ES99", x: neg("es99"), color: charts::style::ACCENT, dashed: true },
            ],
            fmt: &charts::fmt_amount,
        };
        output::write_atomic(
            &dir.join("pnl.png"),
            &charts::distribution_png(&plot, opts.chart_size).context("cannot draw pnl.png")?,
        )?;
        output::write_atomic(
            &dir.join("contributions.png"),
            &charts::contributions_png(r, opts.chart_size).context("cannot draw contributions.png")?,
        )?;
    }
    Ok(())
}
