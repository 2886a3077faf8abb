//! `path`: the story of one path, replayed. Every draw is keyed by (seed,
//! path, name), so path `i` of a run is simulated again on its own by the
//! scalar reference kernel, recording every quarter (bookings, allocation,
//! events), with the same numbers the run recorded for it.

use super::{Observer, Options, check_finite};
use crate::engine::{Engine, Keys, Trace};
use crate::model::Scenario;
use crate::report::{self, ScenarioSummary};
use crate::{Error, Result};

/// One path of a run, quarter by quarter, against the plan and the fan.
#[derive(Debug, Clone)]
pub struct PathStory {
    /// The scenario as run (options applied).
    pub scenario: Scenario,
    /// The path's index in the run.
    pub path: u64,
    /// The run's summary: the fan, the plan, the labels of the quarters.
    pub summary: ScenarioSummary,
    /// The path's backlog and revenue per quarter and provider,
    /// `[(t - 1) * providers + p]`.
    pub backlog: Vec<f64>,
    pub revenue: Vec<f64>,
    /// What happened each quarter: bookings, allocation, events.
    pub trace: Trace,
    /// The demand units' names, in the trace's order: each customer, then
    /// each provider's other book (`other.P`).
    pub units: Vec<String>,
    /// The renegotiation rules' names (`CUSTOMER.PROVIDER`), in file order.
    pub rules: Vec<String>,
    /// Every uncertain parameter: its dotted path, its value on the path
    /// and on the plan (the mean of its law).
    pub parameters: Vec<(String, f64, f64)>,
    /// Every metric: its name, its value on the path and on the plan.
    pub metrics: Vec<(String, f64, f64)>,
}

/// Replay path `path` of `sc` (with `opts` applied): a plain run for the
/// fan, then the path alone, traced.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.5\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let story = api::path(&sc, 7, &Options::default(), &Observer::new()).unwrap();
/// // The loss is the plan's backlog less the path's at the horizon.
/// let loss = story.metrics.iter().find(|m| m.0 == "loss.azure").unwrap().1;
/// assert_eq!(loss, story.summary.plan.backlog[0] - story.backlog[3]);
/// let e = api::path(&sc, 2048, &Options::default(), &Observer::new()).unwrap_err();
/// assert!(e.to_string().contains("0 to 2047"), "{e}");
/// ```
pub fn path(sc: &Scenario, path: u64, opts: &Options, obs: &Observer) -> Result<PathStory> {
    let sc = opts.apply(sc)?;
    if path >= sc.paths {
        return Err(Error::option(
            "path",
            format!(
                "{path}: a run of {} paths has paths 0 to {}; give a path below {}, or more paths (option `paths`)",
                sc.paths,
                sc.paths - 1,
                sc.paths
            ),
        ));
    }
    let engine = Engine::new(&sc).with_cancel(obs.cancel());
    let part = opts.install(|| engine.run_chunks(sc.seed, sc.paths, 0..u64::MAX, &|n| obs.advance(n)))?;
    obs.cancel().check()?;
    let acc = engine.finish(sc.paths, vec![part])?;
    check_finite(&sc, &acc)?;
    let summary = report::summarise(&engine, &acc, sc.seed);
    let story = story(&engine, &engine.keys(sc.seed, sc.paths), summary, path);
    drop(engine);
    Ok(story)
}

/// Path `path` of `engine`'s scenario under `keys`, traced, beside the
/// run's `summary` (its fan and plan).
pub(crate) fn story(engine: &Engine, keys: &Keys, summary: ScenarioSummary, path: u64) -> PathStory {
    let sc = engine.scenario();
    let mut ws = engine.workspace();
    let mut trace = Trace::default();
    engine.path_traced(keys, path, &mut ws, &mut trace);
    let params = sc.parameters();
    let parameters = params
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.dist.is_fixed())
        .map(|(k, p)| (p.path.clone(), ws.params()[k], p.dist.mean()))
        .collect();
    let plan = engine.plan();
    let metrics =
        sc.metric_names().into_iter().zip(&ws.metrics).zip(&plan.metrics).map(|((m, v), p)| (m, *v, *p)).collect();
    let mut units: Vec<String> = sc.customers.iter().map(|c| c.name.clone()).collect();
    units.extend(sc.providers.iter().map(|p| format!("other.{}", p.name)));
    let rules = sc
        .rules
        .iter()
        .map(|r| format!("{}.{}", sc.customers[r.customer].name, sc.providers[r.provider].name))
        .collect();
    let (backlog, revenue) = (ws.totals.clone(), ws.quarter_revenue.clone());
    PathStory { scenario: sc.clone(), path, summary, backlog, revenue, trace, units, rules, parameters, metrics }
}
