//! A network's public architecture ([`Architecture`]): its layers' kinds and
//! shapes, never their weights. Private inference builds the network from
//! it on every backend; tessera's own models and imported ONNX models both
//! come down to one. In distributed mode it comes from a peer, so
//! [`Architecture::check`] bounds every size before anything is allocated.

use crate::error::{ModelError, Result};
use crate::spec::{conv_stages, ConvSpec, ModelKind, MAX_FEATURES, MAX_LAYERS};
use serde::{Deserialize, Serialize};
use tessera_layers::{
    Activation, ActivationLayer, Backend, Conv2d, Linear, Pad2d, Pool, Pool2d, Sequential,
    SigmoidKind, Window,
};

/// The most layers an architecture may have (activations included).
pub const MAX_ARCH_LAYERS: usize = 4 * MAX_LAYERS;
/// The most entries any layer may produce per input row.
pub const MAX_ROW_ENTRIES: usize = 1 << 22;
/// The largest kernel side or padding accepted.
pub const MAX_KERNEL: usize = 64;

/// An elementwise function between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationSpec {
    /// Exact ReLU.
    Relu,
    /// Polynomial ReLU of degree 2.
    ReluPoly2,
    /// Polynomial ReLU of degree 4.
    ReluPoly4,
    /// The accurate sigmoid (error at most 1e-4).
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
}

impl ActivationSpec {
    fn layer(self) -> Activation {
        match self {
            ActivationSpec::Relu => Activation::Relu,
            ActivationSpec::ReluPoly2 => Activation::ReluPoly { degree: 2 },
            ActivationSpec::ReluPoly4 => Activation::ReluPoly { degree: 4 },
            ActivationSpec::Sigmoid => Activation::Sigmoid(SigmoidKind::Accurate),
            ActivationSpec::Tanh => Activation::Tanh,
        }
    }

    /// The hidden activation of a tessera model trained with `relu_degree`.
    pub fn hidden(relu_degree: Option<u8>) -> Result<Self> {
        match relu_degree {
            None => Ok(ActivationSpec::Relu),
            Some(2) => Ok(ActivationSpec::ReluPoly2),
            Some(4) => Ok(ActivationSpec::ReluPoly4),
            Some(d) => Err(ModelError::Config(format!(
                "polynomial ReLU of degree {d}: only 2 and 4 exist"
            ))),
        }
    }
}

/// One layer of an [`Architecture`]. Images are flattened channel-major
/// (NCHW), one per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LayerSpec {
    /// `y = x W + b`; its block is `[inputs + 1, outputs]`.
    Dense {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
    },
    /// 2-D convolution; its block is `[channels * kernel^2 + 1, out_channels]`
    /// (filters by row `c * k * k + ky * k + kx`, then the bias row).
    Conv {
        /// Input planes `[channels, height, width]`.
        input: [usize; 3],
        /// Output planes.
        out_channels: usize,
        /// Filter side.
        kernel: usize,
        /// Step between windows.
        stride: usize,
        /// Zeros on every side.
        padding: usize,
    },
    /// Max or average pooling of each plane.
    Pool {
        /// Average (padding counted as zeros) rather than max.
        average: bool,
        /// Input planes `[channels, height, width]`.
        input: [usize; 3],
        /// Window side.
        kernel: usize,
        /// Step between windows.
        stride: usize,
        /// Zeros on every side (average pooling only).
        padding: usize,
    },
    /// Zeros around each plane, `[top, left, bottom, right]`.
    Pad {
        /// Input planes `[channels, height, width]`.
        input: [usize; 3],
        /// Zeros added on each side.
        pads: [usize; 4],
    },
    /// An elementwise function.
    Activation {
        /// Which one.
        function: ActivationSpec,
    },
}

fn window(input: [usize; 3], kernel: usize, stride: usize, padding: usize) -> Window {
    let [channels, height, width] = input;
    Window {
        channels,
        height,
        width,
        kernel,
        stride,
        padding,
    }
}

impl LayerSpec {
    /// Input width, or `None` for a layer that keeps any width.
    fn inputs(&self) -> Option<usize> {
        match *self {
            LayerSpec::Dense { inputs, .. } => Some(inputs),
            LayerSpec::Conv { input, .. }
            | LayerSpec::Pool { input, .. }
            | LayerSpec::Pad { input, .. } => Some(input.iter().product()),
            LayerSpec::Activation { .. } => None,
        }
    }

    /// Output planes of an image layer (and an error if its window does not fit).
    pub fn output_planes(&self) -> Result<Option<[usize; 3]>> {
        let fit = |w: Window, channels: usize| -> Result<Option<[usize; 3]>> {
            let (h, wd) = w.output().map_err(|e| ModelError::Config(e.to_string()))?;
            Ok(Some([channels, h, wd]))
        };
        match *self {
            LayerSpec::Conv {
                input,
                out_channels,
                kernel,
                stride,
                padding,
            } => fit(window(input, kernel, stride, padding), out_channels),
            LayerSpec::Pool {
                input,
                kernel,
                stride,
                padding,
                ..
            } => fit(window(input, kernel, stride, padding), input[0]),
            LayerSpec::Pad { input, pads } => Ok(Some(Pad2d { input, pads }.output())),
            LayerSpec::Dense { .. } | LayerSpec::Activation { .. } => Ok(None),
        }
    }

    /// Shape of the layer's parameter block, if it has one.
    pub fn block(&self) -> Option<[usize; 2]> {
        match *self {
            LayerSpec::Dense { inputs, outputs } => Some([inputs + 1, outputs]),
            LayerSpec::Conv {
                input,
                out_channels,
                kernel,
                ..
            } => Some([input[0] * kernel * kernel + 1, out_channels]),
            _ => None,
        }
    }
}

/// What the network's outputs become for the querier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// The outputs as they are (regression values, or logits).
    Identity,
    /// The logistic function of each output.
    Sigmoid,
    /// Softmax over the outputs of each row.
    Softmax,
    /// The logarithm of the softmax (as a PyTorch `log_softmax` ends a
    /// network): the same classes; scores below about -11 saturate there,
    /// at the fixed-point resolution of the probabilities.
    LogSoftmax,
}

/// A network's public architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// Values per input row (for images, `channels * height * width`).
    pub inputs: usize,
    /// The layers, in order.
    pub layers: Vec<LayerSpec>,
    /// What the last layer's outputs become.
    pub head: Head,
}

impl Architecture {
    /// The architecture of a tessera model: `dims = [features, widths...]`
    /// dense layers after the convolutional stages, with the hidden
    /// activation between layers and the head of the model's kind.
    pub fn native(
        kind: ModelKind,
        dims: &[usize],
        relu_degree: Option<u8>,
        convolutions: &[ConvSpec],
        image: Option<[usize; 3]>,
    ) -> Result<Self> {
        let hidden = LayerSpec::Activation {
            function: ActivationSpec::hidden(relu_degree)?,
        };
        let mut layers = Vec::new();
        let mut width = *dims
            .first()
            .ok_or_else(|| ModelError::Config("a model with no inputs".into()))?;
        let mut stages = 0;
        if let Some(image) = image.filter(|_| !convolutions.is_empty()) {
            let (found, out) = conv_stages(convolutions, image)?;
            stages = found.len();
            for st in found {
                let w = st.conv;
                layers.push(LayerSpec::Conv {
                    input: [w.channels, w.height, w.width],
                    out_channels: st.channels,
                    kernel: w.kernel,
                    stride: w.stride,
                    padding: w.padding,
                });
                layers.push(hidden);
                if let Some(p) = st.pool {
                    layers.push(LayerSpec::Pool {
                        average: false,
                        input: [p.channels, p.height, p.width],
                        kernel: p.kernel,
                        stride: p.stride,
                        padding: p.padding,
                    });
                }
            }
            width = out;
        }
        let dense = dims.get(stages + 1..).unwrap_or(&[]);
        for (i, &outputs) in dense.iter().enumerate() {
            layers.push(LayerSpec::Dense {
                inputs: width,
                outputs,
            });
            if i + 1 < dense.len() {
                layers.push(hidden);
            }
            width = outputs;
        }
        let head = match kind {
            ModelKind::Linear => Head::Identity,
            ModelKind::Logistic => Head::Sigmoid,
            ModelKind::Softmax | ModelKind::Mlp => Head::Softmax,
        };
        Ok(Self {
            inputs: dims[0],
            layers,
            head,
        })
    }

    /// Each layer's output width, checking that every layer takes what the
    /// one before gives, and every size against the limits.
    pub fn widths(&self) -> Result<Vec<usize>> {
        let bad = |m: String| Err(ModelError::Config(format!("architecture: {m}")));
        if self.inputs == 0 || self.inputs > MAX_FEATURES {
            return bad(format!("{} inputs (1 to {MAX_FEATURES})", self.inputs));
        }
        if self.layers.is_empty() || self.layers.len() > MAX_ARCH_LAYERS {
            return bad(format!(
                "{} layers (1 to {MAX_ARCH_LAYERS})",
                self.layers.len()
            ));
        }
        let mut width = self.inputs;
        let mut widths = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            if let Some(inputs) = l.inputs().filter(|&w| w != width) {
                return bad(format!(
                    "layer {i} ({l:?}) takes {inputs} values per row, but receives {width}"
                ));
            }
            let sides = match *l {
                LayerSpec::Conv {
                    kernel,
                    stride,
                    padding,
                    ..
                }
                | LayerSpec::Pool {
                    kernel,
                    stride,
                    padding,
                    ..
                } => vec![kernel, stride, padding],
                LayerSpec::Pad { pads, .. } => pads.to_vec(),
                _ => vec![],
            };
            if sides.iter().any(|&s| s > MAX_KERNEL) {
                return bad(format!(
                    "layer {i} ({l:?}): kernels, strides and paddings are at most {MAX_KERNEL}"
                ));
            }
            if let LayerSpec::Pool {
                average: false,
                padding: 1..,
                ..
            } = l
            {
                return bad(format!("layer {i}: max pooling takes no padding"));
            }
            let entries = match (l.output_planes()?, l.block()) {
                (Some(planes), block) => {
                    let out: usize = planes.iter().product();
                    // im2col's matrix: a window's entries per output position.
                    let window = block.map_or(1, |[r, _]| r);
                    width = out;
                    out.saturating_mul(window)
                }
                (None, Some([_, outputs])) => {
                    width = outputs;
                    outputs
                }
                (None, None) => width,
            };
            if width == 0 || entries > MAX_ROW_ENTRIES {
                return bad(format!(
                    "layer {i} ({l:?}) makes {entries} values per row (1 to {MAX_ROW_ENTRIES})"
                ));
            }
            widths.push(width);
        }
        Ok(widths)
    }

    /// Values per row of the network's output.
    pub fn outputs(&self) -> Result<usize> {
        Ok(*self.widths()?.last().expect("checked: at least one layer"))
    }

    /// The parameter blocks' shapes, in layer order.
    pub fn block_shapes(&self) -> Vec<[usize; 2]> {
        self.layers.iter().filter_map(LayerSpec::block).collect()
    }

    /// The network on backend `b` with parameter blocks `blocks` (one per
    /// [`Architecture::block_shapes`] entry, in order).
    pub fn build<'a, B: Backend + 'a>(
        &self,
        b: &mut B,
        blocks: &[B::Tensor],
    ) -> Result<Sequential<'a, B>> {
        self.widths()?;
        let mut blocks = blocks.iter();
        let mut parts = |b: &mut B| -> Result<(B::Tensor, B::Tensor)> {
            let block = blocks
                .next()
                .ok_or_else(|| ModelError::Config("fewer parameter blocks than layers".into()))?;
            let inputs = b.shape(block)[0] - 1;
            let w = b.select_rows(block, &(0..inputs).collect::<Vec<_>>())?;
            Ok((w, b.select_rows(block, &[inputs])?))
        };
        let mut net = Sequential::new();
        for l in &self.layers {
            match *l {
                LayerSpec::Dense { .. } => {
                    let (w, bias) = parts(b)?;
                    net.push(Linear::from_parts(w, bias));
                }
                LayerSpec::Conv {
                    input,
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let (w, bias) = parts(b)?;
                    net.push(Conv2d::from_parts(
                        window(input, kernel, stride, padding),
                        w,
                        bias,
                    ));
                }
                LayerSpec::Pool {
                    average,
                    input,
                    kernel,
                    stride,
                    padding,
                } => {
                    let kind = if average { Pool::Average } else { Pool::Max };
                    net.push(Pool2d::new(kind, window(input, kernel, stride, padding))?);
                }
                LayerSpec::Pad { input, pads } => net.push(Pad2d { input, pads }),
                LayerSpec::Activation { function } => {
                    net.push(ActivationLayer::new(function.layer()))
                }
            }
        }
        Ok(net)
    }
}

impl std::fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let planes = |p: [usize; 3]| format!("{}x{}x{}", p[0], p[1], p[2]);
        match *self {
            LayerSpec::Dense { inputs, outputs } => write!(f, "dense {inputs} -> {outputs}"),
            LayerSpec::Conv {
                input,
                out_channels,
                kernel,
                stride,
                padding,
            } => write!(
                f,
                "conv {kernel}x{kernel} stride {stride} padding {padding}: {} -> {out_channels} channels",
                planes(input)
            ),
            LayerSpec::Pool {
                average,
                input,
                kernel,
                stride,
                padding,
            } => write!(
                f,
                "{} pool {kernel}x{kernel} stride {stride} padding {padding} on {}",
                if average { "average" } else { "max" },
                planes(input)
            ),
            LayerSpec::Pad { input, pads } => {
                write!(f, "zero padding {pads:?} (top, left, bottom, right) of {}", planes(input))
            }
            LayerSpec::Activation { function } => write!(f, "{function:?}"),
        }
    }
}
