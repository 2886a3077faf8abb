//! `sweep`: one scenario over a grid of one or two parameters.

use super::*;
use backlog_risk::writers::shard::{Payload, SweepPoint};

/// Settings of `sweep`.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub file: PathBuf,
    /// Field path and its values, one or two.
    pub vary: Vec<(String, Vec<f64>)>,
    pub stat: String,
    pub metric: Option<backlog_risk::metric::Metric>,
    pub run: RunOptions,
    /// Run only the points of shard K of N and write a sweep shard file.
    pub shard: Option<(u64, u64)>,
    /// Rescale the other shares of a varied allocation share so that they
    /// sum to 1 minus its value.
    pub renormalise: bool,
}

pub use backlog_risk::api::{SweepPlan, parse_vary};

/// `backlog-risk sweep`: run every grid point with the same seed (common
/// random numbers), in parallel, and write `sweep-SLUG.csv` and `sweep-SLUG.png`.
pub fn sweep(opts: &SweepOptions) -> Result<()> {
    let _lock = match opts.shard {
        None => Some(crate::outdir::OutLock::acquire(&opts.run.out)?),
        Some(_) => None,
    };
    let (base, resolved) = scenario::load_resolved(&opts.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = plan_sweep(&opts.file, base, &resolved.text, opts)?;
    if !opts.run.quiet {
        plan.notes.iter().for_each(|n| eprintln!("{}", crate::errors::flags(n)));
    }
    let pool = thread_pool(opts.run.threads)?;
    // The points of this shard, or all of them.
    let (k, n) = opts.shard.unwrap_or((0, 1));
    let share = api::shard_points(plan.points.len(), k, n);
    let points = &plan.points[share.clone()];
    let bar = progress_bar(points.iter().map(|p| p.paths).sum(), opts.run.quiet);
    let done = AtomicU64::new(0);
    let prefix = |d: u64| format!("{} sweep [{d}/{} points]", plan.base.name, points.len());
    bar.set_prefix(prefix(0));
    let advance = |n| bar.inc(n);
    let observer = api::Observer::new().with_progress(&advance);
    let after = || bar.set_prefix(prefix(done.fetch_add(1, Ordering::Relaxed) + 1));
    let rows = pool
        .install(|| api::sweep_points(&plan, share.clone(), &opts.file, &api::Options::default(), &observer, &after))
        .map_err(|e| anyhow::anyhow!(e))?;
    bar.finish_and_clear();
    if opts.shard.is_none() {
        return write_sweep(&plan, rows, opts);
    }
    let path = opts.run.out.join(&plan.base.name).join(shard::sweep_file_name(&plan.slug(), k, n));
    let payload = Payload::Sweep(SweepShard {
        vary: opts.vary.clone(),
        stat: opts.stat.clone(),
        metric: plan.metric.clone(),
        renormalise: opts.renormalise,
        first_point: share.start as u64,
        points: rows,
    });
    // The header's seed, paths and sampling are the points' (every point
    // has the same).
    let header = shard_header(&plan.points[0], &opts.file, &resolved, (k, n));
    let file = ShardFile { header, payload };
    crate::files::write_atomic(&path, &shard::encode(&file)?)?;
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

/// A sweep made concrete ([`api::plan_sweep`]), with the command line's
/// checks first: the path count, and `--focus`.
pub(super) fn plan_sweep(file: &Path, mut base: Scenario, text: &str, opts: &SweepOptions) -> Result<SweepPlan> {
    let run = &opts.run;
    if let Some(m) = too_many_paths(run.paths.unwrap_or(base.paths), run) {
        bail!("{m}");
    }
    apply_focus(&mut base, run.focus.as_deref(), file)?;
    let spec = api::SweepSpec {
        vary: opts.vary.clone(),
        stat: opts.stat.clone(),
        metric: opts.metric.clone(),
        renormalise: opts.renormalise,
    };
    let over = api::Options { paths: run.paths, seed: run.seed, sampling: run.sampling, threads: None };
    Ok(api::plan_sweep(base, text, file, &spec, &over)?)
}

/// Summarise every point of a sweep and write `sweep-SLUG.csv` and
/// `sweep-SLUG.png` (so that sweeps of other parameters never overwrite
/// them).
pub(super) fn write_sweep(plan: &SweepPlan, rows: Vec<SweepPoint>, opts: &SweepOptions) -> Result<()> {
    let (metric, stat) = (&plan.metric, &plan.stat);
    let dir = opts.run.out.join(&plan.base.name);
    let slug = plan.slug();
    let (csv_path, png_path) = (dir.join(format!("sweep-{slug}.csv")), dir.join(format!("sweep-{slug}.png")));
    let vary_names: Vec<&str> = plan.vary.iter().map(|(p, _)| p.as_str()).collect();
    let csv = output::sweep_csv(&vary_names, &plan.grid, &rows, (metric, stat))?;
    crate::files::write_atomic(&csv_path, &csv)?;
    let z: Vec<f64> = rows
        .iter()
        .map(|r| r.rows.iter().find(|m| m.metric == *metric).and_then(|m| m.stat(stat)).unwrap_or(f64::NAN))
        .collect();
    let se: Vec<Option<f64>> = rows.iter().map(|r| r.se).collect();
    if opts.run.charts != Charts::None {
        let title = format!("{}: {stat} of {metric} across the sweep", plan.base.name);
        use backlog_risk::metric::Metric;
        let money = !matches!(metric.parse::<Metric>(), Ok(Metric::Share { .. } | Metric::Events { .. }));
        let widest = se.iter().flatten().fold(0.0f64, |a, s| a.max(1.96 * s));
        let bars = if plan.vary.len() == 1 && se.iter().all(Option::is_some) {
            let w = if money { charts::fmt_bn(widest) } else { format!("{widest:.4}") };
            format!("; bars: 95% Monte Carlo interval of each point (at most \u{b1}{w})")
        } else if plan.vary.len() == 1 {
            "; no standard error is computed for this statistic".to_string()
        } else {
            String::new()
        };
        let subtitle = format!(
            "{} paths per point, seed {} at every point (common random numbers){bars}",
            plan.points[0].paths, plan.points[0].seed
        );
        let stat_label = format!("{stat} of {metric}{}", if money { " ($bn)" } else { "" });
        let plot = charts::SweepPlot { title: &title, subtitle: &subtitle, stat: &stat_label, money };
        let png = match plan.vary.as_slice() {
            [(xname, xs)] => charts::sweep_line_png(&plot, xname, xs, &z, &se, opts.run.chart_size),
            [(xname, xs), (yname, ys)] => {
                let rows: Vec<Vec<f64>> = z.chunks(ys.len()).map(|c| c.to_vec()).collect();
                charts::sweep_heatmap_png(&plot, (xname, xs), (yname, ys), &rows, opts.run.chart_size)
            }
            _ => unreachable!("one or two --vary checked above"),
        }
        .with_context(|| format!("cannot draw {}", png_path.display()))?;
        crate::files::write_atomic(&png_path, &png)?;
    }
    if !opts.run.quiet {
        for ((values, v), se) in plan.grid.iter().zip(&z).zip(&se) {
            let at = vary_names.iter().zip(values).map(|(p, x)| format!("{p} = {x}")).collect::<Vec<_>>().join(", ");
            let se = se.map_or(String::new(), |s| format!(" (se {s:.4})"));
            println!("{at}: {stat} of {metric} = {v:.4}{se}");
        }
        println!("wrote {}", csv_path.display());
    }
    Ok(())
}
