//! `portfolio.xlsx`: one portfolio's stress test under one scenario.
//!
//! Sheets: **P&L** (`pnl.csv`, the P&L histogram as a chart with the VaR99
//! and ES99 losses marked), **Risk** (`risk.csv`), **Contributions**
//! (`contributions.csv` and a bar chart of each holding's part of ES99),
//! **Tail** (`tail.csv`), and **Paired** (`paired-BASE.csv`) when the test
//! was paired against a base.

use rust_xlsxwriter::{Chart, ChartAxisLabelPosition, ChartSolidFill, ChartType};

use super::{BLUE, Cell, Formats, ORANGE, RED, Table, fit, histogram, table, text, widths};
use crate::Result;
use crate::portfolio::{ScenarioRisk, StressResult};

/// The bytes of `portfolio.xlsx`.
pub fn portfolio_workbook(r: &StressResult, row: Option<&ScenarioRisk>) -> Result<Vec<u8>> {
    let f = Formats::new();
    let mut wb = super::workbook()?;
    // The tables of the folder's CSV files, with the horizon's columns
    // those files carry.
    let horizon = |t: Table| {
        t.with_column("horizon", |_| Cell::Text(r.horizon_label.clone()))
            .with_column("horizon_quarters", |_| Cell::Num(r.horizon as f64))
    };
    // Amounts are in the portfolio's own unit, not $bn.
    let money = |f: &Formats| {
        let f = f.clone();
        move |_: &[Cell], col: &str| {
            Some(match col {
                "weight" | "horizon_quarters" => f.general.clone(),
                "paths" => f.count.clone(),
                "es99_share" | "p_loss_gt_10pct" => f.share.clone(),
                _ => f.amount.clone(),
            })
        }
    };

    let ws = wb.add_worksheet().set_name("P&L")?;
    let title = format!(
        "{} under {}: P&L at {}, value {} {}, {} paths",
        r.portfolio,
        r.scenario,
        r.horizon_text(),
        r.value,
        r.unit,
        r.paths
    );
    text(ws, 0, 0, &title, Some(&f.title))?;
    let pnl = horizon(Table::of(std::slice::from_ref(&r.pnl))?);
    table(ws, &f, 1, &pnl, false, &money(&f))?;
    // Losses are -P&L: a bin is beyond VaR99 when it lies left of -VaR99.
    let (var99, es99) = (r.measure("var99"), r.measure("es99"));
    let colour = |lo: f64, hi: f64| match (var99, es99) {
        (_, Some(es)) if lo <= -es && -es < hi => RED,
        (Some(v), _) if lo < -v => ORANGE,
        _ => BLUE,
    };
    const TOP: u32 = 7;
    let chart = histogram(ws, &f, ("P&L", TOP), &r.histogram, &f.amount, &colour)?;
    ws.set_freeze_panes(TOP + 1, 0)?;
    let mut w = widths(&pnl);
    w[0] = w[0].max(26.0);
    fit(ws, &w)?;
    if let Some(mut chart) = chart {
        let mark = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        chart.title().set_name(&format!(
            "{} under {}: P&L (loss VaR99 {}, ES99 {})",
            r.portfolio,
            r.scenario,
            mark(var99),
            mark(es99)
        ));
        chart
            .x_axis()
            .set_name(&format!("P&L, {}, bin from (orange: beyond the VaR99 loss; red: the bin of ES99)", r.unit))
            .set_num_format("#,##0.0");
        ws.insert_chart(4, 4, &chart)?;
    }

    let ws = wb.add_worksheet().set_name("Risk")?;
    let t = horizon(Table::of(&r.risk)?);
    table(ws, &f, 0, &t, true, &money(&f))?;
    fit(ws, &widths(&t))?;

    let ws = wb.add_worksheet().set_name("Contributions")?;
    let t = horizon(Table::of(&r.contributions)?);
    table(ws, &f, 0, &t, true, &money(&f))?;
    fit(ws, &widths(&t))?;
    if let (Some(h), Some(c), n @ 1..) = (t.column("holding"), t.column("es99_contribution"), t.rows.len() as u32) {
        let (h, c) = (h as u16, c as u16);
        let mut chart = Chart::new(ChartType::Bar);
        chart
            .add_series()
            .set_name("part of ES99")
            .set_categories(("Contributions", 1, h, n, h))
            .set_values(("Contributions", 1, c, n, c))
            .set_format(ChartSolidFill::new().set_color(BLUE))
            .set_gap(40);
        chart.title().set_name(&format!("{}: each holding's part of ES99 ({})", r.portfolio, r.unit));
        chart.y_axis().set_reverse().set_label_position(ChartAxisLabelPosition::Low);
        // A bar chart's x axis is its horizontal one: the values.
        chart.x_axis().set_name(&format!("{}, E[holding loss | portfolio in its worst 1%]", r.unit));
        chart.legend().set_hidden();
        chart.set_width(680).set_height(200 + 28 * n.min(30));
        ws.insert_chart(n + 2, 0, &chart)?;
    }

    let ws = wb.add_worksheet().set_name("Tail")?;
    let t = horizon(Table::of(&r.tail)?);
    table(ws, &f, 0, &t, true, &money(&f))?;
    fit(ws, &widths(&t))?;

    if let Some(row) = row.filter(|w| w.base.is_some()) {
        let ws = wb.add_worksheet().set_name("Paired")?;
        let t = Table::of(std::slice::from_ref(row))?;
        table(ws, &f, 0, &t, true, &money(&f))?;
        fit(ws, &widths(&t))?;
        let note = format!("differences against {}, path by path", row.base.as_deref().unwrap_or_default());
        text(ws, 3, 0, &note, Some(&f.italic))?;
    }
    super::bytes(wb)
}
