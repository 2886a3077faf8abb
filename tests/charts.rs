//! Charts: valid PNG of the requested size, not blank, and a change in the
//! data changes the picture. One test per chart kind.

mod common;

use backlog_risk::charts::{self, ChartSize};
use backlog_risk::report::{self, ScenarioSummary};

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
    let p = s.most_concentrated;
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
    let before = charts::comparison_png(&rows, SIZE).unwrap();
    let mut rows2 = rows.clone();
    rows2[1].es99 += 100.0;
    check(before, charts::comparison_png(&rows2, SIZE).unwrap());
}

#[test]
fn same_data_draws_the_same_bytes() {
    let s = summary();
    assert!(charts::fan_png(&s, SIZE).unwrap() == charts::fan_png(&s, SIZE).unwrap());
}
