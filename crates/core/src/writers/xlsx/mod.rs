//! Excel workbooks (`report.xlsx`, `portfolio.xlsx`, `comparison.xlsx`,
//! `explain.xlsx`), written with `rust_xlsxwriter`: result structures in,
//! bytes out.
//!
//! A sheet that mirrors a CSV file is made from the same rows the CSV
//! writer serialises ([`Table::of`]): the columns in the CSV's order,
//! numbers stored as numbers (the same `f64`, so a reader gets the CSV's
//! value bit for bit), text stored as text. Text is never a formula: a name
//! that begins with `=`, `+`, `-` or `@` is written as a string cell and
//! reaches Excel as the characters typed (the CSV files guard such cells
//! with a leading `'` instead, [`super::output::guard_cell`]). Amounts carry
//! a `$bn` format, shares a `%` format: the cell keeps the full number.
//!
//! Charts are Excel's own (they redraw when a user edits the numbers), drawn
//! from the cells of the sheet. The workbook's creation date is fixed, so
//! the same run gives the same bytes.

mod explain;
mod portfolio;
mod run;

pub use explain::explain_workbook;
pub use portfolio::portfolio_workbook;
pub use run::{RunBook, SampleRows, comparison_workbook, run_workbook};

use rust_xlsxwriter::{
    Chart, ChartPoint, ChartSolidFill, ChartType, DocProperties, ExcelDateTime, Format, FormatBorder, Workbook,
    Worksheet, XlsxError,
};
use serde::Serialize;

use crate::report::Histogram;
use crate::{Error, Result};

impl From<XlsxError> for Error {
    fn from(e: XlsxError) -> Self {
        Error::Invalid(format!("cannot write the workbook: {e}"))
    }
}

/// Colours of the charts (those of the PNG charts).
pub(crate) const BLUE: u32 = 0x1F4E99;
pub(crate) const BAND_OUTER: u32 = 0xC6D7EE;
pub(crate) const BAND_INNER: u32 = 0x8FB0DC;
pub(crate) const ORANGE: u32 = 0xE8892B;
pub(crate) const RED: u32 = 0xB3261E;
pub(crate) const GREY: u32 = 0x666666;

/// Excel's last row index (1,048,576 rows).
pub(crate) const MAX_ROW: u32 = 1_048_575;

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(f64),
    Text(String),
    Bool(bool),
    Blank,
}

/// Rows of a result as cells, in the columns of its CSV file.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table of `rows` as [`super::output::rows_csv`] writes them: the
    /// header is the CSV's (serde's field names, in order), each cell the
    /// serialised value (a number stays the same `f64`).
    pub fn of<T: Serialize>(rows: &[T]) -> Result<Table> {
        let Some(first) = rows.first() else { return Ok(Table::default()) };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(first)?;
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
        let header: Vec<String> = match r.records().next() {
            Some(rec) => rec?.iter().map(String::from).collect(),
            None => Vec::new(),
        };
        let rows = rows
            .iter()
            .map(|row| {
                let value = serde_json::to_value(row).map_err(|e| Error::Invalid(e.to_string()))?;
                Ok(header.iter().map(|h| cell(value.get(h))).collect())
            })
            .collect::<Result<Vec<Vec<Cell>>>>()?;
        Ok(Table { header, rows })
    }

    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The table with a column added, its cell in each row given by `f`.
    pub fn with_column(mut self, name: &str, f: impl Fn(usize) -> Cell) -> Table {
        self.header.push(name.to_string());
        for (i, row) in self.rows.iter_mut().enumerate() {
            row.push(f(i));
        }
        self
    }

    /// The text of column `col` in row `row`, when it is text.
    pub fn text(&self, row: usize, col: usize) -> Option<&str> {
        match self.rows.get(row)?.get(col)? {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// A serialised value as a cell: integers beyond 2^53 (which a spreadsheet
/// cannot hold exactly) as text.
fn cell(v: Option<&serde_json::Value>) -> Cell {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => Cell::Blank,
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) if u > 1 << 53 => Cell::Text(u.to_string()),
            (_, Some(i), _) if i < -(1 << 53) => Cell::Text(i.to_string()),
            (_, _, Some(x)) => Cell::Num(x),
            _ => Cell::Text(n.to_string()),
        },
        Some(other) => Cell::Text(other.to_string()),
    }
}

/// The formats every workbook uses.
#[derive(Clone)]
pub struct Formats {
    pub title: Format,
    pub bold: Format,
    pub italic: Format,
    pub header: Format,
    /// `$1,234.5bn` (amounts are in $bn).
    pub money: Format,
    /// `1,234.5`: amounts in a unit of the user's (a portfolio's).
    pub amount: Format,
    /// `12.3%`.
    pub share: Format,
    /// `0.123%`: small probabilities.
    pub prob: Format,
    /// `1,234`.
    pub count: Format,
    /// Two decimals (events, ratios).
    pub decimal: Format,
    pub general: Format,
}

impl Formats {
    pub fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            bold: Format::new().set_bold(),
            italic: Format::new().set_italic(),
            header: Format::new().set_bold().set_border_bottom(FormatBorder::Thin).set_background_color(0xE8EEF7),
            money: Format::new().set_num_format("\"$\"#,##0.0\"bn\";-\"$\"#,##0.0\"bn\""),
            amount: Format::new().set_num_format("#,##0.0"),
            share: Format::new().set_num_format("0.0%"),
            prob: Format::new().set_num_format("0.000%"),
            count: Format::new().set_num_format("#,##0"),
            decimal: Format::new().set_num_format("0.00"),
            general: Format::new(),
        }
    }

    /// The format of a value of `metric` (`loss.azure`, `share.openai.azure`,
    /// `events.openai.azure`).
    pub fn of_metric(&self, metric: &str) -> &Format {
        match metric.parse::<crate::metric::Metric>() {
            Ok(m) if m.is_money() => &self.money,
            Ok(crate::metric::Metric::Share { .. }) => &self.share,
            Ok(_) => &self.decimal,
            Err(_) => &self.general,
        }
    }
}

impl Default for Formats {
    fn default() -> Self {
        Formats::new()
    }
}

/// A new workbook with a fixed creation date (the same result, the same
/// bytes), zipped at deflate level 1: the run's workbook in about 3 ms
/// against 5 at the default level 6, 82 KB against 60.
pub fn workbook() -> Result<Workbook> {
    let mut wb = Workbook::new();
    wb.set_zip_compression_level(1);
    let date = ExcelDateTime::from_ymd(2026, 1, 1)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&date).set_comment("written by backlog-risk"));
    Ok(wb)
}

/// Write `text` as a string cell (never a formula).
pub fn text(ws: &mut Worksheet, row: u32, col: u16, text: &str, format: Option<&Format>) -> Result<()> {
    // Excel's limit for one cell; longer text is cut with a mark.
    let t: std::borrow::Cow<str> = if text.chars().count() > 32_000 {
        format!("{}...", text.chars().take(32_000).collect::<String>()).into()
    } else {
        text.into()
    };
    match format {
        Some(f) => ws.write_string_with_format(row, col, t.as_ref(), f)?,
        None => ws.write_string(row, col, t.as_ref())?,
    };
    Ok(())
}

/// Write a number, with a format when given.
pub fn number(ws: &mut Worksheet, row: u32, col: u16, x: f64, format: Option<&Format>) -> Result<()> {
    if !x.is_finite() {
        // A workbook cannot hold NaN or infinity; the cell says what it is.
        return text(ws, row, col, &format!("{x}"), None);
    }
    match format {
        Some(f) => ws.write_number_with_format(row, col, x, f)?,
        None => ws.write_number(row, col, x)?,
    };
    Ok(())
}

/// Write one cell.
pub fn put(ws: &mut Worksheet, row: u32, col: u16, c: &Cell, format: Option<&Format>) -> Result<()> {
    match c {
        Cell::Num(x) => number(ws, row, col, *x, format),
        Cell::Text(t) => text(ws, row, col, t, None),
        Cell::Bool(b) => {
            ws.write_boolean(row, col, *b)?;
            Ok(())
        }
        Cell::Blank => Ok(()),
    }
}

/// Write `t` with its header at `row0`, a number's format from `format(row,
/// column name)`, an autofilter over it; with `freeze`, the rows down to its
/// header stay in view. Returns the row after the table.
pub fn table(
    ws: &mut Worksheet,
    f: &Formats,
    row0: u32,
    t: &Table,
    freeze: bool,
    format: &dyn Fn(&[Cell], &str) -> Option<Format>,
) -> Result<u32> {
    for (c, h) in t.header.iter().enumerate() {
        text(ws, row0, c as u16, h, Some(&f.header))?;
    }
    let fits = t.rows.len().min((MAX_ROW - row0) as usize);
    for (i, row) in t.rows[..fits].iter().enumerate() {
        let r = row0 + 1 + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let fmt = format(row, &t.header[c]);
            put(ws, r, c as u16, cell, fmt.as_ref())?;
        }
    }
    if !t.header.is_empty() {
        ws.autofilter(row0, 0, row0 + fits as u32, (t.header.len() - 1) as u16)?;
    }
    if freeze {
        ws.set_freeze_panes(row0 + 1, 0)?;
    }
    Ok(row0 + 1 + fits as u32)
}

/// Column widths that fit `t`: each column as wide as its header (and the
/// autofilter's button) or its longest text, numbers as wide as a `$bn`
/// amount; at most [`MAX_WIDTH`]. (`Worksheet::autofit` measures a number
/// by its unformatted digits, which makes `$bn` columns twice too wide.)
pub fn widths(t: &Table) -> Vec<f64> {
    let mut w: Vec<f64> = t.header.iter().map(|h| chars(h) + 3.0).collect();
    for row in &t.rows {
        for (c, cell) in row.iter().enumerate() {
            let need = match cell {
                Cell::Num(_) => NUMBER_WIDTH,
                Cell::Text(s) => chars(s) + 1.0,
                Cell::Bool(_) => 6.0,
                Cell::Blank => 0.0,
            };
            if let Some(x) = w.get_mut(c) {
                *x = x.max(need);
            }
        }
    }
    w.iter().map(|x| x.min(MAX_WIDTH)).collect()
}

/// The width of a formatted number (`$12,345.6bn`, `0.123%`).
pub const NUMBER_WIDTH: f64 = 12.0;
/// The widest a fitted column gets (longer text wraps out of view, as in
/// any spreadsheet).
pub const MAX_WIDTH: f64 = 60.0;

/// The width of `s` in Excel's character units, roughly.
pub fn chars(s: &str) -> f64 {
    s.chars().count() as f64
}

/// Set the widths of the first columns, and the page setup every sheet
/// shares: landscape, one page wide when printed.
pub fn fit(ws: &mut Worksheet, widths: &[f64]) -> Result<()> {
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, w.max(4.0))?;
    }
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

/// The format of a cell of a table of metrics (`summary.csv`, `errors.csv`,
/// paired rows): the unit of the row's `metric`, for every numeric column.
pub fn by_metric(f: &Formats, t: &Table) -> impl Fn(&[Cell], &str) -> Option<Format> {
    let col = t.column("metric");
    let f = f.clone();
    move |row, _| match col.and_then(|c| row.get(c)) {
        Some(Cell::Text(m)) => Some(f.of_metric(m).clone()),
        _ => None,
    }
}

/// Write histogram `h` on sheet `sheet`: at row `top`, the paths outside
/// its range; below, the table `bin from, bin to, paths` in columns A-C.
/// The bins' edges have the format `edges`. Returns a column chart of it,
/// each bin coloured by `colour(from, to)` (none when it has no bins).
pub fn histogram(
    ws: &mut Worksheet,
    f: &Formats,
    (sheet, top): (&str, u32),
    h: &Histogram,
    edges: &Format,
    colour: &dyn Fn(f64, f64) -> u32,
) -> Result<Option<Chart>> {
    text(ws, top - 3, 0, "paths below the first bin", None)?;
    number(ws, top - 3, 2, h.below as f64, Some(&f.count))?;
    text(ws, top - 2, 0, "paths above the last bin", None)?;
    number(ws, top - 2, 2, h.above as f64, Some(&f.count))?;
    for (c, head) in ["bin from", "bin to", "paths"].iter().enumerate() {
        text(ws, top, c as u16, head, Some(&f.header))?;
    }
    let n = h.counts.len();
    let width = (h.hi - h.lo) / n as f64;
    let edge = |i: usize| if i == n { h.hi } else { h.lo + width * i as f64 };
    let mut points = Vec::with_capacity(n);
    for (i, &count) in h.counts.iter().enumerate() {
        let r = top + 1 + i as u32;
        let (lo, hi) = (edge(i), edge(i + 1));
        number(ws, r, 0, lo, Some(edges))?;
        number(ws, r, 1, hi, Some(edges))?;
        number(ws, r, 2, count as f64, Some(&f.count))?;
        points.push(ChartPoint::new().set_format(ChartSolidFill::new().set_color(colour(lo, hi))));
    }
    if n == 0 {
        return Ok(None);
    }
    let (r0, r1) = (top + 1, top + n as u32);
    let mut chart = Chart::new(ChartType::Column);
    chart
        .add_series()
        .set_name("paths")
        .set_categories((sheet, r0, 0, r1, 0))
        .set_values((sheet, r0, 2, r1, 2))
        .set_points(&points)
        .set_gap(10);
    chart.y_axis().set_name("paths");
    chart.legend().set_hidden();
    chart.set_width(760).set_height(420);
    Ok(Some(chart))
}

/// The workbook's bytes.
pub fn bytes(mut wb: Workbook) -> Result<Vec<u8>> {
    Ok(wb.save_to_buffer()?)
}
