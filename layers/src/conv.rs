//! Image layers on batches of flattened NCHW images (`[batch, C * H * W]`,
//! one image per row, channel-major): 2-D convolution by im2col and a
//! matrix product, max pooling by a comparison tournament over each window,
//! average pooling by a sum and a public scale. The rearrangements
//! ([`Gather`]) are local on every backend; only the products, comparisons
//! and truncations communicate under MPC.

use crate::softmax::{max_and_winner_cols, max_cols};
use crate::{Backend, Gather, Init, LayerError, Result};

/// The geometry of a 2-D window sliding over `channels` planes of
/// `height x width`: `kernel x kernel` windows, `stride` apart, on a border
/// of `padding` zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Input channels (planes).
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Window side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros around each plane.
    pub padding: usize,
}

impl Window {
    /// Output height and width; an error if no window fits.
    pub fn output(&self) -> Result<(usize, usize)> {
        let fit = |n: usize| {
            (n + 2 * self.padding)
                .checked_sub(self.kernel)
                .filter(|_| self.kernel > 0 && self.stride > 0)
                .map(|d| d / self.stride + 1)
        };
        match (fit(self.height), fit(self.width)) {
            (Some(h), Some(w)) if self.channels > 0 => Ok((h, w)),
            _ => Err(LayerError::Usage(format!(
                "a {k}x{k} window with stride {s} and padding {p} does not fit {c} planes of {h}x{w}",
                k = self.kernel,
                s = self.stride,
                p = self.padding,
                c = self.channels,
                h = self.height,
                w = self.width
            ))),
        }
    }

    /// Input entries per image.
    pub fn inputs(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// For `batch` images, one row per (image, output position), or per
    /// (image, channel, output position) when `per_channel`: the window's
    /// entries (`channels * kernel^2` of them, or `kernel^2`), zero on the
    /// padding.
    fn windows(&self, batch: usize, per_channel: bool) -> Result<Gather> {
        let (oh, ow) = self.output()?;
        let (c, h, w, k) = (self.channels, self.height, self.width, self.kernel);
        let planes = if per_channel { 1 } else { c };
        let rows = batch * if per_channel { c } else { 1 } * oh * ow;
        let cols = planes * k * k;
        let mut index = Vec::with_capacity(rows * cols);
        for n in 0..batch {
            for ch in 0..if per_channel { c } else { 1 } {
                for y in 0..oh {
                    for x in 0..ow {
                        for p in 0..planes {
                            let plane = if per_channel { ch } else { p };
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (y * self.stride + ky).checked_sub(self.padding);
                                    let ix = (x * self.stride + kx).checked_sub(self.padding);
                                    index.push(match (iy, ix) {
                                        (Some(iy), Some(ix)) if iy < h && ix < w => {
                                            Some(n * c * h * w + plane * h * w + iy * w + ix)
                                        }
                                        _ => None,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        Gather::new([batch, self.inputs()], [rows, cols], index)
    }
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
    /// The last forward pass's im2col matrix and its batch size.
    input: Option<(B::Tensor, usize)>,
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

    fn apply(&self, b: &mut B, x: &B::Tensor) -> Result<(B::Tensor, B::Tensor, usize)> {
        let n = batch_of(b, x, self.window.inputs(), "conv2d")?;
        let cols = b.gather(x, &self.window.windows(n, false)?)?;
        let y = b.matmul(&cols, &self.weight)?;
        let y = b.add(&y, &self.bias)?;
        let (oh, ow) = self.window.output()?;
        let out = b.gather(&y, &to_images(n, self.out_channels(b), oh * ow)?)?;
        Ok((out, cols, n))
    }

    /// The layer and the exact ReLU after it in one step (under MPC the
    /// product's truncation shares the comparison's opening, as a dense
    /// layer's does): the output and the ReLU's backward mask, both still in
    /// rows of positions, the gather to images, and the im2col matrix.
    fn apply_relu(&self, b: &mut B, x: &B::Tensor) -> Result<FusedRelu<B>> {
        let n = batch_of(b, x, self.window.inputs(), "conv2d")?;
        let cols = b.gather(x, &self.window.windows(n, false)?)?;
        let p = b.matmul_wide(&cols, &self.weight)?;
        let (y, mask) = b.relu_wide(&p, &self.bias)?;
        let (oh, ow) = self.window.output()?;
        let images = to_images(n, self.out_channels(b), oh * ow)?;
        Ok(FusedRelu {
            y,
            mask,
            images,
            cols,
            n,
        })
    }

    /// Forward pass, remembering the input's im2col matrix for backward.
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let (out, cols, n) = self.apply(b, x)?;
        self.input = Some((cols, n));
        Ok(out)
    }

    /// Forward pass for inference.
    pub fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Ok(self.apply(b, x)?.0)
    }

    /// Stores the filters' and bias's gradients from `grad` (`[batch,
    /// OC*OH*OW]`) and returns the input's gradient if `want_input`.
    pub fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        let (cols, n) = self
            .input
            .take()
            .ok_or_else(|| LayerError::Usage("conv2d backward before forward".into()))?;
        let (oh, ow) = self.window.output()?;
        // Back to one row per (image, position), one column per channel.
        let g = b.scatter_add(grad, &to_images(n, self.out_channels(b), oh * ow)?)?;
        let cols_t = b.transpose(&cols)?;
        let db = b.sum_rows(&g)?;
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
        Ok(Some(
            b.scatter_add(&dcols, &self.window.windows(n, false)?)?,
        ))
    }
}

/// [`Conv2d::apply_relu`]'s results.
struct FusedRelu<B: Backend> {
    y: B::Tensor,
    mask: B::Tensor,
    images: Gather,
    cols: B::Tensor,
    n: usize,
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
        let windows = b.gather(x, &self.window.windows(n, true)?)?;
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
        b.scatter_add(&per_entry, &self.window.windows(n, true)?)
    }
}

impl<B: Backend> crate::Module<B> for Conv2d<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Conv2d::forward(self, b, x)
    }

    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Conv2d::predict(self, b, x)
    }

    fn predict_relu(&self, b: &mut B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        let f = self.apply_relu(b, x)?;
        Ok(Some(b.gather(&f.y, &f.images)?))
    }

    fn predict_rows_relu(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<B::Tensor>> {
        let x = b.data_rows(data, rows)?;
        crate::Module::predict_relu(self, b, &x)
    }

    fn forward_rows_relu(
        &mut self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let x = b.data_rows(data, rows)?;
        crate::Module::forward_relu(self, b, &x)
    }

    fn forward_relu(&mut self, b: &mut B, x: &B::Tensor) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let f = self.apply_relu(b, x)?;
        let out = (b.gather(&f.y, &f.images)?, b.gather(&f.mask, &f.images)?);
        self.input = Some((f.cols, f.n));
        Ok(Some(out))
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
