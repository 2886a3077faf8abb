//! The CSV and JSON writers: result structures in, bytes out.
//!
//! Each writer returns the bytes of one file, so it can be tested without a
//! disk; the front-ends put them in place.
//!
//! Every CSV cell of text that a spreadsheet would read as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return, and not a
//! number) is written with a leading `'` ([`guard_cell`]): names and
//! display strings come from files a user may not have written. Numbers are
//! written as they are.

use std::io::Write;
use std::path::Path;

use crate::Result;
use serde::Serialize;

use crate::metric::Metric;
use crate::model::Scenario;
use crate::report::{MetricRow, ScenarioSummary};
use crate::stats;

/// `summary.csv`: one row per metric, the columns of MODEL.md.
pub fn summary_csv(s: &ScenarioSummary) -> Result<Vec<u8>> {
    rows_csv(&s.metrics)
}

/// `fan.csv`: backlog bands per provider and quarter.
pub fn fan_csv(s: &ScenarioSummary) -> Result<Vec<u8>> {
    rows_csv(&s.fan)
}

/// `revenue.csv`: revenue bands per provider and quarter.
pub fn revenue_csv(s: &ScenarioSummary) -> Result<Vec<u8>> {
    rows_csv(&s.revenue)
}

/// `text` as a CSV cell that no spreadsheet runs as a formula: a cell that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return and is not a
/// number gets a leading `'` (the usual guard); every other cell, numbers
/// such as `-1.5` included, is unchanged.
///
/// ```
/// use backlog_risk::writers::output::guard_cell;
/// assert_eq!(guard_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
/// assert_eq!(guard_cell("@SUM(A1)"), "'@SUM(A1)");
/// assert_eq!(guard_cell("-1.5e3"), "-1.5e3");
/// assert_eq!(guard_cell("loss.azure"), "loss.azure");
/// ```
pub fn guard_cell(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && text.trim().parse::<f64>().is_err() { format!("'{text}").into() } else { text.into() }
}

/// CSV bytes with every cell guarded ([`guard_cell`]); the bytes as they
/// are when no cell needs it.
fn guarded(csv: Vec<u8>) -> Result<Vec<u8>> {
    let reader = || csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(csv.as_slice());
    let mut needed = false;
    for rec in reader().records() {
        if rec?.iter().any(|c| matches!(guard_cell(c), std::borrow::Cow::Owned(_))) {
            needed = true;
            break;
        }
    }
    if !needed {
        return Ok(csv);
    }
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    for rec in reader().records() {
        w.write_record(rec?.iter().map(guard_cell).collect::<Vec<_>>().iter().map(|c| c.as_ref()))?;
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// `samples.csv`: a header and one row per path, written to `out` as the
/// rows come (a large sample never sits in memory).
pub fn samples_csv(out: impl Write, header: &[String], rows: impl Iterator<Item = (u64, Vec<f64>)>) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header.iter().map(|h| guard_cell(h)).collect::<Vec<_>>().iter().map(|c| c.as_ref()))?;
    let mut cells: Vec<String> = Vec::with_capacity(header.len());
    for (i, row) in rows {
        cells.clear();
        cells.push(i.to_string());
        cells.extend(row.iter().map(|x| format!("{x:?}")));
        w.write_record(&cells)?;
    }
    w.flush()?;
    Ok(())
}

/// `errors.csv`: standard errors and 95% intervals of the headline statistics.
pub fn errors_csv(s: &ScenarioSummary) -> Result<Vec<u8>> {
    rows_csv(&s.errors)
}

/// The version of `summary.json`'s layout (`docs/summary.schema.json`).
pub const SUMMARY_SCHEMA: &str = "backlog-risk/summary/1";

/// `summary.json`: the figures of `summary.csv` and `errors.csv`, with the
/// scenario's horizon, focus and providers, for programs
/// (`docs/summary.schema.json` is its schema). Statistics that do not apply
/// (VaR and ES of metrics other than `loss.*`) are `null`.
pub fn summary_json(s: &ScenarioSummary) -> Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Provider<'a> {
        name: &'a str,
        display: &'a str,
        plan_backlog: f64,
        top_customer: Option<&'a str>,
        top_customer_share_start: f64,
    }
    #[derive(Serialize)]
    struct Summary<'a> {
        schema: &'static str,
        tool_version: &'static str,
        scenario: &'a str,
        seed: u64,
        paths: u64,
        start: &'a str,
        horizon: &'a str,
        horizon_quarters: usize,
        focus: &'a str,
        providers: Vec<Provider<'a>>,
        metrics: &'a [MetricRow],
        errors: &'a [crate::report::ErrorRow],
    }
    let providers = s
        .providers
        .iter()
        .enumerate()
        .map(|(p, name)| Provider {
            name,
            display: &s.display[p],
            plan_backlog: s.plan.backlog[p],
            top_customer: s.concentration[p].customer.as_deref(),
            top_customer_share_start: s.concentration[p].share,
        })
        .collect();
    let doc = Summary {
        schema: SUMMARY_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION"),
        scenario: &s.name,
        seed: s.seed,
        paths: s.paths,
        start: s.labels.first().map_or("", String::as_str),
        horizon: s.labels.last().map_or("", String::as_str),
        horizon_quarters: s.labels.len(),
        focus: &s.providers[s.focus],
        providers,
        metrics: &s.metrics,
        errors: &s.errors,
    };
    let mut v = serde_json::to_vec_pretty(&doc)?;
    v.push(b'\n');
    Ok(v)
}

/// Serialise rows with a header taken from the row type's fields.
pub fn rows_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// A number in full (it reads back to the same bits); empty when not finite.
fn full(x: f64) -> String {
    if x.is_finite() { format!("{x:?}") } else { String::new() }
}

/// `given.csv`: the condition's probability with its standard error and,
/// for every uncertain parameter and metric (and, when the attribution ran,
/// each driver's contribution and the total, kind `driver`), its statistics
/// over the paths that meet the condition beside those over all paths, by
/// the shift of its mean in units of its sd, largest first. One tidy
/// table: the condition's columns repeat on every row.
pub fn given_csv(g: &crate::analysis::given::Given) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "condition",
        "paths",
        "hits",
        "probability",
        "probability_se",
        "min_hits",
        "met",
        "kind",
        "name",
        "mean_given",
        "se_given",
        "p5_given",
        "p50_given",
        "p95_given",
        "mean_all",
        "sd_all",
        "p5_all",
        "p50_all",
        "p95_all",
        "shift_sd",
    ])?;
    let min_hits = g.min_hits.map_or(String::new(), |(n, _)| n.to_string());
    for r in &g.rows {
        let mut rec = vec![
            g.condition.clone(),
            g.paths.to_string(),
            g.hits.to_string(),
            full(g.probability),
            full(g.probability_se),
            min_hits.clone(),
            g.met().to_string(),
            r.kind.to_string(),
            r.name.clone(),
        ];
        let (a, b) = (&r.given, &r.all);
        rec.extend([a.mean, a.se, a.p5, a.p50, a.p95, b.mean, b.sd, b.p5, b.p50, b.p95, r.shift_sd].map(full));
        w.write_record(&rec)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// `given-paths.csv`: the paths that meet the condition with the highest
/// prior density of their parameters, highest first: the path index (for
/// `backlog-risk path`), its log-density, the condition's metrics and every
/// uncertain parameter.
pub fn given_paths_csv(g: &crate::analysis::given::Given) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["rank", "path", "log_density"].map(String::from).to_vec();
    header.extend(g.metrics.iter().cloned());
    header.extend(g.parameters.iter().cloned());
    w.write_record(&header)?;
    for (i, p) in g.top.iter().enumerate() {
        let mut rec = vec![(i + 1).to_string(), p.path.to_string(), full(p.log_density)];
        rec.extend(p.metrics.iter().chain(&p.parameters).map(|v| full(*v)));
        w.write_record(&rec)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// `path-N.csv`: one path, one row per quarter: each provider's backlog
/// (with the plan's) and revenue, the bookings of each demand unit, each
/// customer's allocation after the shifts, and per renegotiation rule
/// whether it fired, the severity drawn, the amount cut and the part of it
/// that moved.
pub fn path_csv(s: &crate::api::PathStory) -> Result<Vec<u8>> {
    let providers = &s.summary.providers;
    let customers: Vec<&str> = s.scenario.customers.iter().map(|c| c.name.as_str()).collect();
    let (np, nu, nr, nc) = (providers.len(), s.units.len(), s.rules.len(), customers.len());
    let mut header: Vec<String> = vec!["quarter".into(), "label".into()];
    header.extend(providers.iter().map(|p| format!("backlog.{p}")));
    header.extend(providers.iter().map(|p| format!("plan_backlog.{p}")));
    header.extend(providers.iter().map(|p| format!("revenue.{p}")));
    header.extend(s.units.iter().map(|u| format!("bookings.{u}")));
    for c in &customers {
        header.extend(providers.iter().map(|p| format!("allocation.{c}.{p}")));
    }
    for r in &s.rules {
        header.extend(["event", "severity", "cut", "moved"].map(|w| format!("{w}.{r}")));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    for (t, label) in s.summary.labels.iter().enumerate() {
        let mut rec = vec![(t + 1).to_string(), label.clone()];
        let row = t * np..(t + 1) * np;
        rec.extend(s.backlog[row.clone()].iter().map(|v| full(*v)));
        rec.extend(s.summary.plan.backlog_path[row.clone()].iter().map(|v| full(*v)));
        rec.extend(s.revenue[row].iter().map(|v| full(*v)));
        rec.extend(s.trace.bookings[t * nu..(t + 1) * nu].iter().map(|v| full(*v)));
        rec.extend(s.trace.allocation[t * nc * np..(t + 1) * nc * np].iter().map(|v| full(*v)));
        for r in t * nr..(t + 1) * nr {
            let tr = &s.trace;
            rec.push(u8::from(tr.fired[r]).to_string());
            rec.extend([tr.severity[r], tr.cut[r], tr.moved[r]].map(full));
        }
        w.write_record(&rec)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// `path-N-values.csv`: the path's uncertain parameters and metrics beside
/// the plan's (the parameters' means), and the difference.
pub fn path_values_csv(s: &crate::api::PathStory) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["kind", "name", "value", "plan", "difference"])?;
    let rows = s.parameters.iter().map(|r| ("parameter", r)).chain(s.metrics.iter().map(|r| ("metric", r)));
    for (kind, (name, value, plan)) in rows {
        w.write_record([kind.to_string(), name.clone(), full(*value), full(*plan), full(value - plan)])?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// CSV `csv` (a header and rows) with constant columns appended to every
/// row, e.g. the horizon of a stress test.
pub fn with_columns(csv: &[u8], cols: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(csv);
    let mut w = csv::Writer::from_writer(Vec::new());
    for (i, rec) in r.records().enumerate() {
        let mut rec = rec?;
        for (name, value) in cols {
            rec.push_field(if i == 0 { name } else { value });
        }
        w.write_record(&rec)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// `batch.csv`: one row per scenario of a run, ok or failed, with the key
/// loss statistics of every provider (columns for the union of providers,
/// empty where a scenario lacks one), its horizon, its focus provider and
/// that provider's largest customer.
pub fn batch_csv(outcomes: &[(&Path, &Result<ScenarioSummary, String>)]) -> Result<Vec<u8>> {
    let mut providers: Vec<&str> = Vec::new();
    for (_, r) in outcomes {
        if let Ok(s) = r {
            for p in &s.providers {
                if !providers.contains(&p.as_str()) {
                    providers.push(p);
                }
            }
        }
    }
    const STATS: [(&str, &str); 5] =
        [("expected_loss", "mean"), ("var95", "var95"), ("es95", "es95"), ("var99", "var99"), ("es99", "es99")];
    let mut header: Vec<String> = ["scenario", "file", "status", "error", "paths", "horizon", "focus", "top_customer"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    header.extend(["top_share_start", "top_share_mean", "top_share_p50"].iter().map(|h| h.to_string()));
    for p in &providers {
        header.extend(STATS.iter().map(|(col, _)| format!("{p}.{col}")));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    let num = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for (file, r) in outcomes {
        let mut rec: Vec<String> = Vec::with_capacity(header.len());
        match r {
            Ok(s) => {
                let c = &s.concentration[s.focus];
                let share = c.customer.as_ref().and_then(|cu| {
                    s.metric(&Metric::Share { customer: cu.clone(), provider: c.provider.clone() }.to_string())
                });
                rec.extend([
                    s.name.clone(),
                    file.display().to_string(),
                    "ok".into(),
                    String::new(),
                    s.paths.to_string(),
                    s.labels.last().cloned().unwrap_or_default(),
                ]);
                rec.extend([c.provider.clone(), c.customer.clone().unwrap_or_default()]);
                rec.extend([num(Some(c.share)), num(share.map(|m| m.mean)), num(share.map(|m| m.p50))]);
                for p in &providers {
                    let m = s.loss(p);
                    rec.extend(STATS.iter().map(|(_, stat)| num(m.and_then(|m| m.stat(stat)))));
                }
            }
            Err(e) => {
                rec.extend([String::new(), file.display().to_string(), "failed".into(), e.clone()]);
                rec.resize(header.len(), String::new());
            }
        }
        w.write_record(&rec)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// `sweep-SLUG.csv`: one row per grid point: the varied values, then for every
/// metric its mean, se, p5, p50 and p95, and for `loss.*` also VaR and ES;
/// last the standard error of the charted statistic (`METRIC.STAT_se`,
/// empty where none is known).
pub fn sweep_csv(
    vary: &[&str],
    grid: &[Vec<f64>],
    points: &[crate::writers::shard::SweepPoint],
    charted: (&str, &str),
) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let Some(first) = points.first().map(|p| &p.rows) else { return Ok(Vec::new()) };
    let stats_of = |metric: &str| -> Vec<&'static str> {
        let mut v = vec!["mean", "se", "p5", "p50", "p95"];
        if metric.parse::<Metric>().is_ok_and(|m| m.is_loss()) {
            v.extend(["var95", "es95", "var99", "es99"]);
        }
        v
    };
    let mut header: Vec<String> = vary.iter().map(|v| v.to_string()).collect();
    for m in first {
        header.extend(stats_of(&m.metric).iter().map(|s| format!("{}.{s}", m.metric)));
    }
    header.push(format!("{}.{}_se", charted.0, charted.1));
    w.write_record(&header)?;
    for (values, p) in grid.iter().zip(points) {
        let mut rec: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        for m in &p.rows {
            rec.extend(stats_of(&m.metric).iter().map(|st| m.stat(st).map_or(String::new(), |v| v.to_string())));
        }
        rec.push(p.se.map_or(String::new(), |v| v.to_string()));
        w.write_record(&rec)?;
    }
    guarded(w.into_inner().map_err(|e| e.into_error())?)
}

/// How quantiles were computed, for `run.json`.
#[derive(Debug, Clone, Serialize)]
pub struct QuantileMethod {
    pub method: &'static str,
    pub relative_error: f64,
    pub zero_band: f64,
    pub exact_below_distinct_values: usize,
    pub rank_rule: &'static str,
    pub es_rule: &'static str,
    pub standard_errors: &'static str,
}

impl Default for QuantileMethod {
    fn default() -> Self {
        QuantileMethod {
            method: "log-linear histogram sketch of integer counts, 512 buckets per octave, read at the bucket midpoint; exact while a metric has at most 16 distinct values; the same for summary.csv, fan.csv and revenue.csv",
            relative_error: stats::RELATIVE_ERROR,
            zero_band: stats::ZERO_BAND,
            exact_below_distinct_values: stats::EXACT_VALUES,
            rank_rule: "p-quantile of n paths = order statistic of rank ceil(p n)",
            es_rule: "ES at level a = mean of the order statistics of rank ceil(a n)..n",
            standard_errors: "errors.csv: mean sd/sqrt(n); quantiles and VaR order-statistic 95% interval (ranks n p -+ 1.96 sqrt(n p (1-p))), se = half-width/1.96; ES asymptotic variance (Var[L|L>=VaR] + a (ES-VaR)^2) / (n (1-a))",
        }
    }
}

/// `run.json`: what was run.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub scenario: String,
    pub scenario_file: String,
    /// SHA-256 of the scenario as run (with `extends` merged in).
    pub scenario_sha256: String,
    /// The files it extends, nearest first.
    pub extends: Vec<String>,
    pub seed: u64,
    pub paths: u64,
    pub quarters: u32,
    pub threads: usize,
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub wall_seconds: f64,
    pub paths_per_second: f64,
    /// The sampling design of the per-path parameters: mc, lhs or sobol.
    pub sampling: &'static str,
    /// A run to a precision (`--precision`): the target, what was reached
    /// and the paths it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<crate::precision::Reached>,
    pub quantiles: QuantileMethod,
}

impl RunInfo {
    /// What `run.json` says about a run of `sc` from `file` (as the user
    /// gave it), whose resolved text is `text` and `extends` chain `chain`
    /// (the file first), on `threads` threads in `wall` seconds. The tool is
    /// `backlog-risk` whatever the front-end (the workspace's packages share
    /// one version).
    pub fn new(sc: &Scenario, file: &str, text: &str, chain: &[std::path::PathBuf], threads: usize, wall: f64) -> Self {
        use sha2::Digest;
        RunInfo {
            scenario: sc.name.clone(),
            scenario_file: file.to_string(),
            scenario_sha256: format!("{:x}", sha2::Sha256::digest(text.as_bytes())),
            extends: chain.iter().skip(1).map(|p| p.display().to_string()).collect(),
            seed: sc.seed,
            paths: sc.paths,
            quarters: sc.quarters,
            threads,
            tool: "backlog-risk",
            tool_version: env!("CARGO_PKG_VERSION"),
            wall_seconds: wall,
            paths_per_second: sc.paths as f64 / wall,
            sampling: sc.sampling.name(),
            precision: None,
            quantiles: QuantileMethod::default(),
        }
    }
}

pub fn run_json(info: &RunInfo) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(info)?;
    v.push(b'\n');
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::MetricRow;

    #[test]
    fn summary_header_is_exactly_the_model_columns() {
        let row = MetricRow {
            metric: "loss.azure".into(),
            mean: 1.0,
            sd: 2.0,
            se: 0.5,
            min: -1.0,
            p1: 0.0,
            p5: 0.0,
            p10: 0.0,
            p25: 0.0,
            p50: 0.5,
            p75: 1.0,
            p90: 2.0,
            p95: 3.0,
            p99: 4.0,
            max: 5.0,
            var95: None,
            es95: None,
            var99: Some(4.0),
            es99: Some(4.5),
        };
        let text = String::from_utf8(rows_csv(&[row]).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "metric,mean,sd,se,min,p1,p5,p10,p25,p50,p75,p90,p95,p99,max,var95,es95,var99,es99"
        );
        assert_eq!(
            lines.next().unwrap(),
            "loss.azure,1.0,2.0,0.5,-1.0,0.0,0.0,0.0,0.0,0.5,1.0,2.0,3.0,4.0,5.0,,,4.0,4.5"
        );
    }
}
