//! The core's public API: validated inputs and options in, typed results
//! out. Every front-end (the command line, the Python module, the web
//! explorer) calls these functions and nothing below them; each takes an
//! [`Observer`] that receives progress (paths done) and carries a
//! [`Cancel`] token, read before every chunk of paths, so a cancelled call
//! returns [`Error::Cancelled`] within a chunk's time.
//!
//! The functions simulate on the calling thread's rayon pool, or on a pool
//! of [`Options::threads`] threads when given; the numbers never depend on
//! the threads.

mod explain;
mod merge;
mod path;
mod stress;
mod sweep;

pub use explain::{ExplainWhat, Explained, GivenWhat, explain, explain_simulations};
pub use merge::{Merge, Merged, Shard, merge, shard_scenario};
pub use path::{PathStory, path};
pub use stress::{Fit, Stressed, bind_portfolio, check_stress_finite, stress};
pub use sweep::{
    MAX_SWEEP_POINTS, SweepPlan, SweepSpec, Swept, parse_vary, plan_sweep, shard_points, sweep, sweep_points,
    sweep_slug,
};

use crate::engine::driver::{Paired, PairedPartial, Recorded};
use crate::engine::{Accumulator, Engine};
use crate::model::{Sampling, Scenario};
use crate::precision::{Reached, Target};
use crate::report::{self, PairedRow, ScenarioSummary};
use crate::{Cancel, Error, Result};

/// Where progress goes and what stops a call.
///
/// ```
/// use backlog_risk::api::Observer;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let done = AtomicU64::new(0);
/// let count = |n: u64| {
///     done.fetch_add(n, Ordering::Relaxed);
/// };
/// let obs = Observer::new().with_progress(&count);
/// obs.advance(2048);
/// assert_eq!(done.load(Ordering::Relaxed), 2048);
/// assert!(!obs.cancel().is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct Observer<'a> {
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    cancel: Cancel,
}

impl<'a> Observer<'a> {
    /// No progress reported, never cancelled.
    ///
    /// ```
    /// let obs = backlog_risk::api::Observer::new();
    /// obs.advance(10);
    /// assert!(!obs.cancel().is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Report the paths done to `f` (called from worker threads, once per
    /// chunk of paths).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let done = AtomicU64::new(0);
    /// let count = |n: u64| {
    ///     done.fetch_add(n, Ordering::Relaxed);
    /// };
    /// backlog_risk::api::Observer::new().with_progress(&count).advance(7);
    /// assert_eq!(done.load(Ordering::Relaxed), 7);
    /// ```
    pub fn with_progress(mut self, f: &'a (dyn Fn(u64) + Sync)) -> Self {
        self.progress = Some(f);
        self
    }

    /// Stop when `token` is cancelled.
    ///
    /// ```
    /// use backlog_risk::{Cancel, Error, api::{self, Observer, Options}};
    /// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
    ///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
    ///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
    ///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
    /// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
    /// let token = Cancel::new();
    /// token.cancel();
    /// let r = api::run(&sc, &Options::default(), &Observer::new().with_cancel(&token));
    /// assert!(matches!(r, Err(Error::Cancelled)));
    /// ```
    pub fn with_cancel(mut self, token: &Cancel) -> Self {
        self.cancel = token.clone();
        self
    }

    /// Report `paths` more paths done (to the progress function, if any).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let done = AtomicU64::new(0);
    /// let count = |n: u64| {
    ///     done.fetch_add(n, Ordering::Relaxed);
    /// };
    /// let obs = backlog_risk::api::Observer::new().with_progress(&count);
    /// obs.advance(2);
    /// obs.advance(3);
    /// assert_eq!(done.load(Ordering::Relaxed), 5);
    /// ```
    pub fn advance(&self, paths: u64) {
        if let Some(f) = self.progress {
            f(paths)
        }
    }

    /// The cancellation token.
    ///
    /// ```
    /// let token = backlog_risk::Cancel::new();
    /// let obs = backlog_risk::api::Observer::new().with_cancel(&token);
    /// token.cancel();
    /// assert!(obs.cancel().is_cancelled());
    /// ```
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
}

/// Options of a call, each overriding the scenario's own value when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub paths: Option<u64>,
    pub seed: Option<u64>,
    pub sampling: Option<Sampling>,
    /// Worker threads; `None` runs on the caller's rayon pool (by default
    /// one thread per logical CPU).
    pub threads: Option<usize>,
}

impl Options {
    /// `sc` with these options applied, checked: an [`Error::Option`]
    /// names the option that does not fit.
    ///
    /// ```
    /// use backlog_risk::{Error, api::Options};
    /// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
    ///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
    ///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
    ///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
    /// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
    /// let more = Options { paths: Some(8192), seed: Some(7), ..Options::default() }.apply(&sc).unwrap();
    /// assert_eq!((more.paths, more.seed, sc.paths), (8192, 7, 4096));
    /// let none = Options { paths: Some(0), ..Options::default() }.apply(&sc).unwrap_err();
    /// assert!(matches!(none, Error::Option { option: "paths", .. }), "{none}");
    /// ```
    pub fn apply(&self, sc: &Scenario) -> Result<Scenario> {
        let mut sc = sc.clone();
        if let Some(p) = self.paths {
            sc.paths = p;
        }
        if let Some(s) = self.seed {
            sc.seed = s;
        }
        if let Some(s) = self.sampling {
            sc.sampling = s;
        }
        if sc.paths == 0 {
            return Err(Error::option("paths", format!("must be at least 1 (scenario `{}`)", sc.name)));
        }
        if let Some(message) = sc.sampling_problem() {
            let message = format!("scenario `{}`: {message}", sc.name);
            return Err(if self.sampling.is_some() {
                Error::option("sampling", message)
            } else {
                Error::Invalid(message)
            });
        }
        Ok(sc)
    }

    /// Run `f` on this call's thread pool.
    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        match self.threads {
            None => Ok(f()),
            Some(n) => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::option("threads", format!("cannot start {n} worker threads: {e}")))?;
                Ok(pool.install(f))
            }
        }
    }
}

/// One scenario simulated: the scenario as run (options applied), the raw
/// accumulators and the summary every writer reads.
#[derive(Debug, Clone)]
pub struct Run {
    pub scenario: Scenario,
    pub accumulator: Accumulator,
    pub summary: ScenarioSummary,
}

/// An error when a run's results hold values that are not finite numbers
/// (an overflow of the simulation), naming the scenario and the metric.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let r = api::run(&sc, &Options::default(), &Observer::new()).unwrap();
/// assert!(api::check_finite(&sc, &r.accumulator).is_ok());
/// ```
pub fn check_finite(sc: &Scenario, acc: &Accumulator) -> Result<()> {
    match acc.non_finite() {
        Some(k) => Err(Error::Overflow(format!(
            "scenario {}: the simulation overflowed: {} is not a finite number (infinite or NaN) on some paths; an input is too large to simulate (look at growth, volatility, backlog and bookings); no result was written",
            sc.name,
            sc.metric_names()[k]
        ))),
        None => Ok(()),
    }
}

/// Simulate `sc` (its `paths` paths under its `seed`, or the options') and
/// summarise it.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let r = api::run(&sc, &Options { threads: Some(2), ..Options::default() }, &Observer::new()).unwrap();
/// let loss = r.summary.metric("loss.azure").unwrap();
/// assert_eq!(r.accumulator.paths(), 4096);
/// assert!(loss.mean > 0.0 && loss.es99.unwrap() >= loss.var99.unwrap());
/// ```
pub fn run(sc: &Scenario, opts: &Options, obs: &Observer) -> Result<Run> {
    let sc = opts.apply(sc)?;
    let engine = Engine::new(&sc).with_cancel(obs.cancel());
    let part = opts.install(|| engine.run_chunks(sc.seed, sc.paths, 0..u64::MAX, &|n| obs.advance(n)))?;
    obs.cancel().check()?;
    let accumulator = engine.finish(sc.paths, vec![part])?;
    check_finite(&sc, &accumulator)?;
    let summary = report::summarise(&engine, &accumulator, sc.seed);
    Ok(Run { scenario: sc, accumulator, summary })
}

/// Whether scenario `sc` can be compared path by path with `base`: an
/// error when their horizons differ or they share no provider; otherwise
/// notes naming the providers and customers present in one of them only
/// (fine with keyed draws, but their metrics are not compared).
///
/// ```
/// use backlog_risk::{Error, api};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let mut longer = sc.clone();
/// longer.quarters = 8;
/// assert!(matches!(api::paired_check(&longer, &sc), Err(Error::Option { option: "paired", .. })));
/// let mut other = sc.clone();
/// other.customers[0].name = "meta".into();
/// let notes = api::paired_check(&other, &sc).unwrap();
/// assert!(notes.iter().any(|n| n.contains("customer meta only in `doc`")), "{notes:?}");
/// ```
pub fn paired_check(sc: &Scenario, base: &Scenario) -> Result<Vec<String>> {
    fn names<'a>(v: Vec<&'a str>, w: &[&str]) -> Vec<&'a str> {
        v.into_iter().filter(|n| !w.contains(n)).collect()
    }
    let end = |s: &Scenario| format!("{} ({} quarters from {})", s.label(s.quarters), s.quarters, s.start);
    if (sc.start, sc.quarters) != (base.start, base.quarters) {
        return Err(Error::option(
            "paired",
            format!(
                "base `{}` ends at {} but `{}` at {}: paired differences compare the same quarter; give both the same start and quarters",
                base.name,
                end(base),
                sc.name,
                end(sc)
            ),
        ));
    }
    let (mp, bp): (Vec<&str>, Vec<&str>) = (
        sc.providers.iter().map(|p| p.name.as_str()).collect(),
        base.providers.iter().map(|p| p.name.as_str()).collect(),
    );
    if names(mp.clone(), &bp).len() == mp.len() {
        return Err(Error::option(
            "paired",
            format!(
                "base `{}` and `{}` share no provider ({} against {}): there is nothing to compare",
                base.name,
                sc.name,
                mp.join(", "),
                bp.join(", ")
            ),
        ));
    }
    let (mc, bc): (Vec<&str>, Vec<&str>) = (
        sc.customers.iter().map(|c| c.name.as_str()).collect(),
        base.customers.iter().map(|c| c.name.as_str()).collect(),
    );
    let mut notes = Vec::new();
    for (what, only_mine, only_base) in
        [("provider", names(mp.clone(), &bp), names(bp, &mp)), ("customer", names(mc.clone(), &bc), names(bc, &mc))]
    {
        for (list, whose) in [(only_mine, sc.name.as_str()), (only_base, base.name.as_str())] {
            if !list.is_empty() {
                notes.push(format!(
                    "note: {what} {} only in `{whose}`: not compared; every other draw is shared (draws are keyed by name)",
                    list.join(", ")
                ));
            }
        }
    }
    Ok(notes)
}

/// A paired run: the variant's run, the base's accumulators, the paired
/// differences and their rows (`paired-BASE.csv`), and the notes of
/// [`paired_check`].
#[derive(Debug, Clone)]
pub struct PairedRun {
    pub run: Run,
    pub base: Scenario,
    pub paired: Paired,
    pub rows: Vec<PairedRow>,
    pub notes: Vec<String>,
}

/// Simulate `sc` and `base` on the same paths (common random numbers: every
/// draw is keyed by the seed, the path and the entity's name), each once,
/// and compare them path by path. The options apply to both; the seed and
/// paths are `sc`'s unless the options give them.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options};
/// let base = "[scenario]\nname = \"base\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let variant = base.replace("\"base\"", "\"worse\"").replace("hazard = 0.2", "hazard = 0.4");
/// let parse = |t: &str| backlog_risk::scenario::parse(t, "doc.toml".as_ref()).unwrap();
/// let r = api::run_paired(&parse(&variant), &parse(base), &Options::default(), &Observer::new()).unwrap();
/// let loss = r.rows.iter().find(|row| row.metric == "loss.azure").unwrap();
/// assert!(loss.diff > 0.0, "a doubled hazard loses more");
/// ```
pub fn run_paired(sc: &Scenario, base: &Scenario, opts: &Options, obs: &Observer) -> Result<PairedRun> {
    let sc = opts.apply(sc)?;
    let base = Options { paths: Some(sc.paths), seed: Some(sc.seed), ..opts.clone() }.apply(base)?;
    let notes = paired_check(&sc, &base)?;
    paired_run(sc, base, notes, obs, |engine, base_engine| {
        opts.install(|| {
            engine.run_paired_chunks(base_engine, engine.scenario().seed, engine.scenario().paths, 0..u64::MAX, &|n| {
                obs.advance(n)
            })
        })
    })
}

/// A paired run of `sc` against `base` from the one partial result that
/// `simulate` gives on their engines.
fn paired_run(
    sc: Scenario,
    base: Scenario,
    notes: Vec<String>,
    obs: &Observer,
    simulate: impl FnOnce(&Engine, &Engine) -> Result<PairedPartial>,
) -> Result<PairedRun> {
    let engine = Engine::new(&sc).with_cancel(obs.cancel());
    let base_engine = Engine::new(&base).with_cancel(obs.cancel());
    let part = simulate(&engine, &base_engine)?;
    obs.cancel().check()?;
    let paired = engine.finish_paired(&base_engine, sc.paths, vec![part])?;
    check_finite(&sc, &paired.mine)?;
    check_finite(&base, &paired.base)?;
    let summary = report::summarise(&engine, &paired.mine, sc.seed);
    let rows = report::paired(&summary, &paired);
    let run = Run { accumulator: paired.mine.clone(), summary, scenario: sc };
    Ok(PairedRun { run, base, paired, rows, notes })
}

/// A base scenario with its metrics recorded path by path, for many paired
/// runs against it on the same paths ([`run_paired_against`]).
#[derive(Debug, Clone)]
pub struct RecordedBase {
    scenario: Scenario,
    recorded: Recorded,
}

impl RecordedBase {
    /// The base, with the options it was recorded under applied.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn paths(&self) -> u64 {
        self.recorded.paths()
    }
}

/// Simulate `base` (the options applied) once and record its metrics path
/// by path: [`run_paired_against`] it then simulates only the variant.
pub fn record_base(base: &Scenario, opts: &Options, obs: &Observer) -> Result<RecordedBase> {
    let scenario = opts.apply(base)?;
    let engine = Engine::new(&scenario).with_cancel(obs.cancel());
    let recorded = opts.install(|| engine.record(scenario.seed, scenario.paths, &|n| obs.advance(n)))??;
    drop(engine);
    Ok(RecordedBase { scenario, recorded })
}

/// [`run_paired`] against a recorded base: the same result, bit for bit,
/// simulating only `sc`. The run's paths, seed and sampling (`sc`'s, or
/// the options') must be those the base was recorded on.
pub fn run_paired_against(sc: &Scenario, base: &RecordedBase, opts: &Options, obs: &Observer) -> Result<PairedRun> {
    let sc = opts.apply(sc)?;
    let r = &base.recorded;
    let b = &base.scenario;
    if (sc.paths, sc.seed, sc.sampling) != (r.paths(), r.seed(), b.sampling) {
        return Err(Error::Invalid(format!(
            "the base `{}` was recorded on {} paths with seed {} and {} sampling, this run has {} paths with \
             seed {} and {} sampling: record it again with the run's paths, seed and sampling",
            b.name,
            r.paths(),
            r.seed(),
            b.sampling.name(),
            sc.paths,
            sc.seed,
            sc.sampling.name()
        )));
    }
    let notes = paired_check(&sc, &base.scenario)?;
    paired_run(sc, base.scenario.clone(), notes, obs, |engine, base_engine| {
        opts.install(|| engine.run_paired_recorded(base_engine, r, &|n| obs.advance(n)))?
    })
}

/// Simulate `sc` in rounds of `round` paths (a multiple of
/// [`crate::engine::CHUNK`]) until `target` is met or `max_paths` (rounded
/// up to a whole round) are done; the result is, bit for bit, a run of the
/// paths it took. `after_round` sees the paths done, the half-width and the
/// relative half-width after each round.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options};
/// use backlog_risk::precision::Target;
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let target = Target::parse("mean:loss.azure<=5%").unwrap();
/// let (run, reached) =
///     api::run_to_precision(&sc, &target, (8192, 65536), &Options::default(), &Observer::new(), &|_, _, _| {})
///         .unwrap();
/// assert!(reached.met && reached.relative_half_width <= 0.05);
/// assert_eq!(run.accumulator.paths(), reached.paths);
/// ```
pub fn run_to_precision(
    sc: &Scenario,
    target: &Target,
    (round, max_paths): (u64, u64),
    opts: &Options,
    obs: &Observer,
    after_round: &(dyn Fn(u64, f64, f64) + Sync),
) -> Result<(Run, Reached)> {
    if round == 0 || !round.is_multiple_of(crate::engine::CHUNK) {
        return Err(Error::Invalid(format!(
            "a round of {round} paths is not a whole number of chunks of {} paths",
            crate::engine::CHUNK
        )));
    }
    if max_paths < round {
        return Err(Error::option(
            "max_paths",
            format!(
                "{max_paths}: less than one round of {round} paths; give at least {round}, or a smaller option `round_paths`"
            ),
        ));
    }
    let sc = opts.apply(sc)?;
    let engine = Engine::new(&sc).with_cancel(obs.cancel());
    let res = opts.install(|| {
        crate::precision::run_to_precision(
            &engine,
            sc.seed,
            target,
            (round, max_paths),
            &|n| obs.advance(n),
            after_round,
        )
    })?;
    obs.cancel().check()?;
    let (accumulator, reached) = res?;
    check_finite(&sc, &accumulator)?;
    let summary = report::summarise(&engine, &accumulator, sc.seed);
    let scenario = Scenario { paths: reached.paths, ..sc.clone() };
    Ok((Run { scenario, accumulator, summary }, reached))
}
