//! `report.xlsx`: a run's results as a workbook.
//!
//! Sheets: **Summary** (the headline, the focus provider's key figures with
//! their 95% intervals, then `summary.csv`), **Fan** and **Revenue**
//! (`fan.csv`, `revenue.csv` with the plan beside them, and a chart of the
//! focus provider's bands), **Loss** (the focus provider's loss histogram
//! with VaR99 and ES99 marked, and its exceedance curve), **Errors**
//! (`errors.csv`), **Assumptions**, **Run**, and **Samples** / **Paired**
//! when the run has them.

use rust_xlsxwriter::{
    Chart, ChartAxisLabelPosition, ChartFormat, ChartLegendPosition, ChartLineDashType, ChartSolidFill, ChartType,
    Format, Workbook, Worksheet,
};

use super::{
    BAND_INNER, BAND_OUTER, BLUE, Cell, Formats, GREY, NUMBER_WIDTH, ORANGE, RED, Table, by_metric, chars, fit,
    histogram, number, table, text, widths,
};
use crate::Result;
use crate::report::{FanRow, PairedRow, ScenarioSummary};
use crate::scenario::assumptions::Assumptions;
use crate::writers::output::RunInfo;

/// What `report.xlsx` shows.
pub struct RunBook<'a> {
    pub summary: &'a ScenarioSummary,
    pub assumptions: &'a Assumptions,
    pub info: &'a RunInfo,
    /// The console line of the run.
    pub headline: &'a str,
    /// A paired run: the base's name and the paired rows.
    pub paired: Option<(&'a str, &'a [PairedRow])>,
    /// `--samples`: the header of `samples.csv` and its rows.
    pub samples: Option<(Vec<String>, SampleRows<'a>)>,
}

/// The rows of `samples.csv`: each path's index and values.
pub type SampleRows<'a> = Box<dyn Iterator<Item = (u64, Vec<f64>)> + 'a>;

/// The bytes of `report.xlsx`.
pub fn run_workbook(b: RunBook<'_>) -> Result<Vec<u8>> {
    let f = Formats::new();
    let s = b.summary;
    let mut wb = super::workbook()?;
    summary_sheet(&mut wb, &f, &b)?;
    bands_sheet(&mut wb, &f, s, "Fan", &s.fan, &s.plan.backlog_path, "Backlog")?;
    bands_sheet(&mut wb, &f, s, "Revenue", &s.revenue, &s.plan.revenue_path, "Revenue per quarter")?;
    loss_sheet(&mut wb, &f, s)?;
    let ws = wb.add_worksheet().set_name("Errors")?;
    let t = Table::of(&s.errors)?;
    table(ws, &f, 0, &t, true, &by_metric(&f, &t))?;
    fit(ws, &widths(&t))?;
    assumptions_sheet(&mut wb, &f, b.assumptions)?;
    run_sheet(&mut wb, &f, b.info, b.paired.map(|p| p.0))?;
    if let Some((header, rows)) = b.samples {
        let ws = wb.add_worksheet().set_name("Samples")?;
        samples_sheet(ws, &f, &header, rows)?;
    }
    if let Some((_, rows)) = b.paired {
        let ws = wb.add_worksheet().set_name("Paired")?;
        let t = Table::of(rows)?;
        table(ws, &f, 0, &t, true, &by_metric(&f, &t))?;
        fit(ws, &widths(&t))?;
    }
    super::bytes(wb)
}

/// The focus provider's estimate of `stat` of its loss: (estimate, low,
/// high, se) from `errors.csv`.
fn key_figure(s: &ScenarioSummary, stat: &str) -> Option<[f64; 4]> {
    let metric = format!("loss.{}", s.providers[s.focus]);
    s.errors.iter().find(|e| e.metric == metric && e.stat == stat).map(|e| [e.estimate, e.ci_low, e.ci_high, e.se])
}

fn summary_sheet(wb: &mut Workbook, f: &Formats, b: &RunBook<'_>) -> Result<()> {
    let s = b.summary;
    let ws = wb.add_worksheet().set_name("Summary")?;
    let p = s.focus;
    // The key figures, then the table of summary.csv from row 10.
    const TABLE: u32 = 9;
    let t = Table::of(&s.metrics)?;
    table(ws, f, TABLE, &t, true, &by_metric(f, &t))?;
    text(ws, 0, 0, &format!("{}: {} paths, seed {}", s.name, s.paths, s.seed), Some(&f.title))?;
    text(ws, 1, 0, b.headline, None)?;
    let head = ["loss against plan", "estimate", "95% low", "95% high", "se"];
    for (c, h) in head.iter().enumerate() {
        text(ws, 3, c as u16, h, Some(&f.header))?;
    }
    let rows = [("mean", "expected loss"), ("var99", "VaR99"), ("es99", "ES99")];
    for (i, (stat, label)) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        text(ws, r, 0, &format!("{} {label}", s.display[p]), Some(&f.bold))?;
        if let Some(v) = key_figure(s, stat) {
            for (c, x) in v.iter().enumerate() {
                number(ws, r, 1 + c as u16, *x, Some(&f.money))?;
            }
        }
    }
    let plan = format!("{} plan backlog at the horizon", s.display[p]);
    text(ws, 7, 0, &plan, Some(&f.bold))?;
    number(ws, 7, 1, s.plan.backlog[p], Some(&f.money))?;
    let mut w = widths(&t);
    w.resize(w.len().max(head.len()), 0.0);
    w[0] = w[0].max(chars(&plan) + 2.0);
    for x in &mut w[1..head.len()] {
        *x = x.max(NUMBER_WIDTH);
    }
    fit(ws, &w)
}

/// A sheet of bands (`fan.csv` or `revenue.csv`) with the plan per quarter
/// beside each row, and a chart of the focus provider's bands.
fn bands_sheet(
    wb: &mut Workbook,
    f: &Formats,
    s: &ScenarioSummary,
    name: &str,
    rows: &[FanRow],
    plan: &[f64],
    what: &str,
) -> Result<()> {
    let np = s.providers.len();
    let plan_of = |r: &FanRow| {
        let p = s.providers.iter().position(|x| *x == r.provider);
        match (p, r.quarter.checked_sub(1)) {
            (Some(p), Some(t)) => plan.get(t as usize * np + p).map_or(Cell::Blank, |x| Cell::Num(*x)),
            _ => Cell::Blank,
        }
    };
    let t = Table::of(rows)?.with_column("plan", |i| plan_of(&rows[i]));
    let ws = wb.add_worksheet().set_name(name)?;
    let (money, count) = (f.money.clone(), f.count.clone());
    table(ws, f, 0, &t, true, &move |_, col| Some(if col == "quarter" { count.clone() } else { money.clone() }))?;
    fit(ws, &widths(&t))?;
    let focus = &s.providers[s.focus];
    let mine: Vec<usize> = (0..rows.len()).filter(|i| rows[*i].provider == *focus).collect();
    let (Some(&first), Some(&last)) = (mine.first(), mine.last()) else { return Ok(()) };
    let (r0, r1) = (first as u32 + 1, last as u32 + 1);
    let col = |c: &str| t.column(c).map(|c| c as u16);
    let (Some(label), Some(p50), Some(pl)) = (col("label"), col("p50"), col("plan")) else {
        return Ok(());
    };
    // Bands as stacked areas, which every reader draws the same way: an
    // invisible base up to p5, then the widths p5-p25, p25-p75 and p75-p95,
    // written as the chart's own data below the chart.
    const DATA: u32 = 24;
    let dc = t.header.len() as u16 + 1;
    let head = ["quarter", "p5 (base)", "p5 to p25", "p25 to p75", "p75 to p95"];
    text(ws, DATA, dc, "chart data: the focus provider's bands as stacked widths", Some(&f.italic))?;
    for (c, h) in head.iter().enumerate() {
        text(ws, DATA + 1, dc + c as u16, h, Some(&f.header))?;
    }
    for (k, &i) in mine.iter().enumerate() {
        let r = DATA + 2 + k as u32;
        let b = &rows[i];
        text(ws, r, dc, &b.label, None)?;
        for (c, x) in [b.p5, b.p25 - b.p5, b.p75 - b.p25, b.p95 - b.p75].iter().enumerate() {
            number(ws, r, dc + 1 + c as u16, *x, Some(&f.money))?;
        }
    }
    for c in 0..head.len() as u16 {
        ws.set_column_width(dc + c, NUMBER_WIDTH)?;
    }
    let (d0, d1) = (DATA + 2, DATA + 1 + mine.len() as u32);
    let mut area = Chart::new(ChartType::AreaStacked);
    // The legend shows the second and third: the outer band's colour is
    // that of p5-p95, the inner's that of p25-p75.
    let series_names = ["p5", "p5 to p95", "p25 to p75", "p95"];
    for (k, colour) in [None, Some(BAND_OUTER), Some(BAND_INNER), Some(BAND_OUTER)].into_iter().enumerate() {
        let c = dc + 1 + k as u16;
        let series = area
            .add_series()
            .set_name(series_names[k])
            .set_categories((name, d0, dc, d1, dc))
            .set_values((name, d0, c, d1, c));
        match colour {
            Some(colour) => series.set_format(ChartSolidFill::new().set_color(colour)),
            None => series.set_format(ChartFormat::new().set_no_fill().set_no_line()),
        };
    }
    let mut lines = Chart::new(ChartType::Line);
    lines
        .add_series()
        .set_name("median")
        .set_categories((name, r0, label, r1, label))
        .set_values((name, r0, p50, r1, p50))
        .set_format(rust_xlsxwriter::ChartLine::new().set_color(BLUE).set_width(2.25));
    lines
        .add_series()
        .set_name("plan")
        .set_categories((name, r0, label, r1, label))
        .set_values((name, r0, pl, r1, pl))
        .set_format(
            rust_xlsxwriter::ChartLine::new().set_color(GREY).set_width(1.5).set_dash_type(ChartLineDashType::Dash),
        );
    area.combine(&lines);
    area.title().set_name(&format!("{what}: {}, bands over paths", s.display[s.focus]));
    area.y_axis().set_name("$bn").set_num_format("\"$\"#,##0").set_major_gridlines(false);
    area.x_axis().set_name("quarter");
    area.x_axis().set_label_interval(4);
    area.legend().set_position(ChartLegendPosition::Bottom).delete_entries(&[0, 3]);
    area.set_width(760).set_height(420);
    ws.insert_chart(1, t.header.len() as u16 + 1, &area)?;
    Ok(())
}

/// The focus provider's loss histogram, VaR99 and ES99 marked, and its
/// exceedance curve.
fn loss_sheet(wb: &mut Workbook, f: &Formats, s: &ScenarioSummary) -> Result<()> {
    let ws = wb.add_worksheet().set_name("Loss")?;
    let p = s.focus;
    let h = &s.loss_hist[p];
    let loss = s.loss(&s.providers[p]);
    let (var99, es99) = (loss.and_then(|m| m.var99), loss.and_then(|m| m.es99));
    text(ws, 0, 0, &format!("{}: loss against plan at the horizon, $bn", s.display[p]), Some(&f.title))?;
    text(ws, 1, 0, "VaR99", Some(&f.bold))?;
    text(ws, 2, 0, "ES99", Some(&f.bold))?;
    for (r, v) in [(1, var99), (2, es99)] {
        if let Some(v) = v {
            number(ws, r, 1, v, Some(&f.money))?;
        }
    }
    const TOP: u32 = 6;
    let colour = |lo: f64, hi: f64| match (var99, es99) {
        (_, Some(es)) if lo <= es && es < hi => RED,
        (Some(v), _) if hi > v => ORANGE,
        _ => BLUE,
    };
    let chart = histogram(ws, f, ("Loss", TOP), h, &f.money, &colour)?;
    // The exceedance curve beside the histogram: the sketch's points, one
    // kept each time the probability falls by 5% or more.
    const EX: u16 = 4;
    for (c, head) in ["loss x", "P(loss > x)"].iter().enumerate() {
        text(ws, TOP, EX + c as u16, head, Some(&f.header))?;
    }
    let curve = crate::report::thinned(&s.exceedance[p]);
    for (i, &(x, prob)) in curve.iter().enumerate() {
        let r = TOP + 1 + i as u32;
        number(ws, r, EX, x, Some(&f.money))?;
        number(ws, r, EX + 1, prob, Some(&f.prob))?;
    }
    ws.set_freeze_panes(TOP + 1, 0)?;
    fit(ws, &[NUMBER_WIDTH, NUMBER_WIDTH, 10.0, 3.0, NUMBER_WIDTH, NUMBER_WIDTH])?;
    let Some(mut chart) = chart else { return Ok(()) };
    let mark = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("${v:.0}bn"));
    chart.title().set_name(&format!(
        "{}: loss against plan (VaR99 {}, ES99 {})",
        s.display[p],
        mark(var99),
        mark(es99)
    ));
    chart.x_axis().set_name("loss, $bn, bin from (orange: beyond VaR99; red: the bin of ES99)").set_num_format("#,##0");
    ws.insert_chart(1, EX + 3, &chart)?;
    // The chart shows the losses (x >= 0); the table has the whole curve.
    let from = curve.iter().position(|&(x, _)| x >= 0.0);
    if let Some(from) = from {
        let (r0, r1) = (TOP + 1 + from as u32, TOP + curve.len() as u32);
        let mut ex = Chart::new(ChartType::ScatterStraight);
        ex.add_series()
            .set_name("P(loss > x)")
            .set_categories(("Loss", r0, EX, r1, EX))
            .set_values(("Loss", r0, EX + 1, r1, EX + 1))
            .set_format(rust_xlsxwriter::ChartLine::new().set_color(BLUE).set_width(2.0));
        ex.title().set_name(&format!("{}: exceedance", s.display[p]));
        ex.x_axis().set_name("loss x, $bn").set_num_format("#,##0").set_min(0.0);
        ex.y_axis().set_name("P(loss > x), log scale").set_log_base(10).set_num_format("0.0##%");
        ex.legend().set_hidden();
        ex.set_width(760).set_height(420);
        ws.insert_chart(23, EX + 3, &ex)?;
    }
    Ok(())
}

fn assumptions_sheet(wb: &mut Workbook, f: &Formats, a: &Assumptions) -> Result<()> {
    let ws = wb.add_worksheet().set_name("Assumptions")?;
    for (c, h) in ["parameter", "distribution", "mean", "drawn per path", "comment"].iter().enumerate() {
        text(ws, 0, c as u16, h, Some(&f.header))?;
    }
    ws.set_freeze_panes(1, 0)?;
    let mut r = 1;
    for g in &a.groups {
        text(ws, r, 0, &g.title, Some(&f.bold))?;
        if let Some(note) = &g.note {
            text(ws, r, 4, note, Some(&f.italic))?;
        }
        r += 1;
        for row in &g.rows {
            text(ws, r, 0, &row.field, None)?;
            text(ws, r, 1, &row.dist, None)?;
            number(ws, r, 2, row.mean, None)?;
            text(ws, r, 3, if row.uncertain { "yes" } else { "no" }, None)?;
            if let Some(src) = &row.source {
                text(ws, r, 4, src, None)?;
            }
            r += 1;
        }
    }
    if a.omitted > 0 {
        text(ws, r, 0, &format!("{} parameters left at their default 0 are not listed", a.omitted), Some(&f.italic))?;
    }
    let longest = |f: &dyn Fn(&crate::scenario::assumptions::Assumption) -> f64| {
        a.groups.iter().flat_map(|g| g.rows.iter()).map(f).fold(12.0, f64::max)
    };
    let titles = a.groups.iter().map(|g| chars(&g.title) + 2.0).fold(0.0, f64::max);
    let field = longest(&|r| chars(&r.field) + 1.0).max(titles).min(super::MAX_WIDTH);
    let dist = longest(&|r| chars(&r.dist) + 1.0).min(super::MAX_WIDTH);
    fit(ws, &[field, dist, NUMBER_WIDTH, 15.0, 80.0])?;
    if let Some(about) = &a.about {
        text(ws, r + 2, 0, about, Some(&f.italic))?;
    }
    Ok(())
}

fn run_sheet(wb: &mut Workbook, f: &Formats, i: &RunInfo, paired: Option<&str>) -> Result<()> {
    let ws = wb.add_worksheet().set_name("Run")?;
    let mut rows: Vec<(&str, Cell)> = vec![
        ("scenario", Cell::Text(i.scenario.clone())),
        ("scenario file", Cell::Text(i.scenario_file.clone())),
        ("SHA-256 of the scenario as run", Cell::Text(i.scenario_sha256.clone())),
        ("extends", Cell::Text(i.extends.join(", "))),
        ("seed", if i.seed < 1 << 53 { Cell::Num(i.seed as f64) } else { Cell::Text(i.seed.to_string()) }),
        ("paths", Cell::Num(i.paths as f64)),
        ("quarters", Cell::Num(i.quarters as f64)),
        ("sampling", Cell::Text(i.sampling.to_string())),
        ("tool", Cell::Text(format!("{} {}", i.tool, i.tool_version))),
        ("quantiles", Cell::Text(i.quantiles.method.to_string())),
        ("standard errors", Cell::Text(i.quantiles.standard_errors.to_string())),
    ];
    if let Some(base) = paired {
        rows.push(("paired against", Cell::Text(base.to_string())));
    }
    if let Some(p) = &i.precision {
        rows.push(("precision target", Cell::Text(p.target.clone())));
        rows.push(("precision met", Cell::Text(if p.met { "yes" } else { "no: the path budget ran out" }.into())));
        rows.push(("95% half-width reached", Cell::Num(p.half_width)));
    }
    rows.push(("timing", Cell::Text("in run.json (this workbook is the same for the same run)".into())));
    for (r, (k, v)) in rows.iter().enumerate() {
        text(ws, r as u32, 0, k, Some(&f.bold))?;
        let fmt: Option<&Format> = if matches!(*k, "seed" | "paths") { Some(&f.count) } else { None };
        super::put(ws, r as u32, 1, v, fmt)?;
    }
    let key = rows.iter().map(|(k, _)| chars(k) + 2.0).fold(0.0, f64::max);
    fit(ws, &[key, 90.0])?;
    Ok(())
}

fn samples_sheet(ws: &mut Worksheet, f: &Formats, header: &[String], rows: SampleRows<'_>) -> Result<()> {
    for (c, h) in header.iter().enumerate() {
        text(ws, 0, c as u16, h, Some(&f.header))?;
    }
    ws.set_freeze_panes(1, 1)?;
    let mut r = 1;
    for (i, row) in rows {
        if r > super::MAX_ROW {
            let note = format!("only the first {} paths fit a sheet; samples.csv has them all", super::MAX_ROW);
            text(ws, 0, header.len() as u16 + 1, &note, Some(&f.italic))?;
            break;
        }
        number(ws, r, 0, i as f64, None)?;
        for (c, x) in row.iter().enumerate() {
            number(ws, r, 1 + c as u16, *x, None)?;
        }
        r += 1;
    }
    if !header.is_empty() {
        ws.autofilter(0, 0, r - 1, (header.len() - 1) as u16)?;
    }
    let w: Vec<f64> = header.iter().map(|h| (chars(h) + 3.0).max(NUMBER_WIDTH)).collect();
    fit(ws, &w)?;
    Ok(())
}

/// The bytes of `comparison.xlsx`: every provider of every scenario of a
/// batch (the rows of `comparison.csv`), worst ES99 first, and a chart of
/// each scenario's focus provider.
pub fn comparison_workbook(summaries: &[&ScenarioSummary]) -> Result<Vec<u8>> {
    let f = Formats::new();
    let mut wb = super::workbook()?;
    let ws = wb.add_worksheet().set_name("Comparison")?;
    let mut rows = crate::report::comparison(summaries);
    rows.sort_by(|a, b| b.es99.total_cmp(&a.es99));
    let title =
        format!("{} scenarios: loss against plan at each one's horizon, $bn, worst ES99 first", summaries.len());
    text(ws, 0, 0, &title, Some(&f.title))?;
    let t = Table::of(&rows)?;
    let (money, count) = (f.money.clone(), f.count.clone());
    let end = table(ws, &f, 1, &t, true, &move |_, col| {
        Some(if col == "horizon_quarters" { count.clone() } else { money.clone() })
    })?;
    // The chart's data: each scenario's focus provider, in the same order.
    let focus: Vec<&crate::report::ComparisonRow> = rows.iter().filter(|r| r.focus).collect();
    if focus.is_empty() {
        return super::bytes(wb);
    }
    // Right of the table, so the table's columns keep their widths.
    let (top, dc) = (0, t.header.len() as u16 + 1);
    text(ws, top, dc, "chart data: each scenario's focus provider", Some(&f.italic))?;
    for (c, h) in ["scenario: provider", "VaR99", "ES99"].iter().enumerate() {
        text(ws, top + 1, dc + c as u16, h, Some(&f.header))?;
    }
    let mut label_width: f64 = 20.0;
    for (i, r) in focus.iter().enumerate() {
        let row = top + 2 + i as u32;
        let label = format!("{}: {}", r.scenario, r.display);
        label_width = label_width.max(chars(&label) + 1.0);
        text(ws, row, dc, &label, None)?;
        number(ws, row, dc + 1, r.var99, Some(&f.money))?;
        number(ws, row, dc + 2, r.es99, Some(&f.money))?;
    }
    let mut w = widths(&t);
    w.resize(dc as usize, 2.0);
    w.extend([label_width.min(super::MAX_WIDTH), NUMBER_WIDTH, NUMBER_WIDTH]);
    fit(ws, &w)?;
    let (r0, r1) = (top + 2, top + 1 + focus.len() as u32);
    let mut chart = Chart::new(ChartType::Bar);
    for (c, name, colour) in [(1u16, "VaR99", ORANGE), (2, "ES99", RED)] {
        chart
            .add_series()
            .set_name(name)
            .set_categories(("Comparison", r0, dc, r1, dc))
            .set_values(("Comparison", r0, dc + c, r1, dc + c))
            .set_format(ChartSolidFill::new().set_color(colour));
    }
    chart.title().set_name("Loss against plan of each scenario's focus provider, worst ES99 first");
    chart.y_axis().set_reverse().set_label_position(ChartAxisLabelPosition::Low);
    // A bar chart's x axis is its horizontal one: the values.
    chart.x_axis().set_name("$bn").set_num_format("\"$\"#,##0");
    chart.legend().set_position(ChartLegendPosition::Bottom);
    chart.set_width(760).set_height(120 + 40 * focus.len().min(30) as u32);
    ws.insert_chart(end + 2, 0, &chart)?;
    super::bytes(wb)
}
