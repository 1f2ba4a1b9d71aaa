//! The [`Backend`] trait and its three implementations: plaintext `f32`
//! and fixed point (`plain.rs`), and MPC (`mpc.rs`).

mod active;
mod mpc;
mod plain;

pub use active::ActiveBackend;

pub use mpc::MpcBackend;
pub use plain::{F32Backend, FixedBackend};

/// Who holds which part of a matrix in the clear: each party a block of
/// rows (`axis` 0) or of columns (`axis` 1), in party order.
#[derive(Debug, Clone, Copy)]
pub struct OwnedBlocks<'a> {
    /// 0: each party holds whole rows; 1: whole columns.
    pub axis: usize,
    /// Each party's number of rows (or columns), in party order.
    pub extents: &'a [usize],
    /// This party's own block (where it holds one).
    pub mine: Option<&'a ArrayD<f64>>,
    /// Each row enters one product only (a query in private inference):
    /// masking the matrix once for reuse would gain nothing, so under MPC
    /// every provider multiplies by the held blocks, through material that
    /// does not depend on them (made before the query exists).
    pub single_use: bool,
}

use crate::gather::Gather;
use crate::{LayerError, Result};
use ndarray::ArrayD;
use tessera_protocols::PartyId;

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
    /// A public 0/1 mask in the encoding [`Backend::mul_mask`] takes (by
    /// default, as numbers).
    fn public_mask(&mut self, bits: &ArrayD<bool>) -> Result<Self::Tensor> {
        self.public(&bits.mapv(f64::from))
    }
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
    /// Row-wise maximum `[m, n] -> [m, 1]`, exact, by a protocol of the
    /// backend's own; `None` where it has none, and the tournament of
    /// [`crate::softmax::max_cols`] runs instead.
    fn max_rows(&mut self, a: &Self::Tensor) -> Result<Option<Self::Tensor>> {
        let _ = a;
        Ok(None)
    }
    /// Row-wise argmax `[m, n]`, ties to the lower index, as a one-hot
    /// `[m, n]` and the index `[m, 1]` (both in the backend's encoding of
    /// numbers), by a protocol of the backend's own; `None` where it has
    /// none, and the tournaments of [`crate::softmax`] run instead.
    fn argmax_rows(&mut self, a: &Self::Tensor) -> Result<Option<(Self::Tensor, Self::Tensor)>> {
        let _ = a;
        Ok(None)
    }
    /// Row-wise maximum `[m, 1]` and its winner (ties to the lower index)
    /// as a mask `[m, n]` for [`Backend::mul_mask`], in the rounds of the
    /// maximum alone (max pooling in training needs both); `None` where the
    /// backend has no such protocol, and the pooling layer takes the argmax
    /// and its product instead.
    fn max_and_winner_rows(
        &mut self,
        a: &Self::Tensor,
    ) -> Result<Option<(Self::Tensor, Self::Tensor)>> {
        let _ = a;
        Ok(None)
    }
    /// Sum over axis 1, keeping it: `[m, n] -> [m, 1]`.
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Columns at the given indices (repeats allowed).
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor>;
    /// Rearranges `a`'s entries as `g` says (local: it only moves values).
    fn gather(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor>;
    /// The adjoint of [`Backend::gather`]: adds every entry of `a` (shaped
    /// as `g`'s output) into the source entry it came from.
    fn scatter_add(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor>;
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
    /// [`Backend::matmul`] of several pairs; under MPC in the rounds of one
    /// (a layer's backward pass takes two products of the same gradient).
    fn matmul_each(
        &mut self,
        pairs: &[(&Self::Tensor, &Self::Tensor)],
    ) -> Result<Vec<Self::Tensor>> {
        pairs.iter().map(|(a, b)| self.matmul(a, b)).collect()
    }
    /// [`Backend::scale`] of several tensors by one constant; under MPC in
    /// one round (an optimiser step over every parameter).
    fn scale_each(&mut self, xs: &[&Self::Tensor], c: f64) -> Result<Vec<Self::Tensor>> {
        xs.iter().map(|x| self.scale(x, c)).collect()
    }
    /// `a b` before its truncation, for [`Backend::relu_wide`]: under MPC the
    /// ReLU's comparison then truncates it with the same opening. A backend
    /// that overrides neither gives the truncated product.
    fn matmul_wide(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        self.matmul(a, b)
    }
    /// [`Backend::matmul_rows`] (not transposed) before its truncation, for
    /// [`Backend::relu_wide`].
    fn matmul_rows_wide(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
    ) -> Result<Self::Tensor> {
        self.matmul_rows(d, rows, w, false)
    }
    /// `relu(p + bias)` for a product `p` from [`Backend::matmul_wide`] or
    /// [`Backend::matmul_rows_wide`], truncated as [`Backend::matmul`] would,
    /// and the mask for ReLU's backward pass, as [`Backend::relu_with_mask`]
    /// gives them (under MPC the mask may also be set where the truncated
    /// value is 0, where it makes no difference to the output).
    fn relu_wide(
        &mut self,
        p: &Self::Tensor,
        bias: &Self::Tensor,
    ) -> Result<(Self::Tensor, Self::Tensor)> {
        let y = self.add_bias_wide(p, bias)?;
        self.relu_with_mask(&y)
    }
    /// `p + bias` for a product `p` from [`Backend::matmul_wide`] or
    /// [`Backend::matmul_rows_wide`], at `p`'s scale (under MPC twice the
    /// fractional bits).
    fn add_bias_wide(&mut self, p: &Self::Tensor, bias: &Self::Tensor) -> Result<Self::Tensor> {
        self.add(p, bias)
    }
    /// Prepares a matrix that will be read again and again by rows.
    fn data(&mut self, x: &Self::Tensor) -> Result<Self::Data>;
    /// [`Backend::data`] for a matrix `x` whose blocks the parties hold in
    /// the clear ([`OwnedBlocks`]). Under MPC its products then need only
    /// each owner's cross terms with the others, one matrix product per
    /// party: where the provider multiplies by the data itself (OT), or
    /// where the rows are used once (a dealer's held triples cost an opening
    /// of the block per product); otherwise (and in plaintext) it is
    /// `data(x)`, masked once for every later product.
    fn owned_data(&mut self, x: &Self::Tensor, owned: &OwnedBlocks<'_>) -> Result<Self::Data> {
        let _ = owned;
        self.data(x)
    }
    /// Rows of prepared data, as a tensor.
    fn data_rows(&mut self, d: &Self::Data, rows: &[usize]) -> Result<Self::Tensor>;
    /// The windows matrix `W` (im2col, `window`'s layout, one image per row
    /// of the data) of rows `rows` of prepared data times `w`, as `product`
    /// says: `W w` truncated, `W w` before its truncation (as
    /// [`Backend::matmul_wide`]), or `W^T w` truncated. A convolution's first
    /// layer on training data; under MPC the masked images' windows are never
    /// opened, only `w`.
    fn matmul_windows_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        window: &tessera_tensor::SlidingWindow,
        w: &Self::Tensor,
        product: WindowProduct,
    ) -> Result<Self::Tensor> {
        windows_times(self, d, rows, window, w, product)
    }
    /// `d[rows] w`, or `d[rows]^T w` if `transposed`.
    fn matmul_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
        transposed: bool,
    ) -> Result<Self::Tensor>;
    /// The most entries of one intermediate tensor worth computing at once
    /// when many rows are evaluated (chunks bound memory): under active
    /// security each comparison carries about a kibibyte of material, so
    /// the active backend asks for smaller chunks.
    fn chunk_entries(&self) -> usize {
        1 << 22
    }
    /// The cheapest sigmoid that keeps a model's accuracy (logistic
    /// regression's): the accurate spline where comparisons are cheap (a
    /// dealer's tables: its 12 thresholds share one opening, 10 rounds,
    /// 1196 bits); where each comparison is a tree of AND gates (made by
    /// OT, or authenticated under active security), the clipped polynomial
    /// with 2 (breast_cancer, active: 0.37-0.44 s against 0.12-0.16 s; OT:
    /// 1.49-1.74 s against 0.66-0.81 s; the same accuracy). With shared
    /// subtrees the spline there takes fewer rounds (3268 against 4168
    /// active) but about three times the local work.
    fn cheapest_sigmoid(&mut self) -> crate::SigmoidKind {
        crate::SigmoidKind::Accurate
    }
    /// Opens `a` to party `to` only; `None` on the other parties.
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>>;
}

/// A backend over a party's MPC session, in either security mode: what a
/// party program needs beyond the tensor operations.
pub trait MpcSession: Backend {
    /// The session under the backend.
    fn session(&mut self) -> &mut tessera_protocols::Session;
    /// Verifies everything computed so far: the active mode's final MAC
    /// check (an error means a party deviated); nothing semi-honest.
    fn finish(&mut self) -> Result<()>;
    /// The MAC checks run so far (active only).
    fn mac_checks(&self) -> Option<tessera_protocols::active::CheckStats>;
}

/// Nonlinear functions with a protocol of their own under MPC. Plaintext
/// backends compute them exactly, with the same conventions outside the
/// domain (`1/x` and `1/sqrt(x)` are 0 for `x <= 0`, `ln x` is `ln 2^-f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `e^x` (saturates at `e^10`).
    Exp,
    /// `e^x` for `x <= 0` (1 above), cheaper than [`Function::Exp`] (10
    /// rounds, not 12): softmax's, after the row maximum is subtracted.
    ExpNonPositive,
    /// `1/x` for `x > 0`.
    Reciprocal,
    /// `1/x` for `x` in `[1, hi]` (1 below, `1/hi` above), cheaper than
    /// [`Function::Reciprocal`] (10 rounds, not 25): softmax's denominators.
    ReciprocalUpTo(u32),
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
    /// The function under MPC, on either security mode's shares: one
    /// dispatch for every MPC backend.
    pub(crate) fn approximate<E: tessera_protocols::engine::Engine>(
        self,
        e: &mut E,
        x: &E::Secret,
    ) -> tessera_protocols::Result<E::Secret> {
        use tessera_protocols::approx;
        match self {
            Function::Exp => approx::exp(e, x),
            Function::ExpNonPositive => approx::exp_nonpositive(e, x),
            Function::Reciprocal => approx::reciprocal(e, x),
            Function::ReciprocalUpTo(hi) => approx::reciprocal_in_range(e, x, hi as f64),
            Function::InvSqrt => approx::inv_sqrt(e, x),
            Function::Log => approx::log(e, x),
            Function::Sigmoid => approx::sigmoid(e, x),
            Function::Tanh => approx::tanh(e, x),
        }
    }

    /// The exact function, with the backends' conventions outside the domain.
    pub fn exact(self, x: f64, frac_bits: u32) -> f64 {
        let floor = -(frac_bits as f64) * std::f64::consts::LN_2;
        match self {
            Function::Exp => x.min(tessera_protocols::approx::EXP_MAX).exp(),
            Function::ExpNonPositive => x.min(0.0).exp(),
            Function::Reciprocal => {
                if x > 0.0 {
                    1.0 / x
                } else {
                    0.0
                }
            }
            Function::ReciprocalUpTo(hi) => 1.0 / x.clamp(1.0, hi.max(1) as f64),
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

pub(super) fn broadcastable(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
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

pub(super) fn same(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
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

pub(super) fn check_input<'a>(
    data: Option<&'a ArrayD<f64>>,
    shape: &[usize],
) -> Result<&'a ArrayD<f64>> {
    let d = data
        .ok_or_else(|| LayerError::Usage("a plaintext backend needs every party's data".into()))?;
    same("input", d.shape(), shape)?;
    Ok(d)
}

/// Which product [`Backend::matmul_windows_rows`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowProduct {
    /// `W w`, truncated.
    Forward,
    /// `W w` before its truncation.
    Wide,
    /// `W^T w`, truncated.
    Transposed,
}

/// [`Backend::matmul_windows_rows`] on the rows' shares: the windows
/// gathered locally, then an ordinary product.
pub(crate) fn windows_times<B: Backend + ?Sized>(
    b: &mut B,
    d: &B::Data,
    rows: &[usize],
    window: &tessera_tensor::SlidingWindow,
    w: &B::Tensor,
    product: WindowProduct,
) -> Result<B::Tensor> {
    let x = b.data_rows(d, rows)?;
    let cols = b.gather(&x, &crate::conv::window_gather(window, rows.len(), false)?)?;
    match product {
        WindowProduct::Forward => b.matmul(&cols, w),
        WindowProduct::Wide => b.matmul_wide(&cols, w),
        WindowProduct::Transposed => {
            let t = b.transpose(&cols)?;
            b.matmul(&t, w)
        }
    }
}
