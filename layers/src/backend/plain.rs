//! The plaintext backends: `f32` (the baseline) and fixed point on ring
//! tensors (the reference the MPC backend is tested against).

use super::{broadcastable, check_input, same, Backend, Function};
use crate::gather::Gather;
use crate::{LayerError, Result};
use ndarray::{ArrayD, Axis, Ix2};
use tessera_protocols::PartyId;
use tessera_tensor::{FixedPoint, RingTensor};

/// Plaintext `f32`: the speed and accuracy baseline.
#[derive(Debug, Default, Clone, Copy)]
pub struct F32Backend;

/// [`Backend::matmul_rows`] where the data is a plain tensor: select, then multiply.
fn rows_product<B: Backend>(
    b: &mut B,
    x: &B::Tensor,
    rows: &[usize],
    w: &B::Tensor,
    transposed: bool,
) -> Result<B::Tensor> {
    let xr = b.select_rows(x, rows)?;
    let xr = if transposed { b.transpose(&xr)? } else { xr };
    b.matmul(&xr, w)
}

/// The plaintext backends' data: the tensor itself, shared.
macro_rules! plain_data {
    () => {
        fn data(&mut self, x: &Self::Tensor) -> Result<Self::Data> {
            Ok(std::sync::Arc::new(x.clone()))
        }
        fn data_rows(&mut self, d: &Self::Data, rows: &[usize]) -> Result<Self::Tensor> {
            self.select_rows(d, rows)
        }
        fn matmul_rows(
            &mut self,
            d: &Self::Data,
            rows: &[usize],
            w: &Self::Tensor,
            transposed: bool,
        ) -> Result<Self::Tensor> {
            rows_product(self, d, rows, w, transposed)
        }
    };
}

impl F32Backend {
    fn matrix(a: &ArrayD<f32>) -> Result<ndarray::ArrayView2<'_, f32>> {
        a.view()
            .into_dimensionality::<Ix2>()
            .map_err(|_| LayerError::Shape {
                op: "matmul",
                left: a.shape().to_vec(),
                right: vec![],
            })
    }
}

impl Backend for F32Backend {
    type Tensor = ArrayD<f32>;
    type Data = std::sync::Arc<ArrayD<f32>>;
    plain_data!();

    fn name(&self) -> &'static str {
        "f32"
    }
    fn shape(&self, t: &Self::Tensor) -> Vec<usize> {
        t.shape().to_vec()
    }
    fn input(
        &mut self,
        _owner: PartyId,
        data: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Self::Tensor> {
        self.public(check_input(data, shape)?)
    }
    fn public(&mut self, data: &ArrayD<f64>) -> Result<Self::Tensor> {
        Ok(data.mapv(|v| v as f32))
    }
    fn add(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        broadcastable("add", a.shape(), b.shape())?;
        Ok(a + b)
    }
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        broadcastable("sub", a.shape(), b.shape())?;
        Ok(a - b)
    }
    fn neg(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.mapv(|v| -v))
    }
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        same("mul", a.shape(), b.shape())?;
        Ok(a * b)
    }
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.mapv(|v| v * v))
    }
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let (ma, mb) = (Self::matrix(a)?, Self::matrix(b)?);
        if ma.ncols() != mb.nrows() {
            return Err(LayerError::Shape {
                op: "matmul",
                left: a.shape().to_vec(),
                right: b.shape().to_vec(),
            });
        }
        Ok(ma.dot(&mb).into_dyn())
    }
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        Ok(a * c as f32)
    }
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        Ok(a + c as f32)
    }
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.t().as_standard_layout().into_owned())
    }
    fn sum_rows(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(Axis(0)).insert_axis(Axis(0)))
    }
    fn select_rows(&mut self, a: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor> {
        let len = a.shape().first().copied().unwrap_or(0);
        if let Some(&bad) = rows.iter().find(|&&r| r >= len) {
            return Err(tessera_tensor::TensorError::OutOfRange {
                op: "select_rows",
                index: bad,
                len,
            }
            .into());
        }
        Ok(a.select(Axis(0), rows))
    }
    fn concat(&mut self, parts: &[&Self::Tensor], axis: usize) -> Result<Self::Tensor> {
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        ndarray::concatenate(Axis(axis), &views).map_err(|_| LayerError::Shape {
            op: "concat",
            left: parts
                .first()
                .map(|p| p.shape().to_vec())
                .unwrap_or_default(),
            right: parts.last().map(|p| p.shape().to_vec()).unwrap_or_default(),
        })
    }
    fn relu(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.mapv(|v| v.max(0.0)))
    }
    fn positive(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 }))
    }
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(Axis(1)).insert_axis(Axis(1)))
    }
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor> {
        let len = a.shape().get(1).copied().unwrap_or(0);
        if let Some(&bad) = cols.iter().find(|&&c| c >= len) {
            return Err(tessera_tensor::TensorError::OutOfRange {
                op: "select_cols",
                index: bad,
                len,
            }
            .into());
        }
        Ok(a.select(Axis(1), cols))
    }
    fn gather(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        let src: Vec<f32> = a.iter().copied().collect();
        let out = g.apply(&src, "gather")?;
        Ok(ArrayD::from_shape_vec(vec![g.shape[0], g.shape[1]], out).expect("checked length"))
    }
    fn scatter_add(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        let out: Vec<f32> = a.iter().copied().collect();
        let src = g.scatter(&out, |x, y| x + y, "scatter_add")?;
        Ok(ArrayD::from_shape_vec(vec![g.source[0], g.source[1]], src).expect("checked length"))
    }
    fn apply(&mut self, f: Function, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.mapv(|v| f.exact(v as f64, 16) as f32))
    }
    fn reveal(&mut self, a: &Self::Tensor, _label: &str) -> Result<ArrayD<f64>> {
        Ok(a.mapv(|v| v as f64))
    }
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        _to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>> {
        self.reveal(a, label).map(Some)
    }
}

/// Plaintext fixed point on ring tensors: the same arithmetic as the MPC
/// backend, with exact floor truncation. MPC results equal these within one
/// unit in the last place per truncation.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedBackend {
    /// The encoding.
    pub fixed: FixedPoint,
}

impl FixedBackend {
    /// A backend with the given encoding.
    pub fn new(fixed: FixedPoint) -> Self {
        Self { fixed }
    }
}

impl Backend for FixedBackend {
    type Tensor = RingTensor;
    type Data = std::sync::Arc<RingTensor>;
    plain_data!();

    fn name(&self) -> &'static str {
        "fixed"
    }
    fn shape(&self, t: &Self::Tensor) -> Vec<usize> {
        t.shape().to_vec()
    }
    fn input(
        &mut self,
        _owner: PartyId,
        data: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Self::Tensor> {
        self.public(check_input(data, shape)?)
    }
    fn public(&mut self, data: &ArrayD<f64>) -> Result<Self::Tensor> {
        Ok(self.fixed.encode_array(data)?)
    }
    fn add(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.add(b)?)
    }
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sub(b)?)
    }
    fn neg(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.neg())
    }
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        same("mul", a.shape(), b.shape())?;
        Ok(self.fixed.truncate_tensor(&a.mul(b)?))
    }
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.fixed.truncate_tensor(&a.mul(a)?))
    }
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.fixed.truncate_tensor(&a.matmul(b)?))
    }
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        let c = self.fixed.encode(c)?;
        Ok(self.fixed.truncate_tensor(&a.mul_scalar(c)))
    }
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        Ok(a.add_scalar(self.fixed.encode(c)?))
    }
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.transpose())
    }
    fn sum_rows(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(0)?)
    }
    fn select_rows(&mut self, a: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_rows(rows)?)
    }
    fn concat(&mut self, parts: &[&Self::Tensor], axis: usize) -> Result<Self::Tensor> {
        Ok(RingTensor::concat(parts, axis)?)
    }
    fn relu(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.map(|v| (v as i64).max(0) as u64))
    }
    fn positive(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        let one = self.fixed.one();
        Ok(a.map(|v| if (v as i64) > 0 { one } else { 0 }))
    }
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(1)?)
    }
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_cols(cols)?)
    }
    fn gather(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        let out = g.apply(a.as_slice(), "gather")?;
        Ok(RingTensor::from_vec(&g.shape, out)?)
    }
    fn scatter_add(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        let src = g.scatter(a.as_slice(), u64::wrapping_add, "scatter_add")?;
        Ok(RingTensor::from_vec(&g.source, src)?)
    }
    fn apply(&mut self, f: Function, a: &Self::Tensor) -> Result<Self::Tensor> {
        let fixed = self.fixed;
        let out = fixed
            .decode_tensor(a)
            .mapv(|v| f.exact(v, fixed.frac_bits()));
        Ok(fixed.encode_array(&out)?)
    }
    fn reveal(&mut self, a: &Self::Tensor, _label: &str) -> Result<ArrayD<f64>> {
        Ok(self.fixed.decode_tensor(a))
    }
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        _to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>> {
        self.reveal(a, label).map(Some)
    }
}
