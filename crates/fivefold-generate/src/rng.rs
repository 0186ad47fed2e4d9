//! A small, hand-written PRNG: xoshiro256** seeded through splitmix64.
//!
//! Written out here (rather than taken from a crate) so that the output of the
//! generator depends on nothing but the seed: no crate upgrade can change a
//! byte of it.

/// One step of splitmix64, used to expand a 64-bit seed into generator state.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** with a cached second Box-Muller normal.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub(crate) fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for x in &mut s {
            *x = splitmix64(&mut sm);
        }
        if s == [0; 4] {
            // The one state xoshiro cannot leave; splitmix64 never yields it, but be safe.
            s[0] = 1;
        }
        Rng { s, spare: None }
    }

    #[cfg(test)]
    pub(crate) fn from_state(s: [u64; 4]) -> Rng {
        Rng { s, spare: None }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform float in `[0, 1)`.
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n` (`n` > 0); the bias of the multiply-shift is below 2^-40.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// A uniform float in `[lo, hi)`.
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A standard normal deviate (Box-Muller; the second value is kept for the next call).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - f64() is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }

    /// An exponential deviate with the given mean.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// A Poisson deviate (Knuth's method; for the small means used here).
    pub(crate) fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let mut k = 0u32;
        let mut p = self.f64();
        while p > limit && k < 1000 {
            k += 1;
            p *= self.f64();
        }
        k
    }

    /// One element of a non-empty slice, uniformly.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen with probability proportional to its weight.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total.max(1));
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// The value of a weighted `(value, weight)` table.
    pub(crate) fn table<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        let mut total = 0u64;
        for &(_, w) in table {
            total += u64::from(w);
        }
        let mut x = self.below(total.max(1));
        for &(v, w) in table {
            if x < u64::from(w) {
                return v;
            }
            x -= u64::from(w);
        }
        table[table.len() - 1].0
    }
}

/// Picks an index with probability proportional to a float weight, in O(log n).
#[derive(Debug, Clone, Default)]
pub(crate) struct Picker {
    cumulative: Vec<f64>,
}

impl Picker {
    /// A picker over `weights` (negative weights count as zero).
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Picker {
        let mut sum = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                sum += w.max(0.0);
                sum
            })
            .collect();
        Picker { cumulative }
    }

    /// The sum of all weights.
    pub(crate) fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    /// A random index, or `None` when every weight is zero.
    pub(crate) fn pick(&self, rng: &mut Rng) -> Option<usize> {
        let total = self.total();
        if total <= 0.0 {
            return None;
        }
        let x = rng.f64() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        Some(i.min(self.cumulative.len() - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_xoshiro256starstar() {
        // Reference output of xoshiro256** for the state [1, 2, 3, 4].
        let mut r = Rng::from_state([1, 2, 3, 4]);
        let got: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(got, vec![11520, 0, 1_509_978_240, 1_215_971_899_390_074_240]);
    }

    #[test]
    fn splitmix_reference() {
        // splitmix64 seeded with 0 (Vigna's reference implementation).
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn distributions_are_sane() {
        let mut r = Rng::new(42);
        let n = 20_000;
        let mean: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.05, "{mean}");
        let e: f64 = (0..n).map(|_| r.exp(3.0)).sum::<f64>() / f64::from(n);
        assert!((e - 3.0).abs() < 0.15, "{e}");
        let p: f64 = (0..n).map(|_| f64::from(r.poisson(2.0))).sum::<f64>() / f64::from(n);
        assert!((p - 2.0).abs() < 0.1, "{p}");
        for _ in 0..1000 {
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x));
        }
        let picker = Picker::new([0.0, 1.0, 0.0, 3.0]);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[picker.pick(&mut r).unwrap()] += 1;
        }
        assert_eq!(counts[0] + counts[2], 0);
        assert!(counts[3] > 2 * counts[1]);
    }
}
