//! The [`Backend`] trait and its three implementations.

use crate::{LayerError, Result};
use ndarray::{ArrayD, Axis, Ix2};
use tessera_protocols::{approx, arith, binary, AShare, PartyId, Session};
use tessera_tensor::{FixedPoint, RingTensor};

/// The tensor operations layers are written against.
///
/// Values are real numbers; how they are held (plain floats, fixed-point ring
/// elements, or one party's additive shares) is the backend's business.
/// Binary operations let the right operand broadcast along length-1 axes
/// (a `[1, n]` bias row against a `[m, n]` batch). Fixed-point backends round
/// products toward -inf (plaintext) or within one unit above it (MPC).
pub trait Backend {
    /// How a tensor is held.
    type Tensor: Clone;
    /// Data read again every epoch (training rows), prepared once by
    /// [`Backend::data`]: under MPC it is masked once, so products with its
    /// rows open only the other operand. Cheap to clone (shared, not copied).
    type Data: Clone;

    /// Short name for reports (`"f32"`, `"fixed"`, `"mpc"`).
    fn name(&self) -> &'static str;
    /// Shape of a tensor.
    fn shape(&self, t: &Self::Tensor) -> Vec<usize>;
    /// A secret input held by party `owner`: `data` is `Some` where the data
    /// lives (on the owner under MPC; always in plaintext), `shape` is public.
    fn input(
        &mut self,
        owner: PartyId,
        data: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Self::Tensor>;
    /// A public constant known to every party.
    fn public(&mut self, data: &ArrayD<f64>) -> Result<Self::Tensor>;
    /// `a + b`.
    fn add(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `a - b`.
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `-a`.
    fn neg(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Elementwise product (same shapes).
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// Elementwise square.
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Matrix product `[m,k] x [k,n]`.
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `c * a` for a public real `c`.
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor>;
    /// `a + c` for a public real `c`.
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor>;
    /// Transpose of a matrix.
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Sum over axis 0, keeping it: `[m, n] -> [1, n]`.
    fn sum_rows(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Rows at the given indices.
    fn select_rows(&mut self, a: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor>;
    /// Concatenation along `axis`.
    fn concat(&mut self, parts: &[&Self::Tensor], axis: usize) -> Result<Self::Tensor>;
    /// `max(a, 0)` elementwise, exact.
    fn relu(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// 1.0 where `a > 0`, else 0.0.
    fn positive(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `max(a, 0)` and a mask of `a > 0` for [`Backend::mul_mask`] (ReLU's
    /// backward pass), in one step. The mask's encoding is the backend's.
    fn relu_with_mask(&mut self, a: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        let mask = self.positive(a)?;
        Ok((self.mul(a, &mask)?, mask))
    }
    /// `a` where the mask from [`Backend::relu_with_mask`] is set, else 0; exact.
    fn mul_mask(&mut self, a: &Self::Tensor, mask: &Self::Tensor) -> Result<Self::Tensor> {
        self.mul(a, mask)
    }
    /// Sum over axis 1, keeping it: `[m, n] -> [m, 1]`.
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Columns at the given indices (repeats allowed).
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor>;
    /// A nonlinear function, elementwise (see [`Function`] for domains).
    fn apply(&mut self, f: Function, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Opens `a` to every party; `label` names it in the record of openings.
    fn reveal(&mut self, a: &Self::Tensor, label: &str) -> Result<ArrayD<f64>>;
    /// Marks the start of a repeated unit of work (a training step), so that
    /// preprocessing for the next ones can be prepared ahead of time;
    /// `next_rows` are the data rows this step and the next ones read.
    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        let _ = next_rows;
        Ok(())
    }
    /// Prepares a matrix that will be read again and again by rows.
    fn data(&mut self, x: &Self::Tensor) -> Result<Self::Data>;
    /// Rows of prepared data, as a tensor.
    fn data_rows(&mut self, d: &Self::Data, rows: &[usize]) -> Result<Self::Tensor>;
    /// `d[rows] w`, or `d[rows]^T w` if `transposed`.
    fn matmul_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
        transposed: bool,
    ) -> Result<Self::Tensor>;
    /// Opens `a` to party `to` only; `None` on the other parties.
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>>;
}

/// Nonlinear functions with a protocol of their own under MPC. Plaintext
/// backends compute them exactly, with the same conventions outside the
/// domain (`1/x` and `1/sqrt(x)` are 0 for `x <= 0`, `ln x` is `ln 2^-f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `e^x` (saturates at `e^10`).
    Exp,
    /// `1/x` for `x > 0`.
    Reciprocal,
    /// `1/sqrt(x)` for `x > 0`.
    InvSqrt,
    /// `ln x` for `x > 0`.
    Log,
    /// Logistic sigmoid, accurate to 1e-4.
    Sigmoid,
    /// Hyperbolic tangent, accurate to 2e-4.
    Tanh,
}

impl Function {
    /// The exact function, with the backends' conventions outside the domain.
    pub fn exact(self, x: f64, frac_bits: u32) -> f64 {
        let floor = -(frac_bits as f64) * std::f64::consts::LN_2;
        match self {
            Function::Exp => x.min(tessera_protocols::approx::EXP_MAX).exp(),
            Function::Reciprocal => {
                if x > 0.0 {
                    1.0 / x
                } else {
                    0.0
                }
            }
            Function::InvSqrt => {
                if x > 0.0 {
                    1.0 / x.sqrt()
                } else {
                    0.0
                }
            }
            Function::Log => {
                if x > 0.0 {
                    x.ln()
                } else {
                    floor
                }
            }
            Function::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Function::Tanh => x.tanh(),
        }
    }
}

fn broadcastable(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    let ok = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || *y == 1);
    if ok {
        Ok(())
    } else {
        Err(LayerError::Shape {
            op,
            left: a.to_vec(),
            right: b.to_vec(),
        })
    }
}

fn same(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(LayerError::Shape {
            op,
            left: a.to_vec(),
            right: b.to_vec(),
        })
    }
}

fn check_input<'a>(data: Option<&'a ArrayD<f64>>, shape: &[usize]) -> Result<&'a ArrayD<f64>> {
    let d = data
        .ok_or_else(|| LayerError::Usage("a plaintext backend needs every party's data".into()))?;
    same("input", d.shape(), shape)?;
    Ok(d)
}

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

/// MPC: one party's view, holding its additive shares and its session.
/// Every party runs the same layer code on its own `MpcBackend`.
pub struct MpcBackend<'s> {
    sess: &'s mut Session,
}

impl<'s> MpcBackend<'s> {
    /// Wraps a party's session.
    pub fn new(sess: &'s mut Session) -> Self {
        Self { sess }
    }
    /// The underlying session.
    pub fn session(&mut self) -> &mut Session {
        self.sess
    }
}

impl Backend for MpcBackend<'_> {
    type Tensor = AShare;
    type Data = arith::MaskedMatrix;

    fn data(&mut self, x: &Self::Tensor) -> Result<Self::Data> {
        Ok(arith::mask_once(self.sess, x)?)
    }
    fn data_rows(&mut self, d: &Self::Data, rows: &[usize]) -> Result<Self::Tensor> {
        Ok(d.rows(self.sess, rows)?)
    }
    fn matmul_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
        transposed: bool,
    ) -> Result<Self::Tensor> {
        Ok(arith::matmul_masked_rows_fixed(
            self.sess, d, rows, w, transposed,
        )?)
    }

    fn name(&self) -> &'static str {
        "mpc"
    }
    fn shape(&self, t: &Self::Tensor) -> Vec<usize> {
        t.shape().to_vec()
    }
    fn input(
        &mut self,
        owner: PartyId,
        data: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Self::Tensor> {
        let encoded = match data {
            Some(d) if self.sess.id() == owner => {
                same("input", d.shape(), shape)?;
                Some(self.sess.fixed().encode_array(d)?)
            }
            _ => None,
        };
        Ok(arith::share_input(
            self.sess,
            owner,
            encoded.as_ref(),
            shape,
        )?)
    }
    fn public(&mut self, data: &ArrayD<f64>) -> Result<Self::Tensor> {
        let enc = self.sess.fixed().encode_array(data)?;
        let share = if self.sess.is_leader() {
            enc
        } else {
            RingTensor::zeros(data.shape())
        };
        Ok(AShare::from_share(share))
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
        Ok(arith::mul_fixed(self.sess, a, b)?)
    }
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::square_fixed(self.sess, a)?)
    }
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::matmul_fixed(self.sess, a, b)?)
    }
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        Ok(arith::scale(self.sess, a, c)?)
    }
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        let enc = self.sess.fixed().encode(c)?;
        Ok(a.add_public_scalar(self.sess, enc))
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
        Ok(AShare::concat(parts, axis)?)
    }
    fn relu(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(binary::relu(self.sess, a)?)
    }
    fn positive(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        let bit = binary::greater_than_zero(self.sess, a)?;
        Ok(bit.mul_public_scalar(self.sess.fixed().one()))
    }
    /// The mask is 0/1 as integers, so applying it needs no truncation.
    fn relu_with_mask(&mut self, a: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        Ok(binary::relu_with_mask(self.sess, a)?)
    }
    fn mul_mask(&mut self, a: &Self::Tensor, mask: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::mul(self.sess, a, mask)?)
    }
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(1)?)
    }
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_cols(cols)?)
    }
    fn apply(&mut self, f: Function, a: &Self::Tensor) -> Result<Self::Tensor> {
        let s = &mut *self.sess;
        Ok(match f {
            Function::Exp => approx::exp(s, a)?,
            Function::Reciprocal => approx::reciprocal(s, a)?,
            Function::InvSqrt => approx::inv_sqrt(s, a)?,
            Function::Log => approx::log(s, a)?,
            Function::Sigmoid => approx::sigmoid(s, a)?,
            Function::Tanh => approx::tanh(s, a)?,
        })
    }
    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        Ok(self.sess.prep().step_boundary(next_rows)?)
    }
    fn reveal(&mut self, a: &Self::Tensor, label: &str) -> Result<ArrayD<f64>> {
        let v = arith::reveal(self.sess, a, label)?;
        Ok(self.sess.fixed().decode_tensor(&v))
    }
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>> {
        let v = arith::reveal_to(self.sess, a, to, label)?;
        let fixed = self.sess.fixed();
        Ok(v.map(|v| fixed.decode_tensor(&v)))
    }
}
