//! `explain.xlsx`: the analyses of `explain`.
//!
//! Sheets: **Attribution** (`attribution.csv`, and the waterfall from the
//! plan to the outcome by driver, over all paths and over the worst 1%),
//! **Sensitivity** (`sensitivity.csv`, and the tornado of each input's
//! swing). Excel has a waterfall chart type that no writer library can
//! write yet, so the waterfall is stacked columns on an invisible base.

use rust_xlsxwriter::{
    Chart, ChartAxisLabelPosition, ChartFormat, ChartLegendPosition, ChartPoint, ChartSolidFill, ChartType, Worksheet,
};

use super::{BLUE, Formats, GREY, NUMBER_WIDTH, ORANGE, Table, chars, fit, number, table, text, widths};
use crate::Result;
use crate::analysis::attribution::AttributionRow;
use crate::analysis::sensitivity::SensitivityRow;
use crate::writers::export::ExplainContext;

/// The bytes of `explain.xlsx`.
pub fn explain_workbook(cx: &ExplainContext<'_>) -> Result<Vec<u8>> {
    let f = Formats::new();
    let mut wb = super::workbook()?;
    if let Some(rows) = cx.attribution {
        let ws = wb.add_worksheet().set_name("Attribution")?;
        attribution(ws, &f, cx, rows)?;
    }
    if let Some(rows) = cx.sensitivity {
        let ws = wb.add_worksheet().set_name("Sensitivity")?;
        sensitivity(ws, &f, cx, rows)?;
    }
    super::bytes(wb)
}

/// The format of a value of the metric explained.
fn of_metric(f: &Formats, metric: &str) -> rust_xlsxwriter::Format {
    f.of_metric(metric).clone()
}

fn attribution(ws: &mut Worksheet, f: &Formats, cx: &ExplainContext<'_>, rows: &[AttributionRow]) -> Result<()> {
    let t = Table::of(rows)?;
    let unit = of_metric(f, cx.metric);
    table(ws, f, 0, &t, true, &move |_, _| Some(unit.clone()))?;
    let mut w = widths(&t);
    // The waterfalls' data below the table: plan, each driver, outcome.
    let (drivers, total) = rows.split_at(rows.len().saturating_sub(1));
    let Some(total) = total.first() else { return fit(ws, &w) };
    let top = t.rows.len() as u32 + 3;
    let over_all = waterfall(
        ws,
        f,
        (top, 0),
        cx.plan,
        drivers.iter().map(|d| (d.driver.as_str(), d.mean)),
        total.mean,
        &format!("{}: {} from the plan to its mean, by driver (Shapley, path by path)", cx.scenario, cx.metric),
    )?;
    let tail = waterfall(
        ws,
        f,
        (top, 5),
        cx.plan,
        drivers.iter().map(|d| (d.driver.as_str(), d.es99_contribution)),
        total.es99_contribution,
        &format!("{}: {} over the worst 1% of paths (ES99), by driver", cx.scenario, cx.metric),
    )?;
    let longest = rows.iter().map(|r| chars(&r.driver) + 2.0).fold(chars(OUTCOME) + 1.0, f64::max);
    w.resize(w.len().max(9), 0.0);
    w[0] = w[0].max(longest);
    w[5] = w[5].max(longest);
    for x in &mut w[1..9] {
        *x = x.max(NUMBER_WIDTH);
    }
    fit(ws, &w)?;
    let at = top + rows.len() as u32 + 5;
    ws.insert_chart(at, 0, &over_all)?;
    ws.insert_chart(at + 24, 0, &tail)?;
    Ok(())
}

/// The waterfall's last bar.
const OUTCOME: &str = "outcome (plan + total)";

/// Write a waterfall's data at `at` (label, invisible base, rise, fall)
/// and return its chart: the plan, each step, the outcome.
fn waterfall<'a>(
    ws: &mut Worksheet,
    f: &Formats,
    at: (u32, u16),
    plan: f64,
    steps: impl Iterator<Item = (&'a str, f64)>,
    outcome: f64,
    title: &str,
) -> Result<Chart> {
    let (r, c) = at;
    // Each bar spans [a, b]; stacked columns draw it as an invisible part
    // and a visible one, positives stacking up from 0 and negatives down,
    // so a bar that crosses 0 is a rise and a fall from 0.
    let mut bars: Vec<(String, f64, f64, u32)> = vec![("plan".into(), 0.0, plan, GREY)];
    let mut at_ = plan;
    for (name, x) in steps {
        bars.push((name.to_string(), at_, at_ + x, if x >= 0.0 { ORANGE } else { BLUE }));
        at_ += x;
    }
    bars.push((OUTCOME.into(), 0.0, plan + outcome, GREY));
    for (k, h) in ["step", "base (hidden)", "above 0", "below 0"].iter().enumerate() {
        text(ws, r, c + k as u16, h, Some(&f.header))?;
    }
    let mut points = Vec::new();
    for (i, (name, a, b, colour)) in bars.iter().enumerate() {
        let (lo, hi) = (a.min(*b), a.max(*b));
        let (base, up, down) = if lo >= 0.0 {
            (lo, hi - lo, 0.0)
        } else if hi <= 0.0 {
            (hi, 0.0, lo - hi)
        } else {
            (0.0, hi, lo)
        };
        let row = r + 1 + i as u32;
        text(ws, row, c, name, None)?;
        for (k, x) in [base, up, down].iter().enumerate() {
            number(ws, row, c + 1 + k as u16, *x, Some(&f.decimal))?;
        }
        points.push(ChartPoint::new().set_format(ChartSolidFill::new().set_color(*colour)));
    }
    let (r0, r1) = (r + 1, r + bars.len() as u32);
    let sheet = ws.name();
    let mut chart = Chart::new(ChartType::ColumnStacked);
    for k in 0..3u16 {
        let s = chart
            .add_series()
            .set_name(["base", "rise", "fall"][k as usize])
            .set_categories((sheet.as_str(), r0, c, r1, c))
            .set_values((sheet.as_str(), r0, c + 1 + k, r1, c + 1 + k))
            .set_gap(50);
        if k == 0 {
            s.set_format(ChartFormat::new().set_no_fill().set_no_line());
        } else {
            s.set_points(&points);
        }
    }
    chart.title().set_name(title);
    chart.y_axis().set_num_format("#,##0");
    chart
        .x_axis()
        .set_name("grey: the plan and the outcome; orange: a driver that raises the metric; blue: one that lowers it")
        .set_label_position(ChartAxisLabelPosition::Low);
    chart.legend().set_hidden();
    chart.set_width(900).set_height(440);
    Ok(chart)
}

fn sensitivity(ws: &mut Worksheet, f: &Formats, cx: &ExplainContext<'_>, rows: &[SensitivityRow]) -> Result<()> {
    let t = Table::of(rows)?;
    let unit = of_metric(f, cx.metric);
    let decimal = f.decimal.clone();
    table(ws, f, 0, &t, true, &move |_, col| {
        Some(if col.starts_with("swing") { unit.clone() } else { decimal.clone() })
    })?;
    let mut w = widths(&t);
    // The tornado's data below the table: each input's swing about the
    // mean, the widest first.
    let mut swings: Vec<(&str, f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.parameter.as_str(), r.swing_low? - cx.mean, r.swing_high? - cx.mean)))
        .collect();
    swings.sort_by(|a, b| (b.2 - b.1).abs().total_cmp(&(a.2 - a.1).abs()));
    if swings.is_empty() {
        return fit(ws, &w);
    }
    let top = t.rows.len() as u32 + 3;
    text(ws, top - 1, 0, &format!("chart data: {} minus its mean {:.2}", cx.metric, cx.mean), Some(&f.italic))?;
    for (k, h) in ["parameter", "bottom 10%", "top 10%"].iter().enumerate() {
        text(ws, top, k as u16, h, Some(&f.header))?;
    }
    for (i, (p, lo, hi)) in swings.iter().enumerate() {
        let row = top + 1 + i as u32;
        text(ws, row, 0, p, None)?;
        number(ws, row, 1, *lo, Some(&f.decimal))?;
        number(ws, row, 2, *hi, Some(&f.decimal))?;
    }
    let (r0, r1) = (top + 1, top + swings.len() as u32);
    let mut chart = Chart::new(ChartType::Bar);
    for (k, name, colour) in [(1u16, "input in its bottom 10%", BLUE), (2, "input in its top 10%", ORANGE)] {
        chart
            .add_series()
            .set_name(name)
            .set_categories(("Sensitivity", r0, 0, r1, 0))
            .set_values(("Sensitivity", r0, k, r1, k))
            .set_format(ChartSolidFill::new().set_color(colour))
            .set_overlap(100)
            .set_gap(40);
    }
    chart.title().set_name(&format!("{}: {}, swing about its mean by input", cx.scenario, cx.metric));
    chart.y_axis().set_reverse().set_label_position(ChartAxisLabelPosition::Low);
    // A bar chart's x axis is its horizontal one: the values.
    chart.x_axis().set_name(&format!("{} minus its mean", cx.metric)).set_num_format("#,##0");
    chart.legend().set_position(ChartLegendPosition::Bottom);
    chart.set_width(900).set_height(120 + 30 * swings.len().min(30) as u32);
    w[0] = w[0].max(swings.iter().map(|s| chars(s.0) + 2.0).fold(0.0, f64::max));
    fit(ws, &w)?;
    ws.insert_chart(r1 + 2, 0, &chart)?;
    Ok(())
}
