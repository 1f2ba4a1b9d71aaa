//! Image layers on batches of flattened NCHW images (`[batch, C * H * W]`,
//! one image per row, channel-major): 2-D convolution by im2col and a
//! matrix product, max pooling by a comparison tournament over each window,
//! average pooling by a sum and a public scale. The rearrangements
//! ([`Gather`]) are local on every backend; only the products, comparisons
//! and truncations communicate under MPC.

use crate::softmax::{max_and_winner_cols, max_cols};
use crate::{Backend, Gather, Init, LayerError, Result, WindowProduct};

/// The geometry of a convolution's or a pooling layer's windows.
pub use tessera_tensor::SlidingWindow as Window;

/// The windows matrix of `batch` images as a [`Gather`] (see
/// [`SlidingWindow::index`]).
pub(crate) fn window_gather(w: &Window, batch: usize, per_channel: bool) -> Result<Gather> {
    let bad = || {
        LayerError::Usage(format!(
            "{w:?} does not fit, or its windows of {batch} images overflow"
        ))
    };
    let shape = w.shape(batch, per_channel).ok_or_else(bad)?;
    let index = w.index(batch, per_channel).ok_or_else(bad)?;
    Gather::new([batch, w.inputs()], shape, index)
}

/// The rows-of-positions layout `[batch * positions, channels]` back to
/// images `[batch, channels * positions]` (channel-major).
fn to_images(batch: usize, channels: usize, positions: usize) -> Result<Gather> {
    let mut index = Vec::with_capacity(batch * channels * positions);
    for n in 0..batch {
        for c in 0..channels {
            for p in 0..positions {
                index.push(Some((n * positions + p) * channels + c));
            }
        }
    }
    Gather::new(
        [batch * positions, channels],
        [batch, channels * positions],
        index,
    )
}

fn batch_of<B: Backend>(b: &B, x: &B::Tensor, inputs: usize, op: &'static str) -> Result<usize> {
    match b.shape(x).as_slice() {
        &[n, d] if d == inputs => Ok(n),
        other => Err(LayerError::Shape {
            op,
            left: other.to_vec(),
            right: vec![0, inputs],
        }),
    }
}

/// 2-D convolution `[batch, C*H*W] -> [batch, OC*OH*OW]`: each output
/// channel is a `C x k x k` filter slid over the input, plus a bias.
/// Computed as im2col (local) and one matrix product with the filters
/// `[C*k*k, OC]`, so under MPC it costs one matrix triple per batch.
pub struct Conv2d<B: Backend> {
    /// Geometry of the input and the filters.
    pub window: Window,
    /// Filters as a matrix `[C*k*k, OC]` (row `c*k*k + ky*k + kx`).
    pub weight: B::Tensor,
    /// One bias per output channel, `[1, OC]`.
    pub bias: B::Tensor,
    /// What the last forward pass multiplied, for the backward pass.
    input: Option<ConvInput<B>>,
    /// Gradients of the last backward pass (filters, bias).
    pub grad: Option<(B::Tensor, B::Tensor)>,
    velocity: [Option<B::Tensor>; 2],
}

impl<B: Backend> Conv2d<B> {
    /// `out_channels` filters over `window`; weights as `init` says (with
    /// `C*k*k` inputs per output), bias zero.
    pub fn new(b: &mut B, window: Window, out_channels: usize, init: Init) -> Result<Self> {
        window.output()?;
        let fan_in = window.channels * window.kernel * window.kernel;
        let weight = b.public(&init.weights(fan_in, out_channels))?;
        let bias = b.public(&ndarray::Array2::<f64>::zeros((1, out_channels)).into_dyn())?;
        Ok(Self::from_parts(window, weight, bias))
    }

    /// A layer from given filters `[C*k*k, OC]` and bias `[1, OC]`.
    pub fn from_parts(window: Window, weight: B::Tensor, bias: B::Tensor) -> Self {
        Self {
            window,
            weight,
            bias,
            input: None,
            grad: None,
            velocity: [None, None],
        }
    }

    /// Filters and bias with their gradients from the last backward pass
    /// and their momentum buffers (for [`crate::Sgd::update`]).
    #[allow(clippy::type_complexity)]
    pub fn params_and_grads(
        &mut self,
    ) -> Result<Vec<(&mut B::Tensor, B::Tensor, &mut Option<B::Tensor>)>> {
        let (gw, gb) = self
            .grad
            .take()
            .ok_or_else(|| LayerError::Usage("no gradient: call backward first".into()))?;
        let [vw, vb] = &mut self.velocity;
        Ok(vec![(&mut self.weight, gw, vw), (&mut self.bias, gb, vb)])
    }

    fn out_channels(&self, b: &B) -> usize {
        b.shape(&self.weight)[1]
    }

    /// Entries of the im2col matrix (and of the output) per input image.
    pub fn entries_per_row(&self, b: &B) -> usize {
        let (oh, ow) = self.window.output().unwrap_or((1, 1));
        let k = self.window.kernel;
        oh * ow * (self.window.channels * k * k).max(self.out_channels(b))
    }

    /// The product of the input's windows with the filters (before the
    /// truncation if `wide`), in rows of positions, and what the backward
    /// pass needs of the input.
    fn product(
        &self,
        b: &mut B,
        input: Input<'_, B>,
        wide: bool,
    ) -> Result<(B::Tensor, ConvInput<B>)> {
        match input {
            Input::Tensor(x) => {
                let n = batch_of(b, x, self.window.inputs(), "conv2d")?;
                let cols = b.gather(x, &window_gather(&self.window, n, false)?)?;
                let p = match wide {
                    true => b.matmul_wide(&cols, &self.weight)?,
                    false => b.matmul(&cols, &self.weight)?,
                };
                Ok((p, ConvInput::Cols(cols, n)))
            }
            Input::Rows(data, rows) => {
                let kind = match wide {
                    true => WindowProduct::Wide,
                    false => WindowProduct::Forward,
                };
                let p = b.matmul_windows_rows(data, rows, &self.window, &self.weight, kind)?;
                Ok((p, ConvInput::Rows(data.clone(), rows.to_vec())))
            }
        }
    }

    /// The gather from rows of positions to images, for `n` images.
    fn images(&self, b: &B, n: usize) -> Result<Gather> {
        let (oh, ow) = self.window.output()?;
        to_images(n, self.out_channels(b), oh * ow)
    }

    /// The layer's output and what the backward pass needs.
    fn apply(&self, b: &mut B, input: Input<'_, B>) -> Result<(B::Tensor, ConvInput<B>)> {
        let (p, kept) = self.product(b, input, false)?;
        let y = b.add(&p, &self.bias)?;
        let out = b.gather(&y, &self.images(b, kept.batch())?)?;
        Ok((out, kept))
    }

    /// The layer and the exact ReLU after it in one step (under MPC the
    /// product's truncation shares the comparison's opening, as a dense
    /// layer's does): the output and the ReLU's backward mask, both in
    /// images, and what the backward pass needs.
    fn apply_relu(&self, b: &mut B, input: Input<'_, B>, mask: bool) -> Result<FusedRelu<B>> {
        let (p, kept) = self.product(b, input, true)?;
        let (y, m) = b.relu_wide(&p, &self.bias)?;
        let images = self.images(b, kept.batch())?;
        let mask = match mask {
            true => Some(b.gather(&m, &images)?),
            false => None,
        };
        Ok(FusedRelu {
            y: b.gather(&y, &images)?,
            mask,
            kept,
        })
    }

    /// Forward pass, remembering the input's im2col matrix for backward.
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let (out, kept) = self.apply(b, Input::Tensor(x))?;
        self.input = Some(kept);
        Ok(out)
    }

    /// Forward pass for inference.
    pub fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Ok(self.apply(b, Input::Tensor(x))?.0)
    }

    /// Stores the filters' and bias's gradients from `grad` (`[batch,
    /// OC*OH*OW]`) and returns the input's gradient if `want_input`.
    pub fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        let input = self
            .input
            .take()
            .ok_or_else(|| LayerError::Usage("conv2d backward before forward".into()))?;
        let n = input.batch();
        // Back to one row per (image, position), one column per channel.
        let g = b.scatter_add(grad, &self.images(b, n)?)?;
        let db = b.sum_rows(&g)?;
        let cols = match input {
            ConvInput::Cols(cols, _) => cols,
            ConvInput::Rows(data, rows) => {
                // Training images: the windows' transpose times the gradient,
                // from the data's masked form.
                let kind = WindowProduct::Transposed;
                let dw = b.matmul_windows_rows(&data, &rows, &self.window, &g, kind)?;
                self.grad = Some((dw, db));
                if !want_input {
                    return Ok(None);
                }
                let w_t = b.transpose(&self.weight)?;
                let dcols = b.matmul(&g, &w_t)?;
                return Ok(Some(
                    b.scatter_add(&dcols, &window_gather(&self.window, n, false)?)?,
                ));
            }
        };
        let cols_t = b.transpose(&cols)?;
        if !want_input {
            self.grad = Some((b.matmul(&cols_t, &g)?, db));
            return Ok(None);
        }
        // Both products of the output's gradient in the rounds of one.
        let w_t = b.transpose(&self.weight)?;
        let [dw, dcols]: [B::Tensor; 2] =
            b.matmul_each(&[(&cols_t, &g), (&g, &w_t)])?
                .try_into()
                .map_err(|_| LayerError::Usage("matmul_each: two products expected".into()))?;
        self.grad = Some((dw, db));
        Ok(Some(b.scatter_add(
            &dcols,
            &window_gather(&self.window, n, false)?,
        )?))
    }
}

/// A convolution's input: a tensor, or rows of prepared data (training
/// images, whose windows a backend can multiply without opening them).
enum Input<'x, B: Backend> {
    Tensor(&'x B::Tensor),
    Rows(&'x B::Data, &'x [usize]),
}

/// What a convolution's backward pass needs of its input.
enum ConvInput<B: Backend> {
    /// The windows matrix and the batch size.
    Cols(B::Tensor, usize),
    /// The prepared data and the rows (images) taken.
    Rows(B::Data, Vec<usize>),
}

impl<B: Backend> ConvInput<B> {
    fn batch(&self) -> usize {
        match self {
            ConvInput::Cols(_, n) => *n,
            ConvInput::Rows(_, rows) => rows.len(),
        }
    }
}

/// [`Conv2d::apply_relu`]'s results.
struct FusedRelu<B: Backend> {
    y: B::Tensor,
    mask: Option<B::Tensor>,
    kept: ConvInput<B>,
}

/// How a pooling layer combines a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// The largest entry (a comparison tournament over the window).
    Max,
    /// The mean (padding counts as zeros, as PyTorch's default).
    Average,
}

/// Pooling `[batch, C*H*W] -> [batch, C*OH*OW]`, each channel on its own.
pub struct Pool2d<B: Backend> {
    /// Max or average.
    pub kind: Pool,
    /// Geometry (max pooling takes no padding).
    pub window: Window,
    /// Max pooling: the last forward pass's winners, as a mask for
    /// [`Backend::mul_mask`]; average: the batch size.
    memory: Option<(Option<B::Tensor>, usize)>,
}

impl<B: Backend> Pool2d<B> {
    /// A pooling layer; max pooling over padding is refused (the zeros
    /// would compete with negative inputs).
    pub fn new(kind: Pool, window: Window) -> Result<Self> {
        window.output()?;
        if kind == Pool::Max && window.padding > 0 {
            return Err(LayerError::Usage("max pooling takes no padding".into()));
        }
        Ok(Self {
            kind,
            window,
            memory: None,
        })
    }

    /// Entries of the windows matrix per input image.
    pub fn entries_per_row(&self) -> usize {
        let (oh, ow) = self.window.output().unwrap_or((1, 1));
        self.window.channels * oh * ow * self.window.kernel * self.window.kernel
    }

    fn output_shape(&self, n: usize) -> Result<Gather> {
        let (oh, ow) = self.window.output()?;
        let len = n * self.window.channels * oh * ow;
        // [rows, 1] read as [batch, C*OH*OW]: the rows are already in order.
        Gather::new(
            [len, 1],
            [n, self.window.channels * oh * ow],
            (0..len).map(Some).collect(),
        )
    }

    fn pool(
        &self,
        b: &mut B,
        x: &B::Tensor,
        train: bool,
    ) -> Result<(B::Tensor, Option<B::Tensor>, usize)> {
        let n = batch_of(b, x, self.window.inputs(), "pool2d")?;
        let windows = b.gather(x, &window_gather(&self.window, n, true)?)?;
        let (pooled, hot) = match self.kind {
            Pool::Max if train => {
                let (max, winner) = max_and_winner_cols(b, &windows)?;
                (max, Some(winner))
            }
            Pool::Max => (max_cols(b, &windows)?, None),
            Pool::Average => {
                let s = b.sum_cols(&windows)?;
                let k = self.window.kernel;
                (b.scale(&s, 1.0 / (k * k) as f64)?, None)
            }
        };
        Ok((b.gather(&pooled, &self.output_shape(n)?)?, hot, n))
    }

    /// Forward pass, remembering max pooling's winners for backward.
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let (out, hot, n) = self.pool(b, x, true)?;
        self.memory = Some((hot, n));
        Ok(out)
    }

    /// Forward pass for inference.
    pub fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Ok(self.pool(b, x, false)?.0)
    }

    /// The input's gradient: to each window's winner (max) or spread evenly
    /// over the window (average).
    pub fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<B::Tensor> {
        let (hot, n) = self
            .memory
            .take()
            .ok_or_else(|| LayerError::Usage("pool2d backward before forward".into()))?;
        let g = b.scatter_add(grad, &self.output_shape(n)?)?;
        let k2 = self.window.kernel * self.window.kernel;
        let spread = b.select_cols(&g, &vec![0; k2])?;
        let per_entry = match (self.kind, hot) {
            (Pool::Max, Some(winner)) => b.mul_mask(&spread, &winner)?,
            _ => b.scale(&spread, 1.0 / k2 as f64)?,
        };
        b.scatter_add(&per_entry, &window_gather(&self.window, n, true)?)
    }
}

impl<B: Backend> crate::Module<B> for Conv2d<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Conv2d::forward(self, b, x)
    }

    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Conv2d::predict(self, b, x)
    }

    fn forward_rows(&mut self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let (out, kept) = self.apply(b, Input::Rows(data, rows))?;
        self.input = Some(kept);
        Ok(out)
    }

    fn predict_rows(&self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        Ok(self.apply(b, Input::Rows(data, rows))?.0)
    }

    fn predict_relu(&self, b: &mut B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        Ok(Some(self.apply_relu(b, Input::Tensor(x), false)?.y))
    }

    fn predict_rows_relu(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<B::Tensor>> {
        Ok(Some(self.apply_relu(b, Input::Rows(data, rows), false)?.y))
    }

    fn forward_rows_relu(
        &mut self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let f = self.apply_relu(b, Input::Rows(data, rows), true)?;
        self.input = Some(f.kept);
        Ok(f.mask.map(|m| (f.y, m)))
    }

    fn forward_relu(&mut self, b: &mut B, x: &B::Tensor) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let f = self.apply_relu(b, Input::Tensor(x), true)?;
        self.input = Some(f.kept);
        Ok(f.mask.map(|m| (f.y, m)))
    }

    fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        Conv2d::backward(self, b, grad, want_input)
    }

    #[allow(clippy::type_complexity)]
    fn params_and_grads(
        &mut self,
    ) -> Result<Vec<(&mut B::Tensor, B::Tensor, &mut Option<B::Tensor>)>> {
        Conv2d::params_and_grads(self)
    }

    fn entries_per_row(&self, b: &B) -> usize {
        Conv2d::entries_per_row(self, b)
    }

    fn parameters(&self) -> Option<(&B::Tensor, &B::Tensor)> {
        Some((&self.weight, &self.bias))
    }
}

impl<B: Backend> crate::Module<B> for Pool2d<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Pool2d::forward(self, b, x)
    }

    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Pool2d::predict(self, b, x)
    }

    fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        if !want_input {
            self.memory = None;
            return Ok(None);
        }
        Pool2d::backward(self, b, grad).map(Some)
    }

    fn entries_per_row(&self, _b: &B) -> usize {
        Pool2d::entries_per_row(self)
    }
}
