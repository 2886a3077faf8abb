//! `run --shard K/N` and `merge`: a run or a sweep split into shards, and
//! the merge back into the files one process writes.

use super::sweep::{plan_sweep, shard_points, write_sweep};
use super::*;
use backlog_risk::engine::{PairedPartial, Partial};
use backlog_risk::writers::shard::PairedShard;

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
                eprintln!("error: {e}");
                ok = false;
                continue;
            }
        };
        let engine = Engine::new(&sc);
        let chunks = shard_chunks(sc.paths, k, n);
        let (first, last) = (chunks.start * CHUNK, (chunks.end * CHUNK).min(sc.paths));
        let bar = progress_bar(last.saturating_sub(first), opts.quiet);
        bar.set_prefix(format!("{} shard {k}/{n}", sc.name));
        // Paired with the base unless the scenario is the base itself.
        let (partial, paired) = match base.as_ref().filter(|(b, _)| b.name != sc.name) {
            Some((b, _)) if let Err(e) = api::paired_check(&sc, b) => {
                eprintln!("error: {}: {e}", file.display());
                ok = false;
                continue;
            }
            Some((b, r)) => {
                let part = pool
                    .install(|| engine.run_paired_chunks(&Engine::new(b), sc.seed, sc.paths, chunks, &|x| bar.inc(x)));
                let file = opts.paired.as_ref().expect("a base was loaded").display().to_string();
                let sha256 = format!("{:x}", Sha256::digest(r.text.as_bytes()));
                (Partial::default(), Some(PairedShard { file, sha256, text: r.text.clone(), partial: part }))
            }
            None => (pool.install(|| engine.run_chunks(sc.seed, sc.paths, chunks, &|x| bar.inc(x))), None),
        };
        bar.finish_and_clear();
        let shard = ShardFile { partial, paired, ..new_shard_file(&sc, &file, &resolved, opts, (k, n)) };
        let path = opts.out.join(&sc.name).join(shard::file_name(k, n));
        crate::files::write_atomic(&path, &shard::encode(&shard)?)?;
        if !opts.quiet {
            println!("{}: shard {k} of {n}, paths {first}..{last} of {}: wrote {}", sc.name, sc.paths, path.display());
        }
    }
    Ok(ok)
}

/// Shard `k` of `n` of scenario `sc` (read from `file`, resolved as
/// `resolved`), with an empty payload for the caller to fill.
pub(super) fn new_shard_file(
    sc: &Scenario,
    file: &Path,
    resolved: &scenario::Resolved,
    opts: &RunOptions,
    (k, n): (u64, u64),
) -> ShardFile {
    let info = run_info(sc, file, &resolved.text, &resolved.chain, opts.threads, 0.0);
    ShardFile {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        scenario: sc.name.clone(),
        scenario_file: info.scenario_file,
        scenario_sha256: info.scenario_sha256,
        scenario_text: resolved.text.clone(),
        extends: info.extends,
        seed: sc.seed,
        paths: sc.paths,
        sampling: sc.sampling,
        shards: n,
        shard: k,
        partial: Partial::default(),
        sweep: None,
        paired: None,
        stress: None,
    }
}

/// `merge` of the shards of a stress test: the portfolio's results under
/// the scenario, as `stress` writes them into
/// `OUT/NAME/portfolio-PORTFOLIO/`.
fn merge_stress(files: &[PathBuf], mut first: ShardFile, opts: &RunOptions) -> Result<()> {
    let (mut parts, mut pairs) = (Vec::new(), Vec::new());
    each_shard(files, &mut first, |f, s| {
        let st = s.stress.as_mut().with_context(|| format!("{}: not a shard of a stress test", f.display()))?;
        match &mut st.paired {
            Some(p) => pairs.push(std::mem::take(&mut p.partial)),
            None => parts.push(std::mem::take(&mut st.partial)),
        }
        Ok(())
    })?;
    let st = first.stress.as_ref().expect("checked above");
    let portfolio = backlog_risk::portfolio::parse(&st.text, Path::new(&st.file)).map_err(|e| anyhow::anyhow!(e))?;
    let (_, sc) = shard_scenario(&first)?;
    let base = match &st.paired {
        Some(pb) => {
            let mut base =
                scenario::parse(&pb.text, Path::new(&pb.file)).map_err(|e| anyhow::anyhow!("--paired: {e}"))?;
            (base.seed, base.paths) = (sc.seed, sc.paths);
            Some(base)
        }
        None => None,
    };
    let unfit = |e: String| format!("the shards do not fit together: {e}");
    // The same cut and binding as the stress test that wrote the shards.
    let fit = api::bind_portfolio(&portfolio, &sc, base.as_ref(), |bound, engine, pair| {
        let paths = engine.scenario().paths;
        match pair {
            None => {
                let r = bound.finish(engine, paths, parts).map_err(unfit)?;
                let row = backlog_risk::portfolio::ScenarioRisk::from(&r);
                Ok((r, row))
            }
            Some(pair) => {
                let p = bound.finish_paired(engine, pair, paths, pairs).map_err(unfit)?;
                api::check_stress_finite(&p.base)?;
                let row = p.row();
                Ok((p.mine, row))
            }
        }
    });
    let (r, row) = match fit.map_err(|e| anyhow::anyhow!(e))? {
        api::Fit::Ran(done) => done,
        api::Fit::Skip(why) => bail!(why),
    };
    api::check_stress_finite(&r).map_err(|e| anyhow::anyhow!(e))?;
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    super::stress::write_stress(&r, Some(&row), opts)?;
    if !opts.quiet {
        println!("merged {} shards of the stress test: {}", first.shards, super::stress::stress_line(&r, Some(&row)));
    }
    Ok(())
}

/// Read and decode one shard file.
fn read_shard(f: &Path) -> Result<ShardFile> {
    let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
    shard::decode(&bytes).with_context(|| f.display().to_string())
}

/// `merge` of the shards of a sweep: every point's accumulator, in grid
/// order, then the files `sweep` writes.
fn merge_sweep(files: &[PathBuf], mut first: ShardFile, opts: &RunOptions) -> Result<()> {
    let mut parts: Vec<(u64, u64, Vec<backlog_risk::writers::shard::SweepPoint>)> = Vec::new();
    each_shard(files, &mut first, |f, s| {
        let w = s.sweep.as_mut().with_context(|| format!("{}: not a sweep shard", f.display()))?;
        parts.push((s.shard, w.first_point, std::mem::take(&mut w.points)));
        Ok(())
    })?;
    parts.sort_by_key(|p| p.0);
    let w = first.sweep.as_ref().expect("checked above");
    let (file, base) = shard_scenario(&first)?;
    let run =
        RunOptions { paths: Some(first.paths), seed: Some(first.seed), sampling: Some(first.sampling), ..opts.clone() };
    let sweep = SweepOptions {
        file: file.clone(),
        vary: w.vary.clone(),
        stat: w.stat.clone(),
        metric: Some(w.metric.clone()),
        run,
        shard: None,
        renormalise: w.renormalise,
    };
    let plan = plan_sweep(&file, base, &first.scenario_text, &sweep)?;
    let mut accs = Vec::with_capacity(plan.points.len());
    for (k, at, points) in parts {
        if at as usize != accs.len() || shard_points(plan.points.len(), k, first.shards).len() != points.len() {
            bail!("sweep shard {k} of {} does not hold the points it should", first.shards);
        }
        accs.extend(points);
    }
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    write_sweep(&plan, accs, &sweep)
}

/// `merge` of the shards of a `--paired` run: both scenarios' results and
/// the paired differences, then the files `run --paired` writes. The
/// shards' partial results are all held until the end.
fn merge_paired(files: &[PathBuf], mut first: ShardFile, opts: &RunOptions, started: Instant) -> Result<()> {
    let mut parts: Vec<PairedPartial> = Vec::new();
    each_shard(files, &mut first, |f, s| {
        let p = s.paired.as_mut().with_context(|| format!("{}: not a shard of a --paired run", f.display()))?;
        parts.push(std::mem::take(&mut p.partial));
        Ok(())
    })?;
    let pb = first.paired.as_ref().expect("checked above");
    let (file, sc) = shard_scenario(&first)?;
    let base = scenario::parse(&pb.text, Path::new(&pb.file)).map_err(|e| anyhow::anyhow!("--paired: {e}"))?;
    let engine = Engine::new(&sc);
    let paired = engine
        .finish_paired(&Engine::new(&base), sc.paths, parts)
        .map_err(|e| anyhow::anyhow!("the shards do not fit together: {e}"))?;
    check_finite(&sc, &paired.mine)?;
    check_finite(&base, &paired.base)?;
    let summary = report::summarise(&engine, &paired.mine, sc.seed);
    let rows = report::paired(&summary, &paired);
    write_merged(&first, &file, &sc, &summary, opts, started, Some((&base, &rows)))?;
    if !opts.quiet {
        println!("merged {} shards (paired with {}): {}", first.shards, base.name, headline(&summary));
    }
    Ok(())
}

/// Check every shard file against the first (already read, `first`), each
/// K once, none missing, and hand each one to `take` for its payload: one
/// file in memory at a time besides the first.
fn each_shard(
    files: &[PathBuf],
    first: &mut ShardFile,
    mut take: impl FnMut(&Path, &mut ShardFile) -> Result<()>,
) -> Result<()> {
    let mut seen: Vec<Option<&PathBuf>> = vec![None; first.shards as usize];
    for (i, f) in files.iter().enumerate() {
        if i == 0 {
            admit(&files[0], first, f, first, &mut seen)?;
            take(f, first)?;
        } else {
            let mut s = read_shard(f)?;
            admit(&files[0], first, f, &s, &mut seen)?;
            take(f, &mut s)?;
        }
    }
    all_there(&seen, first)
}

/// The scenario a shard ran (its text, with the shard's seed and paths)
/// and the file it came from.
fn shard_scenario(first: &ShardFile) -> Result<(PathBuf, Scenario)> {
    let file = PathBuf::from(&first.scenario_file);
    let mut sc = scenario::parse(&first.scenario_text, &file).map_err(|e| anyhow::anyhow!("{e}"))?;
    (sc.seed, sc.paths, sc.sampling) = (first.seed, first.paths, first.sampling);
    Ok((file, sc))
}

/// Write a merged run's files, with its `run.json`, as `run` would.
fn write_merged(
    first: &ShardFile,
    file: &Path,
    sc: &Scenario,
    summary: &ScenarioSummary,
    opts: &RunOptions,
    started: Instant,
    paired: Option<(&Scenario, &[report::PairedRow])>,
) -> Result<()> {
    let chain: Vec<PathBuf> =
        std::iter::once(file.to_path_buf()).chain(first.extends.iter().map(PathBuf::from)).collect();
    let info = run_info(sc, file, &first.scenario_text, &chain, opts.threads, started.elapsed().as_secs_f64());
    // Taken once every shard has been checked, so that a refused merge
    // writes nothing.
    let _lock = crate::outdir::OutLock::acquire(&opts.out)?;
    write_outputs(&opts.out.join(&sc.name), sc, &chain, summary, info, opts, &thread_pool(opts.threads)?, paired, None)
}

/// Check shard file `f` against the first of its run, and that no other
/// file was the same shard.
fn admit<'a>(
    first_file: &Path,
    first: &ShardFile,
    f: &'a PathBuf,
    s: &ShardFile,
    seen: &mut [Option<&'a PathBuf>],
) -> Result<()> {
    let differs = [
        ("scenario", s.scenario != first.scenario),
        ("scenario text (SHA-256)", s.scenario_sha256 != first.scenario_sha256),
        ("seed", s.seed != first.seed),
        ("paths", s.paths != first.paths),
        ("sampling design", s.sampling != first.sampling),
        ("shard count N", s.shards != first.shards),
        ("tool version", s.tool_version != first.tool_version),
        ("portfolio (SHA-256)", s.stress.as_ref().map(|x| &x.sha256) != first.stress.as_ref().map(|x| &x.sha256)),
        (
            "--paired base of the stress test",
            s.stress.as_ref().and_then(|x| x.paired.as_ref()).map(|p| &p.sha256)
                != first.stress.as_ref().and_then(|x| x.paired.as_ref()).map(|p| &p.sha256),
        ),
        (
            "swept parameters",
            s.sweep.as_ref().map(|w| (&w.vary, &w.stat, &w.metric))
                != first.sweep.as_ref().map(|w| (&w.vary, &w.stat, &w.metric)),
        ),
    ];
    if let Some((what, _)) = differs.iter().find(|(_, d)| *d) {
        bail!(
            "{}: a shard of another run than {} (its {what} differs); merge the shards of one run",
            f.display(),
            first_file.display()
        );
    }
    let n = first.shards;
    match seen.get_mut(s.shard as usize) {
        Some(Some(earlier)) => bail!("{} and {} are both shard {} of {n}", earlier.display(), f.display(), s.shard),
        Some(slot) => *slot = Some(f),
        None => bail!("{}: shard {} of {n} is out of range", f.display(), s.shard),
    }
    Ok(())
}

/// Every shard 0 .. N seen, or an error listing the missing ones.
fn all_there(seen: &[Option<&PathBuf>], first: &ShardFile) -> Result<()> {
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(k, _)| k.to_string()).collect();
    if !missing.is_empty() {
        bail!(
            "shard {} of {} of scenario {} missing (expected {} for each missing K)",
            missing.join(", "),
            first.shards,
            first.scenario,
            shard::file_name(0, first.shards).replace("-0-", "-K-")
        );
    }
    Ok(())
}

/// `backlog-risk merge`: read the shard files of one run (folders stand for
/// the `shard-*-of-*.bin` files inside), check that they are all there once
/// and belong together, and write the outputs of the whole run into
/// `OUT/NAME/`. Nothing is written when a check fails.
pub fn merge(inputs: &[PathBuf], opts: &RunOptions) -> Result<()> {
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
    let mut first = read_shard(&files[0])?;
    if sweeps > 0 {
        return merge_sweep(&files, first, opts);
    }
    if first.paired.is_some() {
        return merge_paired(&files, first, opts, started);
    }
    if first.stress.is_some() {
        return merge_stress(&files, first, opts);
    }
    // One shard in memory at a time: checked, its partial result merged
    // and dropped.
    let (file, sc) = shard_scenario(&first)?;
    let engine = Engine::new(&sc);
    let mut merger = engine.merger();
    each_shard(&files, &mut first, |f, s| {
        merger.add(std::mem::take(&mut s.partial)).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
    })?;
    let acc = merger.finish(sc.paths).map_err(|e| anyhow::anyhow!("the shards do not fit together: {e}"))?;
    check_finite(&sc, &acc)?;
    let summary = report::summarise(&engine, &acc, sc.seed);
    write_merged(&first, &file, &sc, &summary, opts, started, None)?;
    if !opts.quiet {
        println!("merged {} shards: {}", first.shards, headline(&summary));
    }
    Ok(())
}
