//! Share types. A share is this party's piece of a secret tensor; it is
//! meaningless alone and never printed.

use crate::error::Result;
use crate::session::Session;
use tessera_tensor::RingTensor;

macro_rules! share_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name {
            share: RingTensor,
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "(shape={:?})"),
                    self.share.shape()
                )
            }
        }

        impl $name {
            /// Wraps this party's share.
            pub fn from_share(share: RingTensor) -> Self {
                Self { share }
            }
            /// This party's share.
            pub fn share(&self) -> &RingTensor {
                &self.share
            }
            /// Consumes the wrapper.
            pub fn into_share(self) -> RingTensor {
                self.share
            }
            /// Shape of the secret tensor.
            pub fn shape(&self) -> &[usize] {
                self.share.shape()
            }
            /// Number of elements of the secret tensor.
            pub fn len(&self) -> usize {
                self.share.len()
            }
            /// True if the secret tensor has no elements.
            pub fn is_empty(&self) -> bool {
                self.share.is_empty()
            }
            /// Rows of the secret at the given indices (local).
            pub fn select_rows(&self, rows: &[usize]) -> Result<Self> {
                Ok(Self::from_share(self.share.select_rows(rows)?))
            }
            /// Columns of a 2-D secret at the given indices (local).
            pub fn select_cols(&self, cols: &[usize]) -> Result<Self> {
                Ok(Self::from_share(self.share.select_cols(cols)?))
            }
            /// Transpose of the secret (local).
            pub fn transpose(&self) -> Self {
                Self::from_share(self.share.transpose())
            }
            /// The secret under a new shape (local).
            pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
                Ok(Self::from_share(self.share.reshape(shape)?))
            }
            /// Concatenation of secrets along `axis` (local).
            pub fn concat(parts: &[&Self], axis: usize) -> Result<Self> {
                let shares: Vec<&RingTensor> = parts.iter().map(|p| &p.share).collect();
                Ok(Self::from_share(RingTensor::concat(&shares, axis)?))
            }
        }
    };
}

share_type!(
    AShare,
    "This party's additive share (mod 2^64) of a secret ring tensor."
);
share_type!(
    BShare,
    "This party's XOR share of a secret tensor of bit-packed 64-bit words."
);

impl AShare {
    /// Secret sum (local).
    pub fn add(&self, other: &Self) -> Result<Self> {
        Ok(Self::from_share(self.share.add(&other.share)?))
    }
    /// Secret difference (local).
    pub fn sub(&self, other: &Self) -> Result<Self> {
        Ok(Self::from_share(self.share.sub(&other.share)?))
    }
    /// Secret negation (local).
    pub fn neg(&self) -> Self {
        Self::from_share(self.share.neg())
    }
    /// Adds a public tensor (broadcast allowed): only party 0 adds it.
    pub fn add_public(&self, sess: &Session, c: &RingTensor) -> Result<Self> {
        if sess.is_leader() {
            Ok(Self::from_share(self.share.add(c)?))
        } else {
            // Other parties keep their share; check the shape all the same.
            self.share.zip_with(c, "add_public", |a, _| a)?;
            Ok(self.clone())
        }
    }
    /// Adds a public ring scalar: only party 0 adds it.
    pub fn add_public_scalar(&self, sess: &Session, c: u64) -> Self {
        if sess.is_leader() {
            Self::from_share(self.share.add_scalar(c))
        } else {
            self.clone()
        }
    }
    /// Multiplies by a public ring tensor elementwise (local; no truncation).
    pub fn mul_public(&self, c: &RingTensor) -> Result<Self> {
        Ok(Self::from_share(self.share.mul(c)?))
    }
    /// Multiplies by a public ring scalar (local; no truncation).
    pub fn mul_public_scalar(&self, c: u64) -> Self {
        Self::from_share(self.share.mul_scalar(c))
    }
    /// Sum along `axis`, kept as a dimension of length 1 (local).
    pub fn sum_axis(&self, axis: usize) -> Result<Self> {
        Ok(Self::from_share(self.share.sum_axis(axis)?))
    }
}

impl BShare {
    /// Secret XOR (local).
    pub fn xor(&self, other: &Self) -> Result<Self> {
        Ok(Self::from_share(self.share.xor(&other.share)?))
    }
    /// XOR with a public tensor: only party 0 applies it.
    pub fn xor_public(&self, sess: &Session, c: &RingTensor) -> Result<Self> {
        if sess.is_leader() {
            Ok(Self::from_share(self.share.xor(c)?))
        } else {
            Ok(self.clone())
        }
    }
    /// AND with a public tensor (local on every share).
    pub fn and_public(&self, c: &RingTensor) -> Result<Self> {
        Ok(Self::from_share(self.share.and(c)?))
    }
    /// Applies a bitwise-linear map (shift, mask) to every share.
    pub fn map_linear(&self, f: impl Fn(u64) -> u64) -> Self {
        Self::from_share(self.share.map(f))
    }
}
