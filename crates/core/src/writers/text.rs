//! Lines of text a front-end shows (the console, a page): built here, so
//! that every front-end says the same thing.

use super::charts;
use crate::portfolio::{ScenarioRisk, StressResult};
use crate::report::ScenarioSummary;

/// `$12.3bn`, `-$4.0bn`, `$1,235.8bn`: one decimal, thousands grouped.
pub fn money(x: f64) -> String {
    charts::bn_axis(10.0)(x)
}

/// One line per scenario: the focus provider's loss against plan.
pub fn headline(s: &ScenarioSummary) -> String {
    let c = &s.concentration[s.focus];
    let shown = &s.display[s.focus];
    let who = match &c.customer {
        Some(cu) => format!("{shown} ({cu} {:.0}% of its starting backlog)", c.share * 100.0),
        None => shown.clone(),
    };
    let horizon = s.labels.last().map_or("", |l| l.as_str());
    match s.loss(&c.provider) {
        Some(l) => format!(
            "{}: {who}: loss vs plan at {horizon}: expected {} (se {:.2}), VaR99 {}, ES99 {} [plan backlog {}, {} paths]",
            s.name,
            money(l.mean),
            l.se,
            money(l.var99.unwrap_or(f64::NAN)),
            money(l.es99.unwrap_or(f64::NAN)),
            money(s.plan.backlog[s.focus]),
            s.paths
        ),
        None => format!("{}: {who}", s.name),
    }
}

/// The console line of one stressed scenario (with the differences against
/// the base of a paired test, from its `row`).
pub fn stress_line(r: &StressResult, row: Option<&ScenarioRisk>) -> String {
    let f = |m: &str| charts::fmt_amount(r.measure(m).unwrap_or(f64::NAN));
    let mut line = format!(
        "{} under {} at {}: expected P&L {}, VaR99 {}, ES99 {} (losses, in {}), P(loss > 10%) {} [{} paths]",
        r.portfolio,
        r.scenario,
        r.horizon_text(),
        f("expected_pnl"),
        f("var99"),
        f("es99"),
        r.unit,
        charts::fmt_pct(r.measure("p_loss_gt_10pct").unwrap_or(f64::NAN)),
        r.paths
    );
    let paired = row.and_then(|w| Some((w.base.as_ref()?, w.d_expected_pnl?, w.d_expected_pnl_se?, w.d_es99?)));
    if let Some((base, d, se, de)) = paired {
        line.push_str(&format!(
            "; against {base}: P&L {} (se {}), ES99 {}",
            charts::fmt_signed(d),
            charts::fmt_amount(se),
            charts::fmt_signed(de)
        ));
    }
    line
}
