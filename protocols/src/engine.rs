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
use crate::binary::{self, a2b, bits_to_arith, or};
use crate::error::Result;
use crate::session::Session;
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
    /// Each row of a `[len, k]` secret dotted with public ring constants
    /// `[k]`: a `[len]` secret (no truncation).
    fn weigh(&self, consts: &[u64]) -> Result<Self>;
}

/// A party's means of computing on [`Secret`]s: the operations that send
/// messages or need the session.
pub trait Engine {
    /// How this mode holds a secret.
    type Secret: Secret;

    /// The fixed-point encoding in use.
    fn fixed(&self) -> FixedPoint;
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
    /// One-hot position of the leading one among bits 0..=62 of each
    /// element (ring integers, `[len, 63]`); all zero for an element of 0.
    fn leading_one(&mut self, x: &Self::Secret) -> Result<Self::Secret>;

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
    fn weigh(&self, consts: &[u64]) -> Result<Self> {
        let c = RingTensor::from_vec(&[consts.len(), 1], consts.to_vec())?;
        let len = self.shape()[0];
        AShare::from_share(self.share().matmul(&c)?).reshape(&[len])
    }
}

impl Secret for AuthShare {
    local_ops!(AuthShare);
    fn weigh(&self, consts: &[u64]) -> Result<Self> {
        let len = self.shape()[0];
        let row: Vec<u128> = consts.iter().map(|&c| c as u128).collect();
        let all: Vec<u128> = (0..len).flat_map(|_| row.iter().copied()).collect();
        self.mul_public(&all)?.sum_axis(1)?.reshape(&[len])
    }
}

impl Engine for Session {
    type Secret = AShare;

    fn fixed(&self) -> FixedPoint {
        Session::fixed(self)
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
    fn relu(&mut self, x: &AShare) -> Result<AShare> {
        binary::relu(self, x)
    }
    fn bits(&mut self, x: &AShare, from: u32, count: u32) -> Result<AShare> {
        let words = a2b(self, x)?;
        bits_to_arith(self, &words.map_linear(|v| v >> from), count)
    }
    fn leading_one(&mut self, x: &AShare) -> Result<AShare> {
        let bits = a2b(self, x)?;
        // Prefix OR from the top (bit 63 excluded), then the one-hot difference.
        let mut o = bits.map_linear(|v| v & (u64::MAX >> 1));
        let mut s = 1;
        while s < 64 {
            let shifted = o.map_linear(|v| v >> s);
            o = or(self, &o, &shifted)?;
            s *= 2;
        }
        let one_hot = o.xor(&o.map_linear(|v| v >> 1))?;
        bits_to_arith(self, &one_hot, 63)
    }
}

impl Engine for Active<'_> {
    type Secret = AuthShare;

    fn fixed(&self) -> FixedPoint {
        self.fixed_point()
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
    fn relu(&mut self, x: &AuthShare) -> Result<AuthShare> {
        Ok(self.relu_with_mask(x)?.0)
    }
    fn bits(&mut self, x: &AuthShare, from: u32, count: u32) -> Result<AuthShare> {
        Active::bits(self, x, from, count)
    }
    fn leading_one(&mut self, x: &AuthShare) -> Result<AuthShare> {
        Active::leading_one(self, x)
    }
}
