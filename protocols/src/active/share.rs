//! Authenticated shares ([`AuthShare`]) and their local (linear) operations,
//! which update value and MAC shares together.

use crate::error::{ProtocolError, Result};
use crate::prep::auth::from_wide;
use tessera_tensor::RingTensor;

/// This party's authenticated share of a secret tensor over Z_2^64: a share
/// of `x~` in Z_2^128 with `x = x~ mod 2^64`, and a share of the MAC
/// `alpha * x~ mod 2^128`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthShare {
    pub(crate) shape: Vec<usize>,
    pub(crate) value: Vec<u128>,
    pub(crate) mac: Vec<u128>,
}

impl std::fmt::Debug for AuthShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthShare(shape={:?})", self.shape)
    }
}

fn shape_error(op: &'static str, a: &[usize], b: &[usize]) -> ProtocolError {
    tessera_tensor::TensorError::ShapeMismatch {
        op,
        left: a.to_vec(),
        right: b.to_vec(),
    }
    .into()
}

impl AuthShare {
    /// From value and MAC word-pair tensors `[.., 2]` (as the dealer sends them).
    pub(crate) fn from_parts(value: &RingTensor, mac: &RingTensor) -> Self {
        let shape = value.shape()[..value.shape().len() - 1].to_vec();
        Self {
            shape,
            value: from_wide(value),
            mac: from_wide(mac),
        }
    }

    /// Shape of the secret.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// True if the secret has no elements.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    fn zip(&self, other: &Self, op: &'static str, f: impl Fn(u128, u128) -> u128) -> Result<Self> {
        if self.shape != other.shape {
            return Err(shape_error(op, &self.shape, &other.shape));
        }
        Ok(Self {
            shape: self.shape.clone(),
            value: self
                .value
                .iter()
                .zip(&other.value)
                .map(|(&a, &b)| f(a, b))
                .collect(),
            mac: self
                .mac
                .iter()
                .zip(&other.mac)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }

    /// Secret sum (local).
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip(other, "add", u128::wrapping_add)
    }

    /// Secret difference (local).
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip(other, "sub", u128::wrapping_sub)
    }

    /// Secret negation (local).
    pub fn neg(&self) -> Self {
        self.map_linear(|v| v.wrapping_neg())
    }

    /// Applies a map that is linear over Z_2^128 (a scaling) to value and
    /// MAC shares alike.
    pub(crate) fn map_linear(&self, f: impl Fn(u128) -> u128) -> Self {
        Self {
            shape: self.shape.clone(),
            value: self.value.iter().map(|&v| f(v)).collect(),
            mac: self.mac.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Multiplies by a public ring scalar (local; no truncation).
    pub fn mul_public_scalar(&self, c: u64) -> Self {
        self.map_linear(|v| v.wrapping_mul(c as u128))
    }

    /// Multiplies elementwise by a public tensor of the same shape (local).
    pub fn mul_public(&self, c: &[u128]) -> Result<Self> {
        if c.len() != self.len() {
            return Err(shape_error("mul_public", &self.shape, &[c.len()]));
        }
        Ok(Self {
            shape: self.shape.clone(),
            value: self
                .value
                .iter()
                .zip(c)
                .map(|(&v, &k)| v.wrapping_mul(k))
                .collect(),
            mac: self
                .mac
                .iter()
                .zip(c)
                .map(|(&v, &k)| v.wrapping_mul(k))
                .collect(),
        })
    }

    /// Adds public values (one per element): party 0 adds them to its value
    /// share, every party adds its key share times them to its MAC share.
    pub(crate) fn add_public_values(&self, c: &[u128], leader: bool, key: u128) -> Result<Self> {
        if c.len() != self.len() {
            return Err(shape_error("add_public", &self.shape, &[c.len()]));
        }
        Ok(Self {
            shape: self.shape.clone(),
            value: self
                .value
                .iter()
                .zip(c)
                .map(|(&v, &k)| if leader { v.wrapping_add(k) } else { v })
                .collect(),
            mac: self
                .mac
                .iter()
                .zip(c)
                .map(|(&m, &k)| m.wrapping_add(key.wrapping_mul(k)))
                .collect(),
        })
    }

    /// The secret under a new shape with as many elements (local).
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(shape_error("reshape", &self.shape, shape));
        }
        Ok(Self {
            shape: shape.to_vec(),
            ..self.clone()
        })
    }
}

/// `[m, k] x [k, n]` over Z_2^128.
pub(crate) fn matmul128(a: &[u128], b: &[u128], m: usize, k: usize, n: usize) -> Vec<u128> {
    let mut c = vec![0u128; m * n];
    for i in 0..m {
        for l in 0..k {
            let x = a[i * k + l];
            let row = &b[l * n..(l + 1) * n];
            for (out, &y) in c[i * n..(i + 1) * n].iter_mut().zip(row) {
                *out = out.wrapping_add(x.wrapping_mul(y));
            }
        }
    }
    c
}
