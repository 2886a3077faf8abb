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
