//! One seam for both security modes: protocols written once against
//! [`Engine`] and [`Secret`] (the nonlinear approximations of
//! [`crate::approx`]) run on semi-honest additive shares ([`Session`] with
//! [`AShare`]) and on authenticated shares ([`Active`] with [`AuthShare`])
//! alike, so the two modes cannot drift apart in what they compute.
//!
//! The seam sits where the modes differ: products, truncation and the bit
//! extractions. Semi-honest parties extract bits with packed XOR-shared
//! words ([`crate::binary`]); active ones with authenticated 0/1 values of
//! Z_2^128 (`active::bits`). Both hand back arithmetic 0/1 integers.

use crate::active::{Active, AuthShare};
use crate::arith;
use crate::binary::{self, a2b, bits_to_arith};
use crate::error::{ProtocolError, Result};
use crate::session::{PartyId, Session};
use crate::share::AShare;
use tessera_tensor::{FixedPoint, RingTensor};

/// A secret tensor's local (communication-free) operations.
pub trait Secret: Clone + Sized {
    /// Shape of the secret.
    fn shape(&self) -> &[usize];
    /// Number of elements.
    fn len(&self) -> usize;
    /// True if there are no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The same elements under a new shape.
    fn reshape(&self, shape: &[usize]) -> Result<Self>;
    /// Secret sum.
    fn add(&self, other: &Self) -> Result<Self>;
    /// Secret difference.
    fn sub(&self, other: &Self) -> Result<Self>;
    /// Secret negation.
    fn neg(&self) -> Self;
    /// Product with a public ring scalar (no truncation).
    fn mul_public_scalar(&self, c: u64) -> Self;
    /// Rows at the given indices.
    fn select_rows(&self, rows: &[usize]) -> Result<Self>;
    /// Columns of a matrix at the given indices.
    fn select_cols(&self, cols: &[usize]) -> Result<Self>;
    /// Concatenation along `axis`.
    fn concat(parts: &[&Self], axis: usize) -> Result<Self>;
    /// Sum along `axis` of a matrix, kept as a dimension of length 1.
    fn sum_axis(&self, axis: usize) -> Result<Self>;
    /// Each row of a `[len, k]` secret dotted with public ring constants
    /// `[k]`: a `[len]` secret (no truncation).
    fn weigh(&self, consts: &[u64]) -> Result<Self> {
        Ok(self.weigh_each(&[consts])?.remove(0))
    }
    /// [`Self::weigh`] for several sets of constants, reading the secret
    /// once.
    fn weigh_each(&self, sets: &[&[u64]]) -> Result<Vec<Self>>;
}

/// A party's means of computing on [`Secret`]s: the operations that send
/// messages or need the session.
pub trait Engine {
    /// How this mode holds a secret.
    type Secret: Secret;

    /// The fixed-point encoding in use.
    fn fixed(&self) -> FixedPoint;
    /// This party's id.
    fn id(&self) -> PartyId;
    /// A secret input by `owner`, who alone passes `value` (one round).
    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&RingTensor>,
        shape: &[usize],
    ) -> Result<Self::Secret>;
    /// Opens `x` to every party, recorded under `label` (in the active
    /// mode only after every earlier opening is verified).
    fn reveal(&mut self, x: &Self::Secret, label: &str) -> Result<RingTensor>;
    /// Opens `x` to party `to` alone (`None` on the others).
    fn reveal_to(
        &mut self,
        x: &Self::Secret,
        to: PartyId,
        label: &str,
    ) -> Result<Option<RingTensor>>;
    /// Verifies everything computed so far before the caller ends (the
    /// active mode's final MAC check; nothing to do semi-honest).
    fn finish(&mut self) -> Result<()>;
    /// `x + c` for a public ring tensor `c` of the same shape (local).
    fn add_public(&self, x: &Self::Secret, c: &RingTensor) -> Result<Self::Secret>;
    /// `x + c` for a public ring scalar `c` (local).
    fn add_public_scalar(&self, x: &Self::Secret, c: u64) -> Result<Self::Secret>;
    /// Elementwise product of ring values (one round, no truncation).
    fn mul(&mut self, x: &Self::Secret, y: &Self::Secret) -> Result<Self::Secret>;
    /// Truncation by `bits` (one round; within one unit above the floor).
    fn truncate_bits(&mut self, x: &Self::Secret, bits: u32) -> Result<Self::Secret>;
    /// 1 where `x` is negative, else 0, as ring integers.
    fn msb(&mut self, x: &Self::Secret) -> Result<Self::Secret>;
    /// `max(x, 0)`, exact.
    fn relu(&mut self, x: &Self::Secret) -> Result<Self::Secret>;
    /// Bits `from .. from + count` of each element's 64-bit encoding, as
    /// ring integers 0/1 of shape `[len, count]` (column `j` is bit `from + j`).
    fn bits(&mut self, x: &Self::Secret, from: u32, count: u32) -> Result<Self::Secret>;
    /// `[x < t]` for each element of flat `x` and each public threshold `t`
    /// (ring encodings compared as signed, exact where `|x - t| < 2^63`), as
    /// ring integers `[len, k]` (row `e` holds element `e`'s bits), all
    /// thresholds from one opening of `x + r`.
    fn less_than_each(&mut self, x: &Self::Secret, thresholds: &[u64]) -> Result<Self::Secret>;

    /// Fixed-point product: [`Engine::mul`] then one truncation (two rounds).
    fn mul_fixed(&mut self, x: &Self::Secret, y: &Self::Secret) -> Result<Self::Secret> {
        let p = self.mul(x, y)?;
        self.truncate(&p)
    }
    /// Truncation by the fractional bits.
    fn truncate(&mut self, x: &Self::Secret) -> Result<Self::Secret> {
        let f = self.fixed().frac_bits();
        self.truncate_bits(x, f)
    }
    /// `c x` for a public real `c` (one round).
    fn scale(&mut self, x: &Self::Secret, c: f64) -> Result<Self::Secret> {
        let enc = self.fixed().encode(c)?;
        self.truncate(&x.mul_public_scalar(enc))
    }
    /// `1` where `x > 0`, else 0, as ring integers.
    fn positive(&mut self, x: &Self::Secret) -> Result<Self::Secret> {
        self.msb(&x.neg())
    }
    /// Multiplies by the public fraction `num / den` more accurately than
    /// [`Engine::scale`]: the factor gets as many bits as the range allows,
    /// then one truncation removes them (one round). `bound` is a public
    /// bound on `|x|` (as a real number). The result is within `1 + |x| 2^f
    /// / 2^(k+1)` units of `x num / den`, where `k` is the largest shift
    /// with `bound 2^f num 2^k / den < 2^61` (at least 12 bits more precise
    /// than [`Engine::scale`] for every `bound` below the product limit).
    fn mul_fraction(
        &mut self,
        x: &Self::Secret,
        num: u64,
        den: u64,
        bound: f64,
    ) -> Result<Self::Secret> {
        let f = self.fixed().frac_bits();
        let bad = |detail: String| ProtocolError::InvalidArgument {
            op: "mul_fraction",
            detail,
        };
        if den == 0 || num == 0 {
            return Err(bad(format!("cannot multiply by {num}/{den}")));
        }
        // log2 of the largest |x * num / den| in ring units, plus one for rounding.
        let scaled = bound.abs().max(1.0) * f64::from(f).exp2() * num as f64 / den as f64;
        let k = (61.0 - scaled.log2()).floor();
        if k < 1.0 {
            return Err(bad(format!(
                "|x| up to {bound} times {num}/{den} does not fit the ring with {f} fractional bits"
            )));
        }
        let k = (k as u32).min(62);
        let factor = ((u128::from(num) << k) + u128::from(den) / 2) / u128::from(den);
        let factor = u64::try_from(factor).map_err(|_| bad(format!("{num}/{den} is too large")))?;
        self.truncate_bits(&x.mul_public_scalar(factor), k)
    }
}

macro_rules! local_ops {
    ($t:ty) => {
        fn shape(&self) -> &[usize] {
            <$t>::shape(self)
        }
        fn len(&self) -> usize {
            <$t>::len(self)
        }
        fn reshape(&self, shape: &[usize]) -> Result<Self> {
            <$t>::reshape(self, shape)
        }
        fn add(&self, other: &Self) -> Result<Self> {
            <$t>::add(self, other)
        }
        fn sub(&self, other: &Self) -> Result<Self> {
            <$t>::sub(self, other)
        }
        fn neg(&self) -> Self {
            <$t>::neg(self)
        }
        fn mul_public_scalar(&self, c: u64) -> Self {
            <$t>::mul_public_scalar(self, c)
        }
        fn select_rows(&self, rows: &[usize]) -> Result<Self> {
            <$t>::select_rows(self, rows)
        }
        fn select_cols(&self, cols: &[usize]) -> Result<Self> {
            <$t>::select_cols(self, cols)
        }
        fn concat(parts: &[&Self], axis: usize) -> Result<Self> {
            <$t>::concat(parts, axis)
        }
    };
}

impl Secret for AShare {
    local_ops!(AShare);
    fn sum_axis(&self, axis: usize) -> Result<Self> {
        AShare::sum_axis(self, axis)
    }
    fn weigh_each(&self, sets: &[&[u64]]) -> Result<Vec<Self>> {
        let len = self.shape()[0];
        check_weigh(self.shape(), sets)?;
        weigh_rows(
            self.share().as_slice(),
            sets,
            u64::wrapping_mul,
            u64::wrapping_add,
        )
        .into_iter()
        .map(|out| Ok(AShare::from_share(RingTensor::from_vec(&[len], out)?)))
        .collect()
    }
}

impl Secret for AuthShare {
    local_ops!(AuthShare);
    fn sum_axis(&self, axis: usize) -> Result<Self> {
        AuthShare::sum_axis(self, axis)
    }
    fn weigh_each(&self, sets: &[&[u64]]) -> Result<Vec<Self>> {
        check_weigh(self.shape(), sets)?;
        let wide: Vec<Vec<u128>> = sets
            .iter()
            .map(|c| c.iter().map(|&c| c as u128).collect())
            .collect();
        let wide: Vec<&[u128]> = wide.iter().map(|c| c.as_slice()).collect();
        let weigh = |v: &[u128]| weigh_rows(v, &wide, u128::wrapping_mul, u128::wrapping_add);
        Ok(weigh(&self.value)
            .into_iter()
            .zip(weigh(&self.mac))
            .map(|(value, mac)| AuthShare {
                shape: vec![self.shape()[0]],
                value,
                mac,
            })
            .collect())
    }
}

/// `weigh`'s shapes: a `[len, k]` secret and sets of `k` constants (`k > 0`).
fn check_weigh(shape: &[usize], sets: &[&[u64]]) -> Result<()> {
    if let Some(bad) = sets
        .iter()
        .find(|c| shape.len() != 2 || shape[1] != c.len() || c.is_empty())
    {
        return Err(crate::ProtocolError::InvalidArgument {
            op: "weigh",
            detail: format!(
                "a secret of shape {shape:?} against {} constants",
                bad.len()
            ),
        });
    }
    Ok(())
}

/// Each row of `rows` (of the sets' length) dotted with each set, in a
/// ring with these wrapping operations: one output vector per set.
fn weigh_rows<T: Copy + Default>(
    rows: &[T],
    sets: &[&[T]],
    mul: impl Fn(T, T) -> T + Copy,
    add: impl Fn(T, T) -> T + Copy,
) -> Vec<Vec<T>> {
    let Some(k) = sets.first().map(|c| c.len()) else {
        return Vec::new();
    };
    let mut outs: Vec<Vec<T>> = sets
        .iter()
        .map(|_| Vec::with_capacity(rows.len() / k))
        .collect();
    for row in rows.chunks_exact(k) {
        for (out, c) in outs.iter_mut().zip(sets) {
            out.push(
                row.iter()
                    .zip(*c)
                    .fold(T::default(), |acc, (&x, &y)| add(acc, mul(x, y))),
            );
        }
    }
    outs
}

impl Engine for Session {
    type Secret = AShare;

    fn fixed(&self) -> FixedPoint {
        Session::fixed(self)
    }
    fn id(&self) -> PartyId {
        Session::id(self)
    }
    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&RingTensor>,
        shape: &[usize],
    ) -> Result<AShare> {
        arith::share_input(self, owner, value, shape)
    }
    fn reveal(&mut self, x: &AShare, label: &str) -> Result<RingTensor> {
        arith::reveal(self, x, label)
    }
    fn reveal_to(&mut self, x: &AShare, to: PartyId, label: &str) -> Result<Option<RingTensor>> {
        arith::reveal_to(self, x, to, label)
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn add_public(&self, x: &AShare, c: &RingTensor) -> Result<AShare> {
        x.add_public(self, c)
    }
    fn add_public_scalar(&self, x: &AShare, c: u64) -> Result<AShare> {
        Ok(x.add_public_scalar(self, c))
    }
    fn mul(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        arith::mul(self, x, y)
    }
    fn truncate_bits(&mut self, x: &AShare, bits: u32) -> Result<AShare> {
        arith::truncate_bits(self, x, bits)
    }
    fn msb(&mut self, x: &AShare) -> Result<AShare> {
        binary::msb(self, x)
    }
    /// Every threshold from one opening of `x + r` ([`binary::less_than_each`]).
    fn less_than_each(&mut self, x: &AShare, thresholds: &[u64]) -> Result<AShare> {
        binary::less_than_each(self, x, thresholds)
    }

    fn relu(&mut self, x: &AShare) -> Result<AShare> {
        binary::relu(self, x)
    }
    fn bits(&mut self, x: &AShare, from: u32, count: u32) -> Result<AShare> {
        let words = a2b(self, x)?;
        bits_to_arith(self, &words.map_linear(|v| v >> from), count)
    }
}

impl Engine for Active<'_> {
    type Secret = AuthShare;

    fn fixed(&self) -> FixedPoint {
        self.fixed_point()
    }
    fn id(&self) -> PartyId {
        self.party()
    }
    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&RingTensor>,
        shape: &[usize],
    ) -> Result<AuthShare> {
        Active::input(self, owner, value, shape)
    }
    fn reveal(&mut self, x: &AuthShare, label: &str) -> Result<RingTensor> {
        Active::reveal(self, x, label)
    }
    fn reveal_to(&mut self, x: &AuthShare, to: PartyId, label: &str) -> Result<Option<RingTensor>> {
        Active::reveal_to(self, x, to, label)
    }
    fn finish(&mut self) -> Result<()> {
        self.check()
    }
    fn add_public(&self, x: &AuthShare, c: &RingTensor) -> Result<AuthShare> {
        let values: Vec<u128> = c.as_slice().iter().map(|&v| v as u128).collect();
        if c.shape() != x.shape() {
            return Err(ProtocolError::InvalidArgument {
                op: "add_public",
                detail: format!("{:?} + {:?}: the same shape", x.shape(), c.shape()),
            });
        }
        Active::add_public(self, x, &values)
    }
    fn add_public_scalar(&self, x: &AuthShare, c: u64) -> Result<AuthShare> {
        Active::add_public_scalar(self, x, c)
    }
    fn mul(&mut self, x: &AuthShare, y: &AuthShare) -> Result<AuthShare> {
        Active::mul(self, x, y)
    }
    fn truncate_bits(&mut self, x: &AuthShare, bits: u32) -> Result<AuthShare> {
        Active::truncate(self, x, bits)
    }
    fn msb(&mut self, x: &AuthShare) -> Result<AuthShare> {
        Active::msb(self, x)
    }
    /// Every threshold from one opening ([`Active::less_than_each`]).
    fn less_than_each(&mut self, x: &AuthShare, thresholds: &[u64]) -> Result<AuthShare> {
        Active::less_than_each(self, x, thresholds)
    }
    fn relu(&mut self, x: &AuthShare) -> Result<AuthShare> {
        Ok(self.relu_with_mask(x)?.0)
    }
    fn bits(&mut self, x: &AuthShare, from: u32, count: u32) -> Result<AuthShare> {
        Active::bits(self, x, from, count)
    }
}
