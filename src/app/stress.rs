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
    // Shards of one run write distinct files side by side; everything else
    // takes the output folder for itself.
    let _lock = if shard.is_none() { Some(crate::outdir::OutLock::acquire(&opts.out)?) } else { None };
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
                    let observer = api::Observer::new().with_progress(&advance);
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
                    bar.suspend(|| println!("{}", stress_line(&r, Some(&row))));
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
                if !opts.quiet {
                    bar.suspend(|| eprintln!("skip  {}: {why}", file.display()));
                }
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
    let path = opts.out.join(&sc.name).join(format!("portfolio-{}", portfolio.name)).join(shard::file_name(k, n));
    crate::files::write_atomic(&path, &shard::encode(&file)?)?;
    Ok(Done::Shard(path))
}

/// The console line of one stressed scenario.
pub(super) fn stress_line(r: &StressResult, row: Option<&ScenarioRisk>) -> String {
    let f = |m: &str| charts::fmt_amount(r.measure(m).unwrap_or(f64::NAN));
    let mut line = format!(
        "{} under {} at {}: expected P&L {}, VaR99 {}, ES99 {} (losses, in {}), P(loss > 10%) {} [{} paths]",
        r.portfolio,
        r.scenario,
        r.horizon_text(),
        f("expected_pnl"),
        f("var99"),
        f("es99"),
        r.unit,
        charts::fmt_pct(r.measure("p_loss_gt_10pct").unwrap_or(f64::NAN)),
        r.paths
    );
    let paired = row.and_then(|w| Some((w.base.as_ref()?, w.d_expected_pnl?, w.d_expected_pnl_se?, w.d_es99?)));
    if let Some((base, d, se, de)) = paired {
        line.push_str(&format!(
            "; against {base}: P&L {} (se {}), ES99 {}",
            charts::fmt_signed(d),
            charts::fmt_amount(se),
            charts::fmt_signed(de)
        ));
    }
    line
}

/// `OUT/portfolio-PORTFOLIO.csv` and `.png`: every scenario that ran.
fn write_across(
    portfolio: &Portfolio,
    results: &[StressResult],
    rows: &[ScenarioRisk],
    opts: &RunOptions,
) -> Result<()> {
    let name = format!("portfolio-{}", portfolio.name);
    crate::files::write_atomic(&opts.out.join(format!("{name}.csv")), &output::rows_csv(rows)?)?;
    if opts.charts == Charts::None {
        return Ok(());
    }
    let same_horizon = results.iter().all(|r| r.horizon_label == results[0].horizon_label);
    let mut cmp: Vec<charts::Interval> = results
        .iter()
        .zip(rows)
        .map(|(r, row)| {
            let scenario =
                if same_horizon { r.scenario.clone() } else { format!("{} at {}", r.scenario, r.horizon_label) };
            let pair = match (&row.base, row.d_es99) {
                (Some(b), Some(d)) if b != &r.scenario => format!(" (\u{394}ES99 {})", charts::fmt_signed(d)),
                (Some(_), Some(_)) => " (the base)".to_string(),
                _ => String::new(),
            };
            charts::Interval {
                label: format!("{scenario}{pair}"),
                p5: r.loss.p5,
                p25: r.loss.p25,
                p50: r.loss.p50,
                p75: r.loss.p75,
                p95: r.loss.p95,
                var99: r.measure("var99").unwrap_or(f64::NAN),
                es99: r.measure("es99").unwrap_or(f64::NAN),
            }
        })
        .collect();
    cmp.sort_by(|a, b| b.es99.total_cmp(&a.es99));
    let at = if same_horizon { format!(" at {}", results[0].horizon_text()) } else { String::new() };
    let against = match rows.first().and_then(|r| r.base.as_ref()) {
        Some(b) => format!("; \u{394}: against {b}, path by path"),
        None => String::new(),
    };
    let title = format!(
        "Portfolio {} (value {} {}) across scenarios: loss{at}",
        portfolio.name,
        charts::fmt_amount(portfolio.value),
        portfolio.unit
    );
    let lo = cmp.iter().map(|r| r.p5).fold(0.0, f64::min);
    let hi = cmp.iter().map(|r| r.es99.max(r.p95)).fold(0.0, f64::max);
    let png = charts::intervals_png(
        &cmp,
        &format!("{name}.png"),
        &title,
        &format!("portfolio loss = -P&L, in {} (positive = a loss)", portfolio.unit),
        &against,
        &charts::amount_axis(hi - lo),
        opts.chart_size,
    )?;
    crate::files::write_atomic(&opts.out.join(format!("{name}.png")), &png)
}

/// The files of one scenario's stress test in `OUT/NAME/portfolio-PORTFOLIO/`;
/// with a paired `row`, also `paired-BASE.csv`.
pub(super) fn write_stress(r: &StressResult, row: Option<&ScenarioRisk>, opts: &RunOptions) -> Result<()> {
    let target = opts.out.join(&r.scenario).join(format!("portfolio-{}", r.portfolio));
    let staging = crate::outdir::Staging::new(&target)?;
    write_stress_files(&staging.dir, r, row, opts)?;
    // Shard files in the folder are kept.
    staging.commit(|n| !(n.starts_with("shard-") && n.ends_with(".bin")))
}

fn write_stress_files(dir: &Path, r: &StressResult, row: Option<&ScenarioRisk>, opts: &RunOptions) -> Result<()> {
    let h = r.horizon.to_string();
    let cols = [("horizon", r.horizon_label.as_str()), ("horizon_quarters", h.as_str())];
    let csv = |rows: Vec<u8>| output::with_columns(&rows, &cols);
    if let Some(row) = row.filter(|w| w.base.is_some()) {
        let name = format!("paired-{}.csv", row.base.as_deref().unwrap_or_default());
        crate::files::write_atomic(&dir.join(name), &output::rows_csv(std::slice::from_ref(row))?)?;
    }
    crate::files::write_atomic(&dir.join("pnl.csv"), &csv(output::rows_csv(std::slice::from_ref(&r.pnl))?)?)?;
    crate::files::write_atomic(&dir.join("risk.csv"), &csv(output::rows_csv(&r.risk)?)?)?;
    crate::files::write_atomic(&dir.join("contributions.csv"), &csv(output::rows_csv(&r.contributions)?)?)?;
    crate::files::write_atomic(&dir.join("tail.csv"), &csv(output::rows_csv(&r.tail)?)?)?;
    if opts.charts == Charts::None {
        return Ok(());
    }
    let loss = |m: &str| r.measure(m).unwrap_or(f64::NAN);
    let axis = charts::amount_axis(r.histogram.hi - r.histogram.lo);
    let mark = |label, m: &str, color, dashed| charts::Mark { label, x: -loss(m), shown: Some(loss(m)), color, dashed };
    let plot = charts::DistributionPlot {
        file: "pnl.png",
        title: format!("{} under {}: P&L at {}", r.portfolio, r.scenario, r.horizon_text()),
        subtitle: format!(
            "Value {} {}, {} paths; VaR99, ES99: losses (risk.csv) drawn at P&L = -loss; {}",
            charts::fmt_amount(r.value),
            r.unit,
            r.paths,
            charts::beyond_axis(&r.histogram, r.paths, &axis)
        ),
        xdesc: format!("P&L at {}, in {} (negative = a loss)", r.horizon_label, r.unit),
        hist: &r.histogram,
        paths: r.paths,
        marks: vec![
            charts::Mark { label: "mean", x: r.pnl.mean, shown: None, color: charts::style::DARK, dashed: false },
            mark("VaR99 loss", "var99", charts::style::ACCENT, false),
            mark("ES99 loss", "es99", charts::style::ACCENT, true),
        ],
        fmt: &axis,
    };
    crate::files::write_atomic(
        &dir.join("pnl.png"),
        &charts::distribution_png(&plot, opts.chart_size).context("cannot draw pnl.png")?,
    )?;
    crate::files::write_atomic(
        &dir.join("contributions.png"),
        &charts::contributions_png(r, opts.chart_size).context("cannot draw contributions.png")?,
    )
}
