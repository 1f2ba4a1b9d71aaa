//! Public tensors of an ONNX graph: weights, constants, and the small shape
//! computations a PyTorch export wraps around `view(x.size(0), -1)`
//! (`Shape`, `Gather`, `Unsqueeze`, `Concat`), evaluated at load time.

use super::proto::{data_type, TensorProto};
use ndarray::{ArrayD, IxDyn};

/// Stands for the batch size in a shape computed from the data: it is not
/// known when the model is loaded, and any row count is accepted.
pub const BATCH: f64 = -1e12;

/// A public tensor, row-major. Integers are held exactly (shapes and
/// indices are far below 2^53).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Its dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// Its values.
    pub data: Vec<f64>,
}

impl Tensor {
    /// A 1-D tensor.
    pub fn vector(data: Vec<f64>) -> Self {
        Self {
            dims: vec![data.len()],
            data,
        }
    }

    /// The values as integers (shapes, axes, indices).
    pub fn ints(&self) -> Vec<i64> {
        self.data.iter().map(|&v| v as i64).collect()
    }

    /// Reads an initializer or a `Constant`'s value.
    pub fn from_proto(t: &TensorProto) -> Result<Self, String> {
        if !t.external_data.is_empty() || t.data_location == 1 {
            return Err(format!(
                "tensor '{}' keeps its values in an external file; export the model with its \
                 weights inside (a single .onnx file)",
                t.name
            ));
        }
        let dims = t
            .dims
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| format!("tensor '{}' has dimension {d}", t.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let len = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= 1 << 28)
            .ok_or_else(|| format!("tensor '{}' of shape {dims:?} is too large", t.name))?;
        let raw = |width: usize, read: &dyn Fn(&[u8]) -> f64| -> Vec<f64> {
            t.raw_data.chunks_exact(width).map(read).collect()
        };
        let data: Vec<f64> = match t.data_type {
            data_type::FLOAT if !t.raw_data.is_empty() => raw(4, &|b| {
                f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
            }),
            data_type::FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
            data_type::DOUBLE if !t.raw_data.is_empty() => {
                raw(8, &|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            data_type::DOUBLE => t.double_data.clone(),
            data_type::INT64 if !t.raw_data.is_empty() => raw(8, &|b| {
                i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64
            }),
            data_type::INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            data_type::INT32 if !t.raw_data.is_empty() => raw(4, &|b| {
                i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
            }),
            data_type::INT32 => t.int32_data.iter().map(|&v| v as f64).collect(),
            other => {
                return Err(format!(
                "tensor '{}' has ONNX data type {other}; float, double, int32 and int64 are read",
                t.name
            ))
            }
        };
        if data.len() != len {
            return Err(format!(
                "tensor '{}' declares shape {dims:?} ({len} values) but holds {}",
                t.name,
                data.len()
            ));
        }
        Ok(Self { dims, data })
    }

    /// `Gather` along axis 0 of a 1-D tensor (shape arithmetic).
    pub fn gather(&self, indices: &Tensor) -> Result<Self, String> {
        if self.dims.len() != 1 {
            return Err(format!(
                "gathering from a constant of shape {:?} (only 1-D shapes are evaluated)",
                self.dims
            ));
        }
        let n = self.data.len() as i64;
        let data = indices
            .ints()
            .into_iter()
            .map(|i| {
                let at = if i < 0 { i + n } else { i };
                (0..n)
                    .contains(&at)
                    .then(|| self.data[at as usize])
                    .ok_or_else(|| format!("index {i} out of {n}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            dims: indices.dims.clone(),
            data,
        })
    }

    /// `Unsqueeze`: new axes of length 1 at `axes` of the output.
    pub fn unsqueeze(&self, axes: &[i64]) -> Result<Self, String> {
        let rank = (self.dims.len() + axes.len()) as i64;
        let mut at: Vec<usize> = axes
            .iter()
            .map(|&a| {
                let a = if a < 0 { a + rank } else { a };
                (0..rank)
                    .contains(&a)
                    .then_some(a as usize)
                    .ok_or_else(|| format!("axis {a} for rank {rank}"))
            })
            .collect::<Result<_, _>>()?;
        at.sort_unstable();
        let mut dims = self.dims.clone();
        for a in at {
            dims.insert(a.min(dims.len()), 1);
        }
        Ok(Self {
            dims,
            data: self.data.clone(),
        })
    }

    /// `Squeeze`: drops axes of length 1 (all of them when `axes` is empty).
    pub fn squeeze(&self, axes: &[i64]) -> Self {
        let rank = self.dims.len() as i64;
        let drop: Vec<usize> = axes
            .iter()
            .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
            .collect();
        let dims = self
            .dims
            .iter()
            .enumerate()
            .filter(|&(i, &d)| d != 1 || !(drop.is_empty() || drop.contains(&i)))
            .map(|(_, &d)| d)
            .collect();
        Self {
            dims,
            data: self.data.clone(),
        }
    }

    /// `Concat` of 1-D (or scalar) tensors.
    pub fn concat(parts: &[&Tensor]) -> Result<Self, String> {
        if let Some(p) = parts.iter().find(|p| p.dims.len() > 1) {
            return Err(format!(
                "concatenating a constant of shape {:?} (only 1-D shapes are evaluated)",
                p.dims
            ));
        }
        Ok(Self::vector(
            parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
        ))
    }

    /// `Reshape` of a constant: `0` keeps a dimension, `-1` takes the rest.
    pub fn reshape(&self, target: &[i64]) -> Result<Self, String> {
        let len = self.data.len();
        let mut dims: Vec<usize> = Vec::with_capacity(target.len());
        let mut free = None;
        for (i, &d) in target.iter().enumerate() {
            dims.push(match d {
                -1 if free.is_none() => {
                    free = Some(i);
                    1
                }
                0 => *self.dims.get(i).ok_or("a 0 beyond the rank")?,
                d if d > 0 => d as usize,
                d => return Err(format!("reshape to dimension {d}")),
            });
        }
        if let Some(i) = free {
            let known: usize = dims.iter().product();
            dims[i] = len / known.max(1);
        }
        if dims.iter().product::<usize>() != len {
            return Err(format!("{len} values cannot be reshaped to {target:?}"));
        }
        Ok(Self {
            dims,
            data: self.data.clone(),
        })
    }

    fn array(&self) -> ArrayD<f64> {
        ArrayD::from_shape_vec(IxDyn(&self.dims), self.data.clone()).expect("consistent")
    }

    fn from_array(a: ArrayD<f64>) -> Self {
        Self {
            dims: a.shape().to_vec(),
            data: a.iter().copied().collect(),
        }
    }

    /// `Transpose` by `perm` (reversed axes when empty).
    pub fn transpose(&self, perm: &[i64]) -> Result<Self, String> {
        let rank = self.dims.len();
        let perm: Vec<usize> = if perm.is_empty() {
            (0..rank).rev().collect()
        } else {
            perm.iter().map(|&p| p as usize).collect()
        };
        let mut seen = perm.clone();
        seen.sort_unstable();
        if seen != (0..rank).collect::<Vec<_>>() {
            return Err(format!("permutation {perm:?} of rank {rank}"));
        }
        Ok(Self::from_array(self.array().permuted_axes(IxDyn(&perm))))
    }

    /// `Slice` along `axes` (all, in order, when empty) from `starts` to
    /// `ends` by `steps` (1 when empty), with ONNX's clamping of
    /// out-of-range ends and negative indices counted from the end.
    pub fn slice(
        &self,
        starts: &[i64],
        ends: &[i64],
        axes: &[i64],
        steps: &[i64],
    ) -> Result<Self, String> {
        let rank = self.dims.len() as i64;
        let mut a = self.array();
        for (i, (&start, &end)) in starts.iter().zip(ends).enumerate() {
            let axis = axes.get(i).copied().unwrap_or(i as i64);
            let axis = if axis < 0 { axis + rank } else { axis };
            let n = *self
                .dims
                .get(axis as usize)
                .ok_or_else(|| format!("slice axis {axis} of rank {rank}"))?
                as i64;
            let step = steps.get(i).copied().unwrap_or(1);
            let wrap = |v: i64| if v < 0 { v + n } else { v };
            let slice = match step {
                0 => return Err("a slice step of 0".into()),
                s if s > 0 => {
                    let (b, e) = (wrap(start).clamp(0, n), wrap(end).clamp(0, n));
                    ndarray::Slice::new(b as isize, Some(e.max(b) as isize), s as isize)
                }
                s => {
                    // From `start` down to `end` (exclusive).
                    let b = wrap(start).clamp(-1, n - 1);
                    let e = wrap(end).clamp(-1, n - 1);
                    ndarray::Slice::new(
                        (e + 1) as isize,
                        Some((b + 1).max(e + 1) as isize),
                        s as isize,
                    )
                }
            };
            a = a.slice_axis(ndarray::Axis(axis as usize), slice).to_owned();
        }
        Ok(Self::from_array(a))
    }

    /// Elementwise arithmetic with a scalar or a tensor of the same shape.
    pub fn zip(&self, other: &Tensor, f: impl Fn(f64, f64) -> f64) -> Result<Self, String> {
        let (dims, data) = if self.data.len() == other.data.len() {
            let d = if self.dims.len() >= other.dims.len() {
                &self.dims
            } else {
                &other.dims
            };
            (
                d.clone(),
                self.data
                    .iter()
                    .zip(&other.data)
                    .map(|(&a, &b)| f(a, b))
                    .collect(),
            )
        } else if other.data.len() == 1 {
            (
                self.dims.clone(),
                self.data.iter().map(|&a| f(a, other.data[0])).collect(),
            )
        } else if self.data.len() == 1 {
            (
                other.dims.clone(),
                other.data.iter().map(|&b| f(self.data[0], b)).collect(),
            )
        } else {
            return Err(format!(
                "constants of shapes {:?} and {:?} (only equal shapes or scalars are evaluated)",
                self.dims, other.dims
            ));
        };
        Ok(Self { dims, data })
    }
}
