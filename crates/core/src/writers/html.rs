//! `report.html` (one scenario) and `index.html` (a run of several): one
//! self-contained page each, charts embedded as PNG data, no script and a
//! content security policy that forbids every request, so that the page
//! opens offline and prints to A4 or Letter. Writers: they format what the
//! result structures hold and compute nothing.

use std::fmt::Write;

use base64::Engine as _;

use crate::report::{ErrorRow, ScenarioSummary};
use crate::scenario::assumptions::Assumptions;
use crate::writers::charts::{fmt_bn, fmt_pct};
use crate::writers::output::RunInfo;

/// The policy every page carries: nothing is fetched, images come from the
/// page itself.
pub const CSP: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const STYLE: &str = r#"
@page { size: auto; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1d2733; max-width: 178mm; margin: 0 auto; padding: 12px; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 19pt; margin: 0.2em 0 0.1em; }
h2 { font-size: 13.5pt; margin: 1.4em 0 0.4em; border-bottom: 1px solid #c9d1da; padding-bottom: 2px; }
h3 { font-size: 11pt; margin: 1em 0 0.3em; }
p.lead { font-size: 12pt; margin: 0.4em 0 0.8em; }
.facts { color: #5b6773; font-size: 9.5pt; }
.about { white-space: pre-wrap; font-size: 9.5pt; color: #3a4652; background: #f4f6f8; padding: 8px 10px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; margin: 0.3em 0 0.8em; font-size: 9pt; }
th, td { padding: 3px 6px; border-bottom: 1px solid #e1e6eb; text-align: right; vertical-align: top; }
th { background: #eef2f5; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.source { text-align: left; color: #4d5965; font-size: 8.5pt; max-width: 70mm; }
tr.group td { background: #f7f9fa; font-weight: bold; text-align: left; }
tr.group td span { font-weight: normal; color: #4d5965; }
figure { margin: 0.6em 0 1em; break-inside: avoid; page-break-inside: avoid; }
figure img { width: 100%; height: auto; border: 1px solid #e1e6eb; }
@media screen and (min-width: 760px) { figure { width: min(1200px, calc(100vw - 48px)); margin-left: 50%; transform: translateX(-50%); } }
figcaption { font-size: 9pt; color: #4d5965; }
.key { display: flex; gap: 8px; flex-wrap: wrap; margin: 0.4em 0 0.6em; }
.key div { flex: 1 1 0; min-width: 22mm; background: #f4f6f8; border-radius: 3px; padding: 6px 8px; }
.key b { display: block; font-size: 13pt; }
.key span { font-size: 8.5pt; color: #5b6773; }
.bad { color: #a33b13; }
code { font-size: 9pt; }
@media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"#;

/// `&`, `<`, `>`, `"` and `'` escaped for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    )
}

/// An embedded PNG with its caption.
fn figure(png: &[u8], alt: &str, caption: &str) -> String {
    format!(
        "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>\n",
        esc(alt),
        base64::engine::general_purpose::STANDARD.encode(png),
        esc(caption)
    )
}

/// A number as a table shows it: 4 significant digits, thousands grouped.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let a = x.abs();
    let digits = if a >= 1000.0 || a == 0.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        4
    };
    crate::writers::charts::fixed(x, digits)
}

/// Captions of the charts a run draws, by file name.
fn caption(name: &str) -> &'static str {
    match name {
        "loss.png" => {
            "Loss against plan at the horizon for the focus provider: share of paths per bin, with the plan, the mean, VaR99 and ES99."
        }
        "fan.png" => {
            "Backlog of each provider over the quarters: median, p25-p75 and p5-p95 bands, and the plan (dashed)."
        }
        "exceedance.png" => {
            "Probability that each provider's loss against plan exceeds x (log scale), with the 5% and 1% levels."
        }
        "concentration.png" => {
            "Each customer's share of each provider's backlog at the horizon (box p25-p75, whiskers p5-p95) against its starting share (diamond)."
        }
        _ => "Loss against plan at the horizon for one provider.",
    }
}

/// What [`report_html`] shows of one scenario run.
pub struct ReportInput<'a> {
    pub summary: &'a ScenarioSummary,
    pub assumptions: &'a Assumptions,
    /// The console line of the run.
    pub headline: &'a str,
    pub info: &'a RunInfo,
    /// Charts by file name, in the order to show; empty under `--no-charts`.
    pub charts: &'a [(String, Vec<u8>)],
}

/// `report.html` of one scenario run.
pub fn report_html(r: &ReportInput) -> String {
    let s = r.summary;
    let horizon = s.labels.last().cloned().unwrap_or_default();
    let start = s.labels.first().cloned().unwrap_or_default();
    let focus = &s.providers[s.focus];
    let mut h = head(&format!("{}: backlog concentration risk", s.name));
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=\"lead\">{}</p>\n<p class=\"facts\">{} paths, seed {}, quarters {start} to {horizon} ({} quarters); money in $bn; loss = plan backlog minus simulated backlog at the horizon (positive = below plan). backlog-risk {}; scenario file <code>{}</code> (SHA-256 {}).</p>\n",
        esc(&s.name),
        esc(r.headline),
        s.paths,
        s.seed,
        s.labels.len(),
        esc(r.info.tool_version),
        esc(&r.info.scenario_file),
        esc(&r.info.scenario_sha256[..12.min(r.info.scenario_sha256.len())]),
    );

    // The key figures of the focus provider, with their 95% intervals.
    let loss = crate::metric::Metric::Loss(focus.to_string()).to_string();
    let err = |stat: &str| -> Option<&ErrorRow> { s.errors.iter().find(|e| e.metric == loss && e.stat == stat) };
    let _ = write!(h, "<h2>{} at {horizon}</h2>\n<div class=\"key\">\n", esc(&s.display[s.focus]));
    for (stat, label) in
        [("mean", "expected loss"), ("var95", "VaR95"), ("es95", "ES95"), ("var99", "VaR99"), ("es99", "ES99")]
    {
        if let Some(e) = err(stat) {
            let _ = writeln!(
                h,
                "<div><span>{label}</span><b>{}</b><span>95% interval {} to {}</span></div>",
                fmt_bn(e.estimate),
                fmt_bn(e.ci_low),
                fmt_bn(e.ci_high)
            );
        }
    }
    let _ = writeln!(
        h,
        "<div><span>plan backlog</span><b>{}</b><span>at {horizon}</span></div>\n</div>",
        fmt_bn(s.plan.backlog[s.focus])
    );
    if let Some(c) = &s.concentration[s.focus].customer {
        let _ = writeln!(
            h,
            "<p>Its largest modelled customer, {}, holds {} of its starting backlog.</p>",
            esc(c),
            fmt_pct(s.concentration[s.focus].share)
        );
    }
    if let Some(about) = &r.assumptions.about {
        let _ = writeln!(h, "<h2>About this scenario</h2>\n<div class=\"about\">{}</div>", esc(about));
    }

    let _ = writeln!(h, "<h2>Charts</h2>");
    if r.charts.is_empty() {
        let _ = writeln!(h, "<p>No charts: the run was made with <code>--no-charts</code>.</p>");
    }
    for (name, png) in r.charts {
        let _ = write!(h, "{}", figure(png, name, &format!("{name}: {}", caption(name))));
    }

    // Every provider's loss.
    let _ = writeln!(
        h,
        "<h2>Loss against plan by provider, at {horizon}</h2>\n<table>\n<tr><th>provider</th><th>plan backlog</th><th>expected loss</th><th>se</th><th>p5</th><th>p50</th><th>p95</th><th>VaR99</th><th>ES99</th><th class=\"text\">largest customer</th></tr>"
    );
    for (p, name) in s.providers.iter().enumerate() {
        if let Some(m) = s.loss(name) {
            let c = &s.concentration[p];
            let top = c.customer.as_ref().map_or(String::new(), |cu| format!("{} ({})", esc(cu), fmt_pct(c.share)));
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{top}</td></tr>",
                esc(&s.display[p]),
                num(s.plan.backlog[p]),
                num(m.mean),
                num(m.se),
                num(m.p5),
                num(m.p50),
                num(m.p95),
                m.var99.map_or(String::new(), num),
                m.es99.map_or(String::new(), num),
            );
        }
    }
    let _ = writeln!(h, "</table>");

    // The assumptions.
    let _ = writeln!(
        h,
        "<h2>Assumptions</h2>\n<p>Every parameter of the scenario as run, by its field path in the file; a distribution is drawn once per path. Sources are the file's own comments.{}</p>\n<table>\n<tr><th>parameter</th><th class=\"text\">value or distribution</th><th>mean</th><th class=\"text\">source (comment in the file)</th></tr>",
        if r.assumptions.omitted > 0 {
            format!(" {} parameters left at their default 0 are not listed.", r.assumptions.omitted)
        } else {
            String::new()
        }
    );
    for g in &r.assumptions.groups {
        let note = g.note.as_ref().map_or(String::new(), |n| format!(" <span>{}</span>", esc(n)));
        let _ = writeln!(h, "<tr class=\"group\"><td colspan=\"4\">{}{note}</td></tr>", esc(&g.title));
        for a in &g.rows {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td class=\"text\">{}</td><td>{}</td><td class=\"source\">{}</td></tr>",
                esc(&a.field),
                esc(&a.dist),
                if a.uncertain { num(a.mean) } else { String::new() },
                esc(a.source.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = writeln!(h, "</table>");

    // summary.csv and errors.csv.
    let _ = writeln!(
        h,
        "<h2>Summary statistics</h2>\n<p>The rows of <code>summary.csv</code>: backlog, share and loss at {horizon}; revenue summed over the quarters; events counted over them.</p>\n<table>\n<tr><th>metric</th><th>mean</th><th>se</th><th>p5</th><th>p25</th><th>p50</th><th>p75</th><th>p95</th><th>VaR99</th><th>ES99</th></tr>"
    );
    for m in &s.metrics {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.metric),
            num(m.mean),
            num(m.se),
            num(m.p5),
            num(m.p25),
            num(m.p50),
            num(m.p75),
            num(m.p95),
            m.var99.map_or(String::new(), num),
            m.es99.map_or(String::new(), num),
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<h2>Standard errors</h2>\n<p>The rows of <code>errors.csv</code> for the loss metrics: each figure's Monte Carlo standard error and 95% interval (mean: sd/&radic;n; quantiles and VaR: order-statistic interval; ES: asymptotic variance of the tail mean).</p>\n<table>\n<tr><th>metric</th><th class=\"text\">statistic</th><th>estimate</th><th>se</th><th>95% low</th><th>95% high</th></tr>"
    );
    for e in s.errors.iter().filter(|e| e.metric.parse::<crate::metric::Metric>().is_ok_and(|m| m.is_loss())) {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.metric),
            e.stat,
            num(e.estimate),
            num(e.se),
            num(e.ci_low),
            num(e.ci_high)
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<h2>Reproduce</h2>\n<p><code>backlog-risk run {} --seed {} --paths {}</code> gives these numbers bit for bit, on any number of threads. The files beside this page hold every figure: <code>summary.csv</code>, <code>summary.json</code>, <code>errors.csv</code>, <code>fan.csv</code>, <code>revenue.csv</code>, <code>run.json</code>.</p>\n</body>\n</html>",
        esc(&r.info.scenario_file),
        s.seed,
        s.paths
    );
    h
}

/// One scenario of a run, as `index.html` lists it.
pub struct IndexEntry<'a> {
    pub file: String,
    /// The summary and its console line, or the error.
    pub result: Result<(&'a ScenarioSummary, String), &'a str>,
}

/// `OUT/index.html` of a run of several scenarios: one line per scenario
/// (its focus provider's loss, a link to its report, or its error) and the
/// comparison chart.
pub fn index_html(entries: &[IndexEntry], comparison: Option<&[u8]>) -> String {
    let mut h = head("backlog-risk: scenarios compared");
    let ok = entries.iter().filter(|e| e.result.is_ok()).count();
    let _ = writeln!(
        h,
        "<h1>Scenarios compared</h1>\n<p class=\"facts\">{} scenarios, {ok} ok, {} failed. Loss against plan at each scenario's horizon, for its focus provider; money in $bn. Each name links to the scenario's report.</p>\n<table>\n<tr><th>scenario</th><th class=\"text\">provider</th><th class=\"text\">horizon</th><th>paths</th><th>expected loss</th><th>VaR99</th><th>ES99</th></tr>",
        entries.len(),
        entries.len() - ok
    );
    for e in entries {
        match &e.result {
            Ok((s, _)) => {
                let p = s.focus;
                let m = s.loss(&s.providers[p]);
                let stat =
                    |f: fn(&crate::report::MetricRow) -> Option<f64>| m.and_then(f).map_or(String::new(), fmt_bn);
                let _ = writeln!(
                    h,
                    "<tr><td><a href=\"{0}/report.html\">{0}</a></td><td class=\"text\">{1}</td><td class=\"text\">{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>",
                    esc(&s.name),
                    esc(&s.display[p]),
                    esc(s.labels.last().map_or("", |l| l.as_str())),
                    s.paths,
                    stat(|m| Some(m.mean)),
                    stat(|m| m.var99),
                    stat(|m| m.es99),
                );
            }
            Err(msg) => {
                let _ = writeln!(
                    h,
                    "<tr><td class=\"text\">{}</td><td colspan=\"6\" class=\"text bad\">failed: {}</td></tr>",
                    esc(&e.file),
                    esc(msg)
                );
            }
        }
    }
    let _ = writeln!(h, "</table>");
    for e in entries {
        if let Ok((_, line)) = &e.result {
            let _ = writeln!(h, "<p class=\"facts\">{}</p>", esc(line));
        }
    }
    if let Some(png) = comparison {
        let _ = write!(
            h,
            "{}",
            figure(
                png,
                "comparison.png",
                "comparison.png: one provider's loss against plan in each scenario, sorted by ES99 (comparison.csv has every provider)."
            )
        );
    }
    let _ = writeln!(h, "</body>\n</html>");
    h
}

/// What [`explain_html`] shows: one scenario's `explain` results.
pub struct ExplainInput<'a> {
    pub scenario: &'a str,
    pub scenario_file: &'a str,
    pub metric: &'a str,
    pub paths: u64,
    pub seed: u64,
    pub attribution: Option<&'a [crate::analysis::attribution::AttributionRow]>,
    pub sensitivity: Option<&'a [crate::analysis::sensitivity::SensitivityRow]>,
    /// The reverse stress test; its listed paths' stories lie in the
    /// folders `path-N/` beside the page.
    pub given: Option<&'a crate::analysis::given::Given>,
    /// Charts by file name (`attribution.png`, `tornado.png`, `given.png`); empty under
    /// `--no-charts`.
    pub charts: &'a [(String, Vec<u8>)],
}

/// The reverse stress test's section of `explain.html`: the condition's
/// probability, what moves most given it, and the most plausible paths that
/// meet it, linked to their stories.
/// `charted`: whether the charts were drawn (the stories' `path-N.png` too).
fn given_section(
    g: &crate::analysis::given::Given,
    charted: bool,
    h: &mut String,
    chart: &dyn Fn(&str, &str, &mut String),
) {
    let rounds = match g.min_hits {
        Some((n, r)) if g.met() => format!(" It ran in {r} round(s) until at least {n} paths met it."),
        Some((n, r)) => {
            format!(" Only {} of the {n} paths asked for met it within the path budget ({r} round(s)).", g.hits)
        }
        None => String::new(),
    };
    let _ = writeln!(
        h,
        "<h2>Given {}: how the bad case happens</h2>\n<p class=\"facts\">P({}) = {} (se {}): {} of {} paths met it.{}</p>\n<p>For every uncertain input and every metric, its distribution over the paths that meet the condition against all paths; the shift is the difference of the means in units of the input's own standard deviation over all paths. <code>given.csv</code> beside this page holds every row.</p>",
        esc(&g.condition),
        esc(&g.condition),
        fmt_pct(g.probability),
        fmt_pct(g.probability_se),
        g.hits,
        g.paths,
        rounds
    );
    chart(
        "given.png",
        "The inputs that move most: p5-p95 and mean over all paths (blue) and over the paths that meet the condition (orange), in units of each input's sd.",
        h,
    );
    h.push_str("<table>\n<tr><th class=\"text\">input or metric</th><th>shift (sd)</th><th>mean given</th><th>p5 given</th><th>p95 given</th><th>mean, all paths</th><th>p5, all</th><th>p95, all</th></tr>\n");
    for r in g.rows.iter().take(15) {
        let _ = writeln!(
            h,
            "<tr><td class=\"text\">{}</td><td>{:+.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.name),
            r.shift_sd,
            num(r.given.mean),
            num(r.given.p5),
            num(r.given.p95),
            num(r.all.mean),
            num(r.all.p5),
            num(r.all.p95)
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<h3>The most plausible ways there</h3>\n<p>The paths that meet the condition with the highest prior density of their inputs (<code>given-paths.csv</code>); each links to its story, quarter by quarter (<code>backlog-risk path</code>).</p>\n<table>\n<tr><th>rank</th><th class=\"text\">path</th><th>log density</th>{}</tr>",
        g.metrics.iter().map(|m| format!("<th>{}</th>", esc(m))).collect::<String>()
    );
    for (i, p) in g.top.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"text\">{} (<a href=\"path-{n}/path-{n}.csv\">quarters</a>, <a href=\"path-{n}/path-{n}-values.csv\">values</a>)</td><td>{}</td>{}</tr>",
            i + 1,
            if charted {
                format!("<a href=\"path-{0}/path-{0}.png\">path {0}</a>", p.path)
            } else {
                format!("path {}", p.path)
            },
            num(p.log_density),
            p.metrics.iter().map(|m| format!("<td>{}</td>", num(*m))).collect::<String>(),
            n = p.path
        );
    }
    h.push_str("</table>\n");
}

/// `explain.html`: "What drives the risk" for one scenario: the attribution
/// by driver and the sensitivity to each input, with their charts.
pub fn explain_html(e: &ExplainInput) -> String {
    let mut h = head(&format!("{}: what drives {}", e.scenario, e.metric));
    let _ = writeln!(
        h,
        "<h1>What drives the risk: {}</h1>\n<p class=\"facts\">Scenario <code>{}</code>, metric <code>{}</code>, {} paths, seed {}.</p>",
        esc(e.scenario),
        esc(e.scenario_file),
        esc(e.metric),
        e.paths,
        e.seed
    );
    let chart = |name: &str, caption: &str, h: &mut String| {
        if let Some((_, png)) = e.charts.iter().find(|(n, _)| n == name) {
            h.push_str(&figure(png, name, caption));
        }
    };
    if let Some(rows) = e.attribution {
        let _ = writeln!(
            h,
            "<h2>Attribution by driver</h2>\n<p>Each path's {} against plan, split into the drivers of the risk by the Shapley value (every subset of drivers switched on or off, on the same random numbers); a path's contributions add up to its value. ES columns: the mean contribution over the paths at or beyond VaR, so they add up to ES.</p>",
            esc(e.metric)
        );
        chart(
            "attribution.png",
            "From the plan through each driver's contribution to the outcome: mean (dark) and ES99 (pale).",
            &mut h,
        );
        h.push_str("<table>\n<tr><th class=\"text\">driver</th><th>mean</th><th>p5</th><th>p50</th><th>p95</th><th>ES95 contribution</th><th>ES99 contribution</th></tr>\n");
        for r in rows {
            let _ = writeln!(
                h,
                "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.driver),
                num(r.mean),
                num(r.p5),
                num(r.p50),
                num(r.p95),
                num(r.es95_contribution),
                num(r.es99_contribution)
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(rows) = e.sensitivity {
        let _ = writeln!(
            h,
            "<h2>Sensitivity to each uncertain input</h2>\n<p>Sobol' indices: the share of the variance of {} due to the input alone (first order) and with its interactions (total order), by a pick-freeze design; <code>noise</code> is the quarterly shocks and events together. Standard errors by batch means over 20 blocks of paths. Rank correlation: Spearman's; swing: the mean of the metric with the input in its bottom and top 10%.</p>",
            esc(e.metric)
        );
        chart(
            "tornado.png",
            "The metric's mean with each input in its bottom 10% (pale) and top 10% (dark) of its distribution; largest swing on top.",
            &mut h,
        );
        h.push_str("<table>\n<tr><th class=\"text\">input</th><th>first order</th><th>se</th><th>total order</th><th>se</th><th>rank corr.</th><th>swing low</th><th>swing high</th></tr>\n");
        let mut sorted: Vec<_> = rows.iter().collect();
        sorted.sort_by(|a, b| b.total_order.total_cmp(&a.total_order));
        for r in sorted {
            let opt = |x: Option<f64>| x.map_or(String::new(), num);
            let _ = writeln!(
                h,
                "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.parameter),
                fmt_pct(r.first_order),
                fmt_pct(r.first_order_se),
                fmt_pct(r.total_order),
                fmt_pct(r.total_order_se),
                opt(r.rank_corr),
                opt(r.swing_low),
                opt(r.swing_high)
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(g) = e.given {
        given_section(g, !e.charts.is_empty(), &mut h, &chart);
    }
    let _ = writeln!(
        h,
        "<h2>Reproduce</h2>\n<p><code>backlog-risk explain {} --metric {} --seed {} --paths {}{}</code> gives these numbers bit for bit, on any number of threads; <code>attribution.csv</code> and <code>sensitivity.csv</code> beside this page hold them.</p>\n</body>\n</html>",
        esc(e.scenario_file),
        esc(e.metric),
        e.seed,
        e.paths,
        e.given.map_or(String::new(), |g| format!(" --given '{}'", esc(&g.condition)))
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_numbers_grouped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(num(1234567.8), "1,234,568");
        assert_eq!(num(-0.00012), "-0.0001");
        assert_eq!(num(42.127), "42.13");
        assert_eq!(num(f64::NAN), "");
    }
}
