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
}

impl Scenario {
    /// Label of quarter `t` (1-based), e.g. `2026Q1` for t = 1.
    pub fn label(&self, t: u32) -> String {
        self.start.plus(t - 1).to_string()
    }

    /// Names of the recorded metrics, in the order the engine records them:
    /// `backlog.*`, `revenue.*`, `share.*.*`, `loss.*`, `events.*`.
    pub fn metric_names(&self) -> Vec<String> {
        let p = || self.providers.iter().map(|p| p.name.as_str());
        let mut names: Vec<String> = p().map(|p| format!("backlog.{p}")).collect();
        names.extend(p().map(|p| format!("revenue.{p}")));
        for c in &self.customers {
            names.extend(p().map(|p| format!("share.{}.{p}", c.name)));
        }
        names.extend(p().map(|p| format!("loss.{p}")));
        names.extend(
            self.rules
                .iter()
                .map(|r| format!("events.{}.{}", self.customers[r.customer].name, self.providers[r.provider].name)),
        );
        names
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
