//! `run --shard K/N` and `merge`: a run split into shards, and the merge
//! (of a run's, a stress test's or a sweep's shards) back into the files one
//! process writes.

use super::*;
use backlog_risk::writers::shard::{Attached, Payload};

/// `backlog-risk run --shard K/N`: simulate shard K of N of every scenario
/// and write `OUT/NAME/shard-K-of-N.bin` for `merge`. True when every
/// scenario ran.
pub fn run_shard(opts: &RunOptions, (k, n): (u64, u64)) -> Result<bool> {
    let base = match &opts.paired {
        Some(p) => {
            let (mut b, r) = scenario::load_resolved(p).map_err(|e| anyhow::anyhow!("--paired: {e}"))?;
            b.sampling = opts.sampling.unwrap_or(b.sampling);
            Some((b, r))
        }
        None => None,
    };
    if opts.precision.is_some() {
        bail!(
            "--precision cannot be used with --shard: a run to a precision decides its paths as it goes; give the shards a fixed --paths"
        );
    }
    if opts.samples.is_some() {
        bail!(
            "--samples cannot be used with --shard: a shard writes no results; run the first paths without --shard to get samples.csv"
        );
    }
    let pool = thread_pool(opts.threads)?;
    let mut ok = true;
    for file in collect_inputs(&opts.inputs)? {
        let (sc, resolved) = match load_with_overrides(&file, opts) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {}", crate::errors::text(&e));
                ok = false;
                continue;
            }
        };
        let engine = Engine::new(&sc).with_cancel(&crate::interrupt::token());
        let chunks = shard_chunks(sc.paths, k, n);
        let (first, last) = (chunks.start * CHUNK, (chunks.end * CHUNK).min(sc.paths));
        let bar = progress_bar(last.saturating_sub(first), opts.quiet);
        bar.set_prefix(format!("{} shard {k}/{n}", sc.name));
        // Paired with the base unless the scenario is the base itself.
        let payload = match base.as_ref().filter(|(b, _)| b.name != sc.name) {
            Some((b, _)) if let Err(e) = api::paired_check(&sc, b) => {
                eprintln!("error: {}: {e}", file.display());
                ok = false;
                continue;
            }
            Some((b, r)) => {
                let part = pool.install(|| {
                    engine.run_paired_chunks(
                        &Engine::new(b).with_cancel(engine.cancel()),
                        sc.seed,
                        sc.paths,
                        chunks,
                        &|x| bar.inc(x),
                    )
                });
                let file = opts.paired.as_ref().expect("a base was loaded").display().to_string();
                Payload::Paired { base: Attached::new(&file, &r.text), partial: part }
            }
            None => Payload::Run(pool.install(|| engine.run_chunks(sc.seed, sc.paths, chunks, &|x| bar.inc(x)))),
        };
        bar.finish_and_clear();
        if engine.cancelled() {
            eprintln!("{}: shard {k} of {n} interrupted: not written", sc.name);
            return Ok(false);
        }
        let shard = ShardFile { header: shard_header(&sc, &file, &resolved, (k, n)), payload };
        let path = write_shard(&opts.out.join(&sc.name), &shard)?;
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

/// Write a merged run's files, with its `run.json`, as `run` would.
fn write_merged(
    h: &shard::ShardHeader,
    summary: &ScenarioSummary,
    sc: &Scenario,
    opts: &RunOptions,
    started: Instant,
    paired: Option<(&Scenario, &[report::PairedRow])>,
) -> Result<()> {
    let file = PathBuf::from(&h.scenario_file);
    let chain: Vec<PathBuf> = std::iter::once(file.clone()).chain(h.extends.iter().map(PathBuf::from)).collect();
    let info = run_info(sc, &file, &h.scenario_text, &chain, opts.threads, started.elapsed().as_secs_f64());
    write_outputs(&opts.out.join(&sc.name), sc, &chain, summary, info, opts, &thread_pool(opts.threads)?, paired, None)
}

/// `backlog-risk merge`: read the shard files of one run (folders stand for
/// the `shard-*-of-*.bin` files inside), check that they are all there once
/// and belong together ([`api::merge`], one file in memory at a time), and
/// write the outputs of the whole run into `OUT/NAME/`, `OUT` being
/// `opts.out`, or with `beside` the folder the shards were written into
/// ([`beside_shards`]). Nothing is written when a check fails; the folder
/// written is printed.
pub fn merge(inputs: &[PathBuf], opts: &RunOptions, beside: bool) -> Result<()> {
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
    if sweeps > 0 && sweeps < files.len() {
        bail!("the shards given are of a run and of a sweep; merge each on its own (shard-*.bin or sweep-shard-*.bin)");
    }
    // A file that cannot be read is reported as it comes, with its name.
    let shards = files.iter().map(|f| {
        read_shard(f)
            .map(|file| api::Shard { source: f.display().to_string(), file })
            .map_err(|e| backlog_risk::Error::Shard(format!("{e:#}")))
    });
    let api::Merge { header, mut merged } =
        api::merge(shards, &api::Observer::new().with_cancel(&crate::interrupt::token()))?;
    let out = match files.first() {
        Some(first) if beside => beside_shards(first, &header.scenario, &merged),
        _ => opts.out.clone(),
    };
    let opts = &RunOptions { out, ..opts.clone() };
    // --focus: what a run's headline and loss.png are about.
    if let Some(focus) = opts.focus.as_deref() {
        let file = PathBuf::from(&header.scenario_file);
        match &mut merged {
            api::Merged::Run(r) => {
                apply_focus(&mut r.scenario, Some(focus), &file)?;
                r.summary.focus = r.scenario.focus;
            }
            api::Merged::Paired(p) => {
                apply_focus(&mut p.run.scenario, Some(focus), &file)?;
                p.run.summary.focus = p.run.scenario.focus;
            }
            api::Merged::Stress { .. } | api::Merged::Sweep(_) => bail!(
                "--focus {focus}: the shards are of a stress test or a sweep, whose files do not depend on a focus provider; leave out --focus (a sweep's metric is chosen when its shards run)"
            ),
        }
    }
    // Taken once every shard has been checked, so that a refused merge
    // writes nothing.
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    let n = header.shards;
    let wrote = |dir: PathBuf| {
        if !opts.quiet {
            println!("  wrote {}", dir.display());
        }
    };
    match merged {
        api::Merged::Run(r) => {
            write_merged(&header, &r.summary, &r.scenario, opts, started, None)?;
            if !opts.quiet {
                println!("merged {n} shards: {}", headline(&r.summary));
            }
            wrote(opts.out.join(&r.scenario.name));
        }
        api::Merged::Paired(p) => {
            write_merged(&header, &p.run.summary, &p.run.scenario, opts, started, Some((&p.base, &p.rows)))?;
            if !opts.quiet {
                println!("merged {n} shards (paired with {}): {}", p.base.name, headline(&p.run.summary));
            }
            wrote(opts.out.join(&p.run.scenario.name));
        }
        api::Merged::Stress { result, row, .. } => {
            super::stress::write_stress(&result, Some(&row), opts)?;
            if !opts.quiet {
                println!(
                    "merged {n} shards of the stress test: {}",
                    backlog_risk::writers::text::stress_line(&result, Some(&row))
                );
            }
            wrote(opts.out.join(&result.scenario).join(format!("portfolio-{}", result.portfolio)));
        }
        api::Merged::Sweep(s) => {
            let run = RunOptions { paths: Some(header.paths), seed: Some(header.seed), ..opts.clone() };
            let w = &s.plan;
            let sweep = SweepOptions {
                file: PathBuf::from(&header.scenario_file),
                vary: w.vary.clone(),
                stat: w.stat.clone(),
                metric: w.metric.parse().ok(),
                run,
                shard: None,
                renormalise: false,
            };
            super::sweep::write_sweep(&s.plan, s.points, &sweep)?;
        }
    }
    Ok(())
}

/// The output folder a merge writes into by default: the one the shards
/// were written into. Shards in `OUT/NAME/` (a stress test's in
/// `OUT/NAME/portfolio-P/`) give `OUT`; shards anywhere else give their
/// own folder (the results then go to a `NAME/` inside it).
fn beside_shards(first: &Path, scenario: &str, merged: &api::Merged) -> PathBuf {
    let dir = first.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let named = |d: &Path, name: &str| d.file_name().is_some_and(|n| n == name);
    let scenario_dir = match merged {
        api::Merged::Stress { portfolio, .. } => {
            dir.parent().filter(|p| named(dir, &format!("portfolio-{}", portfolio.name)) && named(p, scenario))
        }
        _ => Some(dir).filter(|d| named(d, scenario)),
    };
    match scenario_dir {
        Some(d) => d.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
        None => dir.to_path_buf(),
    }
}
