//! `explain`: what drives a metric: its attribution to the drivers of the
//! risk (attribution.csv, attribution.png) and the sensitivity to each
//! uncertain input (sensitivity.csv, tornado.png), with a page that shows
//! both (explain.html).

use super::*;
use backlog_risk::analysis::attribution::AttributionRow;
use backlog_risk::analysis::given::Given;
use backlog_risk::analysis::sensitivity::SensitivityRow;

pub use backlog_risk::api::ExplainWhat;

/// `backlog-risk explain`: every scenario on its own, as `run`; returns
/// whether all of them succeeded.
/// With `variants`, each path the reverse stress test lists also gets a
/// scenario that fixes every input at its value (as `path --variant`).
pub fn explain(opts: &RunOptions, what: &ExplainWhat, variants: bool) -> Result<bool> {
    let files = collect_inputs(&opts.inputs)?;
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    let pool = thread_pool(opts.threads)?;
    let mut ok = true;
    for file in files {
        match explain_one(&file, opts, what, variants, &pool) {
            Ok(lines) if !opts.quiet => lines.iter().for_each(|l| println!("{l}")),
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: {}: {}", file.display(), crate::errors::text(&e));
                ok = false;
            }
        }
    }
    Ok(ok)
}

fn explain_one(
    file: &Path,
    opts: &RunOptions,
    what: &ExplainWhat,
    variants: bool,
    pool: &rayon::ThreadPool,
) -> Result<Vec<String>> {
    let (sc, resolved) = load_with_overrides(file, opts)?;
    let sims = api::explain_simulations(&sc, what);
    let metric = what.metric.clone().unwrap_or_else(|| backlog_risk::metric::Metric::focus_loss(&sc)).to_string();
    let bar = progress_bar(sc.paths * sims, opts.quiet);
    bar.set_prefix(format!("{} explain {metric}", sc.name));
    let advance = |n| bar.inc(n);
    let observer = observer(&advance);
    let e = pool.install(|| api::explain(&sc, what, &api::Options::default(), &observer))?;
    bar.finish_and_clear();
    let (k, acc, sens, attr, plan, given) =
        (e.metric_index, &e.accumulator, e.sensitivity, e.attribution, e.plan, e.given);
    let dir = opts.out.join(&sc.name);
    let file_name = file.display().to_string();
    let cx = export::ExplainContext {
        scenario: &sc.name,
        scenario_file: &file_name,
        metric: &metric,
        paths: sc.paths,
        seed: sc.seed,
        plan,
        mean: acc.metrics[k].moments.mean(),
        attribution: attr.as_ref().map(|a| a.rows.as_slice()),
        sensitivity: sens.as_deref(),
        given: given.as_ref(),
        charts: opts.charts,
        chart_size: opts.chart_size,
        workbook: opts.workbooks,
    };
    // Into a staging folder, put in place whole; the folder's other files
    // (a run's, a sweep's) are kept.
    backlog_risk_files::write_folder(&dir, export::explain_owns, "the explanation", |sink| {
        export::export_explain(&cx, sink)
    })?;
    // The stories of the paths the reverse stress test lists, which
    // explain.html links to.
    for story in &e.stories {
        let folder = dir.join(export::path_folder(story.path));
        let variant =
            if variants { Some(super::path::variant_toml(file, &resolved.text, &folder, story)?) } else { None };
        let cx = export::PathContext {
            story,
            variant: variant.as_deref(),
            charts: opts.charts,
            chart_size: opts.chart_size,
        };
        backlog_risk_files::write_folder(&folder, export::path_owns, "the path", |sink| {
            export::export_path(&cx, sink)
        })?;
    }
    let mut lines = Vec::new();
    if let Some(a) = &attr {
        lines.extend(attribution_lines(&sc.name, &metric, plan, &a.rows));
    }
    if let Some(rows) = &sens {
        lines.extend(sensitivity_lines(&sc.name, &metric, rows));
    }
    if let Some(g) = &given {
        lines.extend(given_lines(&sc.name, g));
    }
    lines.push(format!("  wrote {}", dir.display()));
    Ok(lines)
}

/// The condition's probability, the quantities it moves most and the most
/// plausible paths that meet it.
fn given_lines(name: &str, g: &Given) -> Vec<String> {
    let pct = |p: f64| 100.0 * p;
    let mut lines = vec![format!(
        "{name}: P({}) = {:.3}% (se {:.3}%): {} of {} paths met it",
        g.condition,
        pct(g.probability),
        pct(g.probability_se),
        g.hits,
        g.paths
    )];
    if let Some((n, rounds)) = g.min_hits {
        lines.push(if g.met() {
            format!("  reached {n} paths that meet it in {rounds} round(s)")
        } else {
            format!("  only {} of the {n} paths asked for met it by --max-paths ({} paths, {rounds} round(s)); raise --max-paths", g.hits, g.paths)
        });
    }
    lines.push(
        "  the inputs and drivers it moves most (mean given it against all paths, in sds; every metric in given.csv):"
            .to_string(),
    );
    for r in g.rows.iter().filter(|r| r.is_cause()).take(6) {
        lines.push(format!(
            "  {:<45} {:>+6.2} sd: mean {:.4} given, {:.4} in all",
            if r.kind == "driver" { format!("driver: {}", r.name) } else { r.name.clone() },
            r.shift_sd,
            r.given.mean,
            r.all.mean
        ));
    }
    let paths: Vec<String> = g.top.iter().map(|p| p.path.to_string()).collect();
    lines.push(format!("  the most plausible paths that meet it: {}", paths.join(", ")));
    lines
}

/// The inputs with the largest total-order index.
fn sensitivity_lines(name: &str, metric: &str, rows: &[SensitivityRow]) -> Vec<String> {
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
    lines
}

/// Each driver's mean and ES99 contribution.
fn attribution_lines(name: &str, metric: &str, plan: f64, rows: &[AttributionRow]) -> Vec<String> {
    let mut lines = vec![format!("{name}: {metric} against plan ({plan:.1}) by driver (Shapley value, path by path):")];
    for r in rows {
        lines.push(format!("  {:<45} mean {:>+10.2}, ES99 {:>+10.2}", r.driver, r.mean, r.es99_contribution));
    }
    lines
}
