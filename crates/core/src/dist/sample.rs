//! Sampling, with the crate's own arithmetic only (`crate::math`: no
//! platform libm), so that a draw has the same bits on every machine.
//!
//! A draw reads the words of its stream four at a time. Every family first
//! tries the first four words ([`Dist::first_try`]), a pure function of them
//! that the block kernel evaluates lane by lane; only when that try is
//! rejected (a truncated normal outside its bounds, a gamma rejection, a
//! shape below 1) does [`Dist::sample`] read further words. So the kernel
//! and [`Dist::sample`] give the same bits, and the rare lanes that need
//! more words run [`Dist::sample`] itself.
//!
//! - Fixed: no words.
//! - Uniform, triangular, discrete: the inverse CDF ([`Dist::invert`]) at a
//!   53-bit uniform from words 0 and 1.
//! - Normal: Box-Muller normals, two from each pair of words, tried in turn
//!   until one falls inside the truncation.
//! - Lognormal: `exp(mu + sigma z)`, `z` the first Box-Muller normal.
//! - Beta and PERT: `X / (X + Y)` for gammas `X ~ G(alpha)`, `Y ~ G(beta)`
//!   drawn by Marsaglia and Tsang's method ("A simple method for generating
//!   gamma variables", ACM TOMS 26(3), 2000): the first try of `X` takes
//!   the normal from words 0-1 and the uniform of word 2, that of `Y` the
//!   second normal and word 3; a rejected gamma retries on the next blocks
//!   (one normal and one uniform a block), `X` first. A shape `a < 1` is
//!   drawn as `G(a + 1) U^(1/a)`, `U` from one more word.

use rand::Rng;

use super::Dist;
use crate::math;
use crate::rng::{unit, unit53};

/// A gamma distribution of shape `a` (scale 1), prepared for Marsaglia and
/// Tsang's method.
#[derive(Debug, Clone, PartialEq)]
pub struct Gamma {
    /// The shape `a`.
    a: f64,
    /// `a' - 1/3`, `a' = a` or `a + 1` when `a < 1`.
    d: f64,
    /// `1 / (3 sqrt(d))`.
    c: f64,
    /// `1 / a` when `a < 1` (the `U^(1/a)` boost), else 0.
    boost: f64,
}

impl Gamma {
    /// Shape `a > 0` (checked by the constructors of [`Dist`]).
    pub fn new(a: f64) -> Self {
        let (shape, boost) = if a < 1.0 { (a + 1.0, 1.0 / a) } else { (a, 0.0) };
        let d = shape - 1.0 / 3.0;
        Gamma { a, d, c: 1.0 / (3.0 * d.sqrt()), boost }
    }

    /// The shape `a`.
    pub fn shape(&self) -> f64 {
        self.a
    }

    /// One try from a standard normal `z` and a uniform `u` in (0, 1):
    /// `(d v, accepted)`, `v = (1 + c z)^3`. Both tests of the method are
    /// evaluated (no short cut), which gives the same decision and lets a
    /// loop over lanes vectorise.
    #[inline(always)]
    fn attempt(&self, z: f64, u: f64) -> (f64, bool) {
        let t = 1.0 + self.c * z;
        let v = t * t * t;
        let z2 = z * z;
        let positive = v > 0.0;
        let ln_v = math::ln(if positive { v } else { 1.0 });
        let squeeze = u < 1.0 - 0.0331 * (z2 * z2);
        let full = math::ln(u) < 0.5 * z2 + self.d * (1.0 - v + ln_v);
        (self.d * v, positive & (squeeze | full))
    }

    /// Tries on further blocks of words until one is accepted.
    fn retry<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        loop {
            let w = block(rng);
            let (z, _) = math::normal_pair(w[0], w[1]);
            if let (x, true) = self.attempt(z, unit(w[2])) {
                return x;
            }
        }
    }

    /// The boost `U^(1/a)` for a shape below 1, from one more word.
    fn boosted<R: Rng + ?Sized>(&self, x: f64, rng: &mut R) -> f64 {
        if self.boost == 0.0 { x } else { x * math::exp(math::ln(unit(rng.next_u32())) * self.boost) }
    }
}

/// The first try of a beta on `[min, max]` (see the module header).
#[inline(always)]
fn beta_try(min: f64, max: f64, [ga, gb]: &[Gamma; 2], w: [u32; 4]) -> (f64, bool) {
    let (z0, z1) = math::normal_pair(w[0], w[1]);
    let (x, ok_x) = ga.attempt(z0, unit(w[2]));
    let (y, ok_y) = gb.attempt(z1, unit(w[3]));
    let plain = ga.boost == 0.0 && gb.boost == 0.0;
    (min + (max - min) * (x / (x + y)), ok_x & ok_y & plain)
}

/// The next four words of a stream.
#[inline]
fn block<R: Rng + ?Sized>(rng: &mut R) -> [u32; 4] {
    [rng.next_u32(), rng.next_u32(), rng.next_u32(), rng.next_u32()]
}

impl Dist {
    /// Draw one value from `rng` (in the engine, the parameter's or the
    /// event's keyed stream).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if let Dist::Fixed(v) = self {
            return *v;
        }
        let w = block(rng);
        if let (x, true) = self.first_try(w) {
            return x;
        }
        match self {
            Dist::Normal { mean, sd, min, max } => {
                let mut w = w;
                loop {
                    for (a, b) in [(w[0], w[1]), (w[2], w[3])] {
                        let (z0, z1) = math::normal_pair(a, b);
                        for z in [z0, z1] {
                            let x = mean + sd * z;
                            if x >= *min && x <= *max {
                                return x;
                            }
                        }
                    }
                    w = block(rng);
                }
            }
            Dist::Pert { min, max, shape, .. } | Dist::Beta { min, max, shape, .. } => {
                let (z0, z1) = math::normal_pair(w[0], w[1]);
                let [ga, gb] = shape;
                let x = match ga.attempt(z0, unit(w[2])) {
                    (x, true) => x,
                    _ => ga.retry(rng),
                };
                let y = match gb.attempt(z1, unit(w[3])) {
                    (y, true) => y,
                    _ => gb.retry(rng),
                };
                let (x, y) = (ga.boosted(x, rng), gb.boosted(y, rng));
                min + (max - min) * (x / (x + y))
            }
            _ => unreachable!("every other family is accepted on its first try"),
        }
    }

    /// The value from the first four words of the stream and whether it is
    /// final (see the module header); when it is not, [`Dist::sample`] goes
    /// on from there.
    #[inline(always)]
    pub fn first_try(&self, w: [u32; 4]) -> (f64, bool) {
        match self {
            Dist::Fixed(v) => (*v, true),
            Dist::Uniform { .. } | Dist::Triangular { .. } | Dist::Discrete { .. } => {
                (self.invert(unit53(w[0], w[1])).expect("an inverted family"), true)
            }
            Dist::Normal { mean, sd, min, max } => {
                let x = mean + sd * math::normal_pair(w[0], w[1]).0;
                (x, x >= *min && x <= *max)
            }
            Dist::LogNormal { mu, sigma, .. } => (math::exp(mu + sigma * math::normal_pair(w[0], w[1]).0), true),
            Dist::Pert { min, max, shape, .. } | Dist::Beta { min, max, shape, .. } => beta_try(*min, *max, shape, w),
        }
    }

    /// [`Dist::first_try`] of every lane of a block: `w[j][l]` is word `j`
    /// of lane `l`. The family is matched once, outside the lane loops, so
    /// that they vectorise.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    pub fn first_try_lanes<const L: usize>(&self, w: &[[u32; L]; 4], out: &mut [f64; L]) -> [bool; L] {
        let mut ok = [true; L];
        let lane = |l: usize| [w[0][l], w[1][l], w[2][l], w[3][l]];
        match self {
            Dist::Fixed(v) => *out = [*v; L],
            Dist::Uniform { min, max } => {
                for l in 0..L {
                    out[l] = min + (max - min) * unit53(w[0][l], w[1][l]);
                }
            }
            Dist::Pert { min, max, shape, .. } | Dist::Beta { min, max, shape, .. } => {
                for l in 0..L {
                    (out[l], ok[l]) = beta_try(*min, *max, shape, lane(l));
                }
            }
            _ => {
                for l in 0..L {
                    (out[l], ok[l]) = self.first_try(lane(l));
                }
            }
        }
        ok
    }

    /// True for the families sampled by inverting one 53-bit uniform (see
    /// [`Dist::invert`]).
    pub fn is_inverted(&self) -> bool {
        matches!(self, Dist::Uniform { .. } | Dist::Triangular { .. } | Dist::Discrete { .. })
    }

    /// The inverse CDF at `u` in [0, 1) for the families that are sampled
    /// that way (uniform, triangular, discrete), `None` for the others.
    #[inline(always)]
    pub fn invert(&self, u: f64) -> Option<f64> {
        Some(match self {
            Dist::Uniform { min, max } => min + (max - min) * u,
            Dist::Triangular { min, mode, max } => {
                let f = (mode - min) / (max - min);
                if u < f {
                    min + ((max - min) * (mode - min) * u).sqrt()
                } else {
                    max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
                }
            }
            Dist::Discrete { values, cumulative, .. } => {
                let i = cumulative.partition_point(|c| *c <= u).min(values.len() - 1);
                values[i]
            }
            _ => return None,
        })
    }
}
