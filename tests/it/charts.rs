//! Charts: valid PNG of the requested size, not blank, and a change in the
//! data changes the picture. One test per chart kind.

use crate::common;

use backlog_risk::report::{self, ScenarioSummary};
use backlog_risk::writers::charts::{self, ChartSize};

const SIZE: ChartSize = ChartSize { width: 800, height: 500 };

fn summary() -> ScenarioSummary {
    let mut sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    sc.paths = 4000;
    common::run(&sc).1
}

/// Decode, check the size, and return the share of non-white pixels.
fn inked(png_bytes: &[u8]) -> f64 {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!((info.width, info.height), (SIZE.width, SIZE.height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = buf[..info.buffer_size()].chunks_exact(3);
    let n = px.len() as f64;
    px.filter(|p| p != &[255, 255, 255]).count() as f64 / n
}

fn check(before: Vec<u8>, after: Vec<u8>) {
    let ink = inked(&before);
    assert!(ink > 0.02, "the chart is almost blank ({ink:.4} inked)");
    inked(&after);
    assert!(before != after, "changing the data did not change the picture");
}

#[test]
fn loss_chart() {
    let s = summary();
    let p = s.focus;
    let before = charts::loss_png(&s, p, SIZE).unwrap();
    let mut t = s.clone();
    t.loss_hist[p].counts[10] += 500;
    check(before, charts::loss_png(&t, p, SIZE).unwrap());
}

#[test]
fn fan_chart() {
    let s = summary();
    let before = charts::fan_png(&s, SIZE).unwrap();
    let mut t = s.clone();
    t.fan[5].p50 *= 1.5;
    check(before, charts::fan_png(&t, SIZE).unwrap());
}

#[test]
fn exceedance_chart() {
    let s = summary();
    let before = charts::exceedance_png(&s, SIZE).unwrap();
    let mut t = s.clone();
    for pt in t.exceedance[0].iter_mut() {
        pt.0 += 50.0;
    }
    check(before, charts::exceedance_png(&t, SIZE).unwrap());
}

#[test]
fn concentration_chart() {
    let s = summary();
    let before = charts::concentration_png(&s, SIZE).unwrap();
    let mut t = s.clone();
    let i = t.metrics.iter().position(|m| m.metric == "share.openai.azure").unwrap();
    t.metrics[i].p75 = 0.6;
    check(before, charts::concentration_png(&t, SIZE).unwrap());
}

#[test]
fn comparison_chart() {
    let s = summary();
    let mut other = s.clone();
    other.name = "other".into();
    let rows = report::comparison(&[&s, &other]);
    let azure: Vec<&report::ComparisonRow> = rows.iter().filter(|r| r.provider == "azure").collect();
    let before = charts::comparison_png(&azure, SIZE).unwrap();
    let mut changed = azure[1].clone();
    changed.es99 += 100.0;
    check(before, charts::comparison_png(&[azure[0], &changed], SIZE).unwrap());
}

#[test]
fn same_data_draws_the_same_bytes() {
    let s = summary();
    assert!(charts::fan_png(&s, SIZE).unwrap() == charts::fan_png(&s, SIZE).unwrap());
}

/// The chart code fed NaN, infinite and equal bounds finishes: an axis that
/// cannot be drawn is an error, equal bounds are widened and drawn (plotters
/// loops forever on an infinite axis; the guard stands before it). Each
/// case runs on a thread with a deadline, so a hang fails the test.
#[test]
fn charts_never_loop_on_nan_infinite_or_equal_bounds() {
    use std::sync::mpsc;
    use std::time::Duration;
    let cases: Vec<(f64, f64, bool)> = vec![
        (f64::NAN, 1.0, false),
        (0.0, f64::INFINITY, false),
        (f64::NEG_INFINITY, f64::INFINITY, false),
        (-1e308, 1e308, false),
        (5.0, 5.0, true),
        (0.0, 0.0, true),
        (-3.0, 7.0, true),
    ];
    for (lo, hi, draws) in cases {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let hist = report::Histogram { lo, hi, counts: vec![3, 5, 2], below: 0, above: 0 };
            let fmt = |x: f64| format!("{x:.1}");
            let plot = charts::DistributionPlot {
                file: "t.png",
                title: "t".into(),
                subtitle: "s".into(),
                xdesc: "x".into(),
                hist: &hist,
                paths: 10,
                marks: vec![charts::Mark { label: "m", x: lo, shown: None, color: charts::style::DARK, dashed: false }],
                fmt: &fmt,
            };
            let dist = charts::distribution_png(&plot, SIZE).is_ok();
            let sweep = charts::SweepPlot { title: "t", subtitle: "s", stat: "y", money: true };
            let line = charts::sweep_line_png(&sweep, "x", &[lo, hi], &[hi, lo], &[Some(1.0), None], SIZE).is_ok();
            let _ = tx.send((dist, line));
        });
        let (dist, line) = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("[{lo}, {hi}] hangs"));
        assert_eq!(dist, draws, "distribution chart over [{lo}, {hi}]");
        // The sweep chart's range skips NaN points (f64::min and max do) and
        // so draws [NaN, 1] as the single value 1.
        let line_draws = draws || (lo.is_nan() && hi.is_finite());
        assert_eq!(line, line_draws, "sweep line over [{lo}, {hi}]");
    }
}

/// Decoded RGB pixels of a chart: (width, height, bytes).
fn pixels(png_bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

fn at(img: &(usize, usize, Vec<u8>), x: usize, y: usize) -> [u8; 3] {
    let i = (y * img.0 + x) * 3;
    [img.2[i], img.2[i + 1], img.2[i + 2]]
}

/// A diamond at a starting share of 0% (meta at AWS in openai-shift) stays
/// right of the y axis, off the row labels.
#[test]
fn a_zero_share_diamond_stays_off_the_labels() {
    let s = summary();
    let img = pixels(&charts::concentration_png(&s, SIZE).unwrap());
    let (w, h) = (img.0, img.1);
    // The y axis: the column of the left half with the longest black run.
    let run = |x: usize| {
        let (mut best, mut cur) = (0, 0);
        for y in 0..h {
            cur = if at(&img, x, y) == [0, 0, 0] { cur + 1 } else { 0 };
            best = best.max(cur);
        }
        best
    };
    let axis = (0..w / 2).max_by_key(|x| run(*x)).unwrap();
    assert!(run(axis) > h / 2, "no y axis found");
    let accent = [217, 95, 2];
    let left: Vec<(usize, usize)> =
        (0..h).flat_map(|y| (0..axis).map(move |x| (x, y))).filter(|(x, y)| at(&img, *x, *y) == accent).collect();
    assert!(left.is_empty(), "{} diamond pixels left of the y axis at x = {axis}, e.g. {:?}", left.len(), left[0]);
}

/// The exceedance legend's first name starts right of its line sample: no
/// text pixel (grey) on the sample's span.
#[test]
fn the_exceedance_legend_keeps_names_off_their_samples() {
    let s = summary();
    let img = pixels(&charts::exceedance_png(&s, SIZE).unwrap());
    let (w, h) = (img.0, img.1);
    let dark = [8, 48, 107];
    // The legend's first sample: the longest run of the first series'
    // colour in the top-right quarter, inside the legend box.
    let mut best = (0, 0, 0); // (length, row, end)
    for y in 0..h / 3 {
        let mut cur = 0;
        for x in w / 2..w {
            cur = if at(&img, x, y) == dark { cur + 1 } else { 0 };
            if cur > best.0 && at(&img, x + 1, y) != dark {
                best = (cur, y, x);
            }
        }
    }
    let (len, row, end) = best;
    assert!(len >= 10, "no legend sample found");
    let grey = |p: [u8; 3]| {
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        r < 140 && (r - g).abs() < 16 && (g - b).abs() < 16
    };
    let on_sample: Vec<(usize, usize)> = (row.saturating_sub(5)..(row + 6).min(h))
        .flat_map(|y| (end + 1 - len..=end).map(move |x| (x, y)))
        .filter(|(x, y)| grey(at(&img, *x, *y)))
        .collect();
    assert!(on_sample.is_empty(), "text on the legend sample ({len} px ending at {end}, row {row}): {on_sample:?}");
}

/// The `P = 5%` guide's label sits on its line, not struck through by it:
/// no label ink in the 3 rows above the line or the 18 below it, left of the
/// curves (100,000 paths: five decades at 1,600 x 1,000, where the old
/// placement, hanging from 12% above the line, crossed it).
#[test]
fn the_exceedance_guide_labels_sit_above_their_lines() {
    let mut sc = backlog_risk::scenario::load("scenarios/openai-shift.toml".as_ref()).unwrap();
    sc.paths = 100_000;
    let s = common::run(&sc).1;
    let img = pixels(&charts::exceedance_png(&s, ChartSize { width: 1600, height: 1000 }).unwrap());
    let (w, h) = (img.0, img.1);
    let guide = [150, 150, 150];
    let count = |y: usize| (0..w).filter(|x| at(&img, *x, y) == guide).count();
    let mut rows: Vec<usize> = (0..h).filter(|y| count(*y) > w / 6).collect();
    rows.dedup_by(|a, b| a.abs_diff(*b) <= 1);
    assert_eq!(rows.len(), 2, "the 5% and 1% guides: {rows:?}");
    let line = rows[0];
    // The label's place: the first tenth of the width right of the y axis.
    let first = (0..w).find(|x| (0..h).filter(|y| at(&img, *x, *y) == [0, 0, 0]).count() > h / 2).unwrap();
    // No grey of the label's ink (the light grid is lighter) in the 3 rows
    // above the line and the 18 below it (the line itself is dotted grey),
    // from the axis over a tenth of the width: the label ends 3 px above it.
    let touching: Vec<(usize, usize)> = (line - 3..line + 19)
        .filter(|y| *y != line)
        .flat_map(|y| (first + 2..first + w / 10).map(move |x| (x, y)))
        .filter(|(x, y)| {
            let p = at(&img, *x, *y);
            p[0] == p[1] && p[1] == p[2] && p[0] <= 200
        })
        .collect();
    assert!(touching.is_empty(), "the P = 5% label touches its line (row {line}): {touching:?}");
}
