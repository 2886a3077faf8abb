//! `path`: the story of one path of a run, replayed: its quarters
//! (path-N.csv), its parameters and metrics against the plan
//! (path-N-values.csv), a chart against the fan (path-N.png) and, with
//! --variant, a scenario that fixes every parameter at the path's values
//! (path-N-variant.toml), in OUT/NAME/path-N/.

use super::*;

/// `backlog-risk path FILE --path N`: whether the path was replayed and
/// written (an error in the scenario or the path is printed, as `run` does).
pub fn path(file: &Path, index: u64, variant: bool, opts: &RunOptions) -> Result<bool> {
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    let pool = thread_pool(opts.threads)?;
    match path_one(file, index, variant, opts, &pool) {
        Ok(()) => Ok(true),
        Err(e) => {
            eprintln!("error: {}", crate::errors::text(&e));
            Ok(false)
        }
    }
}

fn path_one(file: &Path, index: u64, variant: bool, opts: &RunOptions, pool: &rayon::ThreadPool) -> Result<()> {
    let (sc, resolved) = load_with_overrides(file, opts)?;
    let bar = progress_bar(sc.paths, opts.quiet);
    bar.set_prefix(format!("{} path {index}", sc.name));
    let advance = |n| bar.inc(n);
    let observer = observer(&advance);
    let story =
        pool.install(|| api::path(&sc, index, &api::Options::default(), &observer)).map_err(|e| in_file(file, e))?;
    bar.finish_and_clear();
    let dir = opts.out.join(&sc.name).join(export::path_folder(index));
    let variant = if variant { Some(variant_toml(file, &resolved.text, &dir, &story)?) } else { None };
    let cx = export::PathContext {
        story: &story,
        variant: variant.as_deref(),
        charts: opts.charts,
        chart_size: opts.chart_size,
    };
    backlog_risk_files::write_folder(&dir, export::path_owns, "the path", |sink| export::export_path(&cx, sink))?;
    if !opts.quiet {
        story_lines(&story).iter().for_each(|l| println!("{l}"));
        println!("  wrote {}", dir.display());
    }
    Ok(())
}

/// The path's focus loss against the plan and its events.
fn story_lines(s: &api::PathStory) -> Vec<String> {
    let sm = &s.summary;
    let loss = format!("loss.{}", sm.providers[sm.focus]);
    let value = s.metrics.iter().find(|m| m.0 == loss).map_or(f64::NAN, |m| m.1);
    let mut lines = vec![format!(
        "{}: path {} of {} (seed {}): {loss} {} (the plan's backlog less this path's at {})",
        sm.name,
        s.path,
        sm.paths,
        sm.seed,
        money(value),
        sm.labels.last().map_or("", String::as_str)
    )];
    let nr = s.rules.len();
    for (t, label) in sm.labels.iter().enumerate() {
        for r in 0..nr {
            if s.trace.fired[t * nr + r] {
                lines.push(format!(
                    "  {label}: renegotiation {} fired, severity {:.3}: cut {}, of which {} moved",
                    s.rules[r],
                    s.trace.severity[t * nr + r],
                    money(s.trace.cut[t * nr + r]),
                    money(s.trace.moved[t * nr + r])
                ));
            }
        }
    }
    lines
}

/// A scenario that `extends` `file` (by its path relative to `dir`, where
/// it is written) and fixes every uncertain parameter at the path's value.
pub(super) fn variant_toml(file: &Path, text: &str, dir: &Path, s: &api::PathStory) -> Result<String> {
    let mut changed = text.to_string();
    for (field, value, _) in &s.parameters {
        changed = scenario::set_number(&changed, field, *value).map_err(|e| in_file(file, e))?;
    }
    let mut fields: Vec<&str> = s.parameters.iter().map(|(f, _, _)| f.as_str()).collect();
    // Fixed inputs have no rank to correlate: the variant drops the
    // `[[correlation]]` blocks (an empty list replaces the base's).
    if !s.scenario.correlations.is_empty() {
        changed = scenario::set_value(&changed, "correlation", toml::Value::Array(Vec::new()))
            .map_err(|e| in_file(file, e))?;
        fields.push("correlation");
    }
    // What it fixes must itself be a valid scenario.
    scenario::parse(&changed, file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let extends = relative(dir, file)?;
    let name = format!("{}-path-{}", s.summary.name, s.path);
    let body = scenario::variant_text(&changed, &extends, &name, None, &fields).map_err(|e| in_file(file, e))?;
    Ok(format!(
        "# Path {path} of {file} (seed {seed}, {paths} paths) with every uncertain parameter\n\
         # fixed at its value on that path; shocks and events are still drawn, path by path.\n{note}\
         # `backlog-risk run`, `sweep` or `serve` on it take the story further.\n\n{body}",
        path = s.path,
        file = file.display(),
        seed = s.summary.seed,
        paths = s.summary.paths,
        note = if s.scenario.correlations.is_empty() {
            ""
        } else {
            "# It drops the [[correlation]] blocks: fixed inputs have no rank to correlate.\n"
        },
    ))
}

/// `to` as a path relative to the folder `from` (which need not exist yet),
/// with `/` between its parts.
fn relative(from: &Path, to: &Path) -> Result<String> {
    let abs = |p: &Path| -> Result<PathBuf> {
        let p = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) };
        // Resolve what exists (links, `..`), keep the rest as written.
        let mut existing = p.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            rest.push(existing.file_name().map(ToOwned::to_owned).unwrap_or_default());
            existing = existing.parent().unwrap_or(Path::new("/"));
        }
        let mut out = existing.canonicalize()?;
        out.extend(rest.iter().rev());
        Ok(out)
    };
    let (from, to) = (abs(from)?, abs(to)?);
    let common = from.components().zip(to.components()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = from.components().skip(common).map(|_| "..".to_string()).collect();
    parts.extend(to.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Ok(parts.join("/"))
}
