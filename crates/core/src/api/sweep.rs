//! `sweep`: one scenario over a grid of one or two parameters, every point a
//! whole run under the same seed (common random numbers).

use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;

use super::{Observer, Options, check_finite};
use crate::engine::Engine;
use crate::metric::Metric;
use crate::model::Scenario;
pub use crate::writers::export::sweep_slug;
use crate::writers::shard::SweepPoint;
use crate::{Error, Result, report, scenario};

/// The most grid points one sweep runs (each a whole run; the grid and a
/// few statistics per point are kept in memory).
pub const MAX_SWEEP_POINTS: usize = 10_000;

/// What to sweep: one or two parameters (field path and values), the
/// statistic and metric charted, and whether a varied allocation share
/// rescales its siblings.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    pub vary: Vec<(String, Vec<f64>)>,
    pub stat: String,
    /// The focus provider's loss when `None`.
    pub metric: Option<Metric>,
    pub renormalise: bool,
}

/// A sweep made concrete: the base scenario, the grid of values and one
/// scenario per point, the metric and statistic checked.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    pub base: Scenario,
    /// The values of each point, in grid order (the first parameter's
    /// values outermost).
    pub grid: Vec<Vec<f64>>,
    pub points: Vec<Scenario>,
    pub metric: String,
    pub stat: String,
    pub vary: Vec<(String, Vec<f64>)>,
    /// What the user should know before the points run: a distribution
    /// replaced by fixed values, shares rescaled. Options are named as
    /// ``option `renormalise` `` (see [`crate::Error::Option`]).
    pub notes: Vec<String>,
}

impl SweepPlan {
    /// The name of the sweep's files ([`sweep_slug`]).
    ///
    /// ```
    /// use backlog_risk::api::{self, Options, SweepSpec};
    /// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
    ///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
    ///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\nseverity = 0.2\n";
    /// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
    /// let spec = SweepSpec {
    ///     vary: vec![api::parse_vary("renegotiation[0].hazard=0.1,0.2,0.4").unwrap()],
    ///     stat: "mean".into(),
    ///     metric: None,
    ///     renormalise: false,
    /// };
    /// let plan = api::plan_sweep(sc.clone(), text, "doc.toml".as_ref(), &spec, &Options::default()).unwrap();
    /// assert_eq!(plan.slug(), "renegotiation-0-hazard");
    /// ```
    pub fn slug(&self) -> String {
        sweep_slug(&self.vary.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>())
    }
}

/// Parse `PATH=SPEC` with SPEC a list `0.1,0.2` or a range `0.05..0.5:10`
/// (10 evenly spaced values, both ends included).
///
/// ```
/// let (path, values) = backlog_risk::api::parse_vary("renegotiation[0].hazard=0.05..0.5:6").unwrap();
/// assert_eq!(path, "renegotiation[0].hazard");
/// assert_eq!(values, vec![0.05, 0.14, 0.23, 0.32, 0.41, 0.5]);
/// let e = backlog_risk::api::parse_vary("renegotiation[0].hazard=0.05..0.5").unwrap_err();
/// assert!(e.to_string().starts_with("vary `renegotiation[0].hazard=0.05..0.5`: a range needs"), "{e}");
/// ```
pub fn parse_vary(s: &str) -> Result<(String, Vec<f64>)> {
    vary_values(s).map_err(|m| Error::option("vary", m))
}

fn vary_values(s: &str) -> Result<(String, Vec<f64>), String> {
    let (path, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write PATH=SPEC, e.g. renegotiation[0].hazard=0.05..0.5:10"))?;
    let num = |v: &str| match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("`{}` in `{s}` is not a finite number: give values such as 0.05 or 1e3", v.trim())),
        Err(_) => Err(format!("`{}` in `{s}` is not a number", v.trim())),
    };
    if spec.contains("..") && !spec.contains(':') {
        return Err(format!(
            "`{s}`: a range needs its number of points: add `:N`, e.g. `{}:10` for 10 values from one end to the other",
            s.trim()
        ));
    }
    let values = if let Some((range, n)) = spec.split_once(':') {
        let (a, b) = range.split_once("..").ok_or_else(|| format!("`{spec}`: a range is LO..HI:N"))?;
        let (a, b) = (num(a)?, num(b)?);
        let n: usize = n.trim().parse().map_err(|_| format!("`{n}` in `{s}` is not a whole number of points"))?;
        if !(2..=1000).contains(&n) {
            return Err(format!("`{s}`: use 2 to 1000 points"));
        }
        grid(a, b, n)
    } else {
        spec.split(',').map(num).collect::<Result<Vec<f64>, String>>()?
    };
    if values.is_empty() {
        return Err(format!("`{s}` gives no values"));
    }
    Ok((path.trim().to_string(), values))
}

/// `n` evenly spaced values from `a` to `b` (both exact), each rounded to
/// 12 significant digits of the range's scale, so that 0.05..0.5:6 gives
/// 0.23, not 0.22999999999999998, and 1e-13..5e-13:3 gives 3e-13, not 0.
fn grid(a: f64, b: f64, n: usize) -> Vec<f64> {
    let scale = a.abs().max(b.abs());
    // Decimal digits kept after the point: 12 significant of the scale.
    let digits = if scale > 0.0 { 11 - scale.log10().floor() as i32 } else { 0 };
    let round = |x: f64| {
        let p = 10f64.powi(digits.abs());
        let r = if digits >= 0 { (x * p).round() / p } else { (x / p).round() * p };
        if r.is_finite() && p.is_finite() { r } else { x }
    };
    (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            // (1 - t) a + t b has no b - a to overflow for ranges near f64::MAX.
            let x = if (b - a).is_finite() { a + (b - a) * t } else { (1.0 - t) * a + t * b };
            if i == 0 {
                a
            } else if i == n - 1 {
                b
            } else {
                round(x)
            }
        })
        .collect()
}

/// The points of sweep shard `k` of `n` out of `points`:
/// `floor(k P / n) .. floor((k + 1) P / n)`.
///
/// ```
/// use backlog_risk::api::shard_points;
/// assert_eq!((shard_points(10, 0, 3), shard_points(10, 1, 3), shard_points(10, 2, 3)), (0..3, 3..6, 6..10));
/// ```
pub fn shard_points(points: usize, k: u64, n: u64) -> Range<usize> {
    let at = |k: u64| (k as u128 * points as u128 / n as u128) as usize;
    at(k)..at(k + 1)
}

/// Whether `path` is a share of an allocation (`customers.C.allocation.P`).
fn is_allocation_share(path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    matches!(parts.as_slice(), ["customers", _, "allocation", _])
}

/// Make a sweep concrete: `base` is the scenario parsed from `text` (the
/// resolved text of `file`, which messages name); every point is `text`
/// with the varied fields set, parsed and checked, with the options' (or
/// the base's) paths, seed and sampling and the base's focus.
///
/// ```
/// use backlog_risk::api::{self, Options, SweepSpec};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\nseverity = 0.2\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let spec = SweepSpec {
///     vary: vec![api::parse_vary("renegotiation[0].hazard=0.1,0.2,0.4").unwrap()],
///     stat: "mean".into(),
///     metric: None,
///     renormalise: false,
/// };
/// let plan = api::plan_sweep(sc.clone(), text, "doc.toml".as_ref(), &spec, &Options::default()).unwrap();
/// assert_eq!(plan.points.len(), 3);
/// assert_eq!(plan.points[2].rules[0].hazard.mean(), 0.4);
/// assert_eq!((plan.metric.as_str(), plan.stat.as_str()), ("loss.azure", "mean"));
/// ```
pub fn plan_sweep(base: Scenario, text: &str, file: &Path, spec: &SweepSpec, opts: &Options) -> Result<SweepPlan> {
    let bad = |m: String| Err(Error::Invalid(m));
    let (vary, stat) = (spec.vary.as_slice(), spec.stat.as_str());
    if let [(a, _), (b, _)] = vary
        && a == b
    {
        return Err(Error::option(
            "vary",
            format!("{a} is given twice; vary two different parameters (or give every value in one)"),
        ));
    }
    let size: usize = vary.iter().map(|(_, v)| v.len()).product();
    if size > MAX_SWEEP_POINTS {
        return bad(format!(
            "the sweep grid has {size} points ({}); at most {MAX_SWEEP_POINTS} are run in one sweep: use fewer values, or split the grid over several sweeps",
            vary.iter().map(|(p, v)| format!("{} values of {p}", v.len())).collect::<Vec<_>>().join(" x ")
        ));
    }
    let grid: Vec<Vec<f64>> = match vary {
        [(_, xs)] => xs.iter().map(|x| vec![*x]).collect(),
        [(_, xs), (_, ys)] => xs.iter().flat_map(|x| ys.iter().map(move |y| vec![*x, *y])).collect(),
        _ => return Err(Error::option("vary", "give one or two parameters to vary")),
    };
    let mut notes = Vec::new();
    for (path, _) in vary {
        let shown = scenario::get_value(text, path).map_err(|e| e.about("vary", path))?;
        if let Some(toml::Value::Table(t)) = &shown {
            let dist = t.get("dist").and_then(|d| d.as_str()).unwrap_or("a distribution");
            notes.push(format!(
                "note: {path} is a {dist} distribution in {}; at each sweep point it is replaced by the point's fixed value (drawn the same on every path)",
                file.display()
            ));
        }
        if is_allocation_share(path) {
            if !spec.renormalise {
                return Err(Error::option(
                    "vary",
                    format!(
                        "{path}: the shares of an allocation sum to 1, so changing one alone makes every point invalid; give option `renormalise` to rescale the customer's other shares to 1 minus the value at each point (or sweep a shift's target, which moves share over time)"
                    ),
                ));
            }
            notes.push(format!(
                "note: option `renormalise`: at each point the other shares of {} are rescaled to sum to 1 minus the value",
                path.rsplit_once('.').map_or(path.as_str(), |(p, _)| p)
            ));
        }
    }
    let mut points = Vec::new();
    for values in &grid {
        let mut text = text.to_string();
        for ((path, _), v) in vary.iter().zip(values) {
            let set = if spec.renormalise && is_allocation_share(path) {
                scenario::set_share_renormalised(&text, path, *v)
            } else {
                scenario::set_number(&text, path, *v)
            };
            text = set.map_err(|e| e.about("vary", path))?;
        }
        let at = vary.iter().zip(values).map(|((p, _), v)| format!("{p} = {v}")).collect::<Vec<_>>().join(", ");
        let mut sc = scenario::parse(&text, file).map_err(|mut e| {
            e.line = None;
            Error::Invalid(format!("{e} (at the sweep point {at})"))
        })?;
        sc.paths = opts.paths.unwrap_or(base.paths);
        sc.seed = opts.seed.unwrap_or(base.seed);
        sc.sampling = opts.sampling.unwrap_or(base.sampling);
        if let Some(problem) = sc.sampling_problem() {
            return bad(format!("{}: {problem}", file.display()));
        }
        sc.focus = base.focus;
        points.push(sc);
    }
    let metric = spec.metric.clone().unwrap_or_else(|| Metric::focus_loss(&base));
    metric.index_in(&base).map_err(|e| e.about("metric", &metric))?;
    if !report::STAT_NAMES.contains(&stat) {
        return Err(Error::option("stat", format!("{stat}: use one of {}", report::STAT_NAMES.join(", "))));
    }
    if !metric.is_loss() && ["var95", "es95", "var99", "es99"].contains(&stat) {
        return Err(Error::option(
            "stat",
            format!("{stat}: VaR and ES are reported for loss.* metrics only; choose option `metric` loss.PROVIDER"),
        ));
    }
    if spec.renormalise && !vary.iter().any(|(p, _)| is_allocation_share(p)) {
        return Err(Error::option(
            "renormalise",
            "applies to a varied allocation share (customers.NAME.allocation.PROVIDER), and none is varied",
        ));
    }
    Ok(SweepPlan { base, grid, points, metric: metric.to_string(), stat: stat.to_string(), vary: vary.to_vec(), notes })
}

/// Run the points `range` of a planned sweep, side by side on the pool
/// (each point's accumulator summarised and dropped as soon as it is
/// simulated), in grid order. `after_point` is called as each point
/// finishes; `file` names the scenario in an overflow's message.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options, SweepSpec};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\nseverity = 0.2\n";
/// let sc = backlog_risk::scenario::parse(text, "doc.toml".as_ref()).unwrap();
/// let spec = SweepSpec {
///     vary: vec![api::parse_vary("renegotiation[0].hazard=0.1,0.2,0.4").unwrap()],
///     stat: "mean".into(),
///     metric: None,
///     renormalise: false,
/// };
/// let plan = api::plan_sweep(sc.clone(), text, "doc.toml".as_ref(), &spec, &Options::default()).unwrap();
/// let last = api::sweep_points(&plan, 1..3, "doc.toml".as_ref(), &Options::default(), &Observer::new(), &|| {})
///     .unwrap();
/// let all = api::sweep_points(&plan, 0..3, "doc.toml".as_ref(), &Options::default(), &Observer::new(), &|| {})
///     .unwrap();
/// assert_eq!(last.len(), 2);
/// assert_eq!(last[1].rows, all[2].rows, "a point's figures do not depend on which others run");
/// ```
pub fn sweep_points(
    plan: &SweepPlan,
    range: Range<usize>,
    file: &Path,
    opts: &Options,
    obs: &Observer,
    after_point: &(dyn Fn() + Sync),
) -> Result<Vec<SweepPoint>> {
    let points = plan.points.get(range).ok_or_else(|| Error::Invalid("no such sweep points".into()))?;
    let rows = opts.install(|| {
        points
            .par_iter()
            .map(|sc| -> Result<SweepPoint> {
                let engine = Engine::new(sc).with_cancel(obs.cancel());
                let part = engine.run_chunks(sc.seed, sc.paths, 0..u64::MAX, &|n| obs.advance(n));
                obs.cancel().check()?;
                let acc = engine.finish(sc.paths, vec![part])?;
                after_point();
                check_finite(sc, &acc)
                    .map_err(|e| Error::Overflow(format!("at a sweep point of {}: {e}", file.display())))?;
                let k = sc.metric_names().iter().position(|m| *m == plan.metric).expect("a metric of the scenario");
                let loss = plan.metric.parse::<Metric>().is_ok_and(|m| m.is_loss());
                let se = report::errors(&plan.metric, &acc.metrics[k], loss)
                    .into_iter()
                    .find(|e| e.stat == plan.stat)
                    .map(|e| e.se);
                Ok(SweepPoint { rows: report::summarise(&engine, &acc, sc.seed).metrics, se })
            })
            .collect::<Result<Vec<_>>>()
    })??;
    obs.cancel().check()?;
    Ok(rows)
}

/// A sweep: its plan and every point's statistics, in grid order.
#[derive(Debug, Clone)]
pub struct Swept {
    pub plan: SweepPlan,
    pub points: Vec<SweepPoint>,
}

/// Sweep `base` (parsed from `text`, the resolved text of `file`) over the
/// grid of `spec`: [`plan_sweep`], then every point of [`sweep_points`].
///
/// ```
/// use backlog_risk::api::{self, Observer, Options, SweepSpec};
/// let text = "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\npaths = 2048\nseed = 1\n\
///             [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///             [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///             severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n";
/// let file = std::path::Path::new("doc.toml");
/// let sc = backlog_risk::scenario::parse(text, file).unwrap();
/// let spec = SweepSpec {
///     vary: vec![api::parse_vary("renegotiation[0].hazard=0.1,0.4").unwrap()],
///     stat: "mean".into(),
///     metric: None,
///     renormalise: false,
/// };
/// let s = api::sweep(sc, text, file, &spec, &Options::default(), &Observer::new()).unwrap();
/// let mean = |p: &backlog_risk::writers::shard::SweepPoint| p.rows.iter().find(|r| r.metric == "loss.azure").unwrap().mean;
/// assert!(mean(&s.points[1]) > mean(&s.points[0]), "a higher hazard loses more on the same paths");
/// ```
pub fn sweep(
    base: Scenario,
    text: &str,
    file: &Path,
    spec: &SweepSpec,
    opts: &Options,
    obs: &Observer,
) -> Result<Swept> {
    let plan = plan_sweep(base, text, file, spec, opts)?;
    let points = sweep_points(&plan, 0..plan.points.len(), file, opts, obs, &|| {})?;
    Ok(Swept { plan, points })
}

#[cfg(test)]
mod grid_tests {
    use super::*;

    #[test]
    fn values_keep_their_precision() {
        let v = |s: &str| parse_vary(s).map(|(_, v)| v);
        assert_eq!(v("x=0.05..0.5:6").unwrap(), [0.05, 0.14, 0.23, 0.32, 0.41, 0.5]);
        assert_eq!(v("x=1e-13..5e-13:3").unwrap(), [1e-13, 3e-13, 5e-13]);
        assert_eq!(v("x=100..400:4").unwrap(), [100.0, 200.0, 300.0, 400.0]);
        assert_eq!(v("x=-1e308..1e308:3").unwrap(), [-1e308, 0.0, 1e308]);
        let e = v("x=1e308..inf:2").unwrap_err().to_string();
        assert!(e.contains("`inf`") && e.contains("not a finite number"), "{e}");
        assert!(v("x=1,nan").unwrap_err().to_string().contains("not a finite number"));
    }
}
