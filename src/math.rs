//! Small numeric kernels of the hot loop.
//!
//! [`exp`] is written out here rather than taken from the platform's libm
//! for two reasons: the engine calls it once per demand index per quarter
//! (a quarter of the run time with a library call), and a plain-Rust
//! polynomial gives the same bits on every machine, which keeps pinned
//! seeded outputs stable across platforms.
//!
//! Method (Tang's table-driven algorithm, as in musl and glibc): with
//! `N = 64`, write `x = (64 m + j) ln2 / N + r`, `|r| <= ln2 / 128`, with
//! `ln2 / N` split in a high part whose product with the integer is exact and
//! a low part. Then `e^x = 2^m * 2^(j/N) * e^r`: `2^(j/N)` from a table of
//! correctly rounded values, `e^r - 1` by its Taylor polynomial of degree 5
//! (truncation below 4e-17 relative), `2^m` assembled from bits.

/// `2^(j/64)` for j in 0..64, correctly rounded (computed to 50 digits).
const TABLE: [f64; 64] = [
    f64::from_bits(0x3ff0000000000000),
    f64::from_bits(0x3ff02c9a3e778061),
    f64::from_bits(0x3ff059b0d3158574),
    f64::from_bits(0x3ff0874518759bc8),
    f64::from_bits(0x3ff0b5586cf9890f),
    f64::from_bits(0x3ff0e3ec32d3d1a2),
    f64::from_bits(0x3ff11301d0125b51),
    f64::from_bits(0x3ff1429aaea92de0),
    f64::from_bits(0x3ff172b83c7d517b),
    f64::from_bits(0x3ff1a35beb6fcb75),
    f64::from_bits(0x3ff1d4873168b9aa),
    f64::from_bits(0x3ff2063b88628cd6),
    f64::from_bits(0x3ff2387a6e756238),
    f64::from_bits(0x3ff26b4565e27cdd),
    f64::from_bits(0x3ff29e9df51fdee1),
    f64::from_bits(0x3ff2d285a6e4030b),
    f64::from_bits(0x3ff306fe0a31b715),
    f64::from_bits(0x3ff33c08b26416ff),
    f64::from_bits(0x3ff371a7373aa9cb),
    f64::from_bits(0x3ff3a7db34e59ff7),
    f64::from_bits(0x3ff3dea64c123422),
    f64::from_bits(0x3ff4160a21f72e2a),
    f64::from_bits(0x3ff44e086061892d),
    f64::from_bits(0x3ff486a2b5c13cd0),
    f64::from_bits(0x3ff4bfdad5362a27),
    f64::from_bits(0x3ff4f9b2769d2ca7),
    f64::from_bits(0x3ff5342b569d4f82),
    f64::from_bits(0x3ff56f4736b527da),
    f64::from_bits(0x3ff5ab07dd485429),
    f64::from_bits(0x3ff5e76f15ad2148),
    f64::from_bits(0x3ff6247eb03a5585),
    f64::from_bits(0x3ff6623882552225),
    f64::from_bits(0x3ff6a09e667f3bcd),
    f64::from_bits(0x3ff6dfb23c651a2f),
    f64::from_bits(0x3ff71f75e8ec5f74),
    f64::from_bits(0x3ff75feb564267c9),
    f64::from_bits(0x3ff7a11473eb0187),
    f64::from_bits(0x3ff7e2f336cf4e62),
    f64::from_bits(0x3ff82589994cce13),
    f64::from_bits(0x3ff868d99b4492ed),
    f64::from_bits(0x3ff8ace5422aa0db),
    f64::from_bits(0x3ff8f1ae99157736),
    f64::from_bits(0x3ff93737b0cdc5e5),
    f64::from_bits(0x3ff97d829fde4e50),
    f64::from_bits(0x3ff9c49182a3f090),
    f64::from_bits(0x3ffa0c667b5de565),
    f64::from_bits(0x3ffa5503b23e255d),
    f64::from_bits(0x3ffa9e6b5579fdbf),
    f64::from_bits(0x3ffae89f995ad3ad),
    f64::from_bits(0x3ffb33a2b84f15fb),
    f64::from_bits(0x3ffb7f76f2fb5e47),
    f64::from_bits(0x3ffbcc1e904bc1d2),
    f64::from_bits(0x3ffc199bdd85529c),
    f64::from_bits(0x3ffc67f12e57d14b),
    f64::from_bits(0x3ffcb720dcef9069),
    f64::from_bits(0x3ffd072d4a07897c),
    f64::from_bits(0x3ffd5818dcfba487),
    f64::from_bits(0x3ffda9e603db3285),
    f64::from_bits(0x3ffdfc97337b9b5f),
    f64::from_bits(0x3ffe502ee78b3ff6),
    f64::from_bits(0x3ffea4afa2a490da),
    f64::from_bits(0x3ffefa1bee615a27),
    f64::from_bits(0x3fff50765b6e4540),
    f64::from_bits(0x3fffa7c1819e90d8),
];

/// `e^x`, within 2 ulp of the exact value for `-708 <= x <= 709`; arguments
/// outside are clamped to that range (the engine never comes near it).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // ln 2 / 64 in two parts; the high part has 32 significant bits, so its
    // product with any |k| < 2^21 is exact.
    const LN2_HI_N: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000) / 64.0;
    const LN2_LO_N: f64 = f64::from_bits(0x3dea_39ef_3579_3c76) / 64.0;
    const N_OVER_LN2: f64 = 64.0 / std::f64::consts::LN_2;
    // Adding and removing 1.5 * 2^52 rounds to the nearest integer.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 709.0);
    let kf = (x * N_OVER_LN2 + ROUND) - ROUND;
    let r = (x - kf * LN2_HI_N) - kf * LN2_LO_N;
    let q = r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))));
    let k = kf as i64;
    let t = TABLE[(k & 63) as usize];
    // k >> 6 is in [-1022, 1023] after the clamp, so 2^(k >> 6) is normal.
    let scale = f64::from_bits((((k >> 6) + 1023) as u64) << 52);
    (t + t * q) * scale
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

    #[test]
    fn exp_exact_points() {
        assert_eq!(exp(0.0), 1.0);
        assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
        assert!(ulps(exp(std::f64::consts::LN_2), 2.0) <= 1);
    }
}
