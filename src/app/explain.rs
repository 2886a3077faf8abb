//! `explain`: which uncertain inputs drive a metric (sensitivity.csv and
//! the tornado chart).

use super::*;
use crate::analysis::sensitivity::{self, SensitivityRow};

/// `backlog-risk explain`: every scenario on its own, as `run`; returns
/// whether all of them succeeded.
pub fn explain(opts: &RunOptions, metric: Option<&str>) -> Result<bool> {
    let files = collect_inputs(&opts.inputs)?;
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    let pool = thread_pool(opts.threads)?;
    let mut ok = true;
    for file in files {
        match explain_one(&file, opts, metric, &pool) {
            Ok(lines) if !opts.quiet => lines.iter().for_each(|l| println!("{l}")),
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: {}: {e:#}", file.display());
                ok = false;
            }
        }
    }
    Ok(ok)
}

fn explain_one(file: &Path, opts: &RunOptions, metric: Option<&str>, pool: &rayon::ThreadPool) -> Result<Vec<String>> {
    let (sc, _) = load_with_overrides(file, opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let names = sc.metric_names();
    let metric = metric.map_or_else(|| format!("loss.{}", sc.providers[sc.focus].name), str::to_string);
    let Some(k) = names.iter().position(|m| *m == metric) else {
        bail!("--metric {metric}: scenario `{}` records no such metric; use one of {}", sc.name, names.join(", "));
    };
    let engine = Engine::new(&sc);
    // A plain run first: the metric's distribution, for its ranks.
    let groups = sc.parameters().iter().filter(|p| !p.dist.is_fixed()).count() + 1;
    let bar = progress_bar(sc.paths * (1 + groups as u64 + 2), opts.quiet);
    bar.set_prefix(format!("{} explain {metric}", sc.name));
    let acc = pool.install(|| engine.run(sc.seed, sc.paths, &|n| bar.inc(n)));
    check_finite(&sc, &acc)?;
    let rows = pool
        .install(|| {
            sensitivity::sensitivity(&engine, sc.seed, sc.paths, k, &acc, &|n| bar.inc(n * (groups as u64 + 2)))
        })
        .map_err(|e| anyhow::anyhow!(e))?;
    bar.finish_and_clear();
    if rows.iter().any(|r| !r.first_order.is_finite()) {
        bail!(
            "{metric} does not vary in scenario `{}` (its variance is 0), so no input explains any of it; choose a metric that varies",
            sc.name
        );
    }
    let dir = opts.out.join(&sc.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tornado = (opts.charts != Charts::None)
        .then(|| charts::tornado_png(&sc.name, &metric, acc.metrics[k].moments.mean(), &rows, opts.chart_size))
        .transpose()
        .context("cannot draw tornado.png")?;
    output::write_atomic(&dir.join("sensitivity.csv"), &output::rows_csv(&rows)?)?;
    if let Some(png) = tornado {
        output::write_atomic(&dir.join("tornado.png"), &png)?;
    }
    Ok(summary_lines(&sc.name, &metric, &rows, &dir))
}

/// The console lines: the inputs with the largest total-order index.
fn summary_lines(name: &str, metric: &str, rows: &[SensitivityRow], dir: &Path) -> Vec<String> {
    let mut by_total: Vec<&SensitivityRow> = rows.iter().collect();
    by_total.sort_by(|a, b| b.total_order.total_cmp(&a.total_order));
    let mut lines = vec![format!("{name}: what drives {metric} (Sobol' total-order index, share of its variance):")];
    for r in by_total.iter().take(5) {
        lines.push(format!(
            "  {:<45} total {:>5.1}% (se {:.1}), alone {:>5.1}% (se {:.1})",
            r.parameter,
            100.0 * r.total_order,
            100.0 * r.total_order_se,
            100.0 * r.first_order,
            100.0 * r.first_order_se
        ));
    }
    lines.push(format!("  wrote {}", dir.join("sensitivity.csv").display()));
    lines
}
