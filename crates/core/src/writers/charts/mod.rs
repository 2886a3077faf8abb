//! PNG report charts. Each chart reads a [`ScenarioSummary`] (or several)
//! and computes no statistics: every number drawn is one the CSV files hold
//! or one [`crate::report`] prepared for drawing (histogram bins,
//! exceedance points).
//!
//! Charts render into memory with plotters' bitmap backend and the DejaVu
//! Sans font embedded from the `dejavu` crate (no system fonts, no
//! fontconfig), are encoded as PNG by the `png` crate and returned as bytes;
//! the caller writes them atomically. A drawing failure is an error naming
//! the chart, never a panic.

mod attribution;
mod comparison;
mod concentration;
mod contributions;
mod exceedance;
mod fan;
mod given;
mod loss;
mod path;
pub mod style;
mod sweep;
mod tornado;

use std::sync::OnceLock;

use crate::{Error, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

pub use attribution::attribution_png;
pub use comparison::{Interval, comparison_png, intervals_png};
pub use concentration::concentration_png;
pub use contributions::contributions_png;
pub use exceedance::exceedance_png;
pub use fan::fan_png;
pub use given::given_png;
pub use loss::{DistributionPlot, Mark, distribution_png, loss_png};
pub use path::path_png;
pub use sweep::{SweepPlot, sweep_heatmap_png, sweep_line_png};
pub use tornado::tornado_png;

/// Pixel size of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

impl Default for ChartSize {
    fn default() -> Self {
        ChartSize { width: 1600, height: 1000 }
    }
}

impl ChartSize {
    /// Parse `WIDTHxHEIGHT`: width 640..=8000, height 400..=8000 (below
    /// that the labels, scaled to the height, are too small to read).
    pub fn parse(s: &str) -> Result<ChartSize> {
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| Error::invalid(format!("`{s}` is not WIDTHxHEIGHT, e.g. 1600x1000")))?;
        let px = |v: &str| -> Result<u32> {
            v.trim().parse().map_err(|_| Error::invalid(format!("`{v}` is not a whole number of pixels")))
        };
        ChartSize::new(px(w)?, px(h)?)
    }

    /// A chart size checked: width 640..=8000, height 400..=8000.
    pub fn new(width: u32, height: u32) -> Result<ChartSize> {
        for (n, min, what) in [(width, 640, "width"), (height, 400, "height")] {
            if !(min..=8000).contains(&n) {
                return Err(Error::invalid(format!(
                    "a {what} of {n} pixels is outside {min}..8000 (below {min} the labels cannot be read); e.g. 960x600"
                )));
            }
        }
        Ok(ChartSize { width, height })
    }

    /// Font size scaled to the chart height (22 px at 1000 px).
    pub fn font(&self, base: f64) -> f64 {
        base * self.height as f64 / 1000.0
    }
}

/// Register the embedded font once per process.
fn fonts() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .and_then(|_| plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()))
            .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
    })
    .clone()
    .map_err(|message| Error::Chart { chart: "every chart".into(), message })
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
/// What drawing code returns; plotters' errors are turned into text.
type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// An axis range plotters can draw. Both ends and the span must be finite
/// numbers (plotters loops forever computing the key points of an infinite
/// axis): anything else is an error. Ends too close to tell apart are
/// widened around their middle, so a distribution with one value still
/// draws.
fn axis(lo: f64, hi: f64) -> std::result::Result<std::ops::Range<f64>, Box<dyn std::error::Error>> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite() && (hi - lo).is_finite()) {
        return Err(format!("an axis from {lo} to {hi} cannot be drawn: the values are not finite numbers").into());
    }
    let scale = lo.abs().max(hi.abs());
    if hi - lo <= 1e-9 * scale.max(1.0) {
        let mid = lo + (hi - lo) / 2.0;
        let half = (0.01 * mid.abs()).max(1.0);
        return Ok(mid - half..mid + half);
    }
    Ok(lo..hi)
}

/// The error of chart `name`.
fn chart_error(name: &str, message: impl std::fmt::Display) -> Error {
    Error::Chart { chart: name.to_string(), message: message.to_string() }
}

/// Draw into an in-memory bitmap and encode it as PNG.
fn render(name: &str, size: ChartSize, draw: impl FnOnce(&Area) -> DrawResult) -> Result<Vec<u8>> {
    fonts()?;
    // The thread's bitmap of its last chart, set white (every byte 255:
    // what filling the area with WHITE writes). A fresh 4.8 MB bitmap per
    // chart cost a page fault per 4 KB (most of a short run's chart time,
    // and more when the pool's threads fault at once).
    let mut rgb = BITMAP.take();
    rgb.clear();
    rgb.resize(size.width as usize * size.height as usize * 3, 255);
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (size.width, size.height)).into_drawing_area();
        draw(&area).map_err(|e| chart_error(name, e))?;
        area.present().map_err(|e| chart_error(name, e))?;
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, size.width, size.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Fast deflate: files about twice the size of the default level's
    // (100-200 KB for these flat-coloured charts), and a 1,000-path run
    // about 40% faster end to end (the default level's deflate was most of
    // a short run's time).
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::FilterType::Paeth);
    let mut w = enc.write_header().map_err(|e| chart_error(name, format!("PNG encoding: {e}")))?;
    w.write_image_data(&rgb).map_err(|e| chart_error(name, format!("PNG encoding: {e}")))?;
    w.finish().map_err(|e| chart_error(name, format!("PNG encoding: {e}")))?;
    if rgb.capacity() <= KEPT_BITMAP {
        BITMAP.set(rgb);
    }
    Ok(out)
}

/// The largest bitmap a thread keeps (bytes): a default chart's 4.8 MB and
/// up to about twice its pixels; a larger `--chart-size` draws into a
/// fresh one each time, so that a long-lived process (Python) does not hold
/// one per thread.
const KEPT_BITMAP: usize = 12 << 20;

thread_local! {
    /// The bitmap [`render`] draws into, kept for the thread's next chart.
    static BITMAP: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Draw the title (and a smaller subtitle) and return the area below them.
fn frame<'a>(
    area: &Area<'a>,
    size: ChartSize,
    title: &str,
    subtitle: &str,
) -> std::result::Result<Area<'a>, Box<dyn std::error::Error>> {
    let (t, s) = (size.font(34.0), size.font(21.0));
    let pad = size.font(24.0) as i32;
    // The subtitle wrapped at word boundaries to the chart's width.
    let sub_font = ("sans-serif", s).into_font().color(&style::GREY);
    let width = area.dim_in_pixel().0.saturating_sub(2 * pad as u32);
    let mut lines: Vec<String> = Vec::new();
    for word in subtitle.split(' ') {
        let wider = match lines.last() {
            Some(line) => format!("{line} {word}"),
            None => word.to_string(),
        };
        let fits = area.estimate_text_size(&wider, &sub_font).map_or(true, |(w, _)| w <= width);
        match lines.last_mut() {
            Some(line) if fits => *line = wider,
            _ => lines.push(word.to_string()),
        }
    }
    let extra = s * 1.3 * lines.len().saturating_sub(1) as f64;
    let (head, body) = area.split_vertically((t + s * 1.6 + extra + size.font(30.0)) as u32);
    head.draw(&Text::new(
        title.to_string(),
        (pad, pad / 2),
        ("sans-serif", t).into_font().style(FontStyle::Bold).color(&style::INK),
    ))?;
    for (i, line) in lines.into_iter().enumerate() {
        head.draw(&Text::new(line, (pad, pad / 2 + (t * 1.25 + s * 1.3 * i as f64) as i32), sub_font.clone()))?;
    }
    Ok(body)
}

/// The chart builder of every single-panel chart: the same margins and
/// x-label band everywhere; `y_labels_px` (at 1000 px height) fits the
/// chart's y tick labels.
fn builder<'a, 'b>(area: &'a Area<'b>, size: ChartSize, y_labels_px: f64) -> ChartBuilder<'a, 'b, BitMapBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.margin_left(size.font(20.0) as i32)
        .margin_right(size.font(50.0) as i32)
        .margin_bottom(size.font(10.0) as i32)
        .x_label_area_size(size.font(70.0) as u32)
        .y_label_area_size(size.font(y_labels_px) as u32);
    b
}

/// The mesh of a chart with one row per category, the rows at y = 0, 1, ...
fn draw_row_mesh(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    size: ChartSize,
    labels: Vec<String>,
    xdesc: &str,
    xfmt: &dyn Fn(f64) -> String,
) -> DrawResult {
    let k = labels.len().max(1);
    let fmt_y = category_labels(labels, 0.0);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .y_labels(k * 2 + 1)
        .x_desc(xdesc)
        .x_label_formatter(&|x| xfmt(*x))
        .y_label_formatter(&fmt_y)
        .label_style(font(size, 19.0, &style::INK))
        .axis_desc_style(font(size, 22.0, &style::INK))
        .draw()?;
    Ok(())
}

/// The series legend, on a light box in `corner`, with room for samples
/// `sample` pixels long before the names.
fn draw_legend<'a, 'b: 'a>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, impl Ranged<ValueType = f64>>>,
    size: ChartSize,
    corner: SeriesLabelPosition,
    px: f64,
    sample: i32,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(corner)
        .legend_area_size(sample + size.font(10.0) as i32)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .label_font(font(size, px, &style::INK))
        .draw()?;
    Ok(())
}

/// A dashed legend sample `len` pixels long at `(x, y)`: three dashes, so a
/// dashed series reads as dashed in its legend too.
fn dashed_sample(
    x: i32,
    y: i32,
    len: i32,
    style: ShapeStyle,
) -> DashedPathElement<std::array::IntoIter<(i32, i32), 2>, i32> {
    DashedPathElement::new([(x, y), (x + len, y)], len * 2 / 7, len / 7, style)
}

/// Tick formatter for categories placed at `offset`, `offset + 1`, ...:
/// the label at those positions, nothing between them.
fn category_labels(labels: Vec<String>, offset: f64) -> impl Fn(&f64) -> String {
    move |v: &f64| {
        let i = (v - offset).round();
        if (v - offset - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    }
}

/// `1234567` -> `1,234,567` (digits only).
fn group_thousands(int: &str) -> String {
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    grouped
}

/// A text style of `px` pixels (at 1000 px height) in colour `c`.
fn font(size: ChartSize, px: f64, c: &RGBColor) -> TextStyle<'static> {
    ("sans-serif", size.font(px)).into_font().color(c)
}

/// `$250bn`, `-$12.5bn`, `$1,250bn`; fewer decimals for larger values.
pub fn fmt_bn(x: f64) -> String {
    let a = x.abs();
    if a < 5e-10 {
        return "$0bn".to_string();
    }
    let digits = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else {
        2
    };
    let body = format!("{a:.digits$}");
    let (int, frac) = body.split_once('.').map_or((body.as_str(), None), |(i, f)| (i, Some(f)));
    let grouped = group_thousands(int);
    let sign = if x < 0.0 && body.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}${grouped}.{f}bn"),
        None => format!("{sign}${grouped}bn"),
    }
}

/// An amount in a portfolio's unit with thousands separators and as many
/// decimals as its size calls for: `-1,234`, `56.7`, `4.25`, `0.031`.
pub fn fmt_amount(x: f64) -> String {
    fixed(x, amount_digits(x.abs()))
}

/// The decimals of [`fmt_amount`] for an amount of size `a`.
pub(crate) fn amount_digits(a: f64) -> usize {
    if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 0.1 || a == 0.0 {
        2
    } else {
        3
    }
}

/// One format for every amount on an axis spanning `span` (units of a
/// portfolio): the decimals the tick spacing needs, the same on each tick
/// (`-50`, `0`, `50`, not `-50.0` beside `0.00`).
pub fn amount_axis(span: f64) -> impl Fn(f64) -> String {
    let digits = amount_axis_digits(span);
    move |x| fixed(x, digits)
}

/// The unit of a metric's values for an axis title: `$bn` for amounts,
/// `share, 0 to 1` for shares, `events` for counts (and `$bn` for a name
/// that is not a metric, which the analyses never pass).
pub(crate) fn unit_of(metric: &str) -> &'static str {
    metric.parse::<crate::metric::Metric>().map_or("$bn", |m| m.unit())
}

/// The decimals of [`amount_axis`] for an axis spanning `span`.
pub(crate) fn amount_axis_digits(span: f64) -> usize {
    if span >= 50.0 {
        0
    } else if span >= 5.0 {
        1
    } else if span >= 0.5 {
        2
    } else {
        3
    }
}

/// One money format for every tick of an axis spanning `span` $bn: the
/// decimals of [`amount_axis`], the same on each tick (`$1,000bn` beside
/// `$1,200bn`; `$5bn` beside `$80bn`, never `$5.00bn` beside `$80.0bn`).
pub fn bn_axis(span: f64) -> impl Fn(f64) -> String {
    let f = amount_axis(span);
    move |x| money(&f(x))
}

/// A formatted amount as money: `-12.5` -> `-$12.5bn`.
pub(crate) fn money(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(r) => format!("-${r}bn"),
        None => format!("${s}bn"),
    }
}

/// Labels of a quarterly axis `1..=labels.len()`: the year at each year's
/// first quarter (every `step` years when there are many), and the horizon,
/// the last quarter, in full (`2032Q4`); nothing elsewhere. Year labels
/// closer than two quarters to the horizon are left out so the two never
/// overlap.
pub fn quarter_axis(labels: Vec<String>) -> impl Fn(&f64) -> String {
    let years = labels.len() / 4 + 1;
    let step = years.div_ceil(10).max(1);
    move |x: &f64| {
        let i = x.round() as usize;
        if !(1..=labels.len()).contains(&i) || (x - x.round()).abs() > 1e-6 {
            return String::new();
        }
        let label = &labels[i - 1];
        if i == labels.len() {
            return label.clone();
        }
        match label.split_once('Q') {
            Some((year, "1")) if i + 2 <= labels.len() && year.parse::<usize>().is_ok_and(|y| y % step == 0) => {
                year.to_string()
            }
            _ => String::new(),
        }
    }
}

/// `x` with `digits` decimals and thousands separators; no `-0`.
pub(crate) fn fixed(x: f64, digits: usize) -> String {
    let a = x.abs();
    let body = format!("{a:.digits$}");
    let (int, frac) = body.split_once('.').map_or((body.as_str(), None), |(i, f)| (i, Some(f)));
    let grouped = group_thousands(int);
    let sign = if x < 0.0 && body.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// [`fmt_amount`] with an explicit sign: `+12.5`, `-3.1`.
pub fn fmt_signed(x: f64) -> String {
    let s = fmt_amount(x);
    if s.starts_with('-') || s.chars().all(|c| !c.is_ascii_digit() || c == '0') { s } else { format!("+{s}") }
}

/// Which paths of a histogram of `paths` paths the axis leaves out, and on
/// which side: `0.9% of paths left of the axis (below -$1,250bn), 0.01%
/// right (above $450bn)`.
pub fn beyond_axis(h: &crate::report::Histogram, paths: u64, fmt: &dyn Fn(f64) -> String) -> String {
    let share = |n: u64| fmt_pct(n as f64 / paths.max(1) as f64);
    match (h.below, h.above) {
        (0, 0) => "every path lies on the axis".to_string(),
        (b, 0) => format!("{} of paths left of the axis (below {})", share(b), fmt(h.lo)),
        (0, a) => format!("{} of paths right of the axis (above {})", share(a), fmt(h.hi)),
        (b, a) => format!(
            "{} of paths left of the axis (below {}), {} right (above {})",
            share(b),
            fmt(h.lo),
            share(a),
            fmt(h.hi)
        ),
    }
}

/// `45%`, `2.5%`, `0.01%`.
pub fn fmt_pct(p: f64) -> String {
    let x = p * 100.0;
    if x == 0.0 || x >= 10.0 {
        format!("{x:.0}%")
    } else if x >= 1.0 {
        format!("{x:.1}%")
    } else {
        let s = format!("{x:.3}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_name_the_metric_unit() {
        assert_eq!(unit_of("loss.azure"), "$bn");
        assert_eq!(unit_of("backlog.aws"), "$bn");
        assert_eq!(unit_of("revenue.azure"), "$bn");
        assert_eq!(unit_of("share.openai.azure"), "share, 0 to 1");
        assert_eq!(unit_of("events.openai.azure"), "events");
    }

    #[test]
    fn money_and_percent_labels() {
        assert_eq!(fmt_bn(250.0), "$250bn");
        assert_eq!(fmt_bn(1250.4), "$1,250bn");
        assert_eq!(fmt_bn(-12.345), "-$12.3bn");
        assert_eq!(fmt_bn(0.0), "$0bn");
        assert_eq!(fmt_bn(0.5), "$0.50bn");
        assert_eq!(fmt_pct(0.45), "45%");
        assert_eq!(fmt_pct(0.025), "2.5%");
        assert_eq!(fmt_pct(0.0001), "0.01%");
        assert_eq!(fmt_amount(-1234.4), "-1,234");
        assert_eq!(fmt_amount(56.74), "56.7");
        assert_eq!(fmt_amount(4.254), "4.25");
        assert_eq!(fmt_amount(-0.0001), "0.000");
        assert_eq!(fmt_signed(12.5), "+12.5");
        assert_eq!(fmt_signed(-3.21), "-3.21");
        let axis = amount_axis(400.0);
        assert_eq!((axis(-150.0), axis(0.0), axis(1250.0)), ("-150".into(), "0".into(), "1,250".into()));
        let axis = amount_axis(2.0);
        assert_eq!((axis(-1.5), axis(0.25)), ("-1.50".into(), "0.25".into()));
    }

    #[test]
    fn chart_size_parses_and_rejects() {
        assert_eq!(ChartSize::parse("800x500").unwrap(), ChartSize { width: 800, height: 500 });
        assert!(ChartSize::parse("800").is_err());
        assert!(ChartSize::parse("10x500").unwrap_err().to_string().contains("outside"));
    }
}
