//! Probability distributions for uncertain scenario parameters.
//!
//! Every numeric parameter of a scenario is a [`Dist`]: a plain number or one
//! of the families of MODEL.md. All checks happen in [`Dist::new`]-style
//! constructors ([`Dist::uniform`], [`Dist::pert`], ...), which return a
//! [`DistError`] stating the broken requirement; after that, sampling cannot
//! fail. Comparisons are written so that NaN is rejected.
//!
//! Closed forms used here (for the plan baseline and the tests):
//! - PERT on `[a, b]` with mode `m` and shape `l` is `a + (b - a) Beta(1 + l (m - a)/(b - a), 1 + l (b - m)/(b - a))`,
//!   mean `(a + l m + b) / (l + 2)`.
//! - Lognormal from the mean `m` and sd `s` of the variable itself:
//!   `sigma^2 = ln(1 + s^2/m^2)`, `mu = ln m - sigma^2/2`.
//! - Normal truncated to `[a, b]`: mean `mu + sd (phi(alpha) - phi(beta)) / (Phi(beta) - Phi(alpha))`.

mod cdf;
mod sample;

pub use cdf::{incomplete_beta, inverse_incomplete_beta, std_normal_quantile};

pub use sample::Gamma;

/// Smallest probability mass a truncated normal may keep; below this the
/// rejection sampler would be slow and the input is almost surely a mistake.
pub const MIN_TRUNCATED_MASS: f64 = 0.01;

/// The largest `|z|` of a normal deviate made by Box-Muller from two 32-bit
/// words (`sqrt(-2 ln(0.5 / 2^32)) = 6.77`), rounded up.
pub const Z_REACH: f64 = 6.8;

/// A validated distribution of one parameter; sampled once per path.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    Triangular {
        min: f64,
        mode: f64,
        max: f64,
    },
    /// PERT, stored as a scaled beta.
    Pert {
        min: f64,
        mode: f64,
        max: f64,
        lambda: f64,
        shape: [Gamma; 2],
    },
    /// Normal, optionally truncated to `[min, max]` (infinite bounds = none).
    Normal {
        mean: f64,
        sd: f64,
        min: f64,
        max: f64,
    },
    /// Lognormal given by the mean and sd of the variable; `mu`, `sigma` of its log.
    LogNormal {
        mean: f64,
        sd: f64,
        mu: f64,
        sigma: f64,
    },
    /// Beta(alpha, beta) scaled to `[min, max]`.
    Beta {
        alpha: f64,
        beta: f64,
        min: f64,
        max: f64,
        shape: [Gamma; 2],
    },
    /// Discrete values with normalised cumulative weights.
    Discrete {
        values: Vec<f64>,
        weights: Vec<f64>,
        cumulative: Vec<f64>,
    },
}

/// Why a distribution's fields were rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, DistError> {
    Err(DistError(msg.into()))
}

fn finite(name: &str, v: f64) -> Result<(), DistError> {
    if v.is_finite() { Ok(()) } else { err(format!("`{name}` must be a finite number, got {v}")) }
}

impl Dist {
    pub fn fixed(v: f64) -> Result<Self, DistError> {
        finite("value", v)?;
        Ok(Dist::Fixed(v))
    }

    pub fn uniform(min: f64, max: f64) -> Result<Self, DistError> {
        finite("min", min)?;
        finite("max", max)?;
        if !(max > min) {
            return err(format!(
                "uniform needs min < max, got min = {min}, max = {max} (use a plain number for a fixed value)"
            ));
        }
        Ok(Dist::Uniform { min, max })
    }

    pub fn triangular(min: f64, mode: f64, max: f64) -> Result<Self, DistError> {
        check_min_mode_max("triangular", min, mode, max)?;
        Ok(Dist::Triangular { min, mode, max })
    }

    pub fn pert(min: f64, mode: f64, max: f64, lambda: f64) -> Result<Self, DistError> {
        check_min_mode_max("pert", min, mode, max)?;
        finite("lambda", lambda)?;
        if !(lambda > 0.0) {
            return err(format!("pert needs lambda > 0, got {lambda}"));
        }
        let alpha = 1.0 + lambda * (mode - min) / (max - min);
        let beta = 1.0 + lambda * (max - mode) / (max - min);
        Ok(Dist::Pert { min, mode, max, lambda, shape: [Gamma::new(alpha), Gamma::new(beta)] })
    }

    /// Normal; pass infinite `min`/`max` for no truncation.
    pub fn normal(mean: f64, sd: f64, min: f64, max: f64) -> Result<Self, DistError> {
        finite("mean", mean)?;
        finite("sd", sd)?;
        if !(sd > 0.0) {
            return err(format!("normal needs sd > 0, got {sd}"));
        }
        if min.is_nan() || max.is_nan() || !(max > min) {
            return err(format!("normal truncation needs min < max, got min = {min}, max = {max}"));
        }
        let mass = std_normal_cdf((max - mean) / sd) - std_normal_cdf((min - mean) / sd);
        if !(mass >= MIN_TRUNCATED_MASS) {
            return err(format!(
                "the truncation [{min}, {max}] keeps only {:.2e} of the normal's probability (at least {MIN_TRUNCATED_MASS} is needed); move mean inside the bounds or widen them",
                mass
            ));
        }
        Ok(Dist::Normal { mean, sd, min, max })
    }

    pub fn lognormal(mean: f64, sd: f64) -> Result<Self, DistError> {
        finite("mean", mean)?;
        finite("sd", sd)?;
        if !(mean > 0.0) {
            return err(format!("lognormal needs mean > 0, got {mean}"));
        }
        if !(sd > 0.0) {
            return err(format!("lognormal needs sd > 0, got {sd} (use a plain number for a fixed value)"));
        }
        let sigma2 = libm::log(1.0 + (sd / mean) * (sd / mean));
        Ok(Dist::LogNormal { mean, sd, mu: libm::log(mean) - sigma2 / 2.0, sigma: sigma2.sqrt() })
    }

    pub fn beta(alpha: f64, beta: f64, min: f64, max: f64) -> Result<Self, DistError> {
        for (n, v) in [("alpha", alpha), ("beta", beta), ("min", min), ("max", max)] {
            finite(n, v)?;
        }
        if !(alpha > 0.0 && beta > 0.0) {
            return err(format!("beta needs alpha > 0 and beta > 0, got alpha = {alpha}, beta = {beta}"));
        }
        if !(max > min) {
            return err(format!("beta needs min < max, got min = {min}, max = {max}"));
        }
        Ok(Dist::Beta { alpha, beta, min, max, shape: [Gamma::new(alpha), Gamma::new(beta)] })
    }

    pub fn discrete(values: Vec<f64>, weights: Vec<f64>) -> Result<Self, DistError> {
        if values.is_empty() {
            return err("discrete needs at least one value in `values`");
        }
        if values.len() != weights.len() {
            return err(format!(
                "discrete needs as many weights as values, got {} values and {} weights",
                values.len(),
                weights.len()
            ));
        }
        for &v in &values {
            finite("values", v)?;
        }
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return err("discrete weights must be finite and >= 0");
        }
        let total: f64 = weights.iter().sum();
        if !(total > 0.0) {
            return err("discrete weights must not all be 0");
        }
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Ok(Dist::Discrete { values, weights, cumulative })
    }

    /// True when sampling needs no random numbers.
    pub fn is_fixed(&self) -> bool {
        matches!(self, Dist::Fixed(_))
    }

    /// Smallest and largest value the distribution can take (closed bounds;
    /// a lognormal's lower bound 0 is never reached).
    pub fn support(&self) -> (f64, f64) {
        match self {
            Dist::Fixed(v) => (*v, *v),
            Dist::Uniform { min, max }
            | Dist::Triangular { min, max, .. }
            | Dist::Pert { min, max, .. }
            | Dist::Normal { min, max, .. }
            | Dist::Beta { min, max, .. } => (*min, *max),
            Dist::LogNormal { .. } => (0.0, f64::INFINITY),
            Dist::Discrete { values, weights, .. } => values
                .iter()
                .zip(weights)
                .filter(|(_, w)| **w > 0.0)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (v, _)| (lo.min(*v), hi.max(*v))),
        }
    }

    /// The range the engine's draws can reach: [`Dist::support`], narrowed
    /// for the normal and lognormal families to `|z| <= Z_REACH`, the
    /// largest normal deviate Box-Muller makes from 32-bit words.
    pub fn reach(&self) -> (f64, f64) {
        match self {
            Dist::Normal { mean, sd, min, max } => ((mean - Z_REACH * sd).max(*min), (mean + Z_REACH * sd).min(*max)),
            Dist::LogNormal { mu, sigma, .. } => (0.0, libm::exp(mu + Z_REACH * sigma)),
            _ => self.support(),
        }
    }

    /// True when the lower bound of [`Dist::support`] is never attained.
    pub fn lower_bound_open(&self) -> bool {
        matches!(self, Dist::LogNormal { .. })
    }

    /// The mean of the distribution (the truncated mean for a truncated normal).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Dist::Pert { min, mode, max, lambda, .. } => (min + lambda * mode + max) / (lambda + 2.0),
            Dist::Normal { mean, sd, min, max } => {
                let (a, b) = ((min - mean) / sd, (max - mean) / sd);
                let mass = std_normal_cdf(b) - std_normal_cdf(a);
                mean + sd * (std_normal_pdf(a) - std_normal_pdf(b)) / mass
            }
            Dist::LogNormal { mean, .. } => *mean,
            Dist::Beta { alpha, beta, min, max, .. } => min + (max - min) * alpha / (alpha + beta),
            Dist::Discrete { values, weights, .. } => {
                let total: f64 = weights.iter().sum();
                values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
            }
        }
    }
}

/// The distribution as a scenario file writes it, in short:
/// `0.069`, `uniform 0.05 .. 0.25`, `pert 15 / 25 / 45`,
/// `normal mean 1, sd 0.2 on [0, 2]`, `discrete 1 (30%), 2 (70%)`.
impl std::fmt::Display for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bounds = |min: f64, max: f64| {
            if min.is_finite() || max.is_finite() { format!(" on [{min}, {max}]") } else { String::new() }
        };
        match self {
            Dist::Fixed(v) => write!(f, "{v}"),
            Dist::Uniform { min, max } => write!(f, "uniform {min} .. {max}"),
            Dist::Triangular { min, mode, max } => write!(f, "triangular {min} / {mode} / {max}"),
            Dist::Pert { min, mode, max, lambda, .. } if *lambda == 4.0 => write!(f, "pert {min} / {mode} / {max}"),
            Dist::Pert { min, mode, max, lambda, .. } => write!(f, "pert {min} / {mode} / {max}, lambda {lambda}"),
            Dist::Normal { mean, sd, min, max } => write!(f, "normal mean {mean}, sd {sd}{}", bounds(*min, *max)),
            Dist::LogNormal { mean, sd, .. } => write!(f, "lognormal mean {mean}, sd {sd}"),
            Dist::Beta { alpha, beta, min, max, .. } => write!(f, "beta({alpha}, {beta}) on [{min}, {max}]"),
            Dist::Discrete { values, weights, .. } => {
                let total: f64 = weights.iter().sum();
                let items: Vec<String> =
                    values.iter().zip(weights).map(|(v, w)| format!("{v} ({:.0}%)", 100.0 * w / total)).collect();
                write!(f, "discrete {}", items.join(", "))
            }
        }
    }
}

fn check_min_mode_max(family: &str, min: f64, mode: f64, max: f64) -> Result<(), DistError> {
    finite("min", min)?;
    finite("mode", mode)?;
    finite("max", max)?;
    if !(max > min) {
        return err(format!(
            "{family} needs min < max, got min = {min}, max = {max} (use a plain number for a fixed value)"
        ));
    }
    if !(mode >= min && mode <= max) {
        return err(format!("{family} needs min <= mode <= max, got min = {min}, mode = {mode}, max = {max}"));
    }
    Ok(())
}

/// Standard normal density.
pub fn std_normal_pdf(x: f64) -> f64 {
    if x.is_infinite() {
        return 0.0;
    }
    libm::exp(-0.5 * x * x) / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal distribution function, via `erfc` for accuracy in the tails.
pub fn std_normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    const N: usize = 400_000;

    /// Sample mean and variance of `N` draws.
    fn moments(d: &Dist) -> (f64, f64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let xs: Vec<f64> = (0..N).map(|_| d.sample(&mut rng)).collect();
        let (lo, hi) = d.support();
        assert!(xs.iter().all(|x| *x >= lo && *x <= hi), "draw outside support {lo}..{hi}");
        let m = xs.iter().sum::<f64>() / N as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (N - 1) as f64;
        (m, v)
    }

    /// Mean within 5 standard errors, variance within 3%.
    fn check(d: Dist, mean: f64, var: f64) {
        assert!((d.mean() - mean).abs() < 1e-12 * mean.abs().max(1.0), "closed-form mean {} vs {mean}", d.mean());
        let (m, v) = moments(&d);
        let se = (var / N as f64).sqrt();
        assert!((m - mean).abs() < 5.0 * se, "{d:?}: sample mean {m} vs {mean} (se {se})");
        assert!((v / var - 1.0).abs() < 0.03, "{d:?}: sample variance {v} vs {var}");
    }

    #[test]
    fn uniform_moments() {
        check(Dist::uniform(2.0, 6.0).unwrap(), 4.0, 16.0 / 12.0);
    }

    #[test]
    fn triangular_moments() {
        let (a, c, b) = (0.1f64, 0.2f64, 0.6f64);
        let var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0;
        check(Dist::triangular(a, c, b).unwrap(), (a + b + c) / 3.0, var);
    }

    #[test]
    fn pert_moments() {
        let (a, m, b, l) = (0.05f64, 0.20f64, 0.60f64, 4.0f64);
        let (al, be) = (1.0 + l * (m - a) / (b - a), 1.0 + l * (b - m) / (b - a));
        let var = al * be / ((al + be).powi(2) * (al + be + 1.0)) * (b - a) * (b - a);
        check(Dist::pert(a, m, b, l).unwrap(), (a + l * m + b) / (l + 2.0), var);
    }

    #[test]
    fn normal_moments() {
        check(Dist::normal(0.1, 0.05, f64::NEG_INFINITY, f64::INFINITY).unwrap(), 0.1, 0.0025);
    }

    #[test]
    fn truncated_normal_mean_is_the_truncated_mean() {
        // Truncated at the mean from below: half-normal, mean mu + sd sqrt(2/pi),
        // variance sd^2 (1 - 2/pi).
        let d = Dist::normal(1.0, 2.0, 1.0, f64::INFINITY).unwrap();
        let mean = 1.0 + 2.0 * (2.0 / std::f64::consts::PI).sqrt();
        check(d, mean, 4.0 * (1.0 - 2.0 / std::f64::consts::PI));
    }

    #[test]
    fn lognormal_moments_are_those_of_the_variable() {
        check(Dist::lognormal(2.0, 0.5).unwrap(), 2.0, 0.25);
    }

    #[test]
    fn beta_moments() {
        let (a, b, lo, hi) = (2.0, 5.0, 1.0, 3.0);
        let var = a * b / ((a + b) * (a + b) * (a + b + 1.0)) * (hi - lo) * (hi - lo);
        check(Dist::beta(a, b, lo, hi).unwrap(), lo + (hi - lo) * a / (a + b), var);
    }

    #[test]
    fn beta_with_shapes_below_one() {
        // Both gammas take the U^(1/a) boost.
        let (a, b, lo, hi) = (0.5, 0.7, 0.0, 1.0);
        let var = a * b / ((a + b) * (a + b) * (a + b + 1.0));
        check(Dist::beta(a, b, lo, hi).unwrap(), a / (a + b), var);
    }

    #[test]
    fn discrete_moments() {
        let d = Dist::discrete(vec![0.0, 1.0, 3.0], vec![1.0, 2.0, 1.0]).unwrap();
        let mean = (0.0 + 2.0 + 3.0) / 4.0;
        let var = (0.0 + 2.0 + 9.0) / 4.0 - mean * mean;
        check(d, mean, var);
    }

    #[test]
    fn fixed_is_constant() {
        let d = Dist::fixed(3.5).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(d.sample(&mut rng), 3.5);
        assert_eq!(d.mean(), 3.5);
        assert_eq!(d.support(), (3.5, 3.5));
    }

    #[test]
    fn constructors_reject_bad_fields() {
        assert!(Dist::uniform(1.0, 1.0).unwrap_err().0.contains("min < max"));
        assert!(Dist::uniform(f64::NAN, 1.0).is_err());
        assert!(Dist::triangular(0.0, 2.0, 1.0).unwrap_err().0.contains("mode"));
        assert!(Dist::pert(0.0, 0.5, 1.0, 0.0).unwrap_err().0.contains("lambda"));
        assert!(Dist::normal(0.0, 0.0, f64::NEG_INFINITY, f64::INFINITY).unwrap_err().0.contains("sd > 0"));
        assert!(Dist::normal(0.0, 1.0, 5.0, 6.0).unwrap_err().0.contains("keeps only"));
        assert!(Dist::lognormal(-1.0, 1.0).unwrap_err().0.contains("mean > 0"));
        assert!(Dist::beta(0.0, 1.0, 0.0, 1.0).unwrap_err().0.contains("alpha > 0"));
        assert!(Dist::discrete(vec![1.0], vec![1.0, 2.0]).unwrap_err().0.contains("as many weights"));
        assert!(Dist::discrete(vec![1.0], vec![0.0]).unwrap_err().0.contains("not all be 0"));
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((std_normal_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((std_normal_cdf(1.959963984540054) - 0.975).abs() < 1e-12);
        assert!((std_normal_cdf(-2.326347874040841) - 0.01).abs() < 1e-12);
    }
}
