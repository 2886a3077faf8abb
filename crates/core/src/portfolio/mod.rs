//! Portfolio stress tests: what a scenario does to an investor's holdings.
//!
//! The model of MODEL.md: on each path, holding i's value grows by
//! `g_i = exp(sum_k e_ik (m_k / plan_k - 1) + sigma_i sqrt(H dt) z_i - sigma_i^2 H dt / 2)`
//! and returns `r_i = g_i - 1`, so a long holding loses at most its value.
//! `m_k` are the path's metrics at the portfolio's horizon `H` (quarters;
//! backlog at H, revenue summed over 1..H, shares at H), `plan_k` their
//! values on the plan path at H, and `z_i ~ N(0, 1)` is drawn from the
//! path's keyed stream `holding:NAME` (see `docs/streams.md`). The P&L is
//! `value * sum_i w_i r_i` and the loss its negative.
//!
//! This module reads and checks portfolio files and ties a portfolio to a
//! scenario ([`Portfolio::bind`]); [`stress`] evaluates it on every path.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use crate::engine::Engine;
use crate::error::{Cx, Error, InputError, Result};
use crate::model::{DT, Scenario};

mod stress;

pub use stress::{
    Contribution, PairedStress, PairedStressPartial, RiskRow, ScenarioRisk, StressAcc, StressPartial, StressResult,
    TailRow,
};

/// A portfolio file as written; spans give the lines of messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    portfolio: RawPortfolio,
    #[serde(default)]
    holding: Vec<RawHolding>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortfolio {
    name: Spanned<String>,
    value: Spanned<f64>,
    #[serde(default)]
    horizon: Option<Spanned<crate::scenario::Whole>>,
    #[serde(default)]
    unit: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHolding {
    name: Spanned<String>,
    weight: Spanned<f64>,
    #[serde(default)]
    volatility: Option<Spanned<f64>>,
    #[serde(default)]
    exposure: IndexMap<String, Spanned<f64>>,
}

/// Largest portfolio value accepted: P&L sums of a million paths stay far
/// from overflow.
pub const MAX_VALUE: f64 = 1e15;
/// Largest idiosyncratic volatility accepted (annual).
pub const MAX_VOLATILITY: f64 = 5.0;
/// Largest absolute weight or elasticity accepted.
pub const MAX_WEIGHT: f64 = 100.0;

/// A validated portfolio, not yet tied to a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Portfolio {
    pub name: String,
    pub value: f64,
    /// Horizon in quarters; `None`: the scenario's own.
    pub horizon: Option<u32>,
    /// The unit of `value` and of every P&L figure, for labels.
    pub unit: String,
    pub holdings: Vec<Holding>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    pub name: String,
    pub weight: f64,
    /// Idiosyncratic volatility, annual.
    pub volatility: f64,
    /// Elasticity per metric name, in file order.
    pub exposure: Vec<(String, f64)>,
}

impl Portfolio {
    /// The first exposure to a metric that none of `scenarios` records (a
    /// misspelt metric, or scenarios that model other providers): an
    /// [`Error::Portfolio`] at its field in `file`, naming the closest
    /// metric they record. `None` when each exposure is recorded by one
    /// of them at least, or when no scenario is given.
    ///
    /// ```
    /// let sc = backlog_risk::scenario::parse(
    ///     "[scenario]\nname = \"s\"\nstart = \"2026Q1\"\nquarters = 4\n[providers.azure]\nrecognition = 0.07\n\
    ///      other = { backlog = 10.0, bookings = 1.0 }\n",
    ///     "s.toml".as_ref(),
    /// )
    /// .unwrap();
    /// let p = backlog_risk::portfolio::parse(
    ///     "[portfolio]\nname = \"p\"\nvalue = 1.0\n[[holding]]\nname = \"MSFT\"\nweight = 1.0\n\
    ///      exposure = { \"backlog.azrue\" = 0.2 }\n",
    ///     "p.toml".as_ref(),
    /// )
    /// .unwrap();
    /// let e = p.unrecorded("p.toml".as_ref(), &[&sc]).unwrap().to_string();
    /// assert!(e.contains("holding[0].exposure.\"backlog.azrue\"") && e.contains("did you mean `backlog.azure`"), "{e}");
    /// ```
    pub fn unrecorded(&self, file: &Path, scenarios: &[&crate::model::Scenario]) -> Option<Error> {
        if scenarios.is_empty() {
            return None;
        }
        let mut recorded: Vec<String> = Vec::new();
        for sc in scenarios {
            for m in crate::metric::Metric::all(sc).iter().map(ToString::to_string) {
                if !recorded.contains(&m) {
                    recorded.push(m);
                }
            }
        }
        for (i, h) in self.holdings.iter().enumerate() {
            for (metric, _) in &h.exposure {
                if recorded.contains(metric) {
                    continue;
                }
                // A suggestion only for a near miss (a typing error).
                let closest = recorded
                    .iter()
                    .map(|r| (strsim::levenshtein(r, metric), r))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, r)| r);
                let given = scenarios.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
                let message = match closest {
                    Some(c) => format!(
                        "no scenario given ({given}) records `{metric}`; did you mean `{c}`? Correct the metric, or give a scenario that models it"
                    ),
                    None => format!(
                        "no scenario given ({given}) records `{metric}`; give a scenario that models it as well, or leave this holding out (metrics recorded: {})",
                        recorded.join(", ")
                    ),
                };
                let field = format!("holding[{i}].exposure.\"{metric}\"");
                return Some(Error::Portfolio(InputError::new(file, &field, message)));
            }
        }
        None
    }
}

/// Read and validate a portfolio file; an [`Error::Portfolio`] names the
/// file, the field, the line and the fix.
pub fn load(path: &Path) -> Result<Portfolio> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Portfolio(InputError::new(path, "", format!("cannot read the file: {e}"))))?;
    parse(&text, path)
}

/// Validate portfolio text; `file` is used in messages only.
///
/// ```
/// use backlog_risk::Error;
/// let text = "[portfolio]\nname = \"p\"\nvalue = 100.0\n\n[[holding]]\nname = \"msft\"\nweight = 1e300\n";
/// let Err(Error::Portfolio(e)) = backlog_risk::portfolio::parse(text, "p.toml".as_ref()) else { panic!() };
/// assert_eq!((e.field.as_str(), e.line), ("holding[0].weight", Some(7)));
/// assert!(e.to_string().starts_with("p.toml:7: holding[0].weight: 1e300 must be"), "{e}");
/// ```
pub fn parse(text: &str, file: &Path) -> Result<Portfolio> {
    let cx = Cx::new(file, text);
    validate(&cx, cx.deserialize().map_err(Error::Portfolio)?).map_err(Error::Portfolio)
}

fn validate(cx: &Cx, raw: RawFile) -> Result<Portfolio, InputError> {
    let err = |field: &str, span: std::ops::Range<usize>, message: String| Err(cx.err(field, Some(&span), message));
    let meta = raw.portfolio;
    let name = meta.name.get_ref().clone();
    // The rule of scenario names: both name output folders.
    if let Some(problem) = crate::scenario::name_problem(&name, "it names the output folder") {
        return Err(cx.err("portfolio.name", Some(&meta.name.span()), problem));
    }
    let value = *meta.value.get_ref();
    if !(value.is_finite() && value > 0.0 && value <= MAX_VALUE) {
        let problem = format!("{} must be a positive number of at most {MAX_VALUE:e}", shown(value));
        return Err(cx.err("portfolio.value", Some(&meta.value.span()), problem));
    }
    let horizon = match &meta.horizon {
        None => None,
        Some(h) if h.get_ref().value().is_ok_and(|q| (1..=400).contains(&q)) => {
            Some(h.get_ref().value().unwrap_or_default() as u32)
        }
        Some(h) => {
            let written = match *h.get_ref() {
                crate::scenario::Whole::Int(i) => i.to_string(),
                crate::scenario::Whole::Float(f) => f.to_string(),
            };
            let problem = format!(
                "{written} must be a whole number of quarters from 1 to 400 (leave it out to use each scenario's horizon)"
            );
            return Err(cx.err("portfolio.horizon", Some(&h.span()), problem));
        }
    };
    let unit = match &meta.unit {
        None => "currency units".to_string(),
        Some(u) => {
            let unit = u.get_ref();
            if unit.trim().is_empty() || unit.len() > 24 || unit.chars().any(|c| c.is_control()) {
                let problem = format!("`{unit}` must be a short label of 1 to 24 characters, e.g. \"$m\"");
                return Err(cx.err("portfolio.unit", Some(&u.span()), problem));
            }
            unit.clone()
        }
    };
    if raw.holding.is_empty() {
        return Err(cx.err("holding", None, "no holdings; add at least one [[holding]] table"));
    }
    let mut holdings: Vec<Holding> = Vec::new();
    for (i, h) in raw.holding.into_iter().enumerate() {
        let at = |f: &str| format!("holding[{i}].{f}");
        let name = h.name.get_ref();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return err(&at("name"), h.name.span(), "give the holding a name of 1 to 64 printable characters".into());
        }
        if holdings.iter().any(|o| &o.name == name) {
            return err(
                &at("name"),
                h.name.span(),
                format!("a second holding named `{name}`: give each holding its own name"),
            );
        }
        let weight = *h.weight.get_ref();
        if !(weight.is_finite() && weight.abs() <= MAX_WEIGHT) {
            let problem = format!(
                "{} must be a number from -{MAX_WEIGHT} to {MAX_WEIGHT} (a share of value; negative for a short)",
                shown(weight)
            );
            return err(&at("weight"), h.weight.span(), problem);
        }
        let volatility = h.volatility.as_ref().map_or(0.0, |v| *v.get_ref());
        if let Some(v) = &h.volatility
            && !(volatility.is_finite() && (0.0..=MAX_VOLATILITY).contains(&volatility))
        {
            return err(
                &at("volatility"),
                v.span(),
                format!("{} must be an annual volatility from 0 to {MAX_VOLATILITY}", shown(volatility)),
            );
        }
        if let Some((k, v)) =
            h.exposure.iter().find(|(_, v)| !(v.get_ref().is_finite() && v.get_ref().abs() <= MAX_WEIGHT))
        {
            let problem = format!("{} must be an elasticity from -{MAX_WEIGHT} to {MAX_WEIGHT}", shown(*v.get_ref()));
            return err(&at(&format!("exposure.\"{k}\"")), v.span(), problem);
        }
        holdings.push(Holding {
            name: name.clone(),
            weight,
            volatility,
            exposure: h.exposure.into_iter().map(|(k, v)| (k, v.into_inner())).collect(),
        });
    }
    Ok(Portfolio { name, value, horizon, unit, holdings })
}

/// A number as a message shows it: huge ones in scientific notation.
fn shown(v: f64) -> String {
    if v.abs() >= 1e9 { format!("{v:e}") } else { v.to_string() }
}

/// Why a portfolio cannot be evaluated under a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub message: String,
    /// The scenario lacks what the portfolio needs (a metric, enough
    /// quarters): a run over many scenarios skips it. Otherwise the
    /// portfolio itself is wrong for it (an exposure to a metric whose plan
    /// value is 0).
    pub skip: bool,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A portfolio tied to one scenario, cut at the portfolio's horizon:
/// exposures as metric indices, divided by their plan values at the horizon.
#[derive(Debug, Clone)]
pub struct Bound<'a> {
    pub portfolio: &'a Portfolio,
    /// Per holding: `(metric index, elasticity / plan value, elasticity)`.
    terms: Vec<Vec<(usize, f64, f64)>>,
    /// Per holding: `volatility * sqrt(H dt)`.
    scale: Vec<f64>,
    /// The horizon in quarters and its label, e.g. `2030Q4`.
    pub horizon: u32,
    pub horizon_label: String,
}

impl Portfolio {
    /// The horizon under scenario `sc`: the portfolio's own, or the
    /// scenario's; a skip when the scenario is shorter than the portfolio's.
    pub fn horizon_in(&self, sc: &Scenario) -> Result<u32, Mismatch> {
        match self.horizon {
            None => Ok(sc.quarters),
            Some(h) if h <= sc.quarters => Ok(h),
            Some(h) => Err(Mismatch {
                message: format!(
                    "portfolio {} has a horizon of {h} quarters but scenario `{}` covers only {}; lower portfolio.horizon to at most {}",
                    self.name, sc.name, sc.quarters, sc.quarters
                ),
                skip: true,
            }),
        }
    }

    /// Scenario `sc` cut at this portfolio's horizon `H`. Draws are keyed by
    /// path, entity and quarter, never by the horizon, so the first `H`
    /// quarters of every path are exactly those of the whole scenario; the
    /// metrics of the cut scenario are the metrics at `H` and its plan is
    /// the plan at `H` (MODEL.md).
    pub fn at_horizon(&self, sc: &Scenario) -> Result<Scenario, Mismatch> {
        let h = self.horizon_in(sc)?;
        Ok(Scenario { quarters: h, ..sc.clone() })
    }

    /// Tie the portfolio to `engine`, whose scenario is already cut at the
    /// horizon ([`Portfolio::at_horizon`]). An exposure to a metric the
    /// scenario does not record is a [`Mismatch`] to skip; one to a metric
    /// whose plan value is 0 is an error in the portfolio.
    pub fn bind<'a>(&'a self, engine: &Engine) -> Result<Bound<'a>, Mismatch> {
        let sc: &Scenario = engine.scenario();
        let names = sc.metric_names();
        let plan = &engine.plan().metrics;
        let (mut missing, mut who): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for h in &self.holdings {
            for (m, _) in h.exposure.iter().filter(|(m, _)| !names.contains(m)) {
                if !missing.contains(&m.as_str()) {
                    missing.push(m);
                }
                if !who.contains(&h.name.as_str()) {
                    who.push(&h.name);
                }
            }
        }
        if !missing.is_empty() {
            let providers: Vec<&str> = sc.providers.iter().map(|p| p.name.as_str()).collect();
            return Err(Mismatch {
                message: format!(
                    "portfolio {} needs {} (held by {}), which scenario `{}` does not record (its providers: {}; its customers: {})",
                    self.name,
                    missing.join(", "),
                    who.join(", "),
                    sc.name,
                    providers.join(", "),
                    sc.customers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
                skip: true,
            });
        }
        let mut terms = Vec::new();
        for h in &self.holdings {
            let mut t = Vec::new();
            for (metric, e) in &h.exposure {
                let k = names.iter().position(|n| n == metric).expect("checked above");
                if plan[k] == 0.0 || !plan[k].is_finite() {
                    return Err(Mismatch {
                        message: format!(
                            "portfolio {}: holding `{}` is exposed to `{metric}`, whose plan value in scenario `{}` is {}, so its change against plan is undefined; use a backlog, revenue or share metric",
                            self.name, h.name, sc.name, plan[k]
                        ),
                        skip: false,
                    });
                }
                t.push((k, e / plan[k], *e));
            }
            terms.push(t);
        }
        let root = (f64::from(sc.quarters) * DT).sqrt();
        let scale = self.holdings.iter().map(|h| h.volatility * root).collect();
        Ok(Bound { portfolio: self, terms, scale, horizon: sc.quarters, horizon_label: sc.label(sc.quarters) })
    }
}
