//! `run` and its batch report: every scenario loaded, simulated and written
//! on its own.

use super::*;

/// `backlog-risk run`: every scenario is loaded, run and written on its own;
/// one failure does not stop the others. Returns the outcomes in input order.
pub fn run(opts: &RunOptions) -> Result<Vec<Outcome>> {
    let files = collect_inputs(&opts.inputs)?;
    let pool = thread_pool(opts.threads)?;

    let mut loaded: Vec<(PathBuf, Result<Loaded, String>)> = Vec::new();
    for file in files {
        let res = load_with_overrides(&file, opts).map_err(|e| crate::errors::text(&e)).and_then(|(sc, r)| {
            match loaded.iter().find(|(_, l)| l.as_ref().is_ok_and(|(o, _)| o.name == sc.name)) {
                Some((other, _)) => Err(format!(
                    "{}: scenario.name `{}` is already used by {}; both would write to the same output folder, so give this one another name",
                    file.display(),
                    sc.name,
                    other.display()
                )),
                None => samples_fit(&sc, opts).map(|()| (sc, r)).map_err(|m| format!("{}: {m}", file.display())),
            }
        });
        loaded.push((file, res));
    }

    let base = match &opts.paired {
        Some(p) => {
            let mut b = scenario::load(p).map_err(|e| anyhow::anyhow!("--paired: {e}"))?;
            b.sampling = opts.sampling.unwrap_or(b.sampling);
            Some(b)
        }
        None => None,
    };
    if let Some(b) = &base {
        let names: Vec<&str> =
            loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|(s, _)| s.name.as_str()).collect();
        if !names.is_empty() && names.iter().all(|n| *n == b.name) {
            bail!(
                "`{}` is the --paired base itself: a scenario compared with itself differs by exactly 0; give a variant to compare with the base, e.g. `run scenarios/variants/openai-shift-fast.toml --paired scenarios/openai-shift.toml`",
                b.name
            );
        }
    }
    if opts.precision.is_some() && opts.paired.is_some() {
        bail!(
            "--precision and --paired cannot be combined yet: run the variant to a precision, then pair it at that path count with --paths"
        );
    }
    // Taken once the inputs are read and checked, so that a refused run
    // creates nothing.
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    let budget = |s: &Scenario| opts.precision.as_ref().map_or(s.paths, |(_, round, max)| (max / round).max(1) * round);
    let total_paths: u64 = loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|(s, _)| budget(s)).sum();
    let bar = progress_bar(total_paths, opts.quiet);
    let mut outcomes = Vec::new();
    let count = loaded.len();
    for (i, (file, sc)) in loaded.into_iter().enumerate() {
        let result = match sc {
            Err(e) => Err(e),
            Ok((sc, _)) if crate::interrupt::happened() => {
                Err(interrupted(&file, &opts.out, &sc.name, "before it ran"))
            }
            Ok((sc, resolved)) => {
                bar.set_prefix(format!("[{}/{count}] {}", i + 1, sc.name));
                run_one(&file, &sc, &resolved, opts, &pool, &bar, base.as_ref()).map_err(|e| {
                    if crate::interrupt::happened() {
                        interrupted(&file, &opts.out, &sc.name, "while it ran")
                    } else {
                        format!("{}: {}", file.display(), crate::errors::text(&e))
                    }
                })
            }
        };
        let (result, line, met) = match result {
            Ok((s, line, met)) => (Ok(s), line, met),
            Err(e) => (Err(e), None, true),
        };
        match &result {
            Ok(s) if !opts.quiet => bar.suspend(|| {
                println!("{}", headline(s));
                // An unmet target goes to stderr, as a warning.
                match &line {
                    Some(l) if !met => eprintln!("{l}"),
                    Some(l) => println!("{l}"),
                    None => {}
                }
            }),
            // --quiet hides result lines, never an unmet target.
            Ok(_) if !met => bar.suspend(|| line.iter().for_each(|l| eprintln!("{l}"))),
            // An interrupt's list says it once, at the end.
            Err(_) if crate::interrupt::happened() => {}
            Err(e) => bar.suspend(|| eprintln!("error: {e}")),
            _ => {}
        }
        outcomes.push(Outcome { file, result, met });
    }
    bar.finish_and_clear();
    let list: Vec<_> = outcomes.iter().map(|o| (o.file.as_path(), &o.result)).collect();
    let cx = export::BatchContext {
        outcomes: &list,
        charts: opts.charts,
        chart_size: opts.chart_size,
        workbook: opts.workbooks,
    };
    export::export_batch(&cx, &mut DirSink::new(&opts.out))
        .with_context(|| format!("cannot write the batch files into {}", opts.out.display()))?;
    Ok(outcomes)
}

/// The failure of a scenario that Ctrl-C stopped: what of it is on disk.
fn interrupted(file: &Path, out: &Path, name: &str, when: &str) -> String {
    let folder = out.join(name);
    let kept = if folder.is_dir() {
        format!("{} holds an earlier run's results", folder.display())
    } else {
        format!("{} was not written", folder.display())
    };
    format!("{}: interrupted by Ctrl-C {when}: not written ({kept})", file.display())
}

/// `--samples N` asks for the first N paths: more than the run (or, to a
/// precision, its first round) has is refused, not cut short unsaid.
fn samples_fit(sc: &Scenario, opts: &RunOptions) -> std::result::Result<(), String> {
    let Some(n) = opts.samples else { return Ok(()) };
    let (have, of) = match &opts.precision {
        Some((_, round, _)) => (*round, "in the first round of --precision (--round-paths)".to_string()),
        None => (sc.paths, format!("in the run of {}", sc.name)),
    };
    if n > have {
        return Err(format!(
            "--samples {n} asks for more paths than the {have} {of}: give --samples {have} or fewer, or more paths"
        ));
    }
    Ok(())
}

fn run_one(
    file: &Path,
    sc: &Scenario,
    resolved: &scenario::Resolved,
    opts: &RunOptions,
    pool: &rayon::ThreadPool,
    bar: &ProgressBar,
    base: Option<&Scenario>,
) -> Result<(ScenarioSummary, Option<String>, bool)> {
    let started = Instant::now();
    if base.is_some_and(|b| b.name == sc.name) {
        bar.suspend(|| eprintln!("note: `{}` is the --paired base itself: run without a comparison", sc.name));
    }
    let base = base.filter(|b| b.name != sc.name);
    let advance = |n| bar.inc(n);
    let observer = observer(&advance);
    // The options are applied at loading (with the flags' names in errors).
    let here = api::Options::default();
    if let Some((target, round, max)) = &opts.precision {
        let prefix = bar.prefix();
        let after = |paths: u64, half: f64, relative: f64| {
            bar.set_prefix(format!("{prefix} {} +-{half:.3} ({:.2}%) at {paths}", target.stat, 100.0 * relative));
        };
        let (run, reached) =
            pool.install(|| api::run_to_precision(sc, target, (*round, *max), &here, &observer, &after))?;
        let line = precision_line(&sc.name, target, &reached);
        let met = reached.met;
        let wall = started.elapsed().as_secs_f64();
        let sc = &run.scenario;
        let info = RunInfo {
            precision: Some(reached),
            ..run_info(sc, file, &resolved.text, &resolved.chain, opts.threads, wall)
        };
        let samples = opts.samples.map(|n| (n, *round));
        write_outputs(&opts.out.join(&sc.name), sc, &resolved.chain, &run.summary, info, opts, pool, None, samples)?;
        return Ok((run.summary, Some(line), met));
    }
    // A paired run simulates both scenarios once, side by side.
    let (run, paired) = match base {
        Some(b) => {
            let p = pool.install(|| api::run_paired(sc, b, &here, &observer))?;
            // Notes go to stderr, with --quiet too.
            for note in &p.notes {
                bar.suspend(|| eprintln!("{note}"));
            }
            (p.run.clone(), Some((b, p)))
        }
        None => (pool.install(|| api::run(sc, &here, &observer))?, None),
    };
    let summary = run.summary;
    let focus = backlog_risk::metric::Metric::focus_loss(sc).to_string();
    let line = paired.as_ref().and_then(|(b, p)| {
        p.rows.iter().find(|row| row.metric == focus).map(|row| paired_line(&sc.name, &b.name, row))
    });
    let wall = started.elapsed().as_secs_f64();
    let info = run_info(sc, file, &resolved.text, &resolved.chain, opts.threads, wall);
    write_outputs(
        &opts.out.join(&sc.name),
        sc,
        &resolved.chain,
        &summary,
        info,
        opts,
        pool,
        paired.as_ref().map(|(b, p)| (*b, p.rows.as_slice())),
        opts.samples.map(|n| (n, sc.paths)),
    )?;
    Ok((summary, line, true))
}

/// The console line of a run to a precision: met or not, and at what cost.
fn precision_line(name: &str, t: &backlog_risk::precision::Target, r: &backlog_risk::precision::Reached) -> String {
    let got = format!(
        "{} of {}: {:.3} +- {:.3} ({:.2}% of it) after {} paths ({} of {})",
        t.stat,
        t.metric,
        r.estimate,
        r.half_width,
        100.0 * r.relative_half_width,
        r.paths,
        count(r.rounds as usize, "round"),
        r.round_paths
    );
    if r.met {
        format!("  {name}: precision {} met: {got}", t.text())
    } else {
        format!(
            "  {name}: precision {} NOT met within --max-paths {}: {got}; raise --max-paths or loosen the target",
            t.text(),
            r.max_paths
        )
    }
}

/// The console line of a paired run: the focus provider's loss against
/// the base, path by path.
fn paired_line(name: &str, base: &str, r: &report::PairedRow) -> String {
    let se = |x: Option<f64>| x.map_or("no se: fewer than 100,000 paths".to_string(), |s| format!("se {s:.2}"));
    let d = |x: f64| {
        let s = money(x);
        if x > 0.0 { format!("+{s}") } else { s }
    };
    format!(
        "  {name} minus {base}, {} path by path: expected {} (se {:.2}), VaR99 {} ({}), ES99 {} ({})",
        r.metric,
        d(r.diff),
        r.se_paired,
        d(r.d_var99.unwrap_or(f64::NAN)),
        se(r.d_var99_se),
        d(r.d_es99.unwrap_or(f64::NAN)),
        se(r.d_es99_se)
    )
}

/// The closing report of a batch: one line per scenario, ok or its error.
pub fn batch_report(outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let mut s = format!("{} scenarios: {} ok, {} failed\n", outcomes.len(), outcomes.len() - failed, failed);
    for o in outcomes {
        let file = o.file.display().to_string();
        match &o.result {
            Ok(sum) => s.push_str(&format!("  ok     {file} ({})\n", sum.name)),
            // The message names the file already.
            Err(e) => s.push_str(&format!("  failed {file}: {}\n", e.strip_prefix(&format!("{file}: ")).unwrap_or(e))),
        }
    }
    s
}
