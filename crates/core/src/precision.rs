//! Runs to a stated precision (`--precision 'es99:loss.azure<=1%'`): paths
//! are simulated in rounds of fixed path ranges until the 95% confidence
//! half-width of one statistic is within the target, or a path budget is
//! spent.
//!
//! Round `r` simulates paths `r R .. (r + 1) R` (`R` a multiple of the
//! engine's chunk), and the rounds' partial results are merged as shards
//! are: the accumulator after `k` rounds is, bit for bit, that of a run of
//! `k R` paths, whatever the thread count. The half-width is the one
//! `errors.csv` reports for the statistic (order-statistic interval for
//! quantiles and VaR, asymptotic variance for ES, `sd / sqrt(n)` for the
//! mean), read after every round, so the run stops at the first round that
//! meets the target.

use std::ops::Range;

use serde::Serialize;

use crate::engine::{Accumulator, CHUNK, Engine};
use crate::error::{Error, Result};
use crate::metric::Metric;
use crate::report;

/// Default paths per round: 32 chunks.
pub const DEFAULT_ROUND: u64 = 32 * CHUNK;

/// A precision target: `STAT:METRIC<=VALUE` or `...<=VALUE%`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub stat: String,
    pub metric: Metric,
    /// The largest half-width accepted, absolute or (with `relative`) as a
    /// fraction of `|estimate|`.
    pub value: f64,
    pub relative: bool,
}

impl Target {
    /// Parse `es99:loss.azure<=1%` or `mean:backlog.aws<=2.5`.
    /// An [`Error::Option`] of option `precision` when `s` is not a target.
    ///
    /// ```
    /// use backlog_risk::precision::Target;
    /// let t = Target::parse("es99:loss.azure<=1%").unwrap();
    /// assert_eq!((t.stat.as_str(), t.value, t.relative), ("es99", 0.01, true));
    /// let e = Target::parse("es99:loss.azure<1%").unwrap_err().to_string();
    /// assert!(e.starts_with("precision `es99:loss.azure<1%` has no `<=`"), "{e}");
    /// ```
    pub fn parse(s: &str) -> Result<Target> {
        let bad = |m: String| Error::option("precision", m);
        let form = "write it as STAT:METRIC<=VALUE, e.g. 'es99:loss.azure<=1%' (relative to the estimate) or 'mean:loss.azure<=2.5' (absolute, in the metric's unit)";
        let (lhs, rhs) = s.split_once("<=").ok_or_else(|| bad(format!("`{s}` has no `<=`: {form}")))?;
        let (stat, metric) =
            lhs.split_once(':').ok_or_else(|| bad(format!("`{s}` has no `:` between stat and metric: {form}")))?;
        let (number, relative) = match rhs.trim().strip_suffix('%') {
            Some(n) => (n, true),
            None => (rhs.trim(), false),
        };
        let v: f64 = number.trim().parse().map_err(|_| bad(format!("`{rhs}` is not a number: {form}")))?;
        if !(v.is_finite() && v > 0.0) {
            return Err(bad(format!("the target half-width must be above 0, got `{rhs}`")));
        }
        let stat = stat.trim().to_string();
        if !report::ERROR_STATS.contains(&stat.as_str()) {
            return Err(bad(format!(
                "`{stat}` has no standard error: use one of mean, p5, p50, p95, var95, es95, var99, es99 ({form})"
            )));
        }
        let metric: Metric = metric.parse().map_err(|e| bad(format!("{e} ({form})")))?;
        Ok(Target { stat, metric, value: if relative { v / 100.0 } else { v }, relative })
    }

    /// The target as given (`es99:loss.azure<=1%`).
    pub fn text(&self) -> String {
        let v = if self.relative { format!("{}%", self.value * 100.0) } else { self.value.to_string() };
        format!("{}:{}<={v}", self.stat, self.metric)
    }

    /// Check the metric and the statistic against the scenario's metrics.
    /// An [`Error::Option`] of option `precision` naming the target.
    pub fn check(&self, sc: &crate::model::Scenario) -> Result<usize> {
        let k = self.metric.index_in(sc).map_err(|e| e.about("precision", self.text()))?;
        if !self.metric.is_loss() && self.stat.starts_with(['v', 'e']) {
            return Err(Error::invalid(format!(
                "{} is reported for loss.* metrics only; choose a loss.PROVIDER metric",
                self.stat
            ))
            .about("precision", self.text()));
        }
        Ok(k)
    }
}

/// The outcome of a run to a precision.
#[derive(Debug, Clone, Serialize)]
pub struct Reached {
    /// The target as given.
    pub target: String,
    pub estimate: f64,
    /// The 95% half-width achieved, in the metric's unit.
    pub half_width: f64,
    /// `half_width / |estimate|`.
    pub relative_half_width: f64,
    /// Whether the target was met (else the path budget ran out).
    pub met: bool,
    pub paths: u64,
    pub rounds: u64,
    pub round_paths: u64,
    pub max_paths: u64,
}

/// The statistic's estimate and 95% half-width in `acc`.
pub fn half_width(t: &Target, k: usize, acc: &Accumulator) -> (f64, f64) {
    let rows = report::errors(&t.metric.to_string(), &acc.metrics[k], t.metric.is_loss());
    let row = rows.iter().find(|r| r.stat == t.stat).expect("a stat with an error row");
    (row.estimate, (row.ci_high - row.ci_low) / 2.0)
}

/// Simulate rounds of `round` paths (a multiple of the engine's chunk)
/// until `t` is met or `max_paths` (whole rounds within it, one at least) are done.
/// `after_round` sees the paths done and the half-width after each round.
pub fn run_to_precision(
    engine: &Engine,
    seed: u64,
    t: &Target,
    (round, max_paths): (u64, u64),
    progress: &(dyn Fn(u64) + Sync),
    after_round: &dyn Fn(u64, f64, f64),
) -> Result<(Accumulator, Reached)> {
    assert!(round > 0 && round.is_multiple_of(CHUNK), "a round is a whole number of chunks");
    let k = t.check(engine.scenario())?;
    // `max_paths` is a hard maximum: whole rounds within it (one at least).
    let rounds_max = (max_paths / round).max(1);
    // The Latin hypercube is over each round's paths.
    let keys = engine.keys(seed, round);
    let mut merger = engine.merger();
    for r in 0..rounds_max {
        let chunks: Range<u64> = r * (round / CHUNK)..(r + 1) * (round / CHUNK);
        let paths = (r + 1) * round;
        // Each round's merge-tree nodes are those of a run of the whole
        // budget (a node never reaches past its round), which finish into
        // the tree of a run of `paths` paths.
        merger.add(engine.run_chunks_with(&keys, rounds_max * round, chunks, progress))?;
        let acc = merger.clone().finish(paths)?;
        let (estimate, half) = half_width(t, k, &acc);
        let relative = if half == 0.0 { 0.0 } else { half / estimate.abs() };
        after_round(paths, half, relative);
        // A statistic that does not vary has half-width 0: met, whatever
        // its estimate (0 / 0 is not a reason to run on).
        let met = half == 0.0 || if t.relative { relative <= t.value } else { half <= t.value };
        if met || r + 1 == rounds_max {
            let reached = Reached {
                target: t.text(),
                estimate,
                half_width: half,
                relative_half_width: relative,
                met,
                paths,
                rounds: r + 1,
                round_paths: round,
                max_paths: rounds_max * round,
            };
            return Ok((acc, reached));
        }
    }
    unreachable!("the last round returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_clear_errors() {
        let t = Target::parse("es99:loss.azure<=1%").unwrap();
        assert_eq!(
            (t.stat.as_str(), t.metric.to_string().as_str(), t.value, t.relative),
            ("es99", "loss.azure", 0.01, true)
        );
        assert_eq!(t.text(), "es99:loss.azure<=1%");
        let a = Target::parse("mean:backlog.aws <= 2.5").unwrap();
        assert_eq!((a.value, a.relative), (2.5, false));
        assert!(Target::parse("es99:loss.azure=1%").unwrap_err().to_string().contains("no `<=`"));
        assert!(Target::parse("loss.azure<=1%").unwrap_err().to_string().contains("no `:`"));
        assert!(Target::parse("es98:loss.azure<=1%").unwrap_err().to_string().contains("has no standard error"));
        assert!(Target::parse("sd:loss.azure<=1%").unwrap_err().to_string().contains("has no standard error"));
        assert!(Target::parse("mean:loss.azure<=0").unwrap_err().to_string().contains("above 0"));
        assert!(Target::parse("mean:loss.azure<=x%").unwrap_err().to_string().contains("not a number"));
        let text = "[scenario]\nname = \"t\"\nstart = \"2026Q1\"\nquarters = 4\n[providers.a]\nrecognition = 0.1\nother = { backlog = 100.0, bookings = 10.0 }\n";
        let sc = crate::scenario::parse(text, "t.toml".as_ref()).unwrap();
        assert_eq!(Target::parse("es99:loss.a<=1%").unwrap().check(&sc).unwrap(), 2);
        assert!(
            Target::parse("es99:backlog.a<=1%")
                .unwrap()
                .check(&sc)
                .unwrap_err()
                .to_string()
                .contains("loss.* metrics only")
        );
        assert!(
            Target::parse("mean:loss.b<=1%")
                .unwrap()
                .check(&sc)
                .unwrap_err()
                .to_string()
                .contains("no metric `loss.b`")
        );
        assert!(Target::parse("mean:los.a<=1%").unwrap_err().to_string().contains("not a metric"));
    }

    #[test]
    fn a_statistic_that_does_not_vary_meets_any_target_at_once() {
        // Nothing is uncertain: the loss is 0 on every path, and 0 +- 0
        // meets a relative target (not 0 / 0, which would run on).
        let text = "[scenario]\nname = \"flat\"\nstart = \"2026Q1\"\nquarters = 4\n[providers.a]\nrecognition = 0.1\nother = { backlog = 100.0, bookings = 10.0 }\n";
        let sc = crate::scenario::parse(text, "flat.toml".as_ref()).unwrap();
        let engine = Engine::new(&sc);
        let t = Target::parse("mean:loss.a<=1%").unwrap();
        let (_, r) = run_to_precision(&engine, 1, &t, (CHUNK, 100 * CHUNK), &|_| {}, &|_, _, _| {}).unwrap();
        assert!(r.met && r.rounds == 1 && r.half_width == 0.0, "{r:?}");
    }

    #[test]
    fn error_stats_name_the_rows_of_errors_csv() {
        let mut a = crate::stats::MetricAcc::default();
        (0..100).for_each(|i| a.add(f64::from(i)));
        let stats: Vec<&str> = report::errors("loss.a", &a, true).iter().map(|r| r.stat).collect();
        assert_eq!(stats, report::ERROR_STATS);
    }
}
