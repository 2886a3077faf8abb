//! Distribution functions and their inverses for every family, for the
//! sampling designs (Latin hypercube, Sobol' points), the Gaussian copula
//! of correlated parameters and rank statistics.
//!
//! Everything here is the crate's own arithmetic (`crate::math`) or the
//! pure-Rust `libm` crate (`erfc`, `lgamma`), never the platform's libm, so
//! a value has the same bits on every machine.
//!
//! - Normal quantile: Wichura's AS241 (`PPND16`, Applied Statistics 37(3),
//!   1988), relative error about 1e-16.
//! - Truncated normal: `Phi^-1(Phi(a) + u (Phi(b) - Phi(a)))`, computed on
//!   the upper-tail side (`Phi(-x)`) when the truncation lies mostly above
//!   the mean, so that no precision is lost to `1 - Phi`.
//! - Beta and PERT: the regularised incomplete beta `I_x(a, b)` by its
//!   continued fraction (modified Lentz), inverted by Newton's method kept
//!   inside a bisection bracket.
//! - Discrete: the quantile runs over the values in ascending order, so it
//!   is monotone (the engine's plain Monte Carlo sampler, [`Dist::invert`],
//!   keeps file order; both have the same law).

use super::{Dist, std_normal_cdf};
use crate::math;

impl Dist {
    /// `P(X <= x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            Dist::Fixed(v) => f64::from(u8::from(x >= *v)),
            Dist::Uniform { min, max } => ((x - min) / (max - min)).clamp(0.0, 1.0),
            Dist::Triangular { min, mode, max } => {
                if x <= *min {
                    0.0
                } else if x >= *max {
                    1.0
                } else if x <= *mode {
                    (x - min) * (x - min) / ((max - min) * (mode - min))
                } else {
                    1.0 - (max - x) * (max - x) / ((max - min) * (max - mode))
                }
            }
            Dist::Pert { min, max, shape, .. } | Dist::Beta { min, max, shape, .. } => {
                let [a, b] = [shape[0].shape(), shape[1].shape()];
                incomplete_beta(a, b, ((x - min) / (max - min)).clamp(0.0, 1.0))
            }
            Dist::Normal { mean, sd, min, max } => {
                if x < *min {
                    return 0.0;
                }
                if x >= *max {
                    return 1.0;
                }
                let (lo, hi) = (std_normal_cdf((min - mean) / sd), std_normal_cdf((max - mean) / sd));
                ((std_normal_cdf((x - mean) / sd) - lo) / (hi - lo)).clamp(0.0, 1.0)
            }
            Dist::LogNormal { mu, sigma, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    std_normal_cdf((math::ln(x) - mu) / sigma)
                }
            }
            Dist::Discrete { values, weights, .. } => {
                let total: f64 = weights.iter().sum();
                values.iter().zip(weights).filter(|(v, _)| **v <= x).map(|(_, w)| w).sum::<f64>() / total
            }
        }
    }

    /// The quantile function (inverse CDF) at `u` in (0, 1): the smallest
    /// `x` with `P(X <= x) >= u`, monotone in `u`. `u` is clamped into
    /// `[2^-60, 1 - 2^-53]`, so an unbounded family gives a finite value.
    pub fn quantile(&self, u: f64) -> f64 {
        let u = u.clamp(1.0 / 1_152_921_504_606_846_976.0, 1.0 - f64::EPSILON / 2.0);
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { .. } | Dist::Triangular { .. } => self.invert(u).expect("an inverted family"),
            Dist::Pert { min, max, shape, .. } | Dist::Beta { min, max, shape, .. } => {
                let [a, b] = [shape[0].shape(), shape[1].shape()];
                (min + (max - min) * inverse_incomplete_beta(a, b, u)).clamp(*min, *max)
            }
            Dist::Normal { mean, sd, min, max } => {
                if min.is_infinite() && max.is_infinite() {
                    return mean + sd * std_normal_quantile(u);
                }
                let (a, b) = ((min - mean) / sd, (max - mean) / sd);
                let z = if a + b > 0.0 {
                    // Mostly above the mean: work with upper tails Phi(-x).
                    let (qa, qb) = (std_normal_cdf(-a), std_normal_cdf(-b));
                    -std_normal_quantile(qa - u * (qa - qb))
                } else {
                    let (pa, pb) = (std_normal_cdf(a), std_normal_cdf(b));
                    std_normal_quantile(pa + u * (pb - pa))
                };
                (mean + sd * z).clamp(*min, *max)
            }
            Dist::LogNormal { mu, sigma, .. } => math::exp(mu + sigma * std_normal_quantile(u)),
            Dist::Discrete { values, weights, .. } => {
                let total: f64 = weights.iter().sum();
                let mut order: Vec<usize> = (0..values.len()).filter(|i| weights[*i] > 0.0).collect();
                order.sort_by(|i, j| values[*i].total_cmp(&values[*j]));
                let mut acc = 0.0;
                for &i in &order {
                    acc += weights[i] / total;
                    if acc >= u {
                        return values[i];
                    }
                }
                values[*order.last().expect("a weight above 0")]
            }
        }
    }
}

impl Dist {
    /// The log of the density at `x` (for a discrete law, the log of the
    /// probability of the value; for a fixed one, 0): the prior density of
    /// a path's parameters, which ranks the paths that meet a condition
    /// ("the most plausible ways there"). `-inf` outside the support.
    pub fn ln_density(&self, x: f64) -> f64 {
        use std::f64::consts::PI;
        let ln = |v: f64| if v > 0.0 { libm::log(v) } else { f64::NEG_INFINITY };
        match self {
            Dist::Fixed(_) => 0.0,
            Dist::Uniform { min, max } => {
                if (*min..=*max).contains(&x) {
                    -libm::log(max - min)
                } else {
                    f64::NEG_INFINITY
                }
            }
            Dist::Triangular { min, mode, max } => {
                if !(*min..=*max).contains(&x) {
                    f64::NEG_INFINITY
                } else if x < *mode {
                    ln(2.0 * (x - min) / ((max - min) * (mode - min)))
                } else if x > *mode {
                    ln(2.0 * (max - x) / ((max - min) * (max - mode)))
                } else {
                    ln(2.0 / (max - min))
                }
            }
            Dist::Pert { min, max, shape, .. } | Dist::Beta { min, max, shape, .. } => {
                if !(*min..=*max).contains(&x) {
                    return f64::NEG_INFINITY;
                }
                let [a, b] = [shape[0].shape(), shape[1].shape()];
                let y = (x - min) / (max - min);
                // `(a - 1) ln y` with `a = 1` is 0, also at `y = 0`.
                let term = |k: f64, v: f64| if k == 1.0 { 0.0 } else { (k - 1.0) * ln(v) };
                term(a, y) + term(b, 1.0 - y) - ln_beta(a, b) - libm::log(max - min)
            }
            Dist::Normal { mean, sd, min, max } => {
                if x < *min || x > *max {
                    return f64::NEG_INFINITY;
                }
                let z = (x - mean) / sd;
                let mass = std_normal_cdf((max - mean) / sd) - std_normal_cdf((min - mean) / sd);
                -0.5 * z * z - 0.5 * libm::log(2.0 * PI) - libm::log(*sd) - libm::log(mass)
            }
            Dist::LogNormal { mu, sigma, .. } => {
                if x <= 0.0 {
                    return f64::NEG_INFINITY;
                }
                let z = (libm::log(x) - mu) / sigma;
                -0.5 * z * z - 0.5 * libm::log(2.0 * PI) - libm::log(*sigma) - libm::log(x)
            }
            Dist::Discrete { values, weights, .. } => {
                let total: f64 = weights.iter().sum();
                ln(values.iter().zip(weights).filter(|(v, _)| **v == x).map(|(_, w)| w).sum::<f64>() / total)
            }
        }
    }
}

/// The standard normal quantile `Phi^-1(p)`, `p` in (0, 1) (AS241; its
/// coefficients as published).
#[allow(clippy::excessive_precision)]
pub fn std_normal_quantile(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = ((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
            + 45921.953931549871457)
            * r
            + 13731.693765509461125)
            * r
            + 1971.5909503065514427)
            * r
            + 133.14166789178437745)
            * r
            + 3.387132872796366608;
        let den = ((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
            + 21213.794301586595867)
            * r
            + 5394.1960214247511077)
            * r
            + 687.1870074920579083)
            * r
            + 42.313330701600911252)
            * r
            + 1.0;
        return q * num / den;
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-math::ln(tail)).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        let num = ((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734;
        let den = ((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966)
            * r
            + 0.14810397642748007459)
            * r
            + 0.68976733498510000455)
            * r
            + 1.6763848301838038494)
            * r
            + 2.05319162663775882187)
            * r
            + 1.0;
        num / den
    } else {
        let r = r - 5.0;
        let num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772;
        let den = ((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5)
            * r
            + 7.868691311456132591e-4)
            * r
            + 0.0148753612908506148525)
            * r
            + 0.13692988092273580531)
            * r
            + 0.59983220655588793769)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 { -x } else { x }
}

/// `ln B(a, b)`.
fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// The regularised incomplete beta function `I_x(a, b)`, `a, b > 0`,
/// `x` in [0, 1].
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    incomplete_beta_with(a, b, x, ln_beta(a, b))
}

/// [`incomplete_beta`] given `ln B(a, b)`.
fn incomplete_beta_with(a: f64, b: f64, x: f64, lb: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = math::exp(a * math::ln(x) + b * math::ln(1.0 - x) - lb);
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2);
    // above, use I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta by the modified Lentz
/// method (Press et al., Numerical Recipes, 3rd ed., 6.4).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=500 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for aa in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// A first guess of the `x` with `I_x(a, b) = p` (Press et al., Numerical
/// Recipes, 3rd ed., 6.14, after Abramowitz and Stegun 26.5.22): a
/// normal approximation when both shapes are at least 1, else the leading
/// term of the nearer tail.
fn initial_guess(a: f64, b: f64, p: f64) -> f64 {
    if a >= 1.0 && b >= 1.0 {
        let pp = if p < 0.5 { p } else { 1.0 - p };
        let t = (-2.0 * math::ln(pp)).sqrt();
        let mut z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t;
        if p < 0.5 {
            z = -z;
        }
        let al = (z * z - 3.0) / 6.0;
        let h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0));
        let w = z * (al + h).sqrt() / h
            - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (al + 5.0 / 6.0 - 2.0 / (3.0 * h));
        a / (a + b * math::exp(2.0 * w))
    } else {
        // I_x ~ x^a / a and 1 - I_x ~ (1 - x)^b / b up to a common factor,
        // normalised by w: the two tails' weights at the mean.
        let (ln_a, ln_b) = (math::ln(a / (a + b)), math::ln(b / (a + b)));
        let t = math::exp(a * ln_a) / a;
        let w = t + math::exp(b * ln_b) / b;
        if p < t / w { math::exp(math::ln(a * w * p) / a) } else { 1.0 - math::exp(math::ln(b * w * (1.0 - p)) / b) }
    }
}

/// The `x` in [0, 1] with `I_x(a, b) = p`: Halley steps on `I_x - p` from
/// [`initial_guess`], kept inside a bracket that bisection narrows
/// whenever a step leaves it.
pub fn inverse_incomplete_beta(a: f64, b: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let lb = ln_beta(a, b);
    let mut x = initial_guess(a, b, p);
    if !(x > 0.0 && x < 1.0) {
        x = a / (a + b);
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let f = incomplete_beta_with(a, b, x, lb) - p;
        if f == 0.0 {
            return x;
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        // Halley's step: Newton's, corrected by the density's slope
        // (f'' / f' = (a - 1) / x - (b - 1) / (1 - x)), capped as in
        // Numerical Recipes' invbetai.
        let pdf = math::exp((a - 1.0) * math::ln(x) + (b - 1.0) * math::ln(1.0 - x) - lb);
        let u = f / pdf;
        let step = x - u / (1.0 - 0.5 * (u * ((a - 1.0) / x - (b - 1.0) / (1.0 - x))).min(1.0));
        let next = if step > lo && step < hi && step.is_finite() { step } else { 0.5 * (lo + hi) };
        // Converged when the step is below 1e-15 of the distance to the
        // nearer bound (near 1, one ulp of x moves I_x by far more than
        // an ulp), or when the bracket holds no double between its ends.
        if (next - x).abs() <= 1e-15 * x.min(1.0 - x) || next == lo || next == hi {
            return next;
        }
        x = next;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<Dist> {
        let inf = f64::INFINITY;
        vec![
            Dist::uniform(2.0, 6.0).unwrap(),
            Dist::triangular(0.1, 0.2, 0.6).unwrap(),
            Dist::triangular(0.0, 0.0, 1.0).unwrap(),
            Dist::pert(0.05, 0.15, 0.40, 4.0).unwrap(),
            Dist::pert(15.0, 25.0, 45.0, 4.0).unwrap(),
            Dist::pert(0.0, 1.0, 1.0, 4.0).unwrap(),
            Dist::beta(0.5, 0.7, 0.0, 1.0).unwrap(),
            Dist::beta(2.0, 5.0, 1.0, 3.0).unwrap(),
            Dist::beta(30.0, 0.8, 0.0, 1.0).unwrap(),
            Dist::normal(0.1, 0.05, -inf, inf).unwrap(),
            Dist::normal(1.0, 2.0, 1.0, inf).unwrap(),
            Dist::normal(0.0, 1.0, 2.0, 9.0).unwrap(),
            Dist::normal(0.0, 1.0, -9.0, -2.0).unwrap(),
            Dist::normal(0.5, 0.3, 0.0, 1.0).unwrap(),
            Dist::lognormal(2.0, 0.5).unwrap(),
            Dist::lognormal(1.0, 3.0).unwrap(),
        ]
    }

    /// Probabilities from 1e-12 to 1 - 1e-9, ascending.
    fn grid() -> impl Iterator<Item = f64> {
        let mut g: Vec<f64> = [1e-12, 1e-9, 1e-6, 1e-4, 0.025, 0.975, 1.0 - 1e-4, 1.0 - 1e-6, 1.0 - 1e-9]
            .into_iter()
            .chain((1..100).map(|i| f64::from(i) / 100.0))
            .collect();
        g.sort_by(f64::total_cmp);
        g.into_iter()
    }

    #[test]
    fn quantile_inverts_the_cdf_for_every_continuous_family() {
        for d in families() {
            let mut last = f64::NEG_INFINITY;
            for u in grid() {
                let x = d.quantile(u);
                assert!(x >= last, "{d}: quantile not monotone at {u}");
                last = x;
                let (lo, hi) = d.support();
                assert!(x >= lo && x <= hi, "{d}: quantile({u}) = {x} outside {lo}..{hi}");
                let back = d.cdf(x);
                // Relative to the smaller tail, so the tails are held too,
                // plus what one ulp of x moves the CDF by (near a bound
                // where the density is unbounded, x itself is that coarse)
                // and the 1e-16 absolute precision of a probability near 1.
                let ulp = (d.cdf(x.next_up()) - d.cdf(x.next_down())).abs();
                let tail = u.min(1.0 - u);
                assert!((back - u).abs() <= 1e-9 * tail + ulp + 1e-14, "{d}: cdf(quantile({u})) = {back}");
            }
        }
    }

    #[test]
    fn cdf_is_monotone_and_matches_known_values() {
        for d in families() {
            let (lo, hi) = d.reach();
            let mut last = 0.0;
            for i in 0..=200 {
                let x = lo + (hi - lo) * f64::from(i) / 200.0;
                let f = d.cdf(x);
                assert!((0.0..=1.0).contains(&f) && f >= last - 1e-15, "{d}: cdf({x}) = {f}");
                last = f;
            }
        }
        // Closed forms: Beta(2, 1) has F = x^2; Beta(1, 1) the uniform;
        // Beta(2, 2) has F = 3x^2 - 2x^3; the median of a lognormal is e^mu.
        assert!((Dist::beta(2.0, 1.0, 0.0, 1.0).unwrap().cdf(0.3) - 0.09).abs() < 1e-14);
        assert!((Dist::beta(1.0, 1.0, 0.0, 2.0).unwrap().cdf(0.5) - 0.25).abs() < 1e-14);
        let x = 0.7;
        assert!((Dist::beta(2.0, 2.0, 0.0, 1.0).unwrap().cdf(x) - (3.0 * x * x - 2.0 * x * x * x)).abs() < 1e-14);
        let ln = Dist::lognormal(2.0, 0.5).unwrap();
        let Dist::LogNormal { mu, .. } = ln else { unreachable!() };
        assert!((ln.quantile(0.5) - mu.exp()).abs() < 1e-12);
        // Truncated at the mean: the half-normal's median is sd * 0.6745.
        let half = Dist::normal(0.0, 2.0, 0.0, f64::INFINITY).unwrap();
        assert!((half.quantile(0.5) - 2.0 * 0.674_489_750_196_081_7).abs() < 1e-12);
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.01, -2.326_347_874_040_841),
            (1e-10, -6.361_340_902_404_056),
            (0.8, 0.841_621_233_572_914_3),
        ] {
            let q = std_normal_quantile(p);
            assert!((q - z).abs() <= 1e-14 * z.abs().max(1.0), "Phi^-1({p}) = {q}, not {z}");
        }
    }

    #[test]
    fn density_is_the_slope_of_the_cdf() {
        // At interior points of every family, exp(ln_density) equals the
        // central difference of the CDF; outside the support it is -inf.
        for d in families() {
            for u in [0.05, 0.2, 0.5, 0.8, 0.95] {
                let x = d.quantile(u);
                let h = 1e-6 * x.abs().max(1e-3);
                let slope = (d.cdf(x + h) - d.cdf(x - h)) / (2.0 * h);
                let f = d.ln_density(x).exp();
                assert!(
                    (f - slope).abs() <= 1e-5 * slope.max(1e-3),
                    "{d}: density {f} at {x}, slope of the cdf {slope}"
                );
            }
            let (lo, hi) = d.support();
            if lo.is_finite() {
                assert_eq!(d.ln_density(lo - 1.0), f64::NEG_INFINITY, "{d}");
            }
            if hi.is_finite() {
                assert_eq!(d.ln_density(hi + 1.0), f64::NEG_INFINITY, "{d}");
            }
        }
        let d = Dist::discrete(vec![3.0, 0.0, 1.0], vec![1.0, 1.0, 2.0]).unwrap();
        assert_eq!(d.ln_density(1.0), 0.5f64.ln());
        assert_eq!(d.ln_density(2.0), f64::NEG_INFINITY);
        assert_eq!(Dist::fixed(4.0).unwrap().ln_density(4.0), 0.0);
    }

    #[test]
    fn discrete_quantile_is_monotone_over_sorted_values() {
        // Values out of order in the file: the quantile sorts them.
        let d = Dist::discrete(vec![3.0, 0.0, 1.0, 7.0], vec![1.0, 1.0, 2.0, 0.0]).unwrap();
        assert_eq!(d.quantile(0.1), 0.0);
        assert_eq!(d.quantile(0.25), 0.0);
        assert_eq!(d.quantile(0.26), 1.0);
        assert_eq!(d.quantile(0.75), 1.0);
        assert_eq!(d.quantile(0.76), 3.0);
        assert_eq!(d.quantile(1.0), 3.0, "a value of weight 0 is never drawn");
        assert_eq!(d.cdf(1.0), 0.75);
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(7.0), 1.0);
        for v in [0.0, 1.0, 3.0] {
            assert_eq!(d.quantile(d.cdf(v)), v);
        }
    }

    #[test]
    fn quantile_of_uniforms_has_the_family_moments() {
        // The inverse-CDF draw has the law of the family: its mean over a
        // fine stratified grid equals the closed-form mean.
        for d in families() {
            let n = 200_000;
            let m = (0..n).map(|i| d.quantile((f64::from(i) + 0.5) / f64::from(n))).sum::<f64>() / f64::from(n);
            let sd = (d.support().1 - d.support().0).min(10.0);
            assert!((m - d.mean()).abs() < 1e-3 * sd.max(d.mean().abs()), "{d}: mean {m} vs {}", d.mean());
        }
    }
}
