//! The validated model: what the engine simulates.
//!
//! Built from a scenario file by [`crate::scenario`]; every invariant of
//! MODEL.md holds here (names resolved to indices, allocations summing to 1,
//! supports inside their parameter's valid range), so the engine checks
//! nothing.

use std::fmt;

use crate::dist::Dist;

/// Quarters are `dt = 0.25` years.
pub const DT: f64 = 0.25;

/// A calendar quarter such as `2026Q1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarter {
    pub year: i32,
    /// 1..=4
    pub q: u8,
}

impl Quarter {
    /// Parse `YYYYQn`.
    pub fn parse(s: &str) -> Option<Quarter> {
        let (y, q) = s.split_once(['Q', 'q'])?;
        let year: i32 = y.parse().ok()?;
        let q: u8 = q.parse().ok()?;
        (y.len() == 4 && (1..=4).contains(&q)).then_some(Quarter { year, q })
    }

    /// The quarter `n` quarters later.
    pub fn plus(self, n: u32) -> Quarter {
        let idx = self.year as i64 * 4 + (self.q as i64 - 1) + n as i64;
        Quarter { year: idx.div_euclid(4) as i32, q: (idx.rem_euclid(4) + 1) as u8 }
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.q)
    }
}

/// Demand of one holder: bookings per quarter at t = 0 and the lognormal
/// demand index that scales them.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub bookings: Dist,
    pub growth: Dist,
    pub volatility: Dist,
    pub beta: Dist,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub name: String,
    /// The name charts and reports show (`display`, or `name`).
    pub display: String,
    pub recognition: Dist,
    /// Backlog of the `other` book at t = 0.
    pub other_backlog: Dist,
    pub other: Demand,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    /// Provider index the share moves off.
    pub from: usize,
    pub target: Dist,
    pub half_life: Dist,
    /// Destination weights per provider, summing to 1 (0 at `from`).
    pub to: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub name: String,
    pub demand: Demand,
    /// Backlog at t = 0 per provider index.
    pub backlog: Vec<Dist>,
    /// Shares of new commitments per provider index at t = 0, summing to 1
    /// (all 0 for a customer that never books).
    pub allocation: Vec<f64>,
    pub shifts: Vec<Shift>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub customer: usize,
    pub provider: usize,
    pub hazard: Dist,
    pub severity: Dist,
    pub migrate: Dist,
    /// Destination weights per provider, summing to 1 (all 0 when nothing migrates).
    pub to: Vec<f64>,
    pub max_events: u32,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub start: Quarter,
    pub quarters: u32,
    pub paths: u64,
    pub seed: u64,
    pub providers: Vec<Provider>,
    pub customers: Vec<Customer>,
    pub rules: Vec<Rule>,
    /// Index of the provider the headline, `loss.png` and comparisons are
    /// about: `scenario.focus`, or the first provider of the file.
    pub focus: usize,
    /// How the per-path parameters are sampled.
    pub sampling: Sampling,
    /// Rank correlations between uncertain parameters (`[[correlation]]`).
    pub correlations: Vec<Correlation>,
}

/// The sampling design of the per-path parameters (`--sampling`); the
/// quarterly shocks and events are plain Monte Carlo in every design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Plain Monte Carlo: each parameter from its own keyed stream.
    #[default]
    Mc,
    /// Latin hypercube over the paths of the run.
    Lhs,
    /// Owen-scrambled Sobol' points.
    Sobol,
}

impl Sampling {
    pub fn parse(s: &str) -> Option<Sampling> {
        match s {
            "mc" => Some(Sampling::Mc),
            "lhs" => Some(Sampling::Lhs),
            "sobol" => Some(Sampling::Sobol),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sampling::Mc => "mc",
            Sampling::Lhs => "lhs",
            Sampling::Sobol => "sobol",
        }
    }
}

/// A validated rank correlation block: positions in
/// [`Scenario::parameters`] and their Spearman correlation matrix
/// (symmetric, unit diagonal, positive semi-definite).
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub params: Vec<usize>,
    pub rank: Vec<Vec<f64>>,
}

/// What a per-path parameter sets. Demand units are numbered customers
/// first, then each provider's `other` book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Recognition(usize),
    OtherBacklog(usize),
    Bookings(usize),
    Growth(usize),
    Volatility(usize),
    Beta(usize),
    /// (customer, provider)
    Backlog(usize, usize),
    /// Index over all customers' shifts, in file order.
    ShiftTarget(usize),
    ShiftHalfLife(usize),
    Hazard(usize),
    Migrate(usize),
}

/// One per-path parameter of a scenario.
#[derive(Debug, Clone)]
pub struct Param<'a> {
    /// Its dotted path in the scenario file, as `sweep --vary` names it:
    /// `providers.azure.other.growth`, `customers.openai.shift[0].target`,
    /// `renegotiation[1].hazard`.
    pub path: String,
    /// Its stable name, which keys its random numbers (docs/streams.md):
    /// positions are replaced by what they point at,
    /// `customers.openai.shift[from=azure].target`, `renegotiation[openai,oci].hazard`.
    pub key: String,
    pub dist: &'a Dist,
    pub role: Role,
}

impl Scenario {
    /// The demand units in engine order, with their dotted paths:
    /// `customers.C`, then `providers.P.other`.
    pub fn demand_units(&self) -> Vec<(String, &Demand)> {
        let customers = self.customers.iter().map(|c| (format!("customers.{}", c.name), &c.demand));
        customers.chain(self.providers.iter().map(|p| (format!("providers.{}.other", p.name), &p.other))).collect()
    }

    /// Every per-path parameter (fixed ones included), in the engine's
    /// order. Severities are not here: they are drawn per event.
    pub fn parameters<'a>(&'a self) -> Vec<Param<'a>> {
        let mut out = Vec::new();
        let mut put = |path: String, key: Option<String>, dist: &'a Dist, role: Role| {
            out.push(Param { key: key.unwrap_or_else(|| path.clone()), path, dist, role });
        };
        for (p, pr) in self.providers.iter().enumerate() {
            put(format!("providers.{}.recognition", pr.name), None, &pr.recognition, Role::Recognition(p));
        }
        for (p, pr) in self.providers.iter().enumerate() {
            put(format!("providers.{}.other.backlog", pr.name), None, &pr.other_backlog, Role::OtherBacklog(p));
        }
        for (u, (at, d)) in self.demand_units().into_iter().enumerate() {
            put(format!("{at}.bookings"), None, &d.bookings, Role::Bookings(u));
            put(format!("{at}.growth"), None, &d.growth, Role::Growth(u));
            put(format!("{at}.volatility"), None, &d.volatility, Role::Volatility(u));
            put(format!("{at}.beta"), None, &d.beta, Role::Beta(u));
        }
        for (c, cu) in self.customers.iter().enumerate() {
            for (p, d) in cu.backlog.iter().enumerate() {
                let path = format!("customers.{}.backlog.{}", cu.name, self.providers[p].name);
                put(path, None, d, Role::Backlog(c, p));
            }
        }
        let mut s = 0;
        for cu in &self.customers {
            for (j, sh) in cu.shifts.iter().enumerate() {
                let (at, key) = (
                    format!("customers.{}.shift[{j}]", cu.name),
                    format!("customers.{}.shift[from={}]", cu.name, self.providers[sh.from].name),
                );
                put(format!("{at}.target"), Some(format!("{key}.target")), &sh.target, Role::ShiftTarget(s));
                put(format!("{at}.half_life"), Some(format!("{key}.half_life")), &sh.half_life, Role::ShiftHalfLife(s));
                s += 1;
            }
        }
        for (r, rule) in self.rules.iter().enumerate() {
            put(
                format!("renegotiation[{r}].hazard"),
                Some(format!("{}.hazard", self.rule_name(r))),
                &rule.hazard,
                Role::Hazard(r),
            );
        }
        for (r, rule) in self.rules.iter().enumerate() {
            put(
                format!("renegotiation[{r}].migrate"),
                Some(format!("{}.migrate", self.rule_name(r))),
                &rule.migrate,
                Role::Migrate(r),
            );
        }
        out
    }

    /// The stable name of rule `r`: `renegotiation[CUSTOMER,PROVIDER]`.
    pub fn rule_name(&self, r: usize) -> String {
        let rule = &self.rules[r];
        format!("renegotiation[{},{}]", self.customers[rule.customer].name, self.providers[rule.provider].name)
    }

    /// How many parameters are distributions (not plain numbers).
    pub fn uncertain_parameters(&self) -> usize {
        self.parameters().iter().filter(|p| !p.dist.is_fixed()).count()
    }

    /// Why the scenario cannot be sampled with its design, if it cannot:
    /// Sobol' points have 256 dimensions, one per uncertain parameter.
    pub fn sampling_problem(&self) -> Option<String> {
        let uncertain = self.uncertain_parameters();
        (self.sampling == Sampling::Sobol && uncertain > 256).then(|| {
            format!("sobol sampling has 256 dimensions, but the scenario has {uncertain} uncertain parameters: use lhs, or fix some parameters")
        })
    }

    /// Label of quarter `t` (1-based), e.g. `2026Q1` for t = 1.
    pub fn label(&self, t: u32) -> String {
        self.start.plus(t - 1).to_string()
    }

    /// Names of the recorded metrics, in the order the engine records them:
    /// `backlog.*`, `revenue.*`, `share.*.*`, `loss.*`, `events.*`.
    /// ([`crate::metric::Metric::all`] as text).
    pub fn metric_names(&self) -> Vec<String> {
        crate::metric::Metric::all(self).iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_labels_roll_over_years() {
        let q = Quarter::parse("2026Q3").unwrap();
        assert_eq!(q.plus(0).to_string(), "2026Q3");
        assert_eq!(q.plus(2).to_string(), "2027Q1");
        assert_eq!(q.plus(9).to_string(), "2028Q4");
        assert!(Quarter::parse("2026Q5").is_none());
        assert!(Quarter::parse("26Q1").is_none());
    }
}
