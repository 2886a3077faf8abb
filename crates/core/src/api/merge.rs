//! `merge`: the shards of one run, stress test or sweep, checked to belong
//! together and to cover every part once, merged into the result one
//! process would have computed, bit for bit.

use std::path::Path;

use super::{PairedRun, Run, Swept, check_finite, sweep::SweepSpec};
use crate::engine::Engine;
use crate::model::Scenario;
use crate::portfolio::{Portfolio, ScenarioRisk, StressResult};
use crate::writers::shard::{self, Attached, Payload, ShardFile, ShardHeader, SweepShard};
use crate::{Error, Result, report, scenario};

/// A shard file read back, and what names it in messages (its path).
#[derive(Debug, Clone)]
pub struct Shard {
    pub source: String,
    pub file: ShardFile,
}

/// What the shards merged into, by the command that wrote them.
#[derive(Debug, Clone)]
pub enum Merged {
    Run(Box<Run>),
    Paired(Box<PairedRun>),
    /// A stress test (plain or paired): the portfolio, the result and its
    /// comparison row.
    Stress {
        portfolio: Portfolio,
        result: Box<StressResult>,
        row: ScenarioRisk,
    },
    Sweep(Swept),
}

/// A merge: the first shard's header (the run's scenario, seed, paths,
/// shard count) and the merged result.
#[derive(Debug, Clone)]
pub struct Merge {
    pub header: ShardHeader,
    pub merged: Merged,
}

/// The scenario a shard ran (its text, with the shard's seed, paths and
/// sampling).
///
/// ```
/// use backlog_risk::{api, writers::shard::ShardHeader};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\nother = { backlog = 10.0, bookings = 1.0 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let mut header = ShardHeader::new(&sc, "doc.toml", text, &[], (1, 2));
/// (header.seed, header.paths) = (9, 8192);
/// let back = api::shard_scenario(&header).unwrap();
/// assert_eq!((back.name.as_str(), back.seed, back.paths), ("doc", 9, 8192));
/// ```
pub fn shard_scenario(h: &ShardHeader) -> Result<Scenario> {
    let mut sc = scenario::parse(&h.scenario_text, Path::new(&h.scenario_file))?;
    (sc.seed, sc.paths, sc.sampling) = (h.seed, h.paths, h.sampling);
    Ok(sc)
}

/// What must be equal in every shard of one run, with its name for the
/// message: the header's fields and the payload's attached files and sweep.
fn identity(s: &ShardFile) -> Vec<(&'static str, String)> {
    let h = &s.header;
    let attached = |a: &Attached| a.sha256.clone();
    let mut v = vec![
        ("kind of run", s.payload.kind().to_string()),
        ("scenario", h.scenario.clone()),
        ("scenario text (SHA-256)", h.scenario_sha256.clone()),
        ("seed", h.seed.to_string()),
        ("paths", h.paths.to_string()),
        ("sampling design", h.sampling.name().to_string()),
        ("shard count N", h.shards.to_string()),
        ("tool version", h.tool_version.clone()),
    ];
    match &s.payload {
        Payload::Run(_) => {}
        Payload::Paired { base, .. } => v.push(("paired base", attached(base))),
        Payload::Stress { portfolio, .. } => v.push(("portfolio (SHA-256)", attached(portfolio))),
        Payload::PairedStress { portfolio, base, .. } => {
            v.push(("portfolio (SHA-256)", attached(portfolio)));
            v.push(("paired base of the stress test", attached(base)));
        }
        Payload::Sweep(w) => {
            v.push(("swept parameters", format!("{:?} {} {} {}", w.vary, w.stat, w.metric, w.renormalise)))
        }
    }
    v
}

/// Merge the shards of one run (in any order, read one at a time: each is
/// checked and its part folded in before the next is read). Errors name
/// the shard's source: a shard of another run, a shard given twice or out
/// of range, a shard missing, parts that do not fit together.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options, Shard};
/// use backlog_risk::writers::shard::{Payload, ShardFile, ShardHeader};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 6000\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let engine = backlog_risk::engine::Engine::new(&sc);
/// let shard = |k: u64| {
///     let chunks = backlog_risk::engine::shard_chunks(sc.paths, k, 2);
///     let header = ShardHeader::new(&sc, "doc.toml", text, &[], (k, 2));
///     let payload = Payload::Run(engine.run_chunks(sc.seed, sc.paths, chunks, &|_| {}));
///     Ok(Shard { source: format!("shard {k}"), file: ShardFile { header, payload } })
/// };
/// let m = api::merge([shard(1), shard(0)], &Observer::new()).unwrap();
/// let api::Merged::Run(merged) = m.merged else { panic!("a run") };
/// let whole = api::run(&sc, &Options::default(), &Observer::new()).unwrap();
/// assert_eq!(merged.accumulator, whole.accumulator);
/// ```
pub fn merge<I: IntoIterator<Item = Result<Shard>>>(shards: I, obs: &super::Observer) -> Result<Merge> {
    let bad = |m: String| Error::Shard(m);
    let mut shards = shards.into_iter();
    let first = shards.next().ok_or_else(|| bad("no shard to merge".into()))?;
    let Shard { source: first_source, file: first } = first?;
    first.check().map_err(|e| bad(format!("{first_source}: {e}")))?;
    let want = identity(&first);
    let n = first.header.shards;
    let mut seen: Vec<Option<String>> = vec![None; n as usize];
    let header = first.header.clone();
    let sc = shard_scenario(&header).map_err(|e| bad(format!("{first_source}: the scenario it carries: {e}")))?;
    let engine = Engine::new(&sc);
    // A paired run's base, to check its shards' partial results against.
    let paired_base = match &first.payload {
        Payload::Paired { base, .. } => Some(
            scenario::parse(&base.text, Path::new(&base.file))
                .map_err(|e| bad(format!("{first_source}: the paired base it carries: {e}")))?,
        ),
        _ => None,
    };
    let base_engine = paired_base.as_ref().map(Engine::new);
    let mut merger = engine.merger();
    let (mut paired, mut stress, mut stress_paired, mut sweep) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // The first payload's kind and attached files (not its partial result).
    let kind = match &first.payload {
        Payload::Run(_) => Payload::Run(Default::default()),
        Payload::Paired { base, .. } => Payload::Paired { base: base.clone(), partial: Default::default() },
        Payload::Stress { portfolio, .. } => {
            Payload::Stress { portfolio: portfolio.clone(), partial: Default::default() }
        }
        Payload::PairedStress { portfolio, base, .. } => {
            Payload::PairedStress { portfolio: portfolio.clone(), base: base.clone(), partial: Default::default() }
        }
        Payload::Sweep(w) => Payload::Sweep(SweepShard { points: Vec::new(), ..w.clone() }),
    };
    let mut take = |source: String, s: ShardFile| -> Result<()> {
        obs.cancel().check()?;
        s.check().map_err(|e| bad(format!("{source}: {e}")))?;
        let got = identity(&s);
        if let Some(((what, _), _)) = want.iter().zip(&got).find(|(a, b)| a != b) {
            return Err(bad(format!(
                "{source}: a shard of another run than {first_source} (its {what} differs); merge the shards of one run"
            )));
        }
        match seen.get_mut(s.header.shard as usize) {
            Some(Some(earlier)) => {
                return Err(bad(format!("{earlier} and {source} are both shard {} of {n}", s.header.shard)));
            }
            Some(slot) => *slot = Some(source.clone()),
            None => return Err(bad(format!("{source}: shard {} of {n} is out of range", s.header.shard))),
        }
        let k = s.header.shard;
        let chunks = crate::engine::shard_chunks(sc.paths, k, n);
        let unfit = |e: String| bad(format!("{source}: {e}; write this shard again"));
        match s.payload {
            Payload::Run(p) => {
                p.check(&engine, sc.paths, chunks).map_err(unfit)?;
                merger.add(p).map_err(|e| bad(format!("{source}: {e}")))?
            }
            Payload::Paired { partial, .. } => {
                let base =
                    base_engine.as_ref().ok_or_else(|| bad(format!("{source}: a paired shard without a base")))?;
                partial.check(&engine, base, sc.paths, chunks).map_err(unfit)?;
                paired.push(partial)
            }
            Payload::Stress { partial, .. } => stress.push((source, k, partial)),
            Payload::PairedStress { partial, .. } => stress_paired.push((source, k, partial)),
            Payload::Sweep(w) => sweep.push((k, w.first_point, w.points)),
        }
        Ok(())
    };
    take(first_source.clone(), first)?;
    for s in shards {
        let Shard { source, file } = s?;
        take(source, file)?;
    }
    let missing: Vec<u64> = seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(k, _)| k as u64).collect();
    if !missing.is_empty() {
        let shown = ranges(&missing);
        return Err(bad(format!(
            "shard {shown} of {n} of scenario {} missing (expected {} for each missing K)",
            header.scenario,
            shard::file_name(0, n).replace("-0-", "-K-")
        )));
    }
    let unfit = |e: Error| bad(format!("the shards do not fit together: {e}"));
    // A merged stress test that overflows says so; other failures to
    // finish mean the shards do not fit.
    let unfit_stress = |e: Error| match e {
        Error::Overflow(_) => e,
        e => unfit(e),
    };
    let merged = match kind {
        Payload::Run(_) => {
            let acc = merger.finish(sc.paths).map_err(unfit)?;
            counts_paths(&acc, sc.paths).map_err(unfit)?;
            check_finite(&sc, &acc)?;
            let summary = report::summarise(&engine, &acc, sc.seed);
            Merged::Run(Box::new(Run { scenario: sc.clone(), accumulator: acc, summary }))
        }
        Payload::Paired { base, .. } => {
            let base = scenario::parse(&base.text, Path::new(&base.file))?;
            let paired = engine.finish_paired(&Engine::new(&base), sc.paths, paired).map_err(unfit)?;
            counts_paths(&paired.mine, sc.paths).and_then(|()| counts_paths(&paired.base, sc.paths)).map_err(unfit)?;
            check_finite(&sc, &paired.mine)?;
            check_finite(&base, &paired.base)?;
            let summary = report::summarise(&engine, &paired.mine, sc.seed);
            let rows = report::paired(&summary, &paired);
            let run = Run { scenario: sc.clone(), accumulator: paired.mine.clone(), summary };
            Merged::Paired(Box::new(PairedRun { run, base, paired, rows, notes: Vec::new() }))
        }
        Payload::Stress { portfolio, .. } => {
            let portfolio = attached_portfolio(&portfolio)?;
            let fit = super::bind_portfolio(&portfolio, &sc, None, |bound, engine, _| {
                let paths = engine.scenario().paths;
                let mut parts = Vec::with_capacity(stress.len());
                for (source, k, p) in stress {
                    let chunks = crate::engine::shard_chunks(paths, k, n);
                    bound.check_partial(engine, &p, paths, chunks).map_err(|e| bad(format!("{source}: {e}")))?;
                    parts.push(p);
                }
                super::stress::finish(bound, engine, paths, parts).map_err(unfit_stress)
            });
            stressed(portfolio, fit)?
        }
        Payload::PairedStress { portfolio, base, .. } => {
            let portfolio = attached_portfolio(&portfolio)?;
            let mut base = scenario::parse(&base.text, Path::new(&base.file))?;
            (base.seed, base.paths) = (sc.seed, sc.paths);
            let fit = super::bind_portfolio(&portfolio, &sc, Some(&base), |bound, engine, pair| {
                let pair = pair.ok_or_else(|| bad("a paired stress test without a base".into()))?;
                let paths = engine.scenario().paths;
                let mut parts = Vec::with_capacity(stress_paired.len());
                for (source, k, p) in stress_paired {
                    let chunks = crate::engine::shard_chunks(paths, k, n);
                    bound
                        .check_paired_partial(engine, pair, &p, paths, chunks)
                        .map_err(|e| bad(format!("{source}: {e}")))?;
                    parts.push(p);
                }
                super::stress::finish_paired(bound, engine, pair, paths, parts).map_err(unfit_stress)
            });
            stressed(portfolio, fit)?
        }
        Payload::Sweep(w) => {
            let spec = SweepSpec {
                vary: w.vary.clone(),
                stat: w.stat.clone(),
                metric: Some(w.metric.parse()?),
                renormalise: w.renormalise,
            };
            let file = Path::new(&header.scenario_file);
            let plan = super::plan_sweep(sc.clone(), &header.scenario_text, file, &spec, &super::Options::default())?;
            sweep.sort_by_key(|p| p.0);
            let mut points = Vec::with_capacity(plan.points.len());
            for (k, at, part) in sweep {
                let expected = super::sweep::shard_points(plan.points.len(), k, n);
                if at as usize != points.len() || expected.len() != part.len() {
                    return Err(bad(format!("sweep shard {k} of {n} does not hold the points it should")));
                }
                points.extend(part);
            }
            Merged::Sweep(Swept { plan, points })
        }
    };
    Ok(Merge { header, merged })
}

/// Whether a merged accumulator counts `paths` paths in every metric and
/// band (what shards whose parts each passed their checks can still get
/// wrong together).
fn counts_paths(acc: &crate::engine::Accumulator, paths: u64) -> Result<()> {
    let metrics = acc.metrics.iter().flat_map(|m| [m.moments.count(), m.sketch.count()]);
    let bands = acc.fan.iter().chain(&acc.revenue).map(|b| b.sketch.count());
    match metrics.chain(bands).find(|&n| n != paths) {
        Some(n) => Err(Error::Shard(format!("they count {n} paths where the run has {paths}"))),
        None => Ok(()),
    }
}

/// Shard numbers as ranges: `1, 3-5, 9`, at most 20 ranges shown.
fn ranges(ks: &[u64]) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &k in ks {
        match runs.last_mut() {
            Some((_, hi)) if *hi + 1 == k => *hi = k,
            _ => runs.push((k, k)),
        }
    }
    let shown: Vec<String> =
        runs.iter().take(20).map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    match runs.len() {
        r if r > 20 => format!("{} and {} more ranges", shown.join(", "), r - 20),
        _ => shown.join(", "),
    }
}

/// The portfolio a stress test's shard carries.
fn attached_portfolio(a: &Attached) -> Result<Portfolio> {
    crate::portfolio::parse(&a.text, Path::new(&a.file))
}

/// The merged stress test, or why it cannot be.
fn stressed(portfolio: Portfolio, fit: Result<super::Fit<(StressResult, ScenarioRisk)>>) -> Result<Merged> {
    match fit? {
        super::Fit::Ran((r, row)) => Ok(Merged::Stress { portfolio, result: Box::new(r), row }),
        super::Fit::Skip(why) => Err(Error::Invalid(why)),
    }
}
