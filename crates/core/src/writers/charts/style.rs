//! One place for the look of every chart: a palette whose colours differ in
//! lightness (so series stay apart in grey-scale print) and line patterns.

use plotters::style::RGBColor;

/// Dark navy: medians, main lines.
pub const DARK: RGBColor = RGBColor(8, 48, 107);
/// Mid blue: inner bands, bars.
pub const MID: RGBColor = RGBColor(66, 146, 198);
/// Pale blue: outer bands.
pub const LIGHT: RGBColor = RGBColor(198, 219, 239);
/// Orange: risk marks (VaR, ES) and starting values.
pub const ACCENT: RGBColor = RGBColor(217, 95, 2);
/// Grey: the plan and reference lines.
pub const GREY: RGBColor = RGBColor(110, 110, 110);
/// Text and axes.
pub const INK: RGBColor = RGBColor(30, 30, 30);

/// Series colours, from dark to light, with alternating hue.
pub const SERIES: [RGBColor; 6] = [DARK, ACCENT, MID, GREY, RGBColor(117, 107, 177), RGBColor(27, 158, 119)];

/// Whether series `i` is drawn dashed (every other one), for grey-scale.
pub fn dashed(i: usize) -> bool {
    i % 2 == 1
}
