//! Keyed random numbers: every draw is a pure function of
//! (seed, path, the key of what it belongs to, a counter).
//!
//! The generator is Philox4x32-10 (Salmon, Moraes, Dror and Shaw,
//! "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the generator of
//! Random123, cuRAND and JAX): a keyed bijection of a 128-bit counter, so
//! any draw can be computed directly, in any order, on any thread, process
//! or SIMD lane, with no state carried from one draw to the next.
//!
//! - The Philox **key** (64 bits) is [`key`]`(seed, name)`: the FNV-1a hash
//!   of the entity's stable name (`shock:customers.openai`,
//!   `param:renegotiation[openai,azure].hazard`, `holding:MSFT`, ...) mixed
//!   with the seed. Names, not positions: adding, removing or reordering
//!   entities in a scenario leaves every other entity's draws unchanged.
//! - The **counter** is `[path low, path high, index, tag]`: the path, a
//!   draw index inside the entity's sequence, and a tag for the kind of
//!   sequence ([`TAG_QUARTERLY`], [`TAG_STREAM`]).
//!
//! The full layout, entity by entity, is in `docs/streams.md`. Known-answer
//! tests against Random123's `kat_vectors` pin the generator.

use rand::{TryRng, rand_core::utils};

/// Philox4x32 round multipliers and Weyl key increments (Random123).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Counter tag of per-quarter sequences (shocks, event uniforms): index
/// `(t - 1) / 4` gives the words of quarters `t` in a group of four.
pub const TAG_QUARTERLY: u32 = 0;
/// Counter tag of general streams ([`Stream`]), for parameters and severities.
pub const TAG_STREAM: u32 = 1;

/// One Philox4x32 round.
#[inline(always)]
fn round(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let p0 = u64::from(M0) * u64::from(c[0]);
    let p1 = u64::from(M1) * u64::from(c[2]);
    [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32]
}

/// Philox4x32-10: four 32-bit words from a counter and a key.
#[inline(always)]
pub fn philox(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        c = round(c, k);
    }
    c
}

/// Philox4x32-10 of `L` consecutive paths `path0 .. path0 + L` at once:
/// word `j` of lane `l` is `philox(counter(path0 + l, index, tag), key)[j]`.
/// Written lane by lane so that the compiler vectorises it.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
pub fn philox_lanes<const L: usize>(path0: u64, index: u32, tag: u32, key: [u32; 2]) -> [[u32; L]; 4] {
    let mut c = [[0u32; L]; 4];
    for l in 0..L {
        let p = path0.wrapping_add(l as u64);
        c[0][l] = p as u32;
        c[1][l] = (p >> 32) as u32;
        c[2][l] = index;
        c[3][l] = tag;
    }
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let mut n = [[0u32; L]; 4];
        for l in 0..L {
            let p0 = u64::from(M0) * u64::from(c[0][l]);
            let p1 = u64::from(M1) * u64::from(c[2][l]);
            n[0][l] = (p1 >> 32) as u32 ^ c[1][l] ^ k[0];
            n[1][l] = p1 as u32;
            n[2][l] = (p0 >> 32) as u32 ^ c[3][l] ^ k[1];
            n[3][l] = p0 as u32;
        }
        c = n;
    }
    c
}

/// [`philox_lanes`]`::<8>` with AVX2 intrinsics: the same words (integer
/// arithmetic, so exactly the same), about four times faster than what the
/// compiler makes of the portable loop. A 32 x 32 -> 64-bit product per lane
/// takes `vpmuludq` on the even and on the odd lanes, then two blends.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn philox8_avx2(path0: u64, index: u32, tag: u32, key: [u32; 2]) -> [[u32; 8]; 4] {
    use std::arch::x86_64::*;
    /// `(hi, lo)` 32-bit halves of `a * m`, lane by lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn mulhilo(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
        let even = _mm256_mul_epu32(a, m);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
        let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        (hi, lo)
    }
    let path: [u64; 8] = std::array::from_fn(|l| path0.wrapping_add(l as u64));
    let low: [u32; 8] = path.map(|p| p as u32);
    let high: [u32; 8] = path.map(|p| (p >> 32) as u32);
    // SAFETY: unaligned loads and stores of 32-byte arrays.
    let (mut c0, mut c1) =
        unsafe { (_mm256_loadu_si256(low.as_ptr().cast()), _mm256_loadu_si256(high.as_ptr().cast())) };
    let (mut c2, mut c3) = (_mm256_set1_epi32(index as i32), _mm256_set1_epi32(tag as i32));
    let (m0, m1) = (_mm256_set1_epi32(M0 as i32), _mm256_set1_epi32(M1 as i32));
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (h0, l0) = mulhilo(c0, m0);
        let (h1, l1) = mulhilo(c2, m1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), _mm256_set1_epi32(k[0] as i32));
        c2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), _mm256_set1_epi32(k[1] as i32));
        (c1, c3) = (l1, l0);
    }
    let mut out = [[0u32; 8]; 4];
    for (o, c) in out.iter_mut().zip([c0, c1, c2, c3]) {
        // SAFETY: as above.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), c) };
    }
    out
}

/// [`philox_lanes`]`::<16>` with AVX-512 intrinsics, the same words as the
/// portable loop: one run of [`philox16xn_avx512`].
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn philox16_avx512(path0: u64, index: u32, tag: u32, key: [u32; 2]) -> [[u32; 16]; 4] {
    use std::arch::x86_64::*;
    // SAFETY: the caller's CPU has AVX-512F.
    let [c] = unsafe { philox16xn_avx512([path0], index, tag, [key]) };
    let mut out = [[0u32; 16]; 4];
    for (o, c) in out.iter_mut().zip(c) {
        // SAFETY: an unaligned store of a 64-byte array.
        unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), c) };
    }
    out
}

/// `N` independent runs of [`philox16_avx512`] (paths `path0[i] ..
/// path0[i] + 16` under `keys[i]`), their rounds interleaved, returned in
/// registers: word `j` of run `i` is `out[i][j]`. One run is a chain of
/// dependent multiplications that leaves the vector units partly idle; two
/// side by side fill them (the kernel draws two at a time: more run out of
/// registers).
///
/// Each lane's word lives in the low half of a 64-bit slot (a run's 16
/// lanes are two registers of 8 per word): one `vpmuludq` then gives the
/// whole product, its high word a shift away and its low word the slot
/// itself (the next round's multiplication reads only the low half, so what
/// the upper halves hold does not matter), where 32-bit lanes need two
/// multiplications, shifts and blends per product. The words are packed
/// to 32-bit lanes once, at the end.
///
/// Always inlined, with no `target_feature` of its own: inside a function
/// compiled for AVX-512 (the kernel's copy) it becomes straight-line
/// vector code with its results in registers; as a call of its own it
/// would be too large to inline and would return them through memory.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn philox16xn_avx512<const N: usize>(
    path0: [u64; N],
    index: u32,
    tag: u32,
    keys: [[u32; 2]; N],
) -> [[std::arch::x86_64::__m512i; 4]; N] {
    use std::arch::x86_64::*;
    // SAFETY: the caller's CPU has AVX-512F; the loads read whole arrays.
    unsafe {
        // No closures here: a closure does not inherit the kernel's
        // target features, and its intrinsics would stay calls.
        // `c[i][h][j]`: word `j` of lanes `8 h .. 8 h + 8` of run `i`.
        let mut c = [[[_mm512_setzero_si512(); 4]; 2]; N];
        for i in 0..N {
            for (h, half) in c[i].iter_mut().enumerate() {
                // Paths of lanes 8 h ..: plain integers (no intrinsics in
                // the closure).
                let p: [u64; 8] = std::array::from_fn(|l| path0[i].wrapping_add((8 * h + l) as u64));
                let p = _mm512_loadu_si512(p.as_ptr().cast());
                *half = [p, _mm512_srli_epi64::<32>(p), _mm512_set1_epi64(index.into()), _mm512_set1_epi64(tag.into())];
            }
        }
        let (m0, m1) = (_mm512_set1_epi64(M0.into()), _mm512_set1_epi64(M1.into()));
        let mut k = keys;
        for r in 0..10 {
            for i in 0..N {
                if r > 0 {
                    k[i] = [k[i][0].wrapping_add(W0), k[i][1].wrapping_add(W1)];
                }
                let (k0, k1) = (_mm512_set1_epi64(k[i][0].into()), _mm512_set1_epi64(k[i][1].into()));
                for half in c[i].iter_mut() {
                    let [c0, c1, c2, c3] = *half;
                    let (p0, p1) = (_mm512_mul_epu32(c0, m0), _mm512_mul_epu32(c2, m1));
                    // hi(p1) ^ c1 ^ k0, lo(p1), hi(p0) ^ c3 ^ k1, lo(p0).
                    *half = [
                        _mm512_ternarylogic_epi64::<0x96>(_mm512_srli_epi64::<32>(p1), c1, k0),
                        p1,
                        _mm512_ternarylogic_epi64::<0x96>(_mm512_srli_epi64::<32>(p0), c3, k1),
                        p0,
                    ];
                }
            }
        }
        let mut out = [[_mm512_setzero_si512(); 4]; N];
        for i in 0..N {
            for j in 0..4 {
                let (lo, hi) = (_mm512_cvtepi64_epi32(c[i][0][j]), _mm512_cvtepi64_epi32(c[i][1][j]));
                out[i][j] = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
            }
        }
        out
    }
}

/// A uniform in [0, 1) with 53 random bits from two words, `w1` the high
/// ones: `(w1 2^21 + (w0 >> 11)) 2^-53`, which is `(x >> 11) 2^-53` for the
/// 64-bit `x = w1 2^32 + w0` (each step exact).
#[inline(always)]
pub fn unit53(w0: u32, w1: u32) -> f64 {
    (f64::from(w1) * 2_097_152.0 + f64::from(w0 >> 11)) * (1.0 / 9_007_199_254_740_992.0)
}

/// SplitMix64 finaliser (a bijection on u64).
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The Philox key of entity `name` under `seed`.
pub fn key(seed: u64, name: &str) -> [u32; 2] {
    // FNV-1a, 64 bits.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let k = mix(h ^ mix(seed ^ 0x9e37_79b9_7f4a_7c15));
    [k as u32, (k >> 32) as u32]
}

/// The counter of draw group `index` of sequence `tag` on path `path`.
#[inline(always)]
pub fn counter(path: u64, index: u32, tag: u32) -> [u32; 4] {
    [path as u32, (path >> 32) as u32, index, tag]
}

/// A uniform in (0, 1) from one 32-bit word: `(w + 1/2) 2^-32`, never 0 or 1.
#[inline(always)]
pub fn unit(w: u32) -> f64 {
    (f64::from(w) + 0.5) * (1.0 / 4_294_967_296.0)
}

/// The four words of quarter group `(t - 1) / 4` of a per-quarter sequence.
#[inline(always)]
pub fn quarterly(key: [u32; 2], path: u64, t: u32) -> [u32; 4] {
    philox(counter(path, (t - 1) / 4, TAG_QUARTERLY), key)
}

/// A sequential stream of one entity on one path, for samplers that take a
/// variable number of draws (parameters, severities): the words of counters
/// `[path, n, TAG_STREAM + 2 sub]`, n = 0, 1, 2, ... `sub` separates
/// streams of one entity (the k-th event's severity uses sub = k).
#[derive(Debug, Clone)]
pub struct Stream {
    key: [u32; 2],
    path: u64,
    tag: u32,
    next: u32,
    buf: [u32; 4],
    used: usize,
}

impl Stream {
    pub fn new(key: [u32; 2], path: u64, sub: u32) -> Self {
        Stream { key, path, tag: TAG_STREAM + 2 * sub, next: 0, buf: [0; 4], used: 4 }
    }

    #[inline]
    fn word(&mut self) -> u32 {
        if self.used == 4 {
            self.buf = philox(counter(self.path, self.next, self.tag), self.key);
            self.next = self.next.wrapping_add(1);
            self.used = 0;
        }
        self.used += 1;
        self.buf[self.used - 1]
    }
}

impl TryRng for Stream {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.word())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let lo = u64::from(self.word());
        Ok(lo | (u64::from(self.word()) << 32))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        utils::fill_bytes_via_next_word(dst, || self.try_next_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt};

    /// Random123's `kat_vectors`, the three `philox4x32 10` lines.
    #[test]
    fn philox_known_answers() {
        assert_eq!(philox([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(philox([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(
            philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn lanes_agree_with_the_scalar_generator() {
        let k = key(5, "lanes");
        let w = philox_lanes::<8>(u64::from(u32::MAX) - 3, 7, TAG_QUARTERLY, k);
        for l in 0..8 {
            let s = philox(counter(u64::from(u32::MAX) - 3 + l as u64, 7, TAG_QUARTERLY), k);
            assert_eq!([w[0][l], w[1][l], w[2][l], w[3][l]], s, "lane {l}");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_lanes_agree_with_the_portable_lanes() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: philox8_avx2 not tested");
            return;
        }
        for (path, index, tag) in [(0, 0, 0), (u64::from(u32::MAX) - 3, 7, 1), (u64::MAX - 5, u32::MAX, 9)] {
            let k = key(path, "avx2");
            // SAFETY: AVX2 was detected above.
            assert_eq!(unsafe { philox8_avx2(path, index, tag, k) }, philox_lanes::<8>(path, index, tag, k));
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx512_lanes_agree_with_the_portable_lanes() {
        if !std::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512 on this CPU: philox16_avx512 not tested");
            return;
        }
        for (path, index, tag) in [(0, 0, 0), (u64::from(u32::MAX) - 9, 7, 1), (u64::MAX - 5, u32::MAX, 9)] {
            let k = key(path, "avx512");
            // SAFETY: AVX-512F was detected above.
            assert_eq!(unsafe { philox16_avx512(path, index, tag, k) }, philox_lanes::<16>(path, index, tag, k));
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn interleaved_runs_agree_with_the_portable_lanes_run_by_run() {
        use std::arch::x86_64::*;
        let paths = [0, u64::from(u32::MAX) - 9, u64::MAX - 5];
        let keys = [key(1, "a"), key(2, "b"), key(3, "c")];
        let (index, tag) = (7, TAG_QUARTERLY);
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected above.
            let runs = unsafe { philox16xn_avx512(paths, index, tag, keys) };
            for (i, run) in runs.iter().enumerate() {
                let mut got = [[0u32; 16]; 4];
                // SAFETY: AVX-512F was detected; unaligned 64-byte stores.
                got.iter_mut().zip(run).for_each(|(o, c)| unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), *c) });
                assert_eq!(got, philox_lanes::<16>(paths[i], index, tag, keys[i]), "AVX-512 run {i}");
            }
        } else {
            eprintln!("no AVX-512 on this CPU: philox16xn_avx512 not tested");
        }
    }

    #[test]
    fn unit53_is_the_top_53_bits() {
        for x in [0u64, 1 << 11, u64::MAX, 0x0123_4567_89ab_cdef] {
            let u = unit53(x as u32, (x >> 32) as u32);
            assert_eq!(u, (x >> 11) as f64 / 9_007_199_254_740_992.0);
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn keys_depend_on_seed_and_name() {
        let ks = [key(1, "a"), key(2, "a"), key(1, "b"), key(1, "ab")];
        for i in 0..ks.len() {
            for j in i + 1..ks.len() {
                assert_ne!(ks[i], ks[j]);
            }
        }
        assert_eq!(key(1, "a"), key(1, "a"));
    }

    #[test]
    fn streams_are_repeatable_and_separate() {
        let k = key(3, "x");
        let a: Vec<u64> = (0..5).map(|_| 0).scan(Stream::new(k, 9, 0), |s, _: u64| Some(s.next_u64())).collect();
        let b: Vec<u64> = (0..5).map(|_| 0).scan(Stream::new(k, 9, 0), |s, _: u64| Some(s.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(Stream::new(k, 9, 1).next_u64(), a[0]);
        assert_ne!(Stream::new(k, 10, 0).next_u64(), a[0]);
        // The stream's words are those of the counters, in order.
        let w = philox(counter(9, 0, TAG_STREAM), k);
        assert_eq!(a[0], u64::from(w[0]) | (u64::from(w[1]) << 32));
    }

    #[test]
    fn unit_stays_inside_the_open_interval() {
        assert!(unit(0) > 0.0 && unit(u32::MAX) < 1.0);
        assert_eq!(unit(u32::MAX), 1.0 - unit(0));
        let mut s = Stream::new(key(0, "u"), 0, 0);
        let m = (0..100_000).map(|_| s.random::<f64>()).sum::<f64>() / 100_000.0;
        assert!((m - 0.5).abs() < 0.005, "mean {m}");
    }
}
