//! Streaming statistics that merge: exact moments and a log-linear histogram
//! sketch for quantiles, VaR and expected shortfall.
//!
//! The sketch buckets `|x|` by its binary exponent and the top
//! [`SUB_BUCKET_BITS`] = 9 bits of its mantissa (the idea of HdrHistogram
//! and of DDSketch's log-linear mapping): 512 buckets per factor of 2, every
//! bucket `[lo, hi)` with `hi - lo <= lo / 512`. A bucket keeps only its count
//! (an integer), and reports the midpoint of its range, clamped to the
//! smallest and largest value seen, so:
//!
//! - a quantile is within [`RELATIVE_ERROR`] = 2^-10 (0.098%) of `|x|` of the
//!   exact order statistic of the same rank; values with `|x| < ZERO_BAND`
//!   share one bucket, read as 0, so there the error is at most `ZERO_BAND`;
//! - expected shortfall, a mean of the top order statistics, is within the
//!   same bound of the mean `|x|` of those order statistics;
//! - while a sketch has seen at most [`EXACT_VALUES`] distinct values (an
//!   event count, a share that is always 0, a scenario with no randomness)
//!   it keeps them exactly, and every statistic is exact;
//! - merging adds integer counts, so a sketch is the same whatever the
//!   order in which values arrive and however they are grouped: per-thread
//!   sketches merge into bit-identical results on any number of threads,
//!   processes or shards.
//!
//! Memory per sketch grows with the spread of the values, not their number:
//! at most 512 buckets per factor of 2 between the smallest and largest
//! `|x|` seen (9 bytes each: a byte the hot loop increments and a `u64` it
//! touches once per 256 counts, allocated only once some count passes 255:
//! 1 byte each before); a metric spanning $1bn to $10,000bn uses about
//! 6,800 buckets, 60 KiB.
//!
//! Counting may be staged ([`Sketch::stage`], [`Sketch::count_staged`]): a
//! block's bucket offsets taken now, counted later in one run of plain
//! increments into the store (what the AVX-512 build's fold does for the
//! band cells), the same counts as counting at once.
//!
//! Quantiles use the inverse empirical distribution: the p-quantile of `n`
//! values is the order statistic of rank `ceil(p n)`. VaR at level `a` is
//! the `a`-quantile of the loss; ES at level `a` is the mean of the order
//! statistics of rank `ceil(a n)` .. `n` (the VaR and everything worse).

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

/// Mantissa bits per bucket: 512 buckets per octave.
pub const SUB_BUCKET_BITS: u32 = 9;
/// Relative error bound of quantiles, VaR and ES: half a bucket's width.
pub const RELATIVE_ERROR: f64 = 1.0 / (1u64 << (SUB_BUCKET_BITS + 1)) as f64;
/// Values with a magnitude below this share the zero bucket.
pub const ZERO_BAND: f64 = 1e-9;
/// Distinct values a sketch keeps exactly before it switches to buckets.
pub const EXACT_VALUES: usize = 16;

/// Count, mean, variance, min and max, mergeable.
///
/// Within one accumulator, sums are kept relative to a shift (the first
/// value) to avoid cancellation; merging uses Chan et al.'s pairwise update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// Add the eight values of a full block. The sums are taken in a fixed
    /// pairwise order, so the result differs in the last bits from eight
    /// calls of [`Moments::add`] but, like them, depends only on the values.
    #[inline(always)]
    pub fn add8(&mut self, x: &[f64; 8]) {
        if self.n == 0 {
            self.shift = x[0];
        }
        self.n += 8;
        let d: [f64; 8] = std::array::from_fn(|l| x[l] - self.shift);
        let d2: [f64; 8] = std::array::from_fn(|l| d[l] * d[l]);
        self.s1 += sum8(&d);
        self.s2 += sum8(&d2);
        let (lo, hi) = min_max8(x);
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
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

/// `((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7))`: the sum of a block's
/// lanes in a fixed order that vectorises.
#[inline(always)]
pub fn sum8(x: &[f64; 8]) -> f64 {
    let a: [f64; 4] = std::array::from_fn(|l| x[l] + x[l + 4]);
    let b = [a[0] + a[2], a[1] + a[3]];
    b[0] + b[1]
}

/// Smallest and largest of eight finite values, lane-wise (vectorises).
#[inline(always)]
fn min_max8(x: &[f64; 8]) -> (f64, f64) {
    let pick = |a: f64, b: f64, less: bool| if (a < b) == less { a } else { b };
    let lo: [f64; 4] = std::array::from_fn(|l| pick(x[l], x[l + 4], true));
    let hi: [f64; 4] = std::array::from_fn(|l| pick(x[l], x[l + 4], false));
    let lo = pick(pick(lo[0], lo[2], true), pick(lo[1], lo[3], true), true);
    let hi = pick(pick(hi[0], hi[2], false), pick(hi[1], hi[3], false), false);
    (lo, hi)
}

/// Dense run of bucket counts from `offset` upwards. A count is split in a
/// low byte, the only part the hot loop touches (an eighth of the cache
/// footprint of `u64` counts: a run's sketches then fit in a core's L2
/// cache), and a high `u64` that gains 256 each time the low byte wraps.
/// The high parts are allocated when a count first passes 255: until then
/// `high` is empty, and a small run (a first answer of a few thousand
/// paths, a sketch of thousands of buckets) allocates, grows and copies
/// one byte per bucket instead of nine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Store {
    offset: i64,
    low: Vec<u8>,
    /// Empty (every high part 0), or as long as `low`.
    high: Vec<u64>,
}

/// The low byte of bucket `i` of a store of `len` buckets wrapped: its high
/// part (the high parts allocated now if they were not) gains 256.
#[cold]
#[inline(never)]
fn carry(high: &mut Vec<u64>, len: usize, i: usize) {
    if high.is_empty() {
        *high = vec![0; len];
    }
    high[i] += 256;
}

/// Exact mode's [`Sketch::add8`] when each of the eight values is one the
/// sketch already holds (a count of events, mostly 0 or 1): counted in
/// place, true; false, and nothing counted, otherwise. Few held values
/// are each compared with all eight (no search per value, whose branches
/// a mix of values mispredicts); with more, only eight copies of one held
/// value are taken (one search).
#[inline(always)]
fn held8(ex: &mut [(f64, u64)], xs: &[f64; 8]) -> bool {
    const SCAN: usize = 4;
    if ex.len() <= SCAN {
        let mut hits = [0u64; SCAN];
        for (h, (v, _)) in hits.iter_mut().zip(ex.iter()) {
            *h = xs.iter().map(|x| u64::from(x.to_bits() == v.to_bits())).sum();
        }
        // The held values are distinct, so eight hits are eight values held.
        if hits.iter().sum::<u64>() != 8 {
            return false;
        }
        ex.iter_mut().zip(hits).for_each(|((_, c), h)| *c += h);
        return true;
    }
    if xs.iter().all(|x| x.to_bits() == xs[0].to_bits())
        && let Ok(i) = ex.binary_search_by(|(v, _)| v.total_cmp(&xs[0]))
    {
        ex[i].1 += 8;
        return true;
    }
    false
}

/// The widest range of bucket keys a store may cover: every finite
/// magnitude has a key in `0 .. 2^(11 + SUB_BUCKET_BITS)`, plus slack.
const KEY_SPAN: i64 = 1 << (12 + SUB_BUCKET_BITS);

impl Store {
    /// The total count of a store read back from a file, or why it cannot
    /// be one this code wrote.
    fn check(&self) -> Result<u64, String> {
        if !self.high.is_empty() && self.low.len() != self.high.len() {
            return Err(format!("a sketch store of {} and {} buckets", self.low.len(), self.high.len()));
        }
        if !(-KEY_SPAN..=KEY_SPAN).contains(&self.offset) || self.low.len() as i64 > KEY_SPAN {
            return Err(format!("a sketch store at key {} of {} buckets", self.offset, self.low.len()));
        }
        (0..self.low.len()).try_fold(0u64, |t, i| t.checked_add(self.count(i))).ok_or("a sketch count overflows".into())
    }

    /// Count one value in bucket `key`; false when the key lies outside the
    /// store (the caller then grows it through [`Store::add`]).
    #[inline(always)]
    fn bump(&mut self, key: i64) -> bool {
        let i = key.wrapping_sub(self.offset) as usize;
        let inside = i < self.low.len();
        if inside {
            self.bump_at(i);
        }
        inside
    }

    /// Count one value in bucket `offset + i`, `i` inside the store.
    #[inline(always)]
    fn bump_at(&mut self, i: usize) {
        let c = &mut self.low[i];
        *c = c.wrapping_add(1);
        if *c == 0 {
            carry(&mut self.high, self.low.len(), i);
        }
    }

    /// [`Store::bump_at`] of eight buckets inside the store, with no call in
    /// the loop (the store's buffer stays in registers across the eight).
    #[inline(always)]
    fn bump8(&mut self, at: [usize; 8]) {
        if self.high.len() == self.low.len() {
            let (low, high) = (self.low.as_mut_slice(), self.high.as_mut_slice());
            for i in at {
                let c = &mut low[i];
                *c = c.wrapping_add(1);
                if *c == 0 {
                    high[i] += 256;
                }
            }
        } else {
            // No high parts yet: count, and in the rare block that wraps a
            // low byte, take the counts back and count again with carries.
            let low = self.low.as_mut_slice();
            let mut wrapped = false;
            for i in at {
                let c = &mut low[i];
                *c = c.wrapping_add(1);
                wrapped |= *c == 0;
            }
            if wrapped {
                at.into_iter().for_each(|i| low[i] = low[i].wrapping_sub(1));
                at.into_iter().for_each(|i| self.bump_at(i));
            }
        }
    }

    /// [`Store::bump_at`] of buckets given as offsets inside the store, in a
    /// loop of plain increments (a run of them into one store stays in the
    /// nearest cache). Where the high parts exist, the offsets whose low
    /// byte wrapped go to `wrapped` instead of into the loop (each carry is
    /// a cache miss: applied together, by [`Store::carry_all`], they
    /// overlap); the caller applies them before the store next changes.
    #[inline(always)]
    fn bump_all(&mut self, at: &[u16], wrapped: &mut Vec<u16>) {
        let len = self.low.len();
        let highest = at.iter().fold(0u16, |m, &i| m.max(i)) as usize;
        if self.high.len() == len && (at.is_empty() || highest < len) {
            let low = self.low.as_mut_ptr();
            for &i in at {
                // SAFETY: every offset is below the store's length
                // (checked above).
                let c = unsafe { &mut *low.add(usize::from(i)) };
                *c = c.wrapping_add(1);
                if *c == 0 {
                    wrapped.push(i);
                }
            }
        } else {
            for &i in at {
                self.bump_at(usize::from(i));
            }
        }
    }

    /// The carries [`Store::bump_all`] held back: 256 more in each bucket.
    fn carry_all(&mut self, wrapped: &[u16]) {
        for &i in wrapped {
            self.high[usize::from(i)] += 256;
        }
    }

    /// Set the count of bucket `i` (inside the store) to `c`.
    fn set(&mut self, i: usize, c: u64) {
        if c > 255 && self.high.is_empty() {
            self.high = vec![0; self.low.len()];
        }
        self.low[i] = (c & 255) as u8;
        if let Some(h) = self.high.get_mut(i) {
            *h = c & !255;
        }
    }

    /// Count `n` values in bucket `key`, growing the store when needed.
    #[cold]
    #[inline(never)]
    fn add(&mut self, key: i64, n: u64) {
        let i = key.wrapping_sub(self.offset) as usize;
        if i >= self.low.len() {
            // A quarter of an octave beyond the new value.
            self.grow(key, key, 1 << (SUB_BUCKET_BITS - 2));
            return self.add(key, n);
        }
        self.set(i, self.count(i) + n);
    }

    #[inline]
    fn count(&self, i: usize) -> u64 {
        self.high.get(i).copied().unwrap_or(0) + u64::from(self.low[i])
    }

    /// Make room for keys `lo..=hi`, plus `slack` buckets on a side that
    /// grows (so that a slowly widening range does not reallocate at every
    /// value). The store never covers more than the keys seen plus slack.
    fn grow(&mut self, lo: i64, hi: i64, slack: i64) {
        if self.low.is_empty() {
            self.offset = lo - slack;
            let n = (hi - lo + 1 + 2 * slack) as usize;
            self.low = vec![0; n];
            return;
        }
        // At least half the store's width again on a side that grows: a
        // store widening value by value reallocates a logarithmic number
        // of times.
        let slack = slack.max(self.low.len() as i64 / 2);
        let cur_hi = self.offset + self.low.len() as i64 - 1;
        let new_lo = if lo < self.offset { (lo - slack).max(0).min(lo) } else { self.offset };
        let new_hi = if hi > cur_hi { (hi + slack).min(KEY_SPAN - 1).max(hi) } else { cur_hi };
        let pad = (self.offset - new_lo) as usize;
        let n = (new_hi - new_lo + 1) as usize;
        fn widen<T: Copy + Default>(v: &mut Vec<T>, pad: usize, n: usize) {
            if pad == 0 {
                v.resize(n, T::default());
            } else {
                let mut w = vec![T::default(); n];
                w[pad..pad + v.len()].copy_from_slice(v);
                *v = w;
            }
        }
        widen(&mut self.low, pad, n);
        if !self.high.is_empty() {
            widen(&mut self.high, pad, n);
        }
        self.offset = new_lo;
    }

    /// Call `f(i, count)` on the non-empty buckets in ascending order of
    /// key (descending when `down`) until it breaks. A store is mostly
    /// empty when it has seen few values: while no count has reached 256
    /// (every high part 0), runs of 32 empty buckets are skipped on their
    /// low bytes alone.
    fn each(&self, down: bool, f: &mut dyn FnMut(usize, u64) -> ControlFlow<()>) -> ControlFlow<()> {
        const RUN: usize = 32;
        let n = self.low.len();
        let wrapped = self.high.iter().fold(0, |a, &c| a | c) != 0;
        let mut run = |r: usize| {
            let (lo, hi) = (RUN * r, (RUN * r + RUN).min(n));
            if !wrapped && self.low[lo..hi].iter().fold(0u8, |a, &c| a | c) == 0 {
                return ControlFlow::Continue(());
            }
            let mut one = |i: usize| {
                let c = self.count(i);
                if c > 0 { f(i, c) } else { ControlFlow::Continue(()) }
            };
            if down { (lo..hi).rev().try_for_each(&mut one) } else { (lo..hi).try_for_each(&mut one) }
        };
        let runs = n.div_ceil(RUN);
        if down { (0..runs).rev().try_for_each(&mut run) } else { (0..runs).try_for_each(&mut run) }
    }

    /// Add every count of `o`: one growth to cover its non-empty keys, then
    /// one pass over them (a chunk's stores hold thousands of buckets, so
    /// growing key by key cost more than the simulation of a small run).
    fn merge(&mut self, o: &Store) {
        let Some(first) = (0..o.len()).find(|&i| o.count(i) > 0) else { return };
        let last = (first..o.len()).rev().find(|&i| o.count(i) > 0).unwrap_or(first);
        let (lo, hi) = (o.offset + first as i64, o.offset + last as i64);
        if self.low.is_empty() || lo < self.offset || hi >= self.offset + self.len() as i64 {
            self.grow(lo, hi, 1 << (SUB_BUCKET_BITS - 2));
        }
        let at = (lo - self.offset) as usize;
        for (k, i) in (at..).zip(first..=last) {
            self.set(k, self.count(k) + o.count(i));
        }
    }

    fn len(&self) -> usize {
        self.low.len()
    }

    /// Non-empty buckets `(key, count)`, ascending in key.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, u64)> + '_ {
        (0..self.low.len()).map(|i| (self.offset + i as i64, self.count(i))).filter(|(_, c)| *c > 0)
    }
}

/// Mergeable quantile sketch with relative error [`RELATIVE_ERROR`].
/// Two sketches are equal when they hold the same counts (however their
/// stores grew).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sketch {
    /// Distinct values and their counts, ascending, while there are at most
    /// [`EXACT_VALUES`]; `None` once the sketch has switched to buckets.
    exact: Option<Vec<(f64, u64)>>,
    neg: Store,
    zero: u64,
    pos: Store,
    n: u64,
    min: f64,
    max: f64,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch {
            exact: Some(Vec::new()),
            neg: Store::default(),
            zero: 0,
            pos: Store::default(),
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl PartialEq for Sketch {
    fn eq(&self, o: &Self) -> bool {
        let bits = |x: f64| x.to_bits();
        self.n == o.n
            && bits(self.min) == bits(o.min)
            && bits(self.max) == bits(o.max)
            && self.exact == o.exact
            && self.zero == o.zero
            && self.pos.iter().eq(o.pos.iter())
            && self.neg.iter().eq(o.neg.iter())
    }
}

#[inline(always)]
fn key(a: f64) -> i64 {
    (a.to_bits() >> (52 - SUB_BUCKET_BITS)) as i64
}

/// Midpoint of the bucket of `|x|` with key `k`.
fn midpoint(k: i64) -> f64 {
    let lo = f64::from_bits((k as u64) << (52 - SUB_BUCKET_BITS));
    let hi = f64::from_bits(((k + 1) as u64) << (52 - SUB_BUCKET_BITS));
    lo + (hi - lo) / 2.0
}

impl Sketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a sketch read back from a file (a shard) is one this code
    /// could have built: its count is the sum of its buckets' counts, exact
    /// values ascending and at most [`EXACT_VALUES`], stores within the
    /// keys of finite numbers. Merging and reading quantiles off a sketch
    /// that passes cannot fail.
    pub fn check(&self) -> Result<(), String> {
        let total = match &self.exact {
            Some(v) => {
                let ascending = v.windows(2).all(|w| w[0].0.total_cmp(&w[1].0).is_lt());
                let stores_empty = self.zero == 0 && self.neg.len() == 0 && self.pos.len() == 0;
                if v.len() > EXACT_VALUES || !ascending || !stores_empty || v.iter().any(|(x, _)| !x.is_finite()) {
                    return Err(format!("a sketch's {} exact values are not ascending finite numbers", v.len()));
                }
                v.iter().try_fold(0u64, |t, (_, c)| t.checked_add(*c))
            }
            None => {
                let (neg, pos) = (self.neg.check()?, self.pos.check()?);
                neg.checked_add(pos).and_then(|t| t.checked_add(self.zero))
            }
        };
        match total {
            Some(t) if t == self.n => Ok(()),
            _ => Err(format!("a sketch of {} values whose buckets hold {total:?}", self.n)),
        }
    }

    #[inline]
    pub fn add(&mut self, x: f64) {
        if self.exact.is_none() {
            return self.add_slice(std::slice::from_ref(&x));
        }
        debug_assert!(x.is_finite(), "non-finite value {x} in a sketch");
        self.n += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if let Some(ex) = &mut self.exact {
            match ex.binary_search_by(|(v, _)| v.total_cmp(&x)) {
                Ok(i) => ex[i].1 += 1,
                Err(i) if ex.len() < EXACT_VALUES => ex.insert(i, (x, 1)),
                Err(_) => {
                    self.switch_to_buckets();
                    self.bucket(x, 1);
                }
            }
        }
    }

    /// Count one value in its bucket.
    #[inline(always)]
    fn bucket_one(&mut self, x: f64) {
        if x >= ZERO_BAND {
            let k = key(x);
            if !self.pos.bump(k) {
                self.pos.add(k, 1);
            }
        } else if x <= -ZERO_BAND {
            let k = key(-x);
            if !self.neg.bump(k) {
                self.neg.add(k, 1);
            }
        } else {
            self.zero += 1;
        }
    }

    fn bucket(&mut self, x: f64, n: u64) {
        if x >= ZERO_BAND {
            self.pos.add(key(x), n);
        } else if x <= -ZERO_BAND {
            self.neg.add(key(-x), n);
        } else {
            self.zero += n;
        }
    }

    /// Add every value of `xs` (the lanes of a block).
    #[inline]
    pub fn add_slice(&mut self, xs: &[f64]) {
        if self.exact.is_some() {
            xs.iter().for_each(|x| self.add(*x));
            return;
        }
        self.n += xs.len() as u64;
        for &x in xs {
            debug_assert!(x.is_finite(), "non-finite value {x} in a sketch");
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        for &x in xs {
            self.bucket_one(x);
        }
    }

    /// Add the eight values of a full block: [`Sketch::add_slice`] with the
    /// common case (every value positive and inside the store's range)
    /// taken for all lanes at once.
    #[inline(always)]
    pub fn add8(&mut self, xs: &[f64; 8]) {
        if self.exact.is_none() && xs.iter().fold(true, |all, x| all & (*x >= ZERO_BAND)) {
            let (offset, len) = (self.pos.offset, self.pos.low.len());
            let at: [usize; 8] = std::array::from_fn(|l| key(xs[l]).wrapping_sub(offset) as usize);
            if at.iter().fold(true, |all, i| all & (*i < len)) {
                debug_assert!(xs.iter().all(|x| x.is_finite()), "non-finite value in a sketch");
                self.n += 8;
                self.extremes8(xs);
                self.pos.bump8(at);
                return;
            }
        }
        if self.exact.is_none() && self.add8_signed(xs) {
            return;
        }
        if let Some(ex) = &mut self.exact
            && held8(ex, xs)
        {
            self.n += 8;
            return;
        }
        self.add_slice(xs);
    }

    /// [`Sketch::add8`] of eight values of either sign (a loss is mostly
    /// positive, sometimes negative), none in the zero band, each inside
    /// the store of its sign: each value's store is picked without a
    /// branch on its sign (one value at a time, the sign mispredicted half
    /// the time, cost more than the rest of the count). False, and nothing
    /// taken, otherwise.
    #[inline(always)]
    fn add8_signed(&mut self, xs: &[f64; 8]) -> bool {
        let neg: [bool; 8] = std::array::from_fn(|l| xs[l] < 0.0);
        let (pos_at, neg_at) = (self.pos.offset, self.neg.offset);
        let (pos_len, neg_len) = (self.pos.low.len(), self.neg.low.len());
        let mut inside = true;
        let mut at = [0usize; 8];
        for l in 0..8 {
            let (offset, len) = if neg[l] { (neg_at, neg_len) } else { (pos_at, pos_len) };
            at[l] = key(xs[l].abs()).wrapping_sub(offset) as usize;
            inside &= (xs[l].abs() >= ZERO_BAND) & (at[l] < len);
        }
        if !inside {
            return false;
        }
        debug_assert!(xs.iter().all(|x| x.is_finite()), "non-finite value in a sketch");
        self.n += 8;
        self.extremes8(xs);
        for l in 0..8 {
            let store = if neg[l] { &mut self.neg } else { &mut self.pos };
            store.bump_at(at[l]);
        }
        true
    }

    /// Stage the `L` values of a whole block for counting later: in the
    /// common case (buckets, every value positive and inside a store of at
    /// most 2^16 buckets) the count, min and max take them now and `out`
    /// gets each value's bucket offset in the positive store, to be counted
    /// by [`Sketch::count_staged`] before the store next changes; otherwise
    /// false, and nothing is taken. Until then the sketch's count is ahead
    /// of its buckets': only the fold that staged them may look at it.
    #[inline(always)]
    pub(crate) fn stage<const L: usize>(&mut self, xs: &[f64; L], out: &mut [u16]) -> bool {
        let (offset, len) = (self.pos.offset, self.pos.low.len());
        if self.exact.is_some() || len > 1 << 16 {
            return false;
        }
        let mut at = [0u16; L];
        let mut inside = true;
        for l in 0..L {
            let i = key(xs[l]).wrapping_sub(offset) as usize;
            inside &= (xs[l] >= ZERO_BAND) & (i < len);
            at[l] = i as u16;
        }
        if !inside {
            return false;
        }
        debug_assert!(xs.iter().all(|x| x.is_finite()), "non-finite value in a sketch");
        out.copy_from_slice(&at);
        self.n += L as u64;
        let outside = xs.iter().fold(false, |any, x| any | (*x < self.min) | (*x > self.max));
        if outside {
            xs.as_chunks::<8>().0.iter().for_each(|h| self.extremes8(h));
        }
        true
    }

    /// Count the bucket offsets [`Sketch::stage`] gave since the store last
    /// changed, but for the carries of low bytes that wrapped, which go to
    /// `wrapped` for [`Sketch::carry_staged`] (before the store changes).
    #[inline(always)]
    pub(crate) fn count_staged(&mut self, at: &[u16], wrapped: &mut Vec<u16>) {
        self.pos.bump_all(at, wrapped);
    }

    /// Apply the carries [`Sketch::count_staged`] held back.
    pub(crate) fn carry_staged(&mut self, wrapped: &[u16]) {
        self.pos.carry_all(wrapped);
    }

    /// Min and max updated with eight values.
    #[inline(always)]
    fn extremes8(&mut self, xs: &[f64; 8]) {
        let (lo, hi) = min_max8(xs);
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
    }

    #[cold]
    fn switch_to_buckets(&mut self) {
        if let Some(ex) = self.exact.take() {
            for (v, c) in ex {
                self.bucket(v, c);
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn min(&self) -> f64 {
        self.min
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// [`Sketch::merge`] of a sketch given away: an empty sketch takes
    /// `o`'s buckets as they are (the same counts, no copy).
    pub fn absorb(&mut self, o: Sketch) {
        if self.n == 0 && self.exact.as_ref().is_some_and(Vec::is_empty) {
            *self = o;
        } else {
            self.merge(&o);
        }
    }

    pub fn merge(&mut self, o: &Sketch) {
        self.n += o.n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        if let (Some(a), Some(b)) = (&mut self.exact, &o.exact) {
            for &(v, c) in b {
                match a.binary_search_by(|(w, _)| w.total_cmp(&v)) {
                    Ok(i) => a[i].1 += c,
                    Err(i) => a.insert(i, (v, c)),
                }
            }
            if a.len() <= EXACT_VALUES {
                return;
            }
            self.switch_to_buckets();
            return;
        }
        self.switch_to_buckets();
        match &o.exact {
            Some(b) => b.iter().for_each(|&(v, c)| self.bucket(v, c)),
            None => {
                self.neg.merge(&o.neg);
                self.pos.merge(&o.pos);
                self.zero += o.zero;
            }
        }
    }

    /// Number of buckets in use (for the memory bound).
    pub fn buckets(&self) -> usize {
        self.neg.len() + self.pos.len() + 1 + self.exact.as_ref().map_or(0, |e| e.len())
    }

    /// The non-empty buckets as (count, value read for the bucket) in
    /// ascending order of value, read once for several figures, gathered in
    /// plain loops that skip runs of empty buckets (a run's summary reads hundreds of sketches of
    /// thousands of buckets each, most of them empty in a small run).
    pub fn ranked(&self) -> Ranked {
        let mut buckets = Vec::with_capacity(self.n.min(self.buckets() as u64) as usize);
        self.walk(&mut |c, x| {
            buckets.push((c, x));
            ControlFlow::Continue(())
        });
        Ranked { n: self.n, buckets }
    }

    /// Call `f(count, value read for the bucket)` on the non-empty buckets
    /// in ascending order of value until it breaks: the buckets of
    /// [`Sketch::ranked`], without gathering them.
    fn walk(&self, f: &mut dyn FnMut(u64, f64) -> ControlFlow<()>) {
        if let Some(ex) = &self.exact {
            let _ = ex.iter().try_for_each(|&(v, c)| f(c, v));
            return;
        }
        let clamp = |x: f64| x.clamp(self.min, self.max);
        let mut stores = || {
            self.neg.each(true, &mut |i, c| f(c, clamp(-midpoint(self.neg.offset + i as i64))))?;
            if self.zero > 0 {
                f(self.zero, clamp(0.0))?;
            }
            self.pos.each(false, &mut |i, c| f(c, clamp(midpoint(self.pos.offset + i as i64))))
        };
        let _ = stores();
    }

    /// Counts in `bins` equal-width bins over `[lo, hi]` ([`Ranked::histogram`]).
    pub fn histogram(&self, lo: f64, hi: f64, bins: usize) -> (Vec<u64>, [u64; 2]) {
        self.ranked().histogram(lo, hi, bins)
    }

    /// The exceedance curve ([`Ranked::exceedance`]).
    pub fn exceedance(&self) -> Vec<(f64, f64)> {
        self.ranked().exceedance()
    }

    /// Rank (1-based) of the p-quantile.
    pub fn rank(&self, p: f64) -> u64 {
        rank_of(self.n, p)
    }

    /// The order statistic of rank `r` ([`Ranked::at_rank`]).
    pub fn at_rank(&self, r: u64) -> f64 {
        self.at_ranks(&[r])[0]
    }

    /// The quantile of every level in `ps` ([`Ranked::quantiles`]).
    pub fn quantiles(&self, ps: &[f64]) -> Vec<f64> {
        let ranks: Vec<u64> = ps.iter().map(|p| self.rank(*p)).collect();
        self.at_ranks(&ranks)
    }

    /// The order statistic of every rank in `ranks` ([`Ranked::at_ranks`]),
    /// read in one walk over the buckets that stops at the highest rank
    /// (a run's summary reads hundreds of sketches).
    pub fn at_ranks(&self, ranks: &[u64]) -> Vec<f64> {
        at_ranks(self.n, ranks, |f| self.walk(f))
    }

    /// How far a value this sketch reads as `x` can lie from the value it
    /// stands for: half the width of `x`'s bucket, 0 while the sketch is
    /// exact, [`ZERO_BAND`] in the zero bucket.
    pub fn resolution(&self, x: f64) -> f64 {
        if self.exact.is_some() {
            return 0.0;
        }
        let a = x.abs();
        if a < ZERO_BAND {
            return ZERO_BAND;
        }
        let k = key(a);
        let lo = f64::from_bits((k as u64) << (52 - SUB_BUCKET_BITS));
        let hi = f64::from_bits(((k + 1) as u64) << (52 - SUB_BUCKET_BITS));
        (hi - lo) / 2.0
    }

    /// The p-quantile ([`Ranked::quantile`]).
    pub fn quantile(&self, p: f64) -> f64 {
        self.ranked().quantile(p)
    }

    /// Mean and mean square of the tail ([`Ranked::tail_moments`]).
    pub fn tail_moments(&self, p: f64) -> (f64, f64) {
        self.ranked().tail_moments(p)
    }

    /// Expected shortfall at level `p` ([`Ranked::tail_mean`]).
    pub fn tail_mean(&self, p: f64) -> f64 {
        self.tail_moments(p).0
    }
}

/// A sketch's non-empty buckets, ascending, read off once
/// ([`Sketch::ranked`]): quantiles, tail means, histograms and exceedance
/// curves of the sketch, each the same value however many are read.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    n: u64,
    /// (count, value read for the bucket), ascending in value.
    buckets: Vec<(u64, f64)>,
}

/// The order statistics of `ranks` (1-based, clamped to 1..=n; NaN when
/// `n` is 0) of `n` values whose buckets `walk` gives, ascending, as
/// (count, value), until its callback breaks.
fn at_ranks(n: u64, ranks: &[u64], walk: impl FnOnce(&mut dyn FnMut(u64, f64) -> ControlFlow<()>)) -> Vec<f64> {
    let mut out = vec![f64::NAN; ranks.len()];
    if n == 0 {
        return out;
    }
    let mut order: Vec<(u64, usize)> = ranks.iter().enumerate().map(|(i, r)| ((*r).clamp(1, n), i)).collect();
    order.sort_unstable();
    let (mut next, mut cum) = (order.iter().peekable(), 0);
    walk(&mut |c, x| {
        cum += c;
        while let Some((_, i)) = next.next_if(|(r, _)| *r <= cum) {
            out[*i] = x;
        }
        if next.peek().is_none() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    out
}

/// Rank (1-based) of the p-quantile of `n` values.
fn rank_of(n: u64, p: f64) -> u64 {
    ((p * n as f64).ceil() as u64).clamp(1, n.max(1))
}

impl Ranked {
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The non-empty buckets: (count, value read for the bucket), ascending.
    pub fn buckets(&self) -> &[(u64, f64)] {
        &self.buckets
    }

    /// Counts in `bins` equal-width bins over `[lo, hi]`; each sketch bucket
    /// goes to the bin holding its value, values outside the range are left
    /// out. Returns the counts and how many values were left out.
    pub fn histogram(&self, lo: f64, hi: f64, bins: usize) -> (Vec<u64>, [u64; 2]) {
        let mut counts = vec![0u64; bins];
        let mut outside = [0, 0];
        let width = (hi - lo) / bins as f64;
        for &(c, x) in &self.buckets {
            if width > 0.0 && x >= lo && x <= hi {
                counts[(((x - lo) / width) as usize).min(bins - 1)] += c;
            } else {
                outside[usize::from(x >= lo)] += c;
            }
        }
        (counts, outside)
    }

    /// Points `(x, P(X > x))` of the exceedance curve, one per non-empty
    /// bucket, ascending in x, ending before P = 0.
    pub fn exceedance(&self) -> Vec<(f64, f64)> {
        let mut above = self.n;
        let mut out = Vec::new();
        for &(c, x) in &self.buckets {
            above -= c;
            if above == 0 {
                break;
            }
            out.push((x, above as f64 / self.n as f64));
        }
        out
    }

    /// Rank (1-based) of the p-quantile.
    pub fn rank(&self, p: f64) -> u64 {
        rank_of(self.n, p)
    }

    /// The order statistic of rank `r` (1-based, clamped to 1..=n); NaN when empty.
    pub fn at_rank(&self, r: u64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.at_ranks(&[r])[0]
    }

    /// [`Sketch::quantile`] of every level in `ps`, in one pass over the
    /// buckets (the same values as one call per level).
    pub fn quantiles(&self, ps: &[f64]) -> Vec<f64> {
        let ranks: Vec<u64> = ps.iter().map(|p| self.rank(*p)).collect();
        self.at_ranks(&ranks)
    }

    /// [`Sketch::at_rank`] of every rank in `ranks`, in one pass over the
    /// buckets (the same values as one call per rank).
    pub fn at_ranks(&self, ranks: &[u64]) -> Vec<f64> {
        at_ranks(self.n, ranks, |f| {
            let _ = self.buckets.iter().try_for_each(|&(c, x)| f(c, x));
        })
    }

    /// The p-quantile (p in [0, 1]); NaN when empty.
    pub fn quantile(&self, p: f64) -> f64 {
        self.at_rank(self.rank(p))
    }

    /// Mean and mean square of the order statistics of rank `ceil(p n)` .. `n`.
    pub fn tail_moments(&self, p: f64) -> (f64, f64) {
        if self.n == 0 {
            return (f64::NAN, f64::NAN);
        }
        let k = self.n - self.rank(p) + 1;
        let (mut left, mut s1, mut s2) = (k, 0.0, 0.0);
        for &(c, x) in self.buckets.iter().rev() {
            let take = c.min(left) as f64;
            s1 += x * take;
            s2 += x * x * take;
            left -= c.min(left);
            if left == 0 {
                break;
            }
        }
        (s1 / k as f64, s2 / k as f64)
    }

    /// Mean of the order statistics of rank `ceil(p n)` .. `n`: expected
    /// shortfall at level `p` when the values are losses.
    pub fn tail_mean(&self, p: f64) -> f64 {
        self.tail_moments(p).0
    }
}

/// Moments and sketch of one metric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricAcc {
    pub moments: Moments,
    pub sketch: Sketch,
}

impl MetricAcc {
    /// Whether an accumulator read back from a file is consistent: its
    /// sketch ([`Sketch::check`]) counts the values its moments count.
    pub fn check(&self) -> Result<(), String> {
        self.sketch.check()?;
        if self.sketch.count() != self.moments.count() {
            return Err(format!(
                "a metric of {} values whose sketch holds {}",
                self.moments.count(),
                self.sketch.count()
            ));
        }
        Ok(())
    }

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

    #[test]
    fn check_accepts_what_the_code_builds_and_refuses_the_rest() {
        let mut exact = Sketch::new();
        [3.0, -1.0, 0.0, 3.0].iter().for_each(|x| exact.add(*x));
        let mut buckets = Sketch::new();
        buckets.add_slice(&(0..1000).map(|i| (i as f64 - 300.0) * 0.37).collect::<Vec<_>>());
        let mut merged = exact.clone();
        merged.merge(&buckets);
        for s in [&Sketch::new(), &exact, &buckets, &merged] {
            assert_eq!(s.check(), Ok(()));
        }
        let mut more = buckets.clone();
        more.n += 1;
        assert!(more.check().unwrap_err().contains("1001 values"));
        let mut torn = buckets.clone();
        torn.pos.high.push(0);
        assert!(torn.check().is_err());
        let mut far = buckets.clone();
        far.pos.offset = i64::MIN + 3;
        assert!(far.check().unwrap_err().contains("at key"));
        let mut unsorted = exact.clone();
        unsorted.exact.as_mut().unwrap().swap(0, 1);
        assert!(unsorted.check().is_err());
        let mut acc = MetricAcc::default();
        acc.add(1.0);
        assert_eq!(acc.check(), Ok(()));
        acc.sketch.add(2.0);
        assert!(acc.check().unwrap_err().contains("sketch holds 2"));
    }

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
        fn one_pass_quantiles_equal_one_call_per_level(
            xs in prop::collection::vec(-1e3f64..1e3, 1..400),
            ps in prop::collection::vec(0.0f64..=1.0, 0..8),
        ) {
            let mut s = Sketch::new();
            xs.iter().for_each(|x| s.add(*x));
            let one: Vec<u64> = ps.iter().map(|p| s.quantile(*p).to_bits()).collect();
            let all: Vec<u64> = s.quantiles(&ps).iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(one, all);
            let ranks: Vec<u64> = ps.iter().map(|p| (p * 1.2 * xs.len() as f64) as u64).collect();
            let one: Vec<u64> = ranks.iter().map(|r| s.at_rank(*r).to_bits()).collect();
            let all: Vec<u64> = s.at_ranks(&ranks).iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(&one, &all);
            // The walk that stops at the highest rank reads what the
            // gathered buckets read.
            let gathered: Vec<u64> = s.ranked().at_ranks(&ranks).iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(one, gathered);
        }

        #[test]
        fn adding_eight_at_once_equals_adding_one_by_one(
            // A few held values first (a count of events), then more
            // distinct values than exact mode holds.
            few in prop::collection::vec((0u8..3).prop_map(f64::from), 0..120),
            xs in prop::collection::vec(prop_oneof![8 => Just(0.0), 1 => (0u8..30).prop_map(f64::from)], 0..200),
            wide in prop::collection::vec(-1e3f64..1e3, 0..40),
            // Both signs mixed in blocks of eight (a loss), zeros among them.
            signed in prop::collection::vec(prop_oneof![4 => 1.0f64..1e3, 3 => -1e3f64..-1.0, 1 => Just(0.0)], 0..400),
        ) {
            let xs: Vec<f64> = few.into_iter().chain(xs).chain(wide).chain(signed).collect();
            let (mut one, mut eight) = (Sketch::new(), Sketch::new());
            xs.iter().for_each(|x| one.add(*x));
            let (chunks, rest) = xs.as_chunks::<8>();
            chunks.iter().for_each(|c| eight.add8(c));
            eight.add_slice(rest);
            prop_assert_eq!(one, eight);
        }

        /// Blocks staged and counted later, as the run's fold does (the
        /// staged values counted before any block that is not staged, and
        /// at the end), give the sketch of adding eight at a time: counts
        /// past 255 (a wrapped low byte, with and without high parts),
        /// exact mode, zeros, negatives and growing stores included.
        #[test]
        fn staged_blocks_equal_adding_eight_at_once(
            blocks in prop::collection::vec(
                prop_oneof![
                    // Positive values, mostly inside the store: staged.
                    4 => prop::collection::vec(prop_oneof![6 => Just(5.0), 6 => 1.0f64..1.1, 1 => 1e-3f64..1e4], 16),
                    // Zeros and negatives among them: counted at once.
                    1 => prop::collection::vec(prop_oneof![4 => 1.0f64..1.1, 1 => Just(0.0), 1 => -10.0f64..-1.0], 16),
                ],
                0..120,
            ),
            cap in 1usize..6,
        ) {
            let (mut eight, mut staged) = (Sketch::new(), Sketch::new());
            let (mut at, mut wrapped): (Vec<u16>, Vec<u16>) = (Vec::new(), Vec::new());
            for b in &blocks {
                let b: &[f64; 16] = b.as_slice().try_into().expect("16 values");
                b.as_chunks::<8>().0.iter().for_each(|h| eight.add8(h));
                let mut out = [0u16; 16];
                if at.len() < 16 * cap && staged.stage(b, &mut out) {
                    at.extend_from_slice(&out);
                } else {
                    wrapped.clear();
                    staged.count_staged(&at, &mut wrapped);
                    staged.carry_staged(&wrapped);
                    at.clear();
                    b.as_chunks::<8>().0.iter().for_each(|h| staged.add8(h));
                }
            }
            wrapped.clear();
            staged.count_staged(&at, &mut wrapped);
            staged.carry_staged(&wrapped);
            prop_assert_eq!(&eight, &staged);
            prop_assert!(staged.check().is_ok());
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
            prop_assert_eq!(&a.sketch, &all.sketch);
        }

        /// Merging (into a store of any layout) and absorbing give the
        /// counts of adding every value, and `ranked` reads the buckets
        /// key by key (`reference_buckets`), counts of 256 and more (a
        /// wrapped low byte) included.
        #[test]
        fn merged_absorbed_and_ranked_sketches_hold_the_same_buckets(
            xs in prop::collection::vec(prop_oneof![2 => -1e4f64..1e4, 1 => 1e-12f64..1e-6, 3 => Just(5.0), 1 => Just(-3.0)], 0..1200),
            cuts in prop::collection::vec(0usize..1200, 0..4),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(xs.len())).collect();
            cuts.sort_unstable();
            let parts: Vec<&[f64]> = [0].iter().chain(&cuts).zip(cuts.iter().chain([&xs.len()]))
                .map(|(a, b)| &xs[*a..*b]).collect();
            let sketch = |v: &[f64]| { let mut s = Sketch::new(); v.iter().for_each(|x| s.add(*x)); s };
            let all = sketch(&xs);
            let (mut merged, mut absorbed) = (Sketch::new(), Sketch::new());
            for p in parts.iter().rev() {
                merged.merge(&sketch(p));
                absorbed.absorb(sketch(p));
            }
            prop_assert_eq!(&merged, &all);
            prop_assert_eq!(&absorbed, &all);
            for s in [&merged, &all] {
                let ranked: Vec<(u64, u64)> = s.ranked().buckets.iter().map(|(c, x)| (*c, x.to_bits())).collect();
                let reference: Vec<(u64, u64)> = reference_buckets(s).into_iter().map(|(c, x)| (c, x.to_bits())).collect();
                prop_assert_eq!(ranked, reference);
            }
        }
    }

    /// A sketch's non-empty buckets read the plain way, key by key through
    /// the stores' iterators: the reference for [`Sketch::ranked`].
    fn reference_buckets(s: &Sketch) -> Vec<(u64, f64)> {
        if let Some(ex) = &s.exact {
            return ex.iter().map(|&(v, c)| (c, v)).collect();
        }
        let clamp = |x: f64| x.clamp(s.min, s.max);
        let neg = s.neg.iter().rev().map(|(k, c)| (c, clamp(-midpoint(k))));
        let zero = std::iter::once((s.zero, clamp(0.0))).filter(|(c, _)| *c > 0);
        let pos = s.pos.iter().map(|(k, c)| (c, clamp(midpoint(k))));
        neg.chain(zero).chain(pos).collect()
    }

    /// A store allocates its high parts only when a count passes 255, and
    /// counts past it (one by one, merged, or switched from exact values)
    /// are the counts added.
    #[test]
    fn high_parts_come_with_the_first_count_past_255() {
        let spread: Vec<f64> = (0..3000).map(|i| 100.0 + f64::from(i) * 0.1).collect();
        let mut s = Sketch::new();
        s.add_slice(&spread);
        assert!(s.pos.high.is_empty() && s.pos.len() > 1000, "3,000 values over 2,000 buckets need no high part");
        let mut heavy = Sketch::new();
        (0..255).for_each(|_| heavy.add(7.0));
        (20..40).for_each(|i| heavy.add(f64::from(i)));
        assert!(heavy.pos.high.is_empty());
        heavy.add(7.0);
        assert_eq!(heavy.pos.high.len(), heavy.pos.len(), "the 256th value of a bucket allocates the high parts");
        let mut merged = s.clone();
        for _ in 0..3 {
            merged.merge(&heavy);
        }
        assert_eq!(merged.check(), Ok(()));
        let count = |s: &Sketch, x: f64| s.pos.iter().find(|(k, _)| *k == key(x)).map_or(0, |(_, c)| c);
        assert_eq!(count(&merged, 7.0), 3 * 256);
        assert_eq!(count(&merged, 30.0), 3);
        assert_eq!(merged.count(), 3000 + 3 * 276);
        // Blocks of eight with a bucket six times in each: its low byte
        // wraps inside a block (before any high part exists, then after).
        let (mut one, mut eight) = (s.clone(), s.clone());
        let block = [150.0, 150.0, 200.0, 150.0, 250.0, 150.0, 150.0, 150.0];
        for _ in 0..100 {
            block.iter().for_each(|x| one.add(*x));
            eight.add8(&block);
        }
        assert_eq!(one, eight);
        assert_eq!(count(&eight, 150.0), count(&s, 150.0) + 600);
        assert_eq!(eight.check(), Ok(()));
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
        // Values in [1, 2): one octave of 512 buckets, a quarter octave of
        // slack either side, and the zero bucket.
        assert!(total.buckets() <= 512 + 2 * 128 + 1, "{} buckets", total.buckets());
        assert_eq!(total.count(), 50_000);
    }

    #[test]
    fn histogram_and_exceedance_count_every_value() {
        let mut s = Sketch::default();
        for i in 0..1000 {
            s.add(f64::from(i) / 10.0);
        }
        let (counts, [below, above]) = s.histogram(0.0, 50.0, 10);
        assert_eq!(counts.iter().sum::<u64>() + below + above, 1000);
        assert!(below == 0 && (498..=502).contains(&above), "{below} below, {above} above");
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
