//! The recorded metrics as a type: `loss.azure` is parsed once into
//! [`Metric::Loss`], so a misspelt metric is an error with the list of
//! valid ones, and code asks `is_loss()` instead of testing a prefix.
//!
//! The text form (`backlog.P`, `revenue.P`, `share.C.P`, `loss.P`,
//! `events.C.P`) is what the CSV files, flags and portfolio exposures use.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::model::Scenario;

/// One recorded metric of a scenario (MODEL.md), at the horizon.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Provider P's total backlog.
    Backlog(String),
    /// Provider P's revenue summed over the quarters.
    Revenue(String),
    /// Customer C's share of provider P's backlog.
    Share { customer: String, provider: String },
    /// Provider P's loss against plan (the metric with VaR and ES).
    Loss(String),
    /// Events of the renegotiation rule of customer C with provider P.
    Events { customer: String, provider: String },
}

/// The forms a metric takes, for messages.
const FORMS: &str =
    "backlog.PROVIDER, revenue.PROVIDER, share.CUSTOMER.PROVIDER, loss.PROVIDER or events.CUSTOMER.PROVIDER";

impl Metric {
    /// Whether VaR and ES are reported for it (`loss.*`).
    pub fn is_loss(&self) -> bool {
        matches!(self, Metric::Loss(_))
    }

    /// Whether it is an amount of money, in $bn (backlog, revenue, loss).
    pub fn is_money(&self) -> bool {
        matches!(self, Metric::Backlog(_) | Metric::Revenue(_) | Metric::Loss(_))
    }

    /// Its unit, for an axis title: `$bn`, `share, 0 to 1` or `events`.
    pub fn unit(&self) -> &'static str {
        match self {
            Metric::Backlog(_) | Metric::Revenue(_) | Metric::Loss(_) => "$bn",
            Metric::Share { .. } => "share, 0 to 1",
            Metric::Events { .. } => "events",
        }
    }

    /// Every metric `sc` records, in the order the engine records them:
    /// `backlog.*`, `revenue.*`, `share.*.*`, `loss.*`, `events.*`.
    pub fn all(sc: &Scenario) -> Vec<Metric> {
        let p = || sc.providers.iter().map(|p| p.name.clone());
        let mut out: Vec<Metric> = p().map(Metric::Backlog).collect();
        out.extend(p().map(Metric::Revenue));
        for c in &sc.customers {
            out.extend(p().map(|provider| Metric::Share { customer: c.name.clone(), provider }));
        }
        out.extend(p().map(Metric::Loss));
        out.extend(sc.rules.iter().map(|r| Metric::Events {
            customer: sc.customers[r.customer].name.clone(),
            provider: sc.providers[r.provider].name.clone(),
        }));
        out
    }

    /// The loss of `sc`'s focus provider, the default metric of the
    /// headline, `explain` and `sweep`.
    pub fn focus_loss(sc: &Scenario) -> Metric {
        Metric::Loss(sc.providers[sc.focus].name.clone())
    }

    /// Its index among [`Metric::all`] of `sc`, or an error naming the
    /// scenario and listing the metrics it records.
    ///
    /// ```
    /// use backlog_risk::metric::Metric;
    /// let sc = backlog_risk::scenario::parse(
    ///     "[scenario]\nname = \"doc\"\nstart = \"2026Q1\"\nquarters = 4\n\
    ///      [providers.azure]\nrecognition = 0.07\nother = { backlog = 10.0, bookings = 1.0 }\n",
    ///     "doc.toml".as_ref(),
    /// )
    /// .unwrap();
    /// assert_eq!("loss.azure".parse::<Metric>().unwrap().index_in(&sc).unwrap(), 2);
    /// let e = "loss.aws".parse::<Metric>().unwrap().index_in(&sc).unwrap_err();
    /// assert!(e.to_string().contains("use one of backlog.azure, revenue.azure, loss.azure"), "{e}");
    /// ```
    pub fn index_in(&self, sc: &Scenario) -> Result<usize> {
        let all = Metric::all(sc);
        all.iter().position(|m| m == self).ok_or_else(|| {
            Error::invalid(format!(
                "scenario `{}` records no metric `{self}`; use one of {}",
                sc.name,
                all.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Backlog(p) => write!(f, "backlog.{p}"),
            Metric::Revenue(p) => write!(f, "revenue.{p}"),
            Metric::Share { customer, provider } => write!(f, "share.{customer}.{provider}"),
            Metric::Loss(p) => write!(f, "loss.{p}"),
            Metric::Events { customer, provider } => write!(f, "events.{customer}.{provider}"),
        }
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Parse the text form; the names are checked against a scenario by
    /// [`Metric::index_in`].
    ///
    /// ```
    /// use backlog_risk::metric::Metric;
    /// assert_eq!("loss.azure".parse::<Metric>().unwrap(), Metric::Loss("azure".into()));
    /// assert!("los.azure".parse::<Metric>().unwrap_err().to_string().contains("loss.PROVIDER"));
    /// assert!("share.openai".parse::<Metric>().unwrap_err().to_string().contains("share.CUSTOMER.PROVIDER"));
    /// ```
    fn from_str(s: &str) -> Result<Metric> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let name = |x: &str| !x.is_empty();
        let m = match parts.as_slice() {
            ["backlog", p] if name(p) => Metric::Backlog(p.to_string()),
            ["revenue", p] if name(p) => Metric::Revenue(p.to_string()),
            ["loss", p] if name(p) => Metric::Loss(p.to_string()),
            ["share", c, p] if name(c) && name(p) => Metric::Share { customer: c.to_string(), provider: p.to_string() },
            ["events", c, p] if name(c) && name(p) => {
                Metric::Events { customer: c.to_string(), provider: p.to_string() }
            }
            _ => return Err(Error::invalid(format!("`{s}` is not a metric: write {FORMS}"))),
        };
        Ok(m)
    }
}

impl PartialEq<str> for Metric {
    fn eq(&self, other: &str) -> bool {
        other.parse::<Metric>().is_ok_and(|m| m == *self)
    }
}

impl PartialEq<&str> for Metric {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl serde::Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_of_a_scenario_round_trips_through_its_text() {
        let text = "[scenario]\nname = \"t\"\nstart = \"2026Q1\"\nquarters = 4\n\
                    [providers.azure]\nrecognition = 0.07\n[providers.aws]\nrecognition = 0.05\n\
                    [customers.openai]\nbacklog = { azure = 100.0, aws = 10.0 }\n\
                    [[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.2\n\
                    severity = 0.2\n";
        let sc = crate::scenario::parse(text, "t.toml".as_ref()).unwrap();
        let all = Metric::all(&sc);
        let want = "backlog.azure backlog.aws revenue.azure revenue.aws share.openai.azure share.openai.aws \
                    loss.azure loss.aws events.openai.azure";
        assert_eq!(all.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "), want);
        assert_eq!(sc.metric_names().join(" "), want);
        for (k, m) in all.iter().enumerate() {
            assert_eq!(&m.to_string().parse::<Metric>().unwrap(), m);
            assert_eq!(m.index_in(&sc).unwrap(), k);
            assert_eq!(m.is_loss(), m.to_string().starts_with("loss."));
        }
        assert_eq!(Metric::focus_loss(&sc), "loss.azure");
    }
}
