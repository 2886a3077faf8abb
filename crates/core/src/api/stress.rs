//! `stress`: a portfolio evaluated on every simulated path of a scenario,
//! at the portfolio's horizon, plain or paired against a base.

use super::{Observer, Options};
use crate::engine::Engine;
use crate::model::Scenario;
use crate::portfolio::{Bound, PairedStressPartial, Portfolio, ScenarioRisk, StressPartial, StressResult};
use crate::{Error, Result};

/// What became of one scenario of a stress test.
#[derive(Debug, Clone)]
pub enum Stressed {
    /// It ran: its result, and its row of the comparison across scenarios
    /// (with the differences against the base in a paired test).
    Ran(Box<StressResult>, ScenarioRisk),
    /// The scenario lacks what the portfolio needs (a metric, enough
    /// quarters); why, in one line.
    Skipped(String),
}

/// A portfolio that fits a scenario, or why it was skipped.
pub enum Fit<R> {
    Ran(R),
    Skip(String),
}

/// Cut `sc` (and `base`, when given) at the portfolio's horizon, bind the
/// portfolio to each and hand both to `f`; a scenario the portfolio does not
/// fit is a [`Fit::Skip`], a base it does not fit or a base with another
/// horizon an error.
///
/// ```
/// use backlog_risk::api::{self, Fit};
/// let sc = backlog_risk::scenario::parse(
///     "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 8\npaths = 4096\nseed = 1\n\
///      [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///      [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///      severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n",
///     "doc.toml".as_ref(),
/// )
/// .unwrap();
/// let portfolio = |exposure: &str| {
///     backlog_risk::portfolio::parse(
///         &format!("[portfolio]\nname = \"p\"\nvalue = 100.0\nhorizon = 4\n[[holding]]\nname = \"MSFT\"\nweight = 1.0\nexposure = {{ {exposure} = 0.2 }}\n"),
///         "p.toml".as_ref(),
///     )
///     .unwrap()
/// };
/// let fits = api::bind_portfolio(&portfolio("\"backlog.azure\""), &sc, None, |bound, engine, _| {
///     Ok((bound.horizon, engine.scenario().quarters))
/// });
/// assert!(matches!(fits, Ok(Fit::Ran((4, 4)))));
/// let skip = api::bind_portfolio(&portfolio("\"backlog.aws\""), &sc, None, |_, _, _| Ok(()));
/// assert!(matches!(skip, Ok(Fit::Skip(why)) if why.contains("backlog.aws")));
/// ```
pub fn bind_portfolio<R>(
    portfolio: &Portfolio,
    sc: &Scenario,
    base: Option<&Scenario>,
    f: impl FnOnce(&Bound, &Engine, Option<(&Bound, &Engine)>) -> Result<R>,
) -> Result<Fit<R>> {
    let cut = match portfolio.at_horizon(sc) {
        Ok(cut) => cut,
        Err(m) if m.skip => return Ok(Fit::Skip(m.message)),
        Err(m) => return Err(Error::Invalid(m.message)),
    };
    let engine = Engine::new(&cut);
    let bound = match portfolio.bind(&engine) {
        Ok(b) => b,
        Err(m) if m.skip => return Ok(Fit::Skip(m.message)),
        Err(m) => return Err(Error::Invalid(m.message)),
    };
    let Some(base) = base else {
        return f(&bound, &engine, None).map(Fit::Ran);
    };
    let paired = |m: String| Error::option("paired", m);
    let base_cut = portfolio.at_horizon(base).map_err(|m| paired(format!("base: {m}")))?;
    if base_cut.start != cut.start {
        return Err(paired(format!(
            "base `{}`: `{}` starts at {} but the base at {}: paired differences compare the same quarters; give both the same scenario.start",
            base_cut.name, cut.name, cut.start, base_cut.start
        )));
    }
    if base_cut.quarters != cut.quarters {
        return Err(paired(format!(
            "base `{}`: the portfolio's horizon is the scenario's own: {} quarters in `{}` but {} in the base; set portfolio.horizon (at most {}) so that both are compared at the same quarter",
            base_cut.name,
            cut.quarters,
            cut.name,
            base_cut.quarters,
            cut.quarters.min(base_cut.quarters)
        )));
    }
    let base_engine = Engine::new(&base_cut);
    let base_bound = portfolio.bind(&base_engine).map_err(|m| paired(format!("base: {m}")))?;
    f(&bound, &engine, Some((&base_bound, &base_engine))).map(Fit::Ran)
}

/// An overflow in the simulation or the returns is an error, never a NaN
/// result.
///
/// ```
/// use backlog_risk::api::{self, Observer, Options, Stressed};
/// let sc = backlog_risk::scenario::parse(
///     "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 8\npaths = 4096\nseed = 1\n\
///      [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///      [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///      severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n",
///     "doc.toml".as_ref(),
/// )
/// .unwrap();
/// let portfolio = |exposure: &str| {
///     backlog_risk::portfolio::parse(
///         &format!("[portfolio]\nname = \"p\"\nvalue = 100.0\nhorizon = 4\n[[holding]]\nname = \"MSFT\"\nweight = 1.0\nexposure = {{ {exposure} = 0.2 }}\n"),
///         "p.toml".as_ref(),
///     )
///     .unwrap()
/// };
/// let Stressed::Ran(r, _) = api::stress(&portfolio("\"backlog.azure\""), &sc, None, &Options::default(), &Observer::new()).unwrap()
/// else {
///     panic!("it fits")
/// };
/// assert!(api::check_stress_finite(&r).is_ok());
/// ```
pub fn check_stress_finite(r: &StressResult) -> Result<()> {
    let bad = r.risk.iter().find(|m| !m.value.is_finite() && m.measure != "diversification");
    match bad {
        Some(m) if r.paths > 0 => Err(Error::Overflow(format!(
            "scenario {} overflows under portfolio {}: {} is not a finite number; check the scenario's growth and volatility and the portfolio's exposures",
            r.scenario, r.portfolio, m.measure
        ))),
        _ => Ok(()),
    }
}

/// Stress-test `portfolio` on `sc` (paired with `base`, path by path under
/// common random numbers, when given), both cut at the portfolio's horizon.
/// Progress counts simulated paths (two per path when paired).
///
/// ```
/// use backlog_risk::api::{self, Observer, Options, Stressed};
/// let sc = backlog_risk::scenario::parse(
///     "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 8\npaths = 4096\nseed = 1\n\
///      [providers.azure]\nrecognition = 0.07\n[customers.openai]\nbacklog = { azure = 100.0 }\n\
///      [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
///      severity = { dist = \"uniform\", min = 0.1, max = 0.3 }\n",
///     "doc.toml".as_ref(),
/// )
/// .unwrap();
/// let p = backlog_risk::portfolio::parse(
///     "[portfolio]\nname = \"p\"\nvalue = 100.0\nunit = \"$m\"\n\
///      [[holding]]\nname = \"MSFT\"\nweight = 1.0\nexposure = { \"backlog.azure\" = 0.2 }\n",
///     "p.toml".as_ref(),
/// )
/// .unwrap();
/// match api::stress(&p, &sc, None, &Options::default(), &Observer::new()).unwrap() {
///     Stressed::Ran(r, _) => assert!(r.measure("es99").unwrap() >= r.measure("var99").unwrap()),
///     Stressed::Skipped(why) => panic!("{why}"),
/// }
/// ```
pub fn stress(
    portfolio: &Portfolio,
    sc: &Scenario,
    base: Option<&Scenario>,
    opts: &Options,
    obs: &Observer,
) -> Result<Stressed> {
    let sc = opts.apply(sc)?;
    let base = base.map(|b| opts.apply(b)).transpose()?;
    let cancel = obs.cancel();
    let fit = bind_portfolio(portfolio, &sc, base.as_ref(), |bound, engine, base| {
        let engine = engine.clone().with_cancel(cancel);
        let (seed, paths) = (engine.scenario().seed, engine.scenario().paths);
        let ran = match base {
            None => {
                let part =
                    opts.install(|| bound.stress_chunks(&engine, seed, paths, 0..u64::MAX, &|n| obs.advance(n)))?;
                if cancel.is_cancelled() {
                    return Ok(None);
                }
                finish(bound, &engine, paths, vec![part])?
            }
            Some((base, base_engine)) => {
                let pair = (base, base_engine);
                let part = opts.install(|| {
                    bound.stress_paired_chunks(&engine, pair, seed, paths, 0..u64::MAX, &|n| obs.advance(2 * n))
                })?;
                if cancel.is_cancelled() {
                    return Ok(None);
                }
                finish_paired(bound, &engine, pair, paths, vec![part])?
            }
        };
        Ok(Some(ran))
    })?;
    match fit {
        Fit::Ran(Some((r, row))) => Ok(Stressed::Ran(Box::new(r), row)),
        Fit::Ran(None) => Err(Error::Cancelled),
        Fit::Skip(why) => Ok(Stressed::Skipped(why)),
    }
}

/// A stress test's partial results finished into its result, checked
/// finite ([`Error::Overflow`]), and its row.
pub(super) fn finish(
    bound: &Bound,
    engine: &Engine,
    paths: u64,
    parts: Vec<StressPartial>,
) -> Result<(StressResult, ScenarioRisk)> {
    let r = bound.finish(engine, paths, parts)?;
    check_stress_finite(&r)?;
    let row = ScenarioRisk::from(&r);
    Ok((r, row))
}

/// A paired stress test's partial results finished into this scenario's
/// result (both sides checked finite) and the row with the differences.
pub(super) fn finish_paired(
    bound: &Bound,
    engine: &Engine,
    pair: (&Bound, &Engine),
    paths: u64,
    parts: Vec<PairedStressPartial>,
) -> Result<(StressResult, ScenarioRisk)> {
    let p = bound.finish_paired(engine, pair, paths, parts)?;
    check_stress_finite(&p.mine)?;
    check_stress_finite(&p.base)?;
    let row = p.row();
    Ok((p.mine, row))
}
