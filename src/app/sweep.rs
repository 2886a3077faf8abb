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
    let (base, resolved) = scenario::load_resolved(&opts.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = plan_sweep(&opts.file, base, &resolved.text, opts)?;
    // Taken once the inputs are read, so that a bad input creates nothing.
    let _lock = match opts.shard {
        None => Some(crate::outdir::OutLock::acquire(&opts.run.out)?),
        Some(_) => None,
    };
    // Notes go to stderr, with --quiet too.
    plan.notes.iter().for_each(|n| eprintln!("{}", crate::errors::flags(n)));
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
    let observer = observer(&advance);
    let after = || bar.set_prefix(prefix(done.fetch_add(1, Ordering::Relaxed) + 1));
    let rows = pool
        .install(|| api::sweep_points(&plan, share.clone(), &opts.file, &api::Options::default(), &observer, &after))
        .map_err(|e| anyhow::anyhow!(e))?;
    bar.finish_and_clear();
    if opts.shard.is_none() {
        return write_sweep(&plan, rows, opts);
    }
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
    let path = write_shard(&opts.run.out.join(&plan.base.name), &file)?;
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

/// Write `sweep-SLUG.csv` and `sweep-SLUG.png` ([`export::SWEEP_EXPORTERS`])
/// into the scenario's folder, each file put in place whole, and show
/// every point's statistic.
pub(super) fn write_sweep(plan: &SweepPlan, rows: Vec<SweepPoint>, opts: &SweepOptions) -> Result<()> {
    let dir = opts.run.out.join(&plan.base.name);
    let cx = export::SweepContext {
        scenario: &plan.base.name,
        vary: &plan.vary,
        grid: &plan.grid,
        points: &rows,
        metric: &plan.metric,
        stat: &plan.stat,
        paths: plan.points[0].paths,
        seed: plan.points[0].seed,
        charts: opts.run.charts,
        chart_size: opts.run.chart_size,
    };
    export::export_sweep(&cx, &mut DirSink::new(&dir))
        .with_context(|| format!("cannot write the sweep into {}", dir.display()))?;
    if !opts.run.quiet {
        let (metric, stat) = (&plan.metric, &plan.stat);
        for ((values, v), se) in plan.grid.iter().zip(cx.charted()).zip(rows.iter().map(|r| r.se)) {
            let at =
                plan.vary.iter().zip(values).map(|((p, _), x)| format!("{p} = {x}")).collect::<Vec<_>>().join(", ");
            let se = se.map_or(String::new(), |s| format!(" (se {s:.4})"));
            println!("{at}: {stat} of {metric} = {v:.4}{se}");
        }
        println!("wrote {}", dir.join(format!("sweep-{}.csv", plan.slug())).display());
    }
    Ok(())
}
