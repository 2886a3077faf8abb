//! Small numeric kernels of the hot loop: `exp`, `ln`, `sin`/`cos` of
//! `2 pi x` and the Box-Muller normal pair, in double precision and (module
//! [`single`]) in single precision, which the kernel's demand shocks use
//! (`docs/streams.md` states the error bound).
//!
//! They are written out here rather than taken from the platform's libm for
//! two reasons: the engine calls them for every demand index and quarter (a
//! library call would cost a quarter of the run time and would not
//! vectorise), and plain-Rust polynomials built from `+ - * / sqrt` only
//! (no fused multiply-add, whose presence differs between targets) give the
//! same bits on every machine, at every SIMD width and in the scalar
//! reference path.
//!
//! Each function reduces its argument to a short interval and evaluates a
//! polynomial there. The coefficients are Chebyshev fits computed with
//! mpmath (`chebyfit`, 40 digits, then rounded to `f64`) on exactly these
//! intervals; the fit error is given per function and lies below the
//! rounding error of the evaluation. Polynomials are evaluated by Estrin's
//! scheme (pairs `c[2j] + x c[2j+1]`, then the same in `x^2`, ...), whose
//! short dependency chains keep the SIMD units busy.
//!
//! [`exp`]: `x = k ln2 + r`, `|r| <= ln2 / 2`, with `ln2` split in a high part
//! whose product with `k` is exact and a low part; `e^r` by a degree-11
//! polynomial (fit error 3e-18 relative; no table, so a loop over SIMD
//! lanes vectorises), `2^k` assembled from bits.
//!
//! [`ln`]: `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))`, `s = (m - 1)/(m + 1)`,
//! `ln m = 2 atanh s = 2 s p(s^2)`, `|s| < 0.1716`, `p` of degree 7 in `s^2`
//! (fit error 1.2e-18 relative).
//!
//! [`sincos_2pi`]: `x` in `[-1/2, 1/2]` is split into a quarter turn
//! `k = round(4x)` and `y = x - k/4` in `[-1/8, 1/8]` (exact), `a = 2 pi y`;
//! `sin a = a p(a^2)` and `cos a = q(a^2)` on `|a| <= pi/4`, `p` of degree 6
//! (fit error 3e-18) and `q` of degree 7 (3e-20), then a rotation by `k`
//! quarter turns.

/// `sum c[i] x^i` by Estrin's scheme: `c[2j] + x c[2j + 1]` for every pair,
/// then the same with those sums as coefficients in `x^2`, and so on. The
/// loops have constant bounds and unroll into straight-line code.
#[inline(always)]
fn poly<T, const N: usize>(x: T, c: &[T; N]) -> T
where
    T: Copy + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    let mut c = *c;
    let (mut n, mut x) = (N, x);
    while n > 1 {
        let m = n.div_ceil(2);
        for j in 0..m {
            c[j] = if 2 * j + 1 < n { c[2 * j] + x * c[2 * j + 1] } else { c[2 * j] };
        }
        n = m;
        x = x * x;
    }
    c[0]
}

/// `e^r` on `|r| <= ln2 / 2`.
const EXP: [f64; 12] = [
    1.0,
    1.0,
    0.5000000000000019,
    0.1666666666666668,
    0.0416666666664881,
    0.008333333333319601,
    0.0013888888952314775,
    0.00019841269890047113,
    2.4801485482328494e-05,
    2.755724091857897e-06,
    2.763263963904103e-07,
    2.5110037605963777e-08,
];

/// `atanh(s) / s` in powers of `s^2`, `|s| <= 0.1716`.
const LN_ATANH: [f64; 8] = [
    1.0,
    0.33333333333333826,
    0.19999999999650495,
    0.1428571438047364,
    0.11111098512038049,
    0.0909181672791258,
    0.07656240302054687,
    0.07405103746563946,
];

/// `sin(a) / a` in powers of `a^2`, `|a| <= pi/4`.
const SIN: [f64; 7] = [
    1.0,
    -0.16666666666666616,
    0.008333333333320363,
    -0.000198412698286503,
    2.755731337640013e-06,
    -2.5050716974102745e-08,
    1.5894736651849094e-10,
];

/// `cos(a)` in powers of `a^2`, `|a| <= pi/4`.
const COS: [f64; 8] = [
    1.0,
    -0.5,
    0.04166666666666645,
    -0.0013888888888861095,
    2.4801587283881152e-05,
    -2.7557313097790086e-07,
    2.0875582380663952e-09,
    -1.1353379638297575e-11,
];

/// `e^x`, within 2 ulp of the exact value for `-708 <= x <= 709`; arguments
/// outside are clamped to that range (the engine never comes near it).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // ln 2 in two parts; the high part has 32 significant bits, so its
    // product with any |k| < 2^21 is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Adding and removing 1.5 * 2^52 rounds to the nearest integer.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 709.0);
    let y = x * std::f64::consts::LOG2_E + ROUND;
    let kf = y - ROUND;
    // y and ROUND share their exponent, so the difference of their bits is
    // k as an integer (no float-to-int conversion: it would not vectorise).
    let k = (y.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let p = poly(r, &EXP);
    // k is in [-1021, 1023] after the clamp, so 2^k is a normal number.
    let scale = f64::from_bits(((k + 1023) as u64) << 52);
    p * scale
}

/// Natural logarithm of a positive normal `x`, within a few ulp.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let bits = x.to_bits();
    // Mantissa scaled into [1, 2), then into [sqrt(1/2), sqrt(2)). The
    // biased exponent becomes a float exactly through the bits of 2^52 + e.
    let biased = f64::from_bits(TWO52.to_bits() | ((bits >> 52) & 0x7ff)) - TWO52;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = biased - 1023.0 + if big { 1.0 } else { 0.0 };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = poly(s2, &LN_ATANH);
    e * LN2_HI + (e * LN2_LO + 2.0 * s * p)
}

/// `(cos 2 pi x, sin 2 pi x)` for `x` in `[-1/2, 1/2]`.
#[inline(always)]
pub fn sincos_2pi(x: f64) -> (f64, f64) {
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let k = (x * 4.0 + ROUND) - ROUND;
    let a = (x - k * 0.25) * std::f64::consts::TAU;
    let a2 = a * a;
    let s = a * poly(a2, &SIN);
    let c = poly(a2, &COS);
    // Rotate by k quarter turns, k in -2..=2.
    let (c, s) = if k == 1.0 {
        (-s, c)
    } else if k == -1.0 {
        (s, -c)
    } else if k == 0.0 {
        (c, s)
    } else {
        (-c, -s)
    };
    (c, s)
}

/// Two independent standard normals from two 32-bit words (Box-Muller):
/// `r = sqrt(-2 ln u)`, `(r cos 2 pi v, r sin 2 pi v)` with `u` from `w0`
/// in (0, 1) and `v` from `w1` in (-1/2, 1/2). `|z| <= 6.67`.
#[inline(always)]
pub fn normal_pair(w0: u32, w1: u32) -> (f64, f64) {
    let u = crate::rng::unit(w0);
    let v = crate::rng::unit(w1) - 0.5;
    let r = (-2.0 * ln(u)).sqrt();
    let (c, s) = sincos_2pi(v);
    (r * c, r * s)
}

/// Single-precision versions of [`exp`], [`ln`], [`sincos_2pi`] and
/// [`normal_pair`], for the kernel's demand shocks, which need about seven
/// significant digits, not sixteen (issue 31: twice the lanes per vector,
/// shorter polynomials, a faster `sqrt`; the shock's maths costs less than
/// half as much). Built the same way, from `+ - * / sqrt`
/// in `f32` with no fused multiply-add, so they too give the same bits on
/// every machine and SIMD width. The polynomials are Taylor series
/// truncated where the next term is below a tenth of an `f32` ulp on the
/// reduced interval (bounds in each function); the reductions are exact as
/// in the `f64` functions.
pub mod single {
    use super::poly;

    /// ln 2 in two parts; the high part has 16 significant bits, so its
    /// product with any |k| < 2^8 is exact.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    /// Adding and removing 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;

    /// `e^x` within 2 ulp (f32) for `-87 <= x <= 88`; arguments outside are
    /// clamped. `e^r` on `|r| <= ln2 / 2` by Taylor to `r^7` (the next
    /// term is below `4e-9` of the result).
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        const C: [f32; 8] = [1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];
        let x = x.clamp(-87.0, 88.0);
        let y = x * std::f32::consts::LOG2_E + ROUND;
        let kf = y - ROUND;
        let k = (y.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
        let r = (x - kf * LN2_HI) - kf * LN2_LO;
        // k is in [-126, 127] after the clamp, so 2^k is a normal number.
        poly(r, &C) * f32::from_bits(((k + 127) as u32) << 23)
    }

    /// Natural logarithm of a positive normal `x`, within a few ulp (f32):
    /// `2 atanh s` by Taylor to `s^9` on `|s| <= 0.1716` (the next term is
    /// below `2e-9` of the result).
    #[inline(always)]
    pub fn ln(x: f32) -> f32 {
        const TWO23: f32 = 8_388_608.0;
        const C: [f32; 5] = [1.0, 1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0];
        let bits = x.to_bits();
        let biased = f32::from_bits(TWO23.to_bits() | ((bits >> 23) & 0xff)) - TWO23;
        let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
        let big = m > std::f32::consts::SQRT_2;
        let m = if big { m * 0.5 } else { m };
        let e = biased - 127.0 + if big { 1.0 } else { 0.0 };
        let s = (m - 1.0) / (m + 1.0);
        let p = poly(s * s, &C);
        e * LN2_HI + (e * LN2_LO + 2.0 * s * p)
    }

    /// `(cos 2 pi x, sin 2 pi x)` for `x` in `[-1/2, 1/2]`: Taylor to `a^9`
    /// (sin) and `a^10` (cos) on `|a| <= pi/4` (next terms below `2e-9`).
    #[inline(always)]
    pub fn sincos_2pi(x: f32) -> (f32, f32) {
        const SIN: [f32; 5] = [1.0, -1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362_880.0];
        const COS: [f32; 6] = [1.0, -1.0 / 2.0, 1.0 / 24.0, -1.0 / 720.0, 1.0 / 40_320.0, -1.0 / 3_628_800.0];
        let k = (x * 4.0 + ROUND) - ROUND;
        let a = (x - k * 0.25) * std::f32::consts::TAU;
        let a2 = a * a;
        let (s, c) = (a * poly(a2, &SIN), poly(a2, &COS));
        if k == 1.0 {
            (-s, c)
        } else if k == -1.0 {
            (s, -c)
        } else if k == 0.0 {
            (c, s)
        } else {
            (-c, -s)
        }
    }

    /// A uniform in (0, 1) from the top 23 bits of `w`: `(w >> 9) + 1/2`
    /// times `2^-23`, exact in `f32`, never 0 or 1.
    #[inline(always)]
    pub fn unit(w: u32) -> f32 {
        ((w >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0)
    }

    /// Four standard normals from one Philox output.
    #[inline(always)]
    pub fn normals4(w: [u32; 4]) -> [f32; 4] {
        let (a, b) = normal_pair(w[0], w[1]);
        let (c, d) = normal_pair(w[2], w[3]);
        [a, b, c, d]
    }

    /// [`super::normal_pair`] in single precision, from the top 23 bits of
    /// each word: `|z| <= sqrt(48 ln 2) = 5.77`.
    #[inline(always)]
    pub fn normal_pair(w0: u32, w1: u32) -> (f32, f32) {
        let r = (-2.0 * ln(unit(w0))).sqrt();
        let (c, s) = sincos_2pi(unit(w1) - 0.5);
        (r * c, r * s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    proptest! {
        #[test]
        fn exp_is_within_two_ulp_of_std(x in -700.0f64..700.0) {
            prop_assert!(ulps(exp(x), x.exp()) <= 2, "exp({x}) = {} vs {}", exp(x), x.exp());
        }

        #[test]
        fn exp_is_accurate_for_quarterly_shocks(x in -2.0f64..2.0) {
            prop_assert!(ulps(exp(x), x.exp()) <= 2);
        }
    }

    proptest! {
        #[test]
        fn ln_is_within_two_ulp_of_std(x in 1e-300f64..1e300) {
            prop_assert!(ulps(ln(x), x.ln()) <= 2 || (ln(x) - x.ln()).abs() < 1e-15, "ln({x}) = {} vs {}", ln(x), x.ln());
        }

        #[test]
        fn ln_of_uniforms(w in any::<u32>()) {
            let u = crate::rng::unit(w);
            prop_assert!((ln(u) - u.ln()).abs() <= 4.0 * f64::EPSILON * u.ln().abs().max(1e-300));
        }

        #[test]
        fn sincos_matches_std(x in -0.5f64..=0.5) {
            let (c, s) = sincos_2pi(x);
            // The reference's own argument `x * TAU` is rounded, by up to
            // half an ulp of `a` (|a| eps / 2); cos and sin pass that on at
            // slope at most 1, so it is added to the bound.
            let a = x * std::f64::consts::TAU;
            let tol = 4e-16 + a.abs() * f64::EPSILON / 2.0;
            prop_assert!((c - a.cos()).abs() < tol && (s - a.sin()).abs() < tol, "x = {x}: {c} {s}");
        }
    }

    #[test]
    fn box_muller_normals_have_normal_moments() {
        // 400,000 normals from consecutive words of one stream.
        let k = crate::rng::key(1, "normals");
        let zs: Vec<f64> = (0..100_000u32)
            .flat_map(|i| {
                let w = crate::rng::philox([i, 0, 0, 0], k);
                let ((a, b), (c, d)) = (normal_pair(w[0], w[1]), normal_pair(w[2], w[3]));
                [a, b, c, d]
            })
            .collect();
        let n = zs.len() as f64;
        let m = zs.iter().sum::<f64>() / n;
        let v = zs.iter().map(|z| (z - m).powi(2)).sum::<f64>() / (n - 1.0);
        let k4 = zs.iter().map(|z| z.powi(4)).sum::<f64>() / n;
        let tail = zs.iter().filter(|z| z.abs() > 1.959_963_984_540_054).count() as f64 / n;
        assert!(m.abs() < 5.0 / n.sqrt(), "mean {m}");
        assert!((v - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "variance {v}");
        assert!((k4 - 3.0).abs() < 5.0 * (96.0 / n).sqrt(), "fourth moment {k4}");
        assert!((tail - 0.05).abs() < 5.0 * (0.05f64 * 0.95 / n).sqrt(), "P(|z| > 1.96) = {tail}");
        assert!(zs.iter().all(|z| z.abs() <= 6.67));
    }

    fn ulps32(a: f32, b: f32) -> u32 {
        (a.to_bits() as i32 - b.to_bits() as i32).unsigned_abs()
    }

    proptest! {
        #[test]
        fn single_exp_is_within_two_ulp(x in -87.0f32..88.0) {
            let want = f64::from(x).exp() as f32;
            prop_assert!(ulps32(single::exp(x), want) <= 2, "exp({x}) = {} vs {want}", single::exp(x));
        }

        #[test]
        #[test]
        fn single_sincos_is_within_2e_7(x in -0.5f32..=0.5) {
            let (c, s) = single::sincos_2pi(x);
            // The reduced argument `a` carries the rounding of `2 pi` in
            // f32 and of the product (|a| <= pi/4: under 1e-7), the
            // polynomials a few roundings of results below 1.
            let a = f64::from(x) * std::f64::consts::TAU;
            let close = |got: f32, want: f64| (f64::from(got) - want).abs() < 2e-7;
            prop_assert!(close(c, a.cos()) && close(s, a.sin()), "x = {x}: {c} {s}");
        }

        #[test]
        fn single_normals_agree_with_double_ones_of_the_same_uniforms(w0 in any::<u32>(), w1 in any::<u32>()) {
            // The double-precision Box-Muller of the same two f32 uniforms.
            let (u, v) = (f64::from(single::unit(w0)), f64::from(single::unit(w1)) - 0.5);
            let r = (-2.0 * u.ln()).sqrt();
            let a = v * std::f64::consts::TAU;
            let (z0, z1) = single::normal_pair(w0, w1);
            for (got, want) in [(z0, r * a.cos()), (z1, r * a.sin())] {
                prop_assert!((f64::from(got) - want).abs() <= 1e-6 * want.abs().max(0.5), "{got} vs {want}");
            }
        }
    }

    proptest! {
        /// The bound `docs/streams.md` states: a quarter's shock factor
        /// `exp(vol eps)`, computed as the kernel does (single precision),
        /// within 1e-6 (relative) of the same factor in double precision
        /// from the same uniforms, for volatilities up to 100% a year.
        #[test]
        fn a_quarters_single_precision_shock_factor_is_within_1e_6(
            w in any::<[u32; 4]>(), sigma in 0.0f64..1.0, beta in -1.0f64..1.0,
        ) {
            let (vol, load, idio) = (sigma * 0.5, beta, (1.0 - beta * beta).max(0.0).sqrt());
            let [z, xi, ..] = single::normals4(w);
            let eps = load as f32 * z + idio as f32 * xi;
            let got = f64::from(single::exp(vol as f32 * eps));
            // Box-Muller in double precision of the same two uniforms.
            let (u, v) = (f64::from(single::unit(w[0])), f64::from(single::unit(w[1])) - 0.5);
            let (r, a) = ((-2.0 * u.ln()).sqrt(), v * std::f64::consts::TAU);
            let (z, xi) = (r * a.cos(), r * a.sin());
            let want = (vol * (load * z + idio * xi)).exp();
            prop_assert!((got / want - 1.0).abs() <= 1e-6, "{got} vs {want}");
        }
    }

    /// Every one of the 2^23 single-precision uniforms: `ln` within 4
    /// epsilon (relative; the rounding of `m + 1` and of the quotient `s`
    /// carry over, as in the f64 `ln`), and `sincos_2pi` of `u - 1/2`
    /// within 2e-7 (the reduced argument carries the rounding of `2 pi`
    /// in f32 and of the product, under 1e-7 for `|a| <= pi/4`).
    #[test]
    fn single_ln_and_sincos_of_every_uniform() {
        let (mut worst_ln, mut worst_trig) = (0.0f64, 0.0f64);
        for k in 0..1u32 << 23 {
            let u = single::unit(k << 9);
            let want = f64::from(u).ln();
            worst_ln = worst_ln.max((f64::from(single::ln(u)) - want).abs() / want.abs());
            let v = u - 0.5;
            let (c, s) = single::sincos_2pi(v);
            let a = f64::from(v) * std::f64::consts::TAU;
            worst_trig = worst_trig.max((f64::from(c) - a.cos()).abs()).max((f64::from(s) - a.sin()).abs());
        }
        assert!(worst_ln <= 4.0 * f64::from(f32::EPSILON), "ln: relative error {worst_ln}");
        assert!(worst_trig < 2e-7, "sincos: error {worst_trig}");
    }

    #[test]
    fn exp_exact_points() {
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
        assert!(ulps(exp(std::f64::consts::LN_2), 2.0) <= 1);
    }
}
