//! `stress`: a portfolio evaluated on every simulated path.

use super::*;
use backlog_risk::portfolio::{Portfolio, ScenarioRisk, StressResult};
use backlog_risk::writers::shard::{Attached, Payload};

/// What became of one scenario of a stress test.
enum Done {
    Ran(Box<StressResult>, ScenarioRisk),
    /// A shard of it was written (`stress --shard K/N`), to this file.
    Shard(PathBuf),
    Skipped(String),
}

/// `backlog-risk stress`: evaluate a portfolio on every path of each
/// scenario, at the portfolio's horizon; results in
/// `OUT/NAME/portfolio-PORTFOLIO/`, and across scenarios
/// `OUT/portfolio-PORTFOLIO.csv` and `.png`. A scenario that lacks a metric
/// the portfolio needs (or is shorter than its horizon) is skipped with one
/// line. With `shard = Some((K, N))` each scenario's shard K of N is written
/// to `OUT/NAME/portfolio-PORTFOLIO/shard-K-of-N.bin` instead, for `merge`.
/// Returns true when at least one scenario ran and none failed.
pub fn stress(portfolio_file: &Path, opts: &RunOptions, shard: Option<(u64, u64)>) -> Result<bool> {
    // Read once: parsed here, and carried whole into shard files.
    let text = std::fs::read_to_string(portfolio_file)
        .with_context(|| format!("{}: cannot read the file", portfolio_file.display()))?;
    let portfolio = backlog_risk::portfolio::parse(&text, portfolio_file).map_err(|e| anyhow::anyhow!(e))?;
    let files = collect_inputs(&opts.inputs)?;
    let base = match &opts.paired {
        Some(b) => Some(load_with_overrides(b, opts).context("--paired")?),
        None => None,
    };
    let pool = thread_pool(opts.threads)?;
    let mut loaded = Vec::new();
    for file in files {
        let sc = load_with_overrides(&file, opts);
        loaded.push((file, sc));
    }
    let given: Vec<&Scenario> = loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|(s, _)| s).collect();
    if let Some(e) = portfolio.unrecorded(portfolio_file, &given) {
        return Err(e.into());
    }
    if let Some((b, _)) = &base {
        let names: Vec<&str> =
            loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|(s, _)| s.name.as_str()).collect();
        if !names.is_empty() && names.iter().all(|n| *n == b.name) {
            bail!(
                "`{}` is the --paired base itself: a stress test compared with itself differs by exactly 0; give another scenario to compare with the base (e.g. `scenarios/openai-shift.toml --paired scenarios/status-quo.toml`)",
                b.name
            );
        }
    }
    // Taken once the inputs are read and checked, so that a missing input
    // creates nothing. Shards of one run write distinct files side by
    // side; everything else takes the output folder for itself.
    let _lock = if shard.is_none() { Some(crate::outdir::OutLock::acquire(&opts.out)?) } else { None };
    let factor = if base.is_some() { 2 } else { 1 };
    let total = loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|(s, _)| factor * s.paths).sum();
    let bar = progress_bar(total, opts.quiet);
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let (mut failed, mut skipped, mut shards) = (0, 0, 0);
    for (file, sc) in loaded {
        let done = sc.map_err(|e| crate::errors::text(&e)).and_then(|(sc, resolved)| {
            bar.set_prefix(format!("{} x {}", portfolio.name, sc.name));
            let done = match shard {
                Some(kn) => {
                    let at = Shard { file: &file, resolved: &resolved, portfolio_file, portfolio_text: &text, kn };
                    let b = base.as_ref().zip(opts.paired.as_deref()).map(|((b, r), f)| (b, r, f));
                    pool.install(|| stress_shard(&portfolio, &sc, b, &at, opts, &|n| bar.inc(n)))
                        .map_err(|e| crate::errors::text(&e))
                }
                None => {
                    let advance = |n| bar.inc(n);
                    let observer = observer(&advance);
                    let base = base.as_ref().map(|b| &b.0);
                    pool.install(|| api::stress(&portfolio, &sc, base, &api::Options::default(), &observer))
                        .map(|s| match s {
                            api::Stressed::Ran(r, row) => Done::Ran(r, row),
                            api::Stressed::Skipped(why) => Done::Skipped(why),
                        })
                        .map_err(|e| crate::errors::core_text(&e))
                }
            };
            let done = done.map_err(|e| format!("{}: {e}", file.display()))?;
            if let Done::Ran(r, row) = &done {
                write_stress(r, Some(row), opts)
                    .map_err(|e| format!("{}: {}", file.display(), crate::errors::text(&e)))?;
            }
            Ok(done)
        });
        match done {
            Ok(Done::Ran(r, row)) => {
                if !opts.quiet {
                    bar.suspend(|| println!("{}", backlog_risk::writers::text::stress_line(&r, Some(&row))));
                }
                rows.push(row);
                results.push(*r);
            }
            Ok(Done::Shard(path)) => {
                if !opts.quiet {
                    bar.suspend(|| println!("wrote {}", path.display()));
                }
                shards += 1;
            }
            Ok(Done::Skipped(why)) => {
                skipped += 1;
                // A skip is said with --quiet too: the user must know.
                bar.suspend(|| eprintln!("skip  {}: {why}", file.display()));
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {e}"));
            }
        }
    }
    bar.finish_and_clear();
    if !results.is_empty() {
        write_across(&portfolio, &results, &rows, opts)?;
    } else if failed == 0 && shards == 0 {
        eprintln!(
            "error: portfolio {} fits none of the {skipped} scenarios given (each was skipped above): give a scenario with the metrics and the quarters it needs",
            portfolio.name
        );
    }
    Ok(failed == 0 && (!results.is_empty() || shards > 0))
}

/// Where a stress shard comes from and which it is.
struct Shard<'a> {
    file: &'a Path,
    resolved: &'a scenario::Resolved,
    portfolio_file: &'a Path,
    portfolio_text: &'a str,
    kn: (u64, u64),
}

/// Shard K of N of the stress test of one scenario (paired with `base`
/// when given), written for `merge`.
fn stress_shard(
    portfolio: &Portfolio,
    sc: &Scenario,
    base: Option<(&Scenario, &scenario::Resolved, &Path)>,
    at: &Shard,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Done> {
    let (k, n) = at.kn;
    let fit = api::bind_portfolio(portfolio, sc, base.map(|b| b.0), |bound, engine, pair| {
        let (seed, paths) = (engine.scenario().seed, engine.scenario().paths);
        let chunks = shard_chunks(paths, k, n);
        let portfolio = Attached::new(&at.portfolio_file.display().to_string(), at.portfolio_text);
        Ok(match (pair, base) {
            (Some(pair), Some((_, resolved, file))) => Payload::PairedStress {
                portfolio,
                base: Attached::new(&file.display().to_string(), &resolved.text),
                partial: bound.stress_paired_chunks(engine, pair, seed, paths, chunks, &|x| progress(2 * x)),
            },
            _ => Payload::Stress { portfolio, partial: bound.stress_chunks(engine, seed, paths, chunks, progress) },
        })
    })?;
    let payload = match fit {
        api::Fit::Ran(p) => p,
        api::Fit::Skip(why) => return Ok(Done::Skipped(why)),
    };
    let file = ShardFile { header: shard_header(sc, at.file, at.resolved, at.kn), payload };
    let dir = opts.out.join(&sc.name).join(format!("portfolio-{}", portfolio.name));
    Ok(Done::Shard(write_shard(&dir, &file)?))
}

/// `OUT/portfolio-PORTFOLIO.csv` and `.png`: every scenario that ran
/// ([`export::ACROSS_EXPORTERS`]).
fn write_across(
    portfolio: &Portfolio,
    results: &[StressResult],
    rows: &[ScenarioRisk],
    opts: &RunOptions,
) -> Result<()> {
    let cx = export::AcrossContext { portfolio, results, rows, charts: opts.charts, chart_size: opts.chart_size };
    export::export_across(&cx, &mut DirSink::new(&opts.out))
        .with_context(|| format!("cannot write the stress test across scenarios into {}", opts.out.display()))
}

/// The files of one scenario's stress test ([`export::STRESS_EXPORTERS`])
/// in `OUT/NAME/portfolio-PORTFOLIO/`, put in place whole; with a paired
/// `row`, also `paired-BASE.csv`. The folder's other files (shard files)
/// are kept.
pub(super) fn write_stress(r: &StressResult, row: Option<&ScenarioRisk>, opts: &RunOptions) -> Result<()> {
    let target = opts.out.join(&r.scenario).join(format!("portfolio-{}", r.portfolio));
    let cx = export::StressContext {
        result: r,
        row,
        charts: opts.charts,
        chart_size: opts.chart_size,
        workbook: opts.workbooks,
    };
    backlog_risk_files::write_folder(&target, export::stress_owns, "the stress test", |sink| {
        export::export_stress(&cx, sink)
    })
}
