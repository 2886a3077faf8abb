//! Whole numbers as people write them: `100000`, `100_000`, `1e5`.
//!
//! TOML reads `paths = 1e5` as a float and `seed = 18446744073709551615` as
//! an integer too large for its i64, and serde's messages for both
//! ("invalid type: floating point", "expected i64") say nothing about the
//! fix. [`Whole`] keeps what was written so that validation can accept an
//! integral float and say what to change otherwise; [`parse_count`] does
//! the same for counts given on a command line or in a request.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// A number where a whole number is expected, as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Whole {
    /// A TOML integer (any i64 or u64).
    Int(i128),
    /// A TOML float such as `1e5` or `2.0`; whole or not.
    Float(f64),
}

impl Whole {
    /// The whole number written, or a message saying what to write
    /// instead.
    pub fn value(self) -> Result<i128, String> {
        match self {
            Whole::Int(i) => Ok(i),
            Whole::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => Ok(f as i128),
            Whole::Float(f) => Err(format!("{f} is not a whole number")),
        }
    }
}

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Whole;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number such as 100000, 100_000 or 1e5")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Whole, E> {
                Ok(Whole::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Whole, E> {
                Ok(Whole::Int(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Whole, E> {
                Ok(Whole::Float(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A count from text: `1000000`, `1_000_000`, `1e6` or `2.5e5`, between
/// `lo` and `hi`; the message otherwise says what to give.
///
/// ```
/// use backlog_risk::scenario::parse_count;
/// assert_eq!(parse_count("1e6", 1, u64::MAX), Ok(1_000_000));
/// assert_eq!(parse_count("1_000_000", 1, u64::MAX), Ok(1_000_000));
/// assert_eq!(parse_count("250000", 1, u64::MAX), Ok(250_000));
/// assert!(parse_count("-5", 1, u64::MAX).unwrap_err().contains("negative"));
/// assert!(parse_count("0", 1, u64::MAX).unwrap_err().contains("at least 1"));
/// assert!(parse_count("2.5", 1, u64::MAX).unwrap_err().contains("not a whole number"));
/// assert!(parse_count("2000", 1, 1024).unwrap_err().contains("at most 1024"));
/// ```
pub fn parse_count(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let t = s.trim();
    let example = "e.g. 100000, 100_000 or 1e5";
    let digits = t.replace('_', "");
    if digits.starts_with('-') && digits.len() > 1 {
        return Err(format!("`{t}` is negative: give a whole number of at least {lo}, {example}"));
    }
    let n: u64 = match digits.parse::<u64>() {
        Ok(n) => n,
        Err(_) => {
            let looks_numeric = !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
            match digits.parse::<f64>() {
                Ok(f) if looks_numeric && f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => {
                    f as u64
                }
                Ok(f) if looks_numeric && f.fract() == 0.0 && f > 0.0 => {
                    return Err(format!("`{t}` is too large: give at most {hi}"));
                }
                _ if looks_numeric && digits.chars().all(|c| c.is_ascii_digit()) => {
                    return Err(format!("`{t}` is too large: give at most {hi}"));
                }
                _ => return Err(format!("`{t}` is not a whole number: give one such as 100000, 100_000 or 1e5")),
            }
        }
    };
    if n < lo {
        return Err(format!("{n} is too few: give at least {lo}, {example}"));
    }
    if n > hi {
        return Err(format!("{n} is too many: give at most {hi}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_as_written() {
        assert_eq!(parse_count(" 2048 ", 1, u64::MAX), Ok(2048));
        assert_eq!(parse_count("1.5e3", 1, u64::MAX), Ok(1500));
        assert_eq!(parse_count("18446744073709551615", 1, u64::MAX), Ok(u64::MAX));
        for (text, says) in [
            ("1e-3", "not a whole number"),
            ("abc", "not a whole number"),
            ("", "not a whole number"),
            ("inf", "not a whole number"),
            ("nan", "not a whole number"),
            ("1e30", "too large"),
            ("18446744073709551616", "too large"),
            ("-0.5", "negative"),
        ] {
            let e = parse_count(text, 1, u64::MAX).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert_eq!(Whole::Float(1e5).value(), Ok(100_000));
        assert!(Whole::Float(1.5).value().unwrap_err().contains("not a whole number"));
        assert_eq!(Whole::Int(u64::MAX as i128).value(), Ok(u64::MAX as i128));
    }
}
