//! `sweep`: one scenario over a grid of one or two parameters.

use super::*;
use backlog_risk::writers::shard::SweepPoint;

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
    /// Rescale the other shares of a varied allocation share so that they
    /// sum to 1 minus its value.
    pub renormalise: bool,
}

/// The name of a sweep's files: its parameters' paths with every run of
/// characters other than letters, digits and `_` made one `-`, two
/// parameters joined by `--` (`renegotiation[0].hazard` ->
/// `renegotiation-0-hazard`).
pub fn sweep_slug(paths: &[&str]) -> String {
    let one = |p: &str| {
        let mut s = String::new();
        for c in p.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('-') {
                s.push('-');
            }
        }
        s.trim_matches('-').to_string()
    };
    paths.iter().map(|p| one(p)).collect::<Vec<_>>().join("--")
}

/// Parse `PATH=SPEC` with SPEC a list `0.1,0.2` or a range `0.05..0.5:10`
/// (10 evenly spaced values, both ends included).
pub fn parse_vary(s: &str) -> Result<(String, Vec<f64>), String> {
    let (path, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write PATH=SPEC, e.g. renegotiation[0].hazard=0.05..0.5:10"))?;
    let num = |v: &str| v.trim().parse::<f64>().map_err(|_| format!("`{v}` in `{s}` is not a number"));
    if spec.contains("..") && !spec.contains(':') {
        return Err(format!(
            "`{s}`: a range needs its number of points: add `:N`, e.g. `{}:10` for 10 values from one end to the other",
            s.trim()
        ));
    }
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
/// random numbers), in parallel, and write `sweep-SLUG.csv` and `sweep-SLUG.png`.
pub fn sweep(opts: &SweepOptions) -> Result<()> {
    let _lock = match opts.shard {
        None => Some(crate::outdir::OutLock::acquire(&opts.run.out)?),
        Some(_) => None,
    };
    let (base, resolved) = scenario::load_resolved(&opts.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = plan_sweep(&opts.file, base, &resolved.text, opts)?;
    if !opts.run.quiet {
        plan.notes.iter().for_each(|n| eprintln!("{n}"));
    }
    let pool = thread_pool(opts.run.threads)?;
    // The points of this shard, or all of them.
    let (k, n) = opts.shard.unwrap_or((0, 1));
    let share = shard_points(plan.points.len(), k, n);
    let points = &plan.points[share.clone()];
    let bar = progress_bar(points.iter().map(|p| p.paths).sum(), opts.run.quiet);
    let done = AtomicU64::new(0);
    let prefix = |d: u64| format!("{} sweep [{d}/{} points]", plan.base.name, points.len());
    bar.set_prefix(prefix(0));
    // Each point is summarised as soon as it is simulated and its
    // accumulator dropped: memory holds a few accumulators (one per worker)
    // and a small row set per point.
    let rows: Vec<SweepPoint> = pool.install(|| {
        points
            .par_iter()
            .map(|sc| -> Result<SweepPoint> {
                let engine = Engine::new(sc);
                let acc = engine.run(sc.seed, sc.paths, &|n| bar.inc(n));
                bar.set_prefix(prefix(done.fetch_add(1, Ordering::Relaxed) + 1));
                check_finite(sc, &acc).with_context(|| format!("at a sweep point of {}", opts.file.display()))?;
                let k = sc.metric_names().iter().position(|m| *m == plan.metric).expect("a metric of the scenario");
                let se = report::errors(&plan.metric, &acc.metrics[k], plan.metric.starts_with("loss."))
                    .into_iter()
                    .find(|e| e.stat == plan.stat)
                    .map(|e| e.se);
                Ok(SweepPoint { rows: report::summarise(&engine, &acc, sc.seed).metrics, se })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    bar.finish_and_clear();
    if opts.shard.is_none() {
        return write_sweep(&plan, rows, opts);
    }
    let path = opts.run.out.join(&plan.base.name).join(shard::sweep_file_name(&plan.slug(), k, n));
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
        sampling: plan.points[0].sampling,
        shards: n,
        shard: k,
        partial: Default::default(),
        sweep: Some(SweepShard {
            vary: opts.vary.clone(),
            stat: opts.stat.clone(),
            metric: plan.metric.clone(),
            renormalise: opts.renormalise,
            first_point: share.start as u64,
            points: rows,
        }),
        paired: None,
        stress: None,
    };
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

/// The most grid points one sweep runs (each a whole run; the grid and a
/// few statistics per point are kept in memory).
pub const MAX_SWEEP_POINTS: usize = 10_000;

/// The points of sweep shard `k` of `n` out of `points`:
/// `floor(k P / n) .. floor((k + 1) P / n)`.
pub(super) fn shard_points(points: usize, k: u64, n: u64) -> std::ops::Range<usize> {
    let at = |k: u64| (k as u128 * points as u128 / n as u128) as usize;
    at(k)..at(k + 1)
}

/// A sweep made concrete: the base scenario, the grid of values and one
/// scenario per point, the metric and statistic checked.
pub(super) struct SweepPlan {
    base: Scenario,
    grid: Vec<Vec<f64>>,
    pub(super) points: Vec<Scenario>,
    metric: String,
    stat: String,
    vary: Vec<(String, Vec<f64>)>,
    /// What the user should know before the points run: a distribution
    /// replaced by fixed values, shares rescaled.
    notes: Vec<String>,
}

impl SweepPlan {
    /// The name of the sweep's files ([`sweep_slug`]).
    pub(super) fn slug(&self) -> String {
        sweep_slug(&self.vary.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>())
    }
}

/// Whether `path` is a share of an allocation (`customers.C.allocation.P`).
fn is_allocation_share(path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    matches!(parts.as_slice(), ["customers", _, "allocation", _])
}

pub(super) fn plan_sweep(file: &Path, mut base: Scenario, text: &str, opts: &SweepOptions) -> Result<SweepPlan> {
    let (vary, metric, stat, run) = (opts.vary.as_slice(), opts.metric.as_deref(), opts.stat.as_str(), &opts.run);
    if let [(a, _), (b, _)] = vary
        && a == b
    {
        bail!("--vary {a} is given twice; vary two different parameters (or give one --vary with every value)");
    }
    if let Some(m) = too_many_paths(run.paths.unwrap_or(base.paths), run) {
        bail!("{m}");
    }
    apply_focus(&mut base, run.focus.as_deref(), file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let size: usize = vary.iter().map(|(_, v)| v.len()).product();
    if size > MAX_SWEEP_POINTS {
        bail!(
            "the sweep grid has {size} points ({}); at most {MAX_SWEEP_POINTS} are run in one sweep: use fewer values, or split the grid over several sweeps",
            vary.iter().map(|(p, v)| format!("{} values of {p}", v.len())).collect::<Vec<_>>().join(" x ")
        );
    }
    let grid: Vec<Vec<f64>> = match vary {
        [(_, xs)] => xs.iter().map(|x| vec![*x]).collect(),
        [(_, xs), (_, ys)] => xs.iter().flat_map(|x| ys.iter().map(move |y| vec![*x, *y])).collect(),
        _ => bail!("give one or two --vary options"),
    };
    let mut notes = Vec::new();
    for (path, _) in vary {
        let shown = scenario::get_value(text, path).map_err(|e| anyhow::anyhow!("--vary {path}: {e}"))?;
        if let Some(toml::Value::Table(t)) = &shown {
            let dist = t.get("dist").and_then(|d| d.as_str()).unwrap_or("a distribution");
            notes.push(format!(
                "note: {path} is a {dist} distribution in {}; at each sweep point it is replaced by the point's fixed value (drawn the same on every path)",
                file.display()
            ));
        }
        if is_allocation_share(path) {
            if !opts.renormalise {
                bail!(
                    "--vary {path}: the shares of an allocation sum to 1, so changing one alone makes every point invalid; give --renormalise to rescale the customer's other shares to 1 minus the value at each point (or sweep a shift's target, which moves share over time)"
                );
            }
            notes.push(format!(
                "note: --renormalise: at each point the other shares of {} are rescaled to sum to 1 minus the value",
                path.rsplit_once('.').map_or(path.as_str(), |(p, _)| p)
            ));
        }
    }
    let mut points = Vec::new();
    for values in &grid {
        let mut text = text.to_string();
        for ((path, _), v) in vary.iter().zip(values) {
            let set = if opts.renormalise && is_allocation_share(path) {
                scenario::set_share_renormalised(&text, path, *v)
            } else {
                scenario::set_number(&text, path, *v)
            };
            text = set.map_err(|e| anyhow::anyhow!("--vary {path}: {e}"))?;
        }
        let at = vary.iter().zip(values).map(|((p, _), v)| format!("{p} = {v}")).collect::<Vec<_>>().join(", ");
        let mut sc = scenario::parse(&text, file).map_err(|mut e| {
            e.line = None;
            anyhow::anyhow!("{e} (at the sweep point {at})")
        })?;
        sc.paths = run.paths.unwrap_or(base.paths);
        sc.seed = run.seed.unwrap_or(base.seed);
        sc.sampling = run.sampling.unwrap_or(base.sampling);
        if let Some(problem) = sc.sampling_problem() {
            bail!("{}: {problem}", file.display());
        }
        sc.focus = base.focus;
        points.push(sc);
    }
    let names = base.metric_names();
    let metric = match metric {
        Some(m) if names.iter().any(|n| n == m) => m.to_string(),
        Some(m) => bail!("--metric {m}: the scenario records no such metric; use one of {}", names.join(", ")),
        None => format!("loss.{}", base.providers[base.focus].name),
    };
    if !report::STAT_NAMES.contains(&stat) {
        bail!("--stat {stat}: use one of {}", report::STAT_NAMES.join(", "));
    }
    if !metric.starts_with("loss.") && ["var95", "es95", "var99", "es99"].contains(&stat) {
        bail!("--stat {stat}: VaR and ES are reported for loss.* metrics only; choose --metric loss.PROVIDER");
    }
    if opts.renormalise && !vary.iter().any(|(p, _)| is_allocation_share(p)) {
        bail!(
            "--renormalise applies to a varied allocation share (customers.NAME.allocation.PROVIDER), and none is varied"
        );
    }
    Ok(SweepPlan { base, grid, points, metric, stat: stat.to_string(), vary: vary.to_vec(), notes })
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
        let money = !metric.starts_with("share.") && !metric.starts_with("events.");
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
