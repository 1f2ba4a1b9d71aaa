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
            // Broadcasting, as the ring tensors do: each axis equal or 1.
            let (a, b) = (&self.shape, &other.shape);
            if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x != y && *x != 1 && *y != 1) {
                return Err(shape_error(op, a, b));
            }
            let shape: Vec<usize> = a.iter().zip(b).map(|(x, y)| *x.max(y)).collect();
            let spread = |t: &Self| -> Result<Self> {
                let index = broadcast_index(&shape, &t.shape);
                t.gather(&shape, &index)
            };
            return spread(self)?.zip(&spread(other)?, op, f);
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

    /// Combines each element with a public value, by `on_value` for value
    /// shares and `on_mac` for MAC shares.
    fn with_public(
        &self,
        c: &[u128],
        op: &'static str,
        on_value: impl Fn(u128, u128) -> u128,
        on_mac: impl Fn(u128, u128) -> u128,
    ) -> Result<Self> {
        if c.len() != self.len() {
            return Err(shape_error(op, &self.shape, &[c.len()]));
        }
        let apply = |v: &[u128], f: &dyn Fn(u128, u128) -> u128| {
            v.iter().zip(c).map(|(&x, &k)| f(x, k)).collect()
        };
        Ok(Self {
            shape: self.shape.clone(),
            value: apply(&self.value, &on_value),
            mac: apply(&self.mac, &on_mac),
        })
    }

    /// Multiplies elementwise by a public tensor of the same shape (local).
    pub fn mul_public(&self, c: &[u128]) -> Result<Self> {
        self.with_public(c, "mul_public", u128::wrapping_mul, u128::wrapping_mul)
    }

    /// Adds public values (one per element): party 0 adds them to its value
    /// share, every party adds its key share times them to its MAC share.
    pub(crate) fn add_public_values(&self, c: &[u128], leader: bool, key: u128) -> Result<Self> {
        self.with_public(
            c,
            "add_public",
            |v, k| if leader { v.wrapping_add(k) } else { v },
            |m, k| m.wrapping_add(key.wrapping_mul(k)),
        )
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

/// The transpose of an `[r, c]` matrix of 128-bit values.
pub(crate) fn transpose128(a: &[u128], r: usize, c: usize) -> Vec<u128> {
    (0..c * r).map(|i| a[(i % r) * c + i / r]).collect()
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

impl AuthShare {
    /// A public tensor as an authenticated share: party 0 holds the value,
    /// every party `key_i` times it as its MAC share.
    pub(crate) fn public(shape: &[usize], values: &[u64], leader: bool, key: u128) -> Self {
        Self {
            shape: shape.to_vec(),
            value: values
                .iter()
                .map(|&v| if leader { v as u128 } else { 0 })
                .collect(),
            mac: values
                .iter()
                .map(|&v| key.wrapping_mul(v as u128))
                .collect(),
        }
    }

    /// Entry `index[i]` of the secret at position `i` of a tensor of
    /// `shape` (zero where `None`): any rearrangement, local.
    pub fn gather(&self, shape: &[usize], index: &[Option<usize>]) -> Result<Self> {
        if index.len() != shape.iter().product::<usize>()
            || index.iter().flatten().any(|&i| i >= self.len())
        {
            return Err(shape_error("gather", &self.shape, shape));
        }
        let pick = |v: &[u128]| index.iter().map(|i| i.map_or(0, |i| v[i])).collect();
        Ok(Self {
            shape: shape.to_vec(),
            value: pick(&self.value),
            mac: pick(&self.mac),
        })
    }

    /// The adjoint of [`AuthShare::gather`]: adds entry `i` into position
    /// `index[i]` of a tensor of `shape`.
    pub fn scatter_add(&self, shape: &[usize], index: &[Option<usize>]) -> Result<Self> {
        let len: usize = shape.iter().product();
        if index.len() != self.len() || index.iter().flatten().any(|&i| i >= len) {
            return Err(shape_error("scatter_add", &self.shape, shape));
        }
        let put = |v: &[u128]| {
            let mut out = vec![0u128; len];
            for (x, i) in v.iter().zip(index) {
                if let Some(i) = i {
                    out[*i] = out[*i].wrapping_add(*x);
                }
            }
            out
        };
        Ok(Self {
            shape: shape.to_vec(),
            value: put(&self.value),
            mac: put(&self.mac),
        })
    }

    /// A vector as an `[n, 1]` column.
    fn column(&self) -> Self {
        Self {
            shape: vec![self.len(), 1],
            value: self.value.clone(),
            mac: self.mac.clone(),
        }
    }

    fn dims2(&self, op: &'static str) -> Result<(usize, usize)> {
        match self.shape[..] {
            [r, c] => Ok((r, c)),
            _ => Err(shape_error(op, &self.shape, &[0, 0])),
        }
    }

    /// Transpose of a matrix (local).
    pub fn transpose(&self) -> Result<Self> {
        let (r, c) = self.dims2("transpose")?;
        let index: Vec<Option<usize>> = (0..c * r).map(|i| Some((i % r) * c + i / r)).collect();
        self.gather(&[c, r], &index)
    }

    /// Rows of a matrix (local).
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self> {
        if let [_] = self.shape[..] {
            // A vector's rows are its entries (as the semi-honest shares).
            return self.column().select_rows(rows)?.reshape(&[rows.len()]);
        }
        let (_, c) = self.dims2("select_rows")?;
        let index: Vec<Option<usize>> = rows
            .iter()
            .flat_map(|&r| (0..c).map(move |j| Some(r * c + j)))
            .collect();
        self.gather(&[rows.len(), c], &index)
    }

    /// Columns of a matrix (local).
    pub fn select_cols(&self, cols: &[usize]) -> Result<Self> {
        let (r, c) = self.dims2("select_cols")?;
        let index: Vec<Option<usize>> = (0..r)
            .flat_map(|i| cols.iter().map(move |&j| Some(i * c + j)))
            .collect();
        self.gather(&[r, cols.len()], &index)
    }

    /// Sum over rows (`axis` 0, to `[1, c]`) or columns (1, to `[r, 1]`).
    pub fn sum_axis(&self, axis: usize) -> Result<Self> {
        let (r, c) = self.dims2("sum_axis")?;
        let (shape, target): (Vec<usize>, Box<dyn Fn(usize) -> usize>) = match axis {
            0 => (vec![1, c], Box::new(move |i| i % c)),
            _ => (vec![r, 1], Box::new(move |i| i / c)),
        };
        let index: Vec<Option<usize>> = (0..r * c).map(|i| Some(target(i))).collect();
        self.scatter_add(&shape, &index)
    }

    /// Matrices stacked along `axis` (0: rows, 1: columns), local.
    pub fn concat(parts: &[&Self], axis: usize) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| shape_error("concat", &[], &[]))?;
        if axis == 0 && parts.iter().all(|p| p.shape.len() == 1) {
            // Vectors end to end, as the semi-honest shares.
            let columns: Vec<Self> = parts.iter().map(|p| p.column()).collect();
            let joined = Self::concat(&columns.iter().collect::<Vec<_>>(), 0)?;
            return joined.reshape(&[joined.len()]);
        }
        let (r0, c0) = first.dims2("concat")?;
        let dims: Vec<(usize, usize)> = parts
            .iter()
            .map(|p| p.dims2("concat"))
            .collect::<Result<_>>()?;
        let all = Self {
            shape: vec![dims.iter().map(|(r, c)| r * c).sum()],
            value: parts.iter().flat_map(|p| p.value.iter().copied()).collect(),
            mac: parts.iter().flat_map(|p| p.mac.iter().copied()).collect(),
        };
        let starts: Vec<usize> = dims
            .iter()
            .scan(0, |at, (r, c)| {
                let s = *at;
                *at += r * c;
                Some(s)
            })
            .collect();
        if axis == 0 {
            if dims.iter().any(|&(_, c)| c != c0) {
                return Err(shape_error("concat", &first.shape, &[0, c0]));
            }
            let rows = dims.iter().map(|d| d.0).sum();
            return all.reshape(&[rows, c0]);
        }
        if dims.iter().any(|&(r, _)| r != r0) {
            return Err(shape_error("concat", &first.shape, &[r0, 0]));
        }
        let cols: usize = dims.iter().map(|d| d.1).sum();
        let mut index = Vec::with_capacity(r0 * cols);
        for i in 0..r0 {
            for (k, &(_, c)) in dims.iter().enumerate() {
                index.extend((0..c).map(|j| Some(starts[k] + i * c + j)));
            }
        }
        all.gather(&[r0, cols], &index)
    }
}

/// For each position of `out`, the position of a tensor of `shape` (each
/// axis equal or 1) it broadcasts from.
fn broadcast_index(out: &[usize], shape: &[usize]) -> Vec<Option<usize>> {
    let len: usize = out.iter().product();
    (0..len)
        .map(|mut i| {
            let mut src = 0;
            let mut stride = 1;
            for (o, s) in out.iter().zip(shape).rev() {
                let coord = i % o;
                i /= o;
                if *s != 1 {
                    src += coord * stride;
                }
                stride *= s;
            }
            Some(src)
        })
        .collect()
}
