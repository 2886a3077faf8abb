//! The scenario file as written: serde types that mirror the TOML, with
//! spans kept for error messages. Nothing here is validated beyond TOML
//! types and unknown keys; [`super::validate`] turns it into a
//! [`crate::model::Scenario`].

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

pub use super::whole::Whole;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub scenario: RawMeta,
    #[serde(default)]
    pub providers: IndexMap<String, RawProvider>,
    #[serde(default)]
    pub customers: IndexMap<String, RawCustomer>,
    #[serde(default)]
    pub renegotiation: Vec<S<RawRule>>,
    #[serde(default)]
    pub correlation: Vec<S<RawCorrelation>>,
    /// Resolved by [`super::resolve`] before parsing; ignored here.
    pub extends: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: S<String>,
    pub start: S<String>,
    pub quarters: S<Whole>,
    pub paths: Option<S<Whole>>,
    pub seed: Option<S<Whole>>,
    /// The provider the headline, `loss.png` and comparisons are about.
    pub focus: Option<S<String>>,
    /// The sampling design of the per-path parameters: mc, lhs or sobol.
    pub sampling: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// The provider's name in charts and reports.
    pub display: Option<S<String>>,
    pub recognition: S<RawParam>,
    #[serde(default)]
    pub other: RawOther,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOther {
    pub backlog: Option<S<RawParam>>,
    pub bookings: Option<S<RawParam>>,
    pub growth: Option<S<RawParam>>,
    pub volatility: Option<S<RawParam>>,
    pub beta: Option<S<RawParam>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomer {
    pub bookings: Option<S<RawParam>>,
    pub growth: Option<S<RawParam>>,
    pub volatility: Option<S<RawParam>>,
    pub beta: Option<S<RawParam>>,
    #[serde(default)]
    pub backlog: IndexMap<String, S<RawParam>>,
    pub allocation: Option<S<IndexMap<String, S<f64>>>>,
    #[serde(default)]
    pub shift: Vec<S<RawShift>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShift {
    pub from: S<String>,
    pub target: S<RawParam>,
    pub half_life: S<RawParam>,
    pub to: S<IndexMap<String, S<f64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub customer: S<String>,
    pub provider: S<String>,
    pub hazard: S<RawParam>,
    pub severity: S<RawParam>,
    pub migrate: Option<S<RawParam>>,
    pub to: Option<S<IndexMap<String, S<f64>>>>,
    pub max_events: Option<S<Whole>>,
}

/// A `[[correlation]]` block as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCorrelation {
    pub parameters: S<Vec<S<String>>>,
    pub rank: S<Vec<Vec<f64>>>,
}

/// A parameter as written: a plain number or a distribution table.
#[derive(Debug, Clone, PartialEq)]
pub enum RawParam {
    Number(f64),
    Dist(RawDist),
}

/// A distribution table; which fields a family needs is checked later, so
/// that the message can name the family.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDist {
    pub dist: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mode: Option<f64>,
    pub lambda: Option<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub values: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
}

impl<'de> Deserialize<'de> for RawParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawParam;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a distribution table such as { dist = \"uniform\", min = 0.1, max = 0.3 }")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawParam, E> {
                Ok(RawParam::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawParam, E> {
                Ok(RawParam::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawParam, E> {
                Ok(RawParam::Number(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawParam, A::Error> {
                // The family first, so that `{ dist = "weibull", shape = 2 }`
                // is an unknown family, not an unknown field `shape`.
                let table = toml::Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let families = super::FAMILIES.join(", ");
                match table.get("dist") {
                    None => {
                        return Err(de::Error::custom(format!(
                            "a distribution table needs its family: add `dist = \"...\"`, one of {families}"
                        )));
                    }
                    Some(toml::Value::String(f)) if !super::FAMILIES.contains(&f.as_str()) => {
                        return Err(de::Error::custom(format!("unknown distribution `{f}`: use one of {families}")));
                    }
                    _ => {}
                }
                serde_path_to_error::deserialize(toml::Value::Table(table)).map(RawParam::Dist).map_err(|e| {
                    let field = e.path().to_string();
                    let message = e.inner().message().replace("expected f64", "expected a number");
                    // `FIELD`: the field inside the table, which
                    // `Cx::toml_error` appends to the path.
                    if field == "." {
                        de::Error::custom(message)
                    } else {
                        de::Error::custom(format!("`{field}`: {message}"))
                    }
                })
            }
        }
        d.deserialize_any(V)
    }
}
