use crate::RingTensor;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;
use std::fmt;

/// A 256-bit PRG seed.
pub type Seed = [u8; 32];

/// The one source of randomness in tessera: ChaCha with 12 rounds (the
/// choice of `rand`'s `StdRng`; the best published attack reaches 7 rounds),
/// keyed by a 256-bit seed. It was ChaCha20; PRG expansion was a quarter of
/// the time of MLP training, and 12 rounds keep a wide margin.
///
/// Shares, masks, pairwise zero-sharings and all dealer material are drawn
/// from a `Prg`. Two parties holding the same seed draw the same stream, which
/// is what makes seeded preprocessing and message-free input sharing work.
/// `Debug` prints nothing of the state.
///
/// ```
/// use tessera_tensor::Prg;
///
/// let (mut alice, mut bob) = (Prg::from_seed([1; 32]), Prg::from_seed([1; 32]));
/// assert_eq!(alice.uniform(&[4]), bob.uniform(&[4])); // same seed, same stream
/// let mut rows: Vec<usize> = (0..10).collect();
/// alice.shuffle(&mut rows);
/// assert_eq!(rows.len(), 10);
/// ```
#[derive(Clone)]
pub struct Prg {
    rng: ChaCha12Rng,
}

impl fmt::Debug for Prg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prg(..)")
    }
}

impl Prg {
    /// A PRG keyed by `seed`.
    pub fn from_seed(seed: Seed) -> Self {
        Self {
            rng: ChaCha12Rng::from_seed(seed),
        }
    }

    /// The PRG for item `index` (of kind `tag`) under `seed`: independent
    /// streams that can be drawn in any order, so material can be generated
    /// ahead of time and a mispredicted item costs nothing but the work.
    pub fn for_item(seed: &Seed, index: u64, tag: u64) -> Self {
        let mut outer = ChaCha12Rng::from_seed(*seed);
        outer.set_stream(index);
        let mut key = [0u8; 32];
        outer.fill_bytes(&mut key);
        let mut rng = ChaCha12Rng::from_seed(key);
        rng.set_stream(tag);
        Self { rng }
    }

    /// A PRG keyed from the operating system's entropy source.
    pub fn from_entropy() -> Self {
        Self {
            rng: ChaCha12Rng::from_entropy(),
        }
    }

    /// A fresh seed drawn from this stream.
    pub fn next_seed(&mut self) -> Seed {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        s
    }

    /// An independent child PRG keyed from this stream.
    pub fn fork(&mut self) -> Self {
        Self::from_seed(self.next_seed())
    }

    /// Next uniform ring element.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Fills a slice with uniform ring elements (the same values as repeated
    /// [`Prg::next_u64`], drawn a block at a time).
    pub fn fill(&mut self, out: &mut [u64]) {
        rand::Rng::fill(&mut self.rng, out);
    }

    /// `len` uniform ring elements.
    pub fn next_u64_vec(&mut self, len: usize) -> Vec<u64> {
        let mut v = vec![0u64; len];
        self.fill(&mut v);
        v
    }

    /// A uniform ring tensor of the given shape.
    pub fn uniform(&mut self, shape: &[usize]) -> RingTensor {
        let mut t = RingTensor::zeros(shape);
        self.fill(t.as_mut_slice());
        t
    }

    /// A uniform real in `[0, 1)` (53 bits), for public randomness such as shuffles.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, bound)`, without modulo bias.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "Prg::below needs a positive bound");
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % bound;
            }
        }
    }

    /// Fisher-Yates shuffle driven by this stream.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let mut a = Prg::from_seed([1; 32]);
        let mut b = Prg::from_seed([1; 32]);
        assert_eq!(a.next_u64_vec(8), b.next_u64_vec(8));
        let mut fa = a.fork();
        let mut fb = b.fork();
        assert_eq!(fa.next_u64(), fb.next_u64());
        assert_ne!(fa.next_u64(), a.next_u64());
        assert_eq!(format!("{a:?}"), "Prg(..)");
    }

    #[test]
    fn fill_draws_the_same_values_as_next_u64() {
        let mut a = Prg::from_seed([3; 32]);
        let mut b = Prg::from_seed([3; 32]);
        let _ = (a.next_u64(), b.next_u64());
        let mut filled = vec![0u64; 37];
        a.fill(&mut filled);
        let one_by_one: Vec<u64> = (0..37).map(|_| b.next_u64()).collect();
        assert_eq!(filled, one_by_one);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn below_is_in_range_and_shuffle_permutes() {
        let mut p = Prg::from_seed([2; 32]);
        for _ in 0..1000 {
            assert!(p.below(7) < 7);
        }
        let mut v: Vec<usize> = (0..100).collect();
        p.shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_ne!(v, s);
    }
}
