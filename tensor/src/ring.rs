use crate::{matmul, TensorError};
use ndarray::{concatenate, ArrayD, ArrayViewD, Axis, IxDyn, Zip};
use std::fmt;

/// A tensor over the ring Z_2^64: `u64` elements with wrapping arithmetic.
///
/// The data is always kept in standard (row-major, contiguous) layout so that
/// kernels and the wire format can work on plain slices. Its `Debug` prints
/// only the shape: a ring tensor is usually a share or a secret, and must not
/// end up in logs.
///
/// ```
/// use tessera_tensor::RingTensor;
///
/// let a = RingTensor::from_vec(&[2, 2], vec![1, 2, 3, u64::MAX])?; // u64::MAX is -1
/// let b = RingTensor::from_vec(&[2, 1], vec![10, 1])?;
/// assert_eq!(a.matmul(&b)?.as_slice(), &[12, 29]); // 3*10 + (-1)*1
/// assert_eq!(format!("{a:?}"), "RingTensor(shape=[2, 2])"); // no values in logs
/// # Ok::<(), tessera_tensor::TensorError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RingTensor {
    data: ArrayD<u64>,
}

impl fmt::Debug for RingTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingTensor(shape={:?})", self.shape())
    }
}

impl RingTensor {
    /// All-zero tensor of the given shape.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            data: ArrayD::zeros(IxDyn(shape)),
        }
    }

    /// Tensor of the given shape filled with one value.
    pub fn full(shape: &[usize], value: u64) -> Self {
        Self {
            data: ArrayD::from_elem(IxDyn(shape), value),
        }
    }

    /// Builds a tensor from row-major data; errors if the length does not fit the shape.
    pub fn from_vec(shape: &[usize], data: Vec<u64>) -> Result<Self, TensorError> {
        let len = data.len();
        ArrayD::from_shape_vec(IxDyn(shape), data)
            .map(|data| Self { data })
            .map_err(|_| TensorError::BadShape {
                shape: shape.to_vec(),
                len,
            })
    }

    /// Wraps an ndarray, copying it into standard layout if needed.
    pub fn from_array(data: ArrayD<u64>) -> Self {
        let data = if data.is_standard_layout() {
            data
        } else {
            data.as_standard_layout().into_owned()
        };
        Self { data }
    }

    /// Shape of the tensor.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True if the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row-major elements.
    pub fn as_slice(&self) -> &[u64] {
        self.data
            .as_slice()
            .expect("RingTensor keeps standard layout")
    }

    /// Mutable row-major elements.
    pub fn as_mut_slice(&mut self) -> &mut [u64] {
        self.data
            .as_slice_mut()
            .expect("RingTensor keeps standard layout")
    }

    /// Consumes the tensor, returning its row-major elements.
    pub fn into_vec(self) -> Vec<u64> {
        let (v, offset) = self.data.into_raw_vec_and_offset();
        debug_assert!(offset.unwrap_or(0) == 0);
        v
    }

    /// Read-only ndarray view.
    pub fn view(&self) -> ArrayViewD<'_, u64> {
        self.data.view()
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(u64) -> u64) -> Self {
        Self {
            data: self.data.mapv(f),
        }
    }

    /// Combines two tensors elementwise; `other` may broadcast to `self`'s shape
    /// (for example a `[1, n]` row against an `[m, n]` matrix).
    pub fn zip_with(
        &self,
        other: &Self,
        op: &'static str,
        f: impl Fn(u64, u64) -> u64,
    ) -> Result<Self, TensorError> {
        let mismatch = || TensorError::ShapeMismatch {
            op,
            left: self.shape().to_vec(),
            right: other.shape().to_vec(),
        };
        if self.shape() == other.shape() {
            let data: Vec<u64> = self
                .as_slice()
                .iter()
                .zip(other.as_slice())
                .map(|(&a, &b)| f(a, b))
                .collect();
            return Self::from_vec(self.shape(), data);
        }
        let b = other
            .data
            .broadcast(self.data.raw_dim())
            .ok_or_else(mismatch)?;
        let mut out = self.data.clone();
        Zip::from(&mut out).and(&b).for_each(|a, &b| *a = f(*a, b));
        Ok(Self { data: out })
    }

    /// Elementwise sum (wrapping); `other` may broadcast.
    pub fn add(&self, other: &Self) -> Result<Self, TensorError> {
        self.zip_with(other, "add", u64::wrapping_add)
    }

    /// Elementwise difference (wrapping); `other` may broadcast.
    pub fn sub(&self, other: &Self) -> Result<Self, TensorError> {
        self.zip_with(other, "sub", u64::wrapping_sub)
    }

    /// Elementwise product (wrapping); `other` may broadcast.
    pub fn mul(&self, other: &Self) -> Result<Self, TensorError> {
        self.zip_with(other, "mul", u64::wrapping_mul)
    }

    /// Elementwise XOR; `other` may broadcast.
    pub fn xor(&self, other: &Self) -> Result<Self, TensorError> {
        self.zip_with(other, "xor", |a, b| a ^ b)
    }

    /// Elementwise AND; `other` may broadcast.
    pub fn and(&self, other: &Self) -> Result<Self, TensorError> {
        self.zip_with(other, "and", |a, b| a & b)
    }

    /// In-place elementwise sum with a tensor of the same shape.
    pub fn add_assign(&mut self, other: &Self) -> Result<(), TensorError> {
        self.assign_with(other, "add_assign", u64::wrapping_add)
    }

    /// In-place elementwise difference with a tensor of the same shape.
    pub fn sub_assign(&mut self, other: &Self) -> Result<(), TensorError> {
        self.assign_with(other, "sub_assign", u64::wrapping_sub)
    }

    /// In-place elementwise XOR with a tensor of the same shape.
    pub fn xor_assign(&mut self, other: &Self) -> Result<(), TensorError> {
        self.assign_with(other, "xor_assign", |a, b| a ^ b)
    }

    fn assign_with(
        &mut self,
        other: &Self,
        op: &'static str,
        f: impl Fn(u64, u64) -> u64,
    ) -> Result<(), TensorError> {
        if self.shape() != other.shape() {
            return Err(TensorError::ShapeMismatch {
                op,
                left: self.shape().to_vec(),
                right: other.shape().to_vec(),
            });
        }
        for (a, &b) in self.as_mut_slice().iter_mut().zip(other.as_slice()) {
            *a = f(*a, b);
        }
        Ok(())
    }

    /// Elementwise negation (wrapping).
    pub fn neg(&self) -> Self {
        self.map(u64::wrapping_neg)
    }

    /// Multiplies every element by a public ring scalar.
    pub fn mul_scalar(&self, c: u64) -> Self {
        self.map(|a| a.wrapping_mul(c))
    }

    /// Adds a public ring scalar to every element.
    pub fn add_scalar(&self, c: u64) -> Self {
        self.map(|a| a.wrapping_add(c))
    }

    /// Ring matrix product of two 2-D tensors `[m, k] x [k, n]`.
    pub fn matmul(&self, other: &Self) -> Result<Self, TensorError> {
        let (m, k, n) = self.matmul_dims(other)?;
        let out = matmul::ring_matmul(self.as_slice(), other.as_slice(), m, k, n);
        Self::from_vec(&[m, n], out)
    }

    /// Checks shapes for a matrix product and returns `(m, k, n)`.
    pub fn matmul_dims(&self, other: &Self) -> Result<(usize, usize, usize), TensorError> {
        match (self.shape(), other.shape()) {
            (&[m, k], &[k2, n]) if k == k2 => Ok((m, k, n)),
            (l, r) => Err(TensorError::ShapeMismatch {
                op: "matmul",
                left: l.to_vec(),
                right: r.to_vec(),
            }),
        }
    }

    /// Transpose of a 2-D tensor (reverses the axes of any tensor).
    pub fn transpose(&self) -> Self {
        Self::from_array(self.data.t().to_owned())
    }

    /// Same elements under a new shape with the same number of elements.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        Self::from_vec(shape, self.as_slice().to_vec())
    }

    /// Wrapping sum along `axis`, keeping it as a dimension of length 1.
    pub fn sum_axis(&self, axis: usize) -> Result<Self, TensorError> {
        let nd = self.data.ndim();
        if axis >= nd {
            return Err(TensorError::OutOfRange {
                op: "sum_axis",
                index: axis,
                len: nd,
            });
        }
        let summed = self
            .data
            .fold_axis(Axis(axis), 0u64, |acc, &x| acc.wrapping_add(x));
        Ok(Self::from_array(summed.insert_axis(Axis(axis))))
    }

    /// Wrapping sum of all elements.
    pub fn sum_all(&self) -> u64 {
        self.as_slice().iter().fold(0u64, |a, &x| a.wrapping_add(x))
    }

    /// The rows (entries along axis 0) at the given indices, in that order.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self, TensorError> {
        let len = self.shape().first().copied().unwrap_or(0);
        if let Some(&bad) = rows.iter().find(|&&r| r >= len) {
            return Err(TensorError::OutOfRange {
                op: "select_rows",
                index: bad,
                len,
            });
        }
        let Some(inner) = self.shape().get(1..) else {
            return Err(TensorError::OutOfRange {
                op: "select_rows of a scalar",
                index: 0,
                len: 0,
            });
        };
        // Rows are contiguous (standard layout): copy them as slices.
        let width: usize = inner.iter().product();
        let data = self.as_slice();
        let mut out = Vec::with_capacity(rows.len() * width);
        let mut i = 0;
        while i < rows.len() {
            // A run of consecutive rows is one copy.
            let mut j = i + 1;
            while j < rows.len() && rows[j] == rows[j - 1] + 1 {
                j += 1;
            }
            out.extend_from_slice(&data[rows[i] * width..(rows[j - 1] + 1) * width]);
            i = j;
        }
        let mut shape = self.shape().to_vec();
        shape[0] = rows.len();
        Self::from_vec(&shape, out)
    }

    /// Rows `start..end` along axis 0.
    pub fn slice_rows(&self, start: usize, end: usize) -> Result<Self, TensorError> {
        let len = self.shape().first().copied().unwrap_or(0);
        if start > end || end > len {
            return Err(TensorError::OutOfRange {
                op: "slice_rows",
                index: end,
                len,
            });
        }
        let Some(inner) = self.shape().get(1..) else {
            return Err(TensorError::OutOfRange {
                op: "slice_rows of a scalar",
                index: end,
                len: 0,
            });
        };
        let width: usize = inner.iter().product();
        let mut shape = self.shape().to_vec();
        shape[0] = end - start;
        Self::from_vec(&shape, self.as_slice()[start * width..end * width].to_vec())
    }

    /// Concatenation along `axis`; all other dimensions must agree.
    pub fn concat(parts: &[&Self], axis: usize) -> Result<Self, TensorError> {
        // Along axis 0 the parts' data follow one another (standard layout).
        if let (0, Some(first)) = (axis, parts.first()) {
            let inner = first.shape().get(1..).unwrap_or(&[]);
            if !first.shape().is_empty() && parts.iter().all(|p| p.shape().get(1..) == Some(inner))
            {
                let mut shape = first.shape().to_vec();
                shape[0] = parts.iter().map(|p| p.shape()[0]).sum();
                let mut data = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
                for p in parts {
                    data.extend_from_slice(p.as_slice());
                }
                return Self::from_vec(&shape, data);
            }
        }
        let views: Vec<_> = parts.iter().map(|t| t.data.view()).collect();
        concatenate(Axis(axis), &views)
            .map(Self::from_array)
            .map_err(|_| TensorError::ShapeMismatch {
                op: "concat",
                left: parts
                    .first()
                    .map(|t| t.shape().to_vec())
                    .unwrap_or_default(),
                right: parts.last().map(|t| t.shape().to_vec()).unwrap_or_default(),
            })
    }

    /// Splits along axis 0 into consecutive parts with the given lengths.
    pub fn split_rows(&self, lens: &[usize]) -> Result<Vec<Self>, TensorError> {
        let total: usize = lens.iter().sum();
        let len = self.shape().first().copied().unwrap_or(0);
        if total != len {
            return Err(TensorError::OutOfRange {
                op: "split_rows",
                index: total,
                len,
            });
        }
        let mut start = 0;
        lens.iter()
            .map(|&l| {
                let part = self.slice_rows(start, start + l);
                start += l;
                part
            })
            .collect()
    }

    /// Columns `cols` of a 2-D tensor, in that order.
    pub fn select_cols(&self, cols: &[usize]) -> Result<Self, TensorError> {
        let len = self.shape().get(1).copied().unwrap_or(0);
        if self.data.ndim() != 2 {
            return Err(TensorError::ShapeMismatch {
                op: "select_cols",
                left: self.shape().to_vec(),
                right: vec![],
            });
        }
        if let Some(&bad) = cols.iter().find(|&&c| c >= len) {
            return Err(TensorError::OutOfRange {
                op: "select_cols",
                index: bad,
                len,
            });
        }
        Ok(Self::from_array(self.data.select(Axis(1), cols)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_row_add() {
        let m = RingTensor::from_vec(&[2, 3], vec![1, 2, 3, 4, 5, 6]).unwrap();
        let r = RingTensor::from_vec(&[1, 3], vec![10, 20, u64::MAX]).unwrap();
        let s = m.add(&r).unwrap();
        assert_eq!(s.as_slice(), &[11, 22, 2, 14, 25, 5]);
        assert!(r.add(&m).is_err(), "broadcast goes one way only");
    }

    #[test]
    fn wrapping_and_sums() {
        let t = RingTensor::from_vec(&[2, 2], vec![u64::MAX, 1, 2, 3]).unwrap();
        assert_eq!(t.sum_axis(0).unwrap().as_slice(), &[1, 4]);
        assert_eq!(t.sum_axis(1).unwrap().as_slice(), &[0, 5]);
        assert_eq!(t.sum_axis(0).unwrap().shape(), &[1, 2]);
        assert!(t.sum_axis(2).is_err());
        assert_eq!(t.neg().add(&t).unwrap(), RingTensor::zeros(&[2, 2]));
    }

    #[test]
    fn shapes_are_checked() {
        let a = RingTensor::zeros(&[2, 3]);
        let b = RingTensor::zeros(&[2, 3]);
        assert!(matches!(
            a.matmul(&b),
            Err(TensorError::ShapeMismatch { op: "matmul", .. })
        ));
        assert!(RingTensor::from_vec(&[2, 2], vec![1, 2, 3]).is_err());
        assert!(a.select_rows(&[2]).is_err());
        assert!(a.slice_rows(1, 3).is_err());
        assert!(a.select_cols(&[3]).is_err());
    }

    #[test]
    fn transpose_concat_split() {
        let a = RingTensor::from_vec(&[2, 3], (0..6).collect()).unwrap();
        let t = a.transpose();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.as_slice(), &[0, 3, 1, 4, 2, 5]);
        let c = RingTensor::concat(&[&a, &a], 0).unwrap();
        assert_eq!(c.shape(), &[4, 3]);
        let parts = c.split_rows(&[1, 3]).unwrap();
        assert_eq!(parts[0].as_slice(), &[0, 1, 2]);
        assert_eq!(parts[1].shape(), &[3, 3]);
        let cols = RingTensor::concat(&[&a, &a], 1).unwrap();
        assert_eq!(cols.select_cols(&[3, 0]).unwrap().as_slice(), &[0, 0, 3, 3]);
    }

    #[test]
    fn rows_are_selected_sliced_and_stacked_as_ndarray_does() {
        let a = RingTensor::from_vec(&[5, 2, 2], (0..20).collect()).unwrap();
        for rows in [
            vec![],
            vec![4],
            vec![1, 2, 3],
            vec![3, 1, 1, 2, 0],
            vec![0, 1, 4],
        ] {
            let want = a.data.select(Axis(0), &rows);
            let got = a.select_rows(&rows).unwrap();
            assert_eq!(got.shape(), want.shape(), "{rows:?}");
            assert_eq!(got.as_slice(), want.as_slice().unwrap(), "{rows:?}");
        }
        assert!(a.select_rows(&[5]).is_err());
        assert_eq!(
            a.slice_rows(1, 3).unwrap().as_slice(),
            &(4..12).collect::<Vec<_>>()[..]
        );
        assert_eq!(a.slice_rows(2, 2).unwrap().shape(), &[0, 2, 2]);
        assert!(a.slice_rows(3, 6).is_err());
        let scalar = RingTensor::from_vec(&[], vec![7]).unwrap();
        assert!(scalar.select_rows(&[]).is_err());
        assert!(scalar.slice_rows(0, 0).is_err());
        let b = RingTensor::from_vec(&[1, 2, 2], (20..24).collect()).unwrap();
        let c = RingTensor::concat(&[&a, &b, &a], 0).unwrap();
        let want = concatenate(Axis(0), &[a.data.view(), b.data.view(), a.data.view()]).unwrap();
        assert_eq!(c.shape(), want.shape());
        assert_eq!(c.as_slice(), want.as_slice().unwrap());
        let bad = RingTensor::from_vec(&[1, 4], (0..4).collect()).unwrap();
        assert!(RingTensor::concat(&[&a, &bad], 0).is_err());
    }
}
