//! Streaming statistics that merge: exact moments and a log-linear histogram
//! sketch for quantiles, VaR and expected shortfall.
//!
//! The sketch buckets `|x|` by its binary exponent and the top
//! [`SUB_BUCKET_BITS`] bits of its mantissa (the idea of HdrHistogram and of
//! DDSketch's log-linear mapping): every value in a bucket lies within a
//! factor `1 + 2^-SUB_BUCKET_BITS` of every other. Each bucket keeps its count
//! and the sum of its values, and a quantile is reported as the mean of the
//! values in the bucket that holds the requested rank, so:
//!
//! - a quantile is within [`RELATIVE_ERROR`] (1/256, about 0.39%) of `|x|` of
//!   the exact order statistic of the same rank; values with
//!   `|x| < ZERO_BAND` share one bucket, so there the error is at most
//!   `2 * ZERO_BAND` in absolute terms;
//! - a bucket holding a single repeated value (an event count, a share of 0)
//!   reports it exactly;
//! - expected shortfall, a mean of the top order statistics, has the same
//!   relative bound.
//!
//! Memory per sketch grows with the spread of the values, not their number:
//! at most 256 buckets per factor of 2 between the smallest and largest
//! `|x|` seen (16 bytes each); a metric spanning $1bn to $10,000bn uses
//! about 3,400 buckets, 54 KiB.
//!
//! Quantiles use the inverse empirical distribution: the p-quantile of `n`
//! values is the order statistic of rank `ceil(p n)`. VaR at level `a` is
//! the `a`-quantile of the loss; ES at level `a` is the mean of the order
//! statistics of rank `ceil(a n)` .. `n` (the VaR and everything worse).

/// Mantissa bits per bucket for the recorded metrics: 256 buckets per octave.
pub const SUB_BUCKET_BITS: u32 = 8;
/// Relative error bound of quantiles, VaR and ES of the recorded metrics.
pub const RELATIVE_ERROR: f64 = relative_error(SUB_BUCKET_BITS);
/// Mantissa bits per bucket for the fan bands (one sketch per provider and
/// quarter, so they are kept smaller): 64 buckets per octave.
pub const FAN_SUB_BUCKET_BITS: u32 = 6;
/// Relative error bound of the fan bands.
pub const FAN_RELATIVE_ERROR: f64 = relative_error(FAN_SUB_BUCKET_BITS);

/// The relative error bound of a sketch with `bits` mantissa bits per bucket.
pub const fn relative_error(bits: u32) -> f64 {
    1.0 / (1u64 << bits) as f64
}
/// Values with a magnitude below this share the zero bucket.
pub const ZERO_BAND: f64 = 1e-9;

/// Count, mean, variance, min and max, mergeable.
///
/// Within one accumulator, sums are kept relative to a shift (the first
/// value) to avoid cancellation; merging uses Chan et al.'s pairwise update.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    n: u64,
    shift: f64,
    s1: f64,
    s2: f64,
    min: f64,
    max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments { n: 0, shift: 0.0, s1: 0.0, s2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl Moments {
    #[inline]
    pub fn add(&mut self, x: f64) {
        if self.n == 0 {
            self.shift = x;
        }
        self.n += 1;
        let d = x - self.shift;
        self.s1 += d;
        self.s2 += d * d;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.shift + self.s1 / self.n as f64 }
    }

    /// Sum of squared deviations from the mean.
    fn m2(&self) -> f64 {
        if self.n == 0 { 0.0 } else { (self.s2 - self.s1 * self.s1 / self.n as f64).max(0.0) }
    }

    /// Sample standard deviation (n - 1 in the denominator).
    pub fn sd(&self) -> f64 {
        if self.n < 2 { 0.0 } else { (self.m2() / (self.n - 1) as f64).sqrt() }
    }

    /// Standard error of the mean.
    pub fn se(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.sd() / (self.n as f64).sqrt() }
    }

    pub fn min(&self) -> f64 {
        self.min
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    pub fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = o.clone();
            return;
        }
        let (na, nb) = (self.n as f64, o.n as f64);
        let (ma, mb) = (self.mean(), o.mean());
        let n = na + nb;
        let delta = mb - ma;
        let mean = ma + delta * nb / n;
        let m2 = self.m2() + o.m2() + delta * delta * na * nb / n;
        *self = Moments {
            n: self.n + o.n,
            shift: mean,
            s1: 0.0,
            s2: m2,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        };
    }
}

/// One bucket: how many values fell in it and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bucket {
    count: u64,
    sum: f64,
}

/// Dense run of buckets from `offset` upwards.
#[derive(Debug, Clone, Default, PartialEq)]
struct Store {
    offset: i64,
    buckets: Vec<Bucket>,
}

impl Store {
    #[inline]
    fn add(&mut self, key: i64, x: f64, bits: u32) {
        let i = key.wrapping_sub(self.offset) as usize;
        if let Some(b) = self.buckets.get_mut(i) {
            b.count += 1;
            b.sum += x;
        } else {
            // A quarter of an octave beyond the new value.
            self.grow(key, key, 1 << (bits - 2));
            self.add(key, x, bits);
        }
    }

    /// Make room for keys `lo..=hi`, plus `slack` buckets on a side that
    /// grows (so that a slowly widening range does not reallocate at every
    /// value). The store never covers more than the keys seen plus slack.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, lo: i64, hi: i64, slack: i64) {
        if self.buckets.is_empty() {
            self.offset = lo - slack;
            self.buckets = vec![Bucket::default(); (hi - lo + 1 + 2 * slack) as usize];
            return;
        }
        let cur_hi = self.offset + self.buckets.len() as i64 - 1;
        let new_lo = if lo < self.offset { lo - slack } else { self.offset };
        let new_hi = if hi > cur_hi { hi + slack } else { cur_hi };
        if new_lo < self.offset {
            let pad = (self.offset - new_lo) as usize;
            self.buckets.splice(0..0, std::iter::repeat_n(Bucket::default(), pad));
            self.offset = new_lo;
        }
        self.buckets.resize((new_hi - self.offset + 1) as usize, Bucket::default());
    }

    fn merge(&mut self, o: &Store) {
        if o.buckets.is_empty() {
            return;
        }
        self.grow(o.offset, o.offset + o.buckets.len() as i64 - 1, 0);
        let start = (o.offset - self.offset) as usize;
        for (a, b) in self.buckets[start..].iter_mut().zip(&o.buckets) {
            a.count += b.count;
            a.sum += b.sum;
        }
    }

    fn len(&self) -> usize {
        self.buckets.len()
    }
}

/// Mergeable quantile sketch with relative error [`relative_error`]`(bits)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    bits: u32,
    neg: Store,
    zero_count: u64,
    zero_sum: f64,
    pos: Store,
    n: u64,
}

impl Default for Sketch {
    /// A sketch with [`SUB_BUCKET_BITS`].
    fn default() -> Self {
        Sketch::new(SUB_BUCKET_BITS)
    }
}

impl Sketch {
    /// An empty sketch with `bits` (1..=16) mantissa bits per bucket.
    pub fn new(bits: u32) -> Self {
        assert!((1..=16).contains(&bits), "sketch resolution {bits} outside 1..=16");
        Sketch { bits, neg: Store::default(), zero_count: 0, zero_sum: 0.0, pos: Store::default(), n: 0 }
    }

    #[inline]
    fn key(&self, a: f64) -> i64 {
        (a.to_bits() >> (52 - self.bits)) as i64
    }

    #[inline]
    pub fn add(&mut self, x: f64) {
        debug_assert!(x.is_finite(), "non-finite value {x} in a sketch");
        self.n += 1;
        if x >= ZERO_BAND {
            self.pos.add(self.key(x), x, self.bits);
        } else if x <= -ZERO_BAND {
            self.neg.add(self.key(-x), x, self.bits);
        } else {
            self.zero_count += 1;
            self.zero_sum += x;
        }
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn merge(&mut self, o: &Sketch) {
        assert_eq!(self.bits, o.bits, "merging sketches of different resolution");
        self.neg.merge(&o.neg);
        self.pos.merge(&o.pos);
        self.zero_count += o.zero_count;
        self.zero_sum += o.zero_sum;
        self.n += o.n;
    }

    /// Number of buckets in use (for the memory bound).
    pub fn buckets(&self) -> usize {
        self.neg.len() + self.pos.len() + 1
    }

    /// Non-empty buckets as (count, sum) in ascending order of value.
    pub fn ascending(&self) -> impl DoubleEndedIterator<Item = (u64, f64)> + '_ {
        let zero = Bucket { count: self.zero_count, sum: self.zero_sum };
        let neg = self.neg.buckets.iter().rev().copied();
        neg.chain(std::iter::once(zero))
            .chain(self.pos.buckets.iter().copied())
            .filter(|b| b.count > 0)
            .map(|b| (b.count, b.sum))
    }

    /// Mean of the values added (from the bucket sums); NaN when empty.
    pub fn mean(&self) -> f64 {
        self.ascending().map(|(_, s)| s).sum::<f64>() / self.n as f64
    }

    /// Counts in `bins` equal-width bins over `[lo, hi]`; each sketch bucket
    /// goes to the bin holding its mean, values outside the range are left
    /// out. Returns the counts and how many values were left out.
    pub fn histogram(&self, lo: f64, hi: f64, bins: usize) -> (Vec<u64>, u64) {
        let mut counts = vec![0u64; bins];
        let mut outside = 0;
        let width = (hi - lo) / bins as f64;
        for (c, s) in self.ascending() {
            let x = s / c as f64;
            if width > 0.0 && x >= lo && x <= hi {
                counts[(((x - lo) / width) as usize).min(bins - 1)] += c;
            } else {
                outside += c;
            }
        }
        (counts, outside)
    }

    /// Points `(x, P(X > x))` of the exceedance curve, one per non-empty
    /// bucket (x = the bucket's mean), ascending in x, ending before P = 0.
    pub fn exceedance(&self) -> Vec<(f64, f64)> {
        let mut above = self.n;
        let mut out = Vec::new();
        for (c, s) in self.ascending() {
            above -= c;
            if above == 0 {
                break;
            }
            out.push((s / c as f64, above as f64 / self.n as f64));
        }
        out
    }

    /// Rank (1-based) of the p-quantile.
    fn rank(&self, p: f64) -> u64 {
        ((p * self.n as f64).ceil() as u64).clamp(1, self.n)
    }

    /// The p-quantile (p in [0, 1]); NaN when empty.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let r = self.rank(p);
        let mut cum = 0;
        for (c, s) in self.ascending() {
            cum += c;
            if cum >= r {
                return s / c as f64;
            }
        }
        unreachable!("rank {r} beyond count {}", self.n)
    }

    /// Mean of the order statistics of rank `ceil(p n)` .. `n`: expected
    /// shortfall at level `p` when the values are losses.
    pub fn tail_mean(&self, p: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let k = self.n - self.rank(p) + 1;
        let (mut left, mut total) = (k, 0.0);
        for (c, s) in self.ascending().rev() {
            let take = c.min(left);
            total += s / c as f64 * take as f64;
            left -= take;
            if left == 0 {
                break;
            }
        }
        total / k as f64
    }
}

/// Moments and sketch of one metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricAcc {
    pub moments: Moments,
    pub sketch: Sketch,
}

impl MetricAcc {
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.moments.add(x);
        self.sketch.add(x);
    }

    pub fn merge(&mut self, o: &MetricAcc) {
        self.moments.merge(&o.moments);
        self.sketch.merge(&o.sketch);
    }
}

/// Exact p-quantile of sorted values by the same rank rule as [`Sketch::quantile`].
pub fn exact_quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len() as u64;
    let r = ((p * n as f64).ceil() as u64).clamp(1, n);
    sorted[(r - 1) as usize]
}

/// Exact tail mean of sorted values by the same rule as [`Sketch::tail_mean`].
pub fn exact_tail_mean(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len() as u64;
    let r = ((p * n as f64).ceil() as u64).clamp(1, n);
    let tail = &sorted[(r - 1) as usize..];
    tail.iter().sum::<f64>() / tail.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= RELATIVE_ERROR * b.abs() + 2.0 * ZERO_BAND
    }

    proptest! {
        #[test]
        fn sketch_quantiles_are_within_the_bound(
            xs in prop::collection::vec(prop_oneof![-1e6f64..1e6, 0.0f64..1.0, Just(0.0), Just(1.0)], 1..400),
            p in 0.0f64..=1.0,
        ) {
            let mut s = Sketch::default();
            xs.iter().for_each(|x| s.add(*x));
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let (q, e) = (s.quantile(p), exact_quantile(&sorted, p));
            prop_assert!(close(q, e), "quantile {p}: sketch {q} exact {e}");
            let (t, et) = (s.tail_mean(p), exact_tail_mean(&sorted, p));
            let scale = sorted.iter().map(|x| x.abs()).fold(0.0, f64::max);
            prop_assert!((t - et).abs() <= RELATIVE_ERROR * scale + 2.0 * ZERO_BAND, "tail {p}: sketch {t} exact {et}");
        }

        #[test]
        fn merging_equals_adding_everything(xs in prop::collection::vec(-1e3f64..1e3, 2..300), cut in 0usize..300) {
            let cut = cut.min(xs.len());
            let (mut a, mut b, mut all) = (MetricAcc::default(), MetricAcc::default(), MetricAcc::default());
            xs[..cut].iter().for_each(|x| a.add(*x));
            xs[cut..].iter().for_each(|x| b.add(*x));
            xs.iter().for_each(|x| all.add(*x));
            a.merge(&b);
            prop_assert_eq!(a.moments.count(), all.moments.count());
            prop_assert!((a.moments.mean() - all.moments.mean()).abs() < 1e-9);
            prop_assert!((a.moments.sd() - all.moments.sd()).abs() < 1e-9);
            for p in [0.01, 0.5, 0.99] {
                prop_assert!((a.sketch.quantile(p) - all.sketch.quantile(p)).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn merging_many_sketches_stays_within_the_value_range() {
        let mut total = Sketch::default();
        for c in 0..500u32 {
            let mut s = Sketch::default();
            for i in 0..100u32 {
                s.add(1.0 + (f64::from(c * 100 + i) * 0.618_033_988_7).fract());
            }
            total.merge(&s);
        }
        // Values in [1, 2): one octave of 256 buckets, a quarter octave of
        // slack either side, and the zero bucket.
        assert!(total.buckets() <= 256 + 2 * 64 + 1, "{} buckets", total.buckets());
        assert_eq!(total.count(), 50_000);
    }

    #[test]
    fn histogram_and_exceedance_count_every_value() {
        let mut s = Sketch::default();
        for i in 0..1000 {
            s.add(f64::from(i) / 10.0);
        }
        let (counts, outside) = s.histogram(0.0, 50.0, 10);
        assert_eq!(counts.iter().sum::<u64>() + outside, 1000);
        assert!((498..=502).contains(&outside), "{outside} outside");
        assert!(counts.iter().all(|c| (49..=52).contains(c)), "{counts:?}");
        let ex = s.exceedance();
        assert!(ex.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1));
        let (x, p) = ex.iter().copied().find(|(x, _)| *x >= 90.0).unwrap();
        assert!((p - (1000.0 - (x * 10.0).round() - 1.0) / 1000.0).abs() < 0.002, "P(X > {x}) = {p}");
    }

    #[test]
    fn repeated_values_are_reported_exactly() {
        let mut s = Sketch::default();
        for x in [0.0, 0.0, 1.0, 1.0, 1.0, 2.0] {
            s.add(x);
        }
        assert_eq!(s.quantile(0.25), 0.0);
        assert_eq!(s.quantile(0.5), 1.0);
        assert_eq!(s.quantile(1.0), 2.0);
        assert_eq!(s.tail_mean(0.5), (1.0 + 1.0 + 1.0 + 2.0) / 4.0);
    }

    #[test]
    fn moments_match_two_pass_formulas() {
        let xs = [1e9 + 1.0, 1e9 + 2.0, 1e9 + 4.0, 1e9 + 7.0];
        let mut m = Moments::default();
        xs.iter().for_each(|x| m.add(*x));
        assert_eq!(m.mean(), 1e9 + 3.5);
        let var = (6.25 + 2.25 + 0.25 + 12.25) / 3.0;
        assert!((m.sd() - f64::sqrt(var)).abs() < 1e-9);
        assert_eq!((m.min(), m.max()), (1e9 + 1.0, 1e9 + 7.0));
    }
}
