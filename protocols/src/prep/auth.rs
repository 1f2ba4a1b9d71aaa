//! Authenticated material for the actively secure mode (SPDZ2k: Cramer,
//! Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for
//! Dishonest Majority", CRYPTO 2018), made by the trusted dealer.
//!
//! Values of Z_2^64 are held in Z_2^128 (k = 64, s = 64): a secret `x` is
//! additive shares of some `x~` with `x~ = x mod 2^64`, and shares of its MAC
//! `alpha * x~ mod 2^128` under a global key `alpha`. Party `i`'s key share
//! `alpha_i` is a 64-bit word drawn from the seed it shares with the dealer,
//! so the dealer knows `alpha = sum alpha_i` and no party does. 128-bit
//! tensors travel as 64-bit word pairs `[.., 2]` (low word first), shared
//! with [`super::Sharing::Wide`].

use crate::error::Result;
use tessera_tensor::{Prg, RingTensor, Seed, TensorError};

/// A shape with the trailing word-pair axis of 128-bit values.
pub(crate) fn wide(shape: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.push(2);
    s
}

/// 128-bit values as a `[.., 2]` word-pair tensor.
pub fn to_wide(shape: &[usize], values: &[u128]) -> std::result::Result<RingTensor, TensorError> {
    let words = values
        .iter()
        .flat_map(|&v| [v as u64, (v >> 64) as u64])
        .collect();
    RingTensor::from_vec(&wide(shape), words)
}

/// The 128-bit values of a `[.., 2]` word-pair tensor.
pub fn from_wide(t: &RingTensor) -> Vec<u128> {
    t.as_slice()
        .chunks_exact(2)
        .map(|p| p[0] as u128 | (p[1] as u128) << 64)
        .collect()
}

/// `a + b` (or `a - b`) on word-pair tensors, modulo 2^128.
pub(crate) fn wide_add(a: &RingTensor, b: &RingTensor, subtract: bool) -> Result<RingTensor> {
    if a.shape() != b.shape() {
        return Err(TensorError::ShapeMismatch {
            op: "wide_add",
            left: a.shape().to_vec(),
            right: b.shape().to_vec(),
        }
        .into());
    }
    let (x, y) = (from_wide(a), from_wide(b));
    let sum: Vec<u128> = x
        .iter()
        .zip(&y)
        .map(|(&p, &q)| {
            if subtract {
                p.wrapping_sub(q)
            } else {
                p.wrapping_add(q)
            }
        })
        .collect();
    let shape = &a.shape()[..a.shape().len() - 1];
    Ok(to_wide(shape, &sum)?)
}

/// The MAC key share of the party whose dealer seed is `seed`: a 64-bit
/// word from a stream no item uses.
pub fn key_share(seed: &Seed) -> u128 {
    // Item index u64::MAX with a fingerprint of its own: never an item's.
    let mut prg = Prg::for_item(seed, u64::MAX, 0x6d61_632d_6b65_7973);
    prg.next_u64() as u128
}

/// Which authenticated item, with its shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// A Beaver triple `(a, b, a * b)` elementwise.
    Triple(Vec<usize>),
    /// A matrix triple `(A [m, k], B [k, n], A B)`.
    MatTriple(usize, usize, usize),
    /// A truncation pair for `f` bits: `r`, `((r mod 2^64) mod 2^63) >> f`
    /// and bit 63 of `r`.
    Trunc(Vec<usize>, u32),
    /// A random value known to no party (to mask outputs).
    Random(Vec<usize>),
    /// A random value known to party `owner` (to input, and to open to it).
    Input(Vec<usize>, usize),
    /// For comparisons: a random `r` in Z_2^64 given as its 64 bits, each
    /// authenticated as 0 or 1 (shape `[.., 64]`, lowest bit first), and a
    /// random `t` to mask the upper half of an opening.
    Bits(Vec<usize>),
}

impl AuthKind {
    /// The random components (values, drawn), then the determined ones
    /// (their MACs and the values computed from them), all word pairs.
    pub(crate) fn layout(&self) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        match self {
            AuthKind::Triple(s) => (vec![wide(s), wide(s)], vec![wide(s); 4]),
            AuthKind::MatTriple(m, k, n) => {
                let (a, b, c) = (wide(&[*m, *k]), wide(&[*k, *n]), wide(&[*m, *n]));
                (vec![a.clone(), b.clone()], vec![c.clone(), a, b, c])
            }
            AuthKind::Trunc(s, _) => (vec![wide(s)], vec![wide(s); 5]),
            AuthKind::Random(s) | AuthKind::Input(s, _) => (vec![wide(s)], vec![wide(s)]),
            AuthKind::Bits(s) => {
                let mut bits = s.clone();
                bits.push(64);
                // r (its low word is used), t; then the bits, their MACs, t's MAC.
                (
                    vec![wide(s), wide(s)],
                    vec![wide(&bits), wide(&bits), wide(s)],
                )
            }
        }
    }

    /// The determined components' secrets from the random ones' and the key:
    /// triples `[c, mac a, mac b, mac c]`, truncation pairs `[mac r, low,
    /// mac low, msb, mac msb]`, random values `[mac r]`.
    pub(crate) fn determine(&self, random: &[RingTensor], key: u128) -> Result<Vec<RingTensor>> {
        let mac = |v: &[u128]| -> Vec<u128> { v.iter().map(|x| x.wrapping_mul(key)).collect() };
        let shape_of = |t: &RingTensor| t.shape()[..t.shape().len() - 1].to_vec();
        let pack = |t: &RingTensor, v: &[u128]| to_wide(&shape_of(t), v);
        Ok(match self {
            AuthKind::Triple(_) | AuthKind::MatTriple(..) => {
                let (a, b) = (from_wide(&random[0]), from_wide(&random[1]));
                let c: Vec<u128> = match self {
                    AuthKind::Triple(_) => {
                        a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect()
                    }
                    AuthKind::MatTriple(m, k, n) => {
                        let mut c = vec![0u128; m * n];
                        for i in 0..*m {
                            for l in 0..*k {
                                let x = a[i * k + l];
                                for j in 0..*n {
                                    c[i * n + j] =
                                        c[i * n + j].wrapping_add(x.wrapping_mul(b[l * n + j]));
                                }
                            }
                        }
                        c
                    }
                    _ => unreachable!("triples only"),
                };
                let c_shape = match self {
                    AuthKind::MatTriple(m, _, n) => vec![*m, *n],
                    _ => shape_of(&random[0]),
                };
                vec![
                    to_wide(&c_shape, &c)?,
                    pack(&random[0], &mac(&a))?,
                    pack(&random[1], &mac(&b))?,
                    to_wide(&c_shape, &mac(&c))?,
                ]
            }
            AuthKind::Trunc(_, f) => {
                let r = from_wide(&random[0]);
                let low: Vec<u128> = r
                    .iter()
                    .map(|&v| (((v as u64) & (u64::MAX >> 1)) >> f) as u128)
                    .collect();
                let msb: Vec<u128> = r.iter().map(|&v| ((v as u64) >> 63) as u128).collect();
                let t = &random[0];
                vec![
                    pack(t, &mac(&r))?,
                    pack(t, &low)?,
                    pack(t, &mac(&low))?,
                    pack(t, &msb)?,
                    pack(t, &mac(&msb))?,
                ]
            }
            AuthKind::Random(_) | AuthKind::Input(..) => {
                vec![pack(&random[0], &mac(&from_wide(&random[0])))?]
            }
            AuthKind::Bits(_) => {
                let bits: Vec<u128> = from_wide(&random[0])
                    .iter()
                    .flat_map(|&r| (0..64).map(move |i| ((r as u64) >> i & 1) as u128))
                    .collect();
                let mut shape = shape_of(&random[0]);
                shape.push(64);
                vec![
                    to_wide(&shape, &bits)?,
                    to_wide(&shape, &mac(&bits))?,
                    pack(&random[1], &mac(&from_wide(&random[1])))?,
                ]
            }
        })
    }

    /// Party `party`'s draws of the random components: uniform, except an
    /// input mask, which only its owner draws (the others hold zero).
    pub(crate) fn draw(&self, prg: &mut Prg, party: usize) -> Vec<RingTensor> {
        let (random, _) = self.layout();
        match self {
            AuthKind::Input(_, owner) if party != *owner => {
                random.iter().map(|s| RingTensor::zeros(s)).collect()
            }
            _ => random.iter().map(|s| prg.uniform(s)).collect(),
        }
    }
}
