//! `explain`: what drives a metric, by attribution to the drivers of the
//! risk and by the sensitivity to each uncertain input.

use super::{Observer, Options, check_finite};
use crate::analysis::attribution::{self, Attribution};
use crate::analysis::given::{self, Condition, Given};
use crate::analysis::sensitivity::{self, SensitivityRow};
use crate::engine::{Accumulator, Engine};
use crate::metric::Metric;
use crate::model::Scenario;
use crate::{Error, Result};

/// What [`explain`] is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainWhat {
    /// The metric to explain; the focus provider's loss when `None`.
    pub metric: Option<Metric>,
    /// Each shift and each renegotiation rule a driver of its own (instead
    /// of one driver per kind).
    pub by_rule: bool,
    pub attribution: bool,
    pub sensitivity: bool,
    /// The reverse stress test: the paths that meet a condition.
    pub given: Option<GivenWhat>,
}

impl Default for ExplainWhat {
    fn default() -> Self {
        ExplainWhat { metric: None, by_rule: false, attribution: true, sensitivity: true, given: None }
    }
}

/// What the reverse stress test of [`explain`] is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenWhat {
    /// The conditions, all to be met ([`given::parse`]).
    pub conditions: Vec<Condition>,
    /// How many of the most plausible paths that meet them to list.
    pub top: usize,
    /// Run in rounds of the scenario's paths until this many paths met the
    /// condition, or this many paths are done: `(min_hits, max_paths)`.
    pub min_hits: Option<(u64, u64)>,
}

impl Default for GivenWhat {
    fn default() -> Self {
        GivenWhat { conditions: Vec::new(), top: 5, min_hits: None }
    }
}

/// What [`explain`] found.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The scenario as run (options applied).
    pub scenario: Scenario,
    /// The plain run the analyses condition on (the metric's distribution;
    /// [`crate::report::summarise`] reads every statistic off it, if wanted).
    pub accumulator: Accumulator,
    /// The metric explained, and its index in the scenario's metrics.
    pub metric: String,
    pub metric_index: usize,
    /// The metric on the plan path.
    pub plan: f64,
    /// Sobol' indices and the tornado, one row per uncertain parameter.
    pub sensitivity: Option<Vec<SensitivityRow>>,
    /// The Shapley attribution to the drivers, one row per driver and the total.
    pub attribution: Option<Attribution>,
    /// The paths that meet the condition asked for, if one was.
    pub given: Option<Given>,
    /// The story of each path [`Given::top`] lists, in its order (as
    /// [`crate::api::path`] tells it).
    pub stories: Vec<super::PathStory>,
}

/// The metric `what` names (the focus provider's loss by default), checked.
fn metric_of(sc: &Scenario, what: &ExplainWhat) -> Result<(String, usize)> {
    let metric = what.metric.clone().unwrap_or_else(|| Metric::focus_loss(sc));
    let k = metric.index_in(sc).map_err(|e| e.about("metric", &metric))?;
    Ok((metric.to_string(), k))
}

/// Simulations per path of [`explain`] (the progress it reports counts
/// simulated paths: the plain run, then `k + 3` per path for the Sobol'
/// indices of `k` uncertain inputs, `2^d` for the attribution to `d`
/// drivers). Inputs [`explain`] refuses count as they can.
///
/// ```
/// use backlog_risk::api::{self, ExplainWhat};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 4096\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// // The plain run, then k + 3 runs for the Sobol' indices of k uncertain inputs...
/// let k = sc.uncertain_parameters() as u64;
/// let sens = ExplainWhat { attribution: false, sensitivity: true, ..ExplainWhat::default() };
/// assert_eq!(api::explain_simulations(&sc, &sens), 1 + k + 3);
/// // ... or 2^3 for the attribution to demand shocks, renegotiation and (with k > 0) parameters.
/// let attr = ExplainWhat { attribution: true, sensitivity: false, ..sens.clone() };
/// // A condition adds one pass (its first round).
/// let cond = backlog_risk::analysis::given::parse("loss.azure>=10").unwrap();
/// let given = api::GivenWhat { conditions: cond, ..Default::default() };
/// let with = ExplainWhat { given: Some(given), ..sens };
/// assert_eq!(api::explain_simulations(&sc, &with), 1 + k + 3 + 1);
/// assert_eq!(api::explain_simulations(&sc, &attr), 1 + if k > 0 { 8 } else { 4 });
/// ```
pub fn explain_simulations(sc: &Scenario, what: &ExplainWhat) -> u64 {
    let drivers = attribution::drivers(sc, what.by_rule).map_or(0, |d| d.len());
    let (sens, attr) = simulations(what, sc.uncertain_parameters(), drivers);
    1 + sens + attr + u64::from(what.given.is_some())
}

/// Simulations per path of the sensitivity (`k + 3` for `k` uncertain
/// inputs) and of the attribution (`2^d` for `d` drivers), 0 for an
/// analysis not asked for.
fn simulations(what: &ExplainWhat, uncertain: usize, drivers: usize) -> (u64, u64) {
    let sens = if what.sensitivity { uncertain as u64 + 3 } else { 0 };
    let attr = if what.attribution { 1u64 << drivers } else { 0 };
    (sens, attr)
}

/// Explain one metric of `sc`: a plain run, then the Sobol' indices and
/// tornado of its uncertain inputs and the path-wise Shapley attribution to
/// its drivers, as asked.
///
/// ```
/// use backlog_risk::api::{self, ExplainWhat, Observer, Options};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\n\
///             hazard = { dist = \"uniform\", min = 0.1, max = 0.3 }\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let e = api::explain(&sc, &ExplainWhat::default(), &Options::default(), &Observer::new()).unwrap();
/// let a = e.attribution.unwrap();
/// let total = a.rows.iter().find(|r| r.driver == "total").unwrap();
/// let drivers: f64 = a.rows.iter().filter(|r| r.driver != "total").map(|r| r.mean).sum();
/// assert!((drivers - total.mean).abs() < 1e-9 * total.mean.abs().max(1.0));
/// let rows = e.sensitivity.unwrap();
/// assert!(rows.iter().any(|r| r.parameter.contains("hazard")), "the uncertain hazard is ranked");
/// ```
pub fn explain(sc: &Scenario, what: &ExplainWhat, opts: &Options, obs: &Observer) -> Result<Explained> {
    let sc = opts.apply(sc)?;
    let (metric, k) = metric_of(&sc, what)?;
    let uncertain = sc.uncertain_parameters();
    // Refused before any path is simulated.
    if what.sensitivity {
        sensitivity::check(&sc)?;
    }
    let drivers = if what.attribution { attribution::drivers(&sc, what.by_rule)? } else { vec![] };
    let engine = Engine::new(&sc).with_cancel(obs.cancel());
    let (sims_sens, sims_attr) = simulations(what, uncertain, drivers.len());
    let part = opts.install(|| engine.run_chunks(sc.seed, sc.paths, 0..u64::MAX, &|n| obs.advance(n)))?;
    obs.cancel().check()?;
    let acc = engine.finish(sc.paths, vec![part])?;
    check_finite(&sc, &acc)?;
    // The condition first: a condition no path meets fails before the
    // longer analyses run.
    let given = match &what.given {
        Some(g) => {
            let res = opts.install(|| {
                given::given(&engine, sc.seed, sc.paths, &g.conditions, g.top, g.min_hits, &|n| obs.advance(n))
            });
            obs.cancel().check()?;
            Some(res??)
        }
        None => None,
    };
    let sens = if what.sensitivity {
        let rows = opts.install(|| {
            sensitivity::sensitivity(&engine, sc.seed, sc.paths, k, &acc, &|n| obs.advance(n * sims_sens))
        })?;
        obs.cancel().check()?;
        let rows = rows?;
        if rows.iter().any(|r| !r.first_order.is_finite()) {
            return Err(Error::Invalid(format!(
                "{metric} does not vary in scenario `{}` (its variance is 0), so no input explains any of it; choose a metric that varies",
                sc.name
            )));
        }
        Some(rows)
    } else {
        None
    };
    let mut given = given;
    let attr = if what.attribution {
        // With a condition, the contributions over the paths that meet it
        // too (only over the scenario's own paths, not --min-hits rounds).
        let conds = match (&given, &what.given) {
            (Some(_), Some(w)) if w.min_hits.is_none() => w.conditions.as_slice(),
            _ => &[],
        };
        let a = opts.install(|| {
            attribution::attribution_given(&engine, sc.seed, sc.paths, k, &acc, &drivers, conds, &|n| {
                obs.advance(n * sims_attr)
            })
        })?;
        obs.cancel().check()?;
        let (a, rows) = a?;
        if let Some(g) = given.as_mut().filter(|_| !rows.is_empty()) {
            g.rows.extend(rows);
            given::sort_rows(&mut g.rows);
        }
        Some(a)
    } else {
        None
    };
    let plan = engine.plan().metrics[k];
    let stories = match (&given, &what.given) {
        (Some(g), Some(w)) => {
            let summary = crate::report::summarise(&engine, &acc, sc.seed);
            let keys = engine.keys(sc.seed, given::round_paths(sc.paths, w.min_hits.is_some()));
            g.top.iter().map(|p| super::path::story(&engine, &keys, summary.clone(), p.path)).collect()
        }
        _ => Vec::new(),
    };
    drop(engine);
    Ok(Explained {
        scenario: sc,
        accumulator: acc,
        metric,
        metric_index: k,
        plan,
        sensitivity: sens,
        attribution: attr,
        given,
        stories,
    })
}
