use crate::{Activation, ActivationLayer, Backend, Conv2d, Init, Linear, Pool2d, Result, Sgd};

/// One layer of a [`Sequential`] network.
pub enum Layer<B: Backend> {
    /// Fully connected.
    Linear(Linear<B>),
    /// Elementwise activation.
    Activation(ActivationLayer<B>),
    /// 2-D convolution over flattened NCHW images.
    Conv2d(Conv2d<B>),
    /// Max or average pooling over flattened NCHW images.
    Pool2d(Pool2d<B>),
}

/// Layers applied in order; backward runs them in reverse.
///
/// The same network under MPC (each party holds shares) and in plaintext
/// fixed point gives the same outputs, up to the truncation's last unit:
///
/// ```
/// use tessera_layers::{Activation, Backend, FixedBackend, MpcBackend, Sequential};
/// use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
///
/// let x = ndarray::array![[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]].into_dyn();
/// let mut plain = FixedBackend::default();
/// let net = Sequential::mlp(&mut plain, &[3, 4, 2], Activation::Relu, 7).unwrap();
/// let xt = plain.public(&x).unwrap();
/// let y = net.predict(&mut plain, &xt).unwrap();
/// let want = plain.reveal(&y, "y").unwrap();
///
/// let outs = run_embedded(&EmbeddedConfig::new(2), |sess| {
///     let mut b = MpcBackend::new(sess);
///     // Party 1 inputs the rows; the weights come from the public seed here.
///     let xs = b.input(1, Some(&x), &[2, 3])?;
///     let net = Sequential::mlp(&mut b, &[3, 4, 2], Activation::Relu, 7)?;
///     let y = net.predict(&mut b, &xs)?;
///     b.reveal(&y, "y")
/// })
/// .unwrap();
/// for (got, want) in outs[0].value.iter().zip(want.iter()) {
///     assert!((got - want).abs() < 1e-3);
/// }
/// ```
pub struct Sequential<B: Backend> {
    /// The layers.
    pub layers: Vec<Layer<B>>,
}

impl<B: Backend> Sequential<B> {
    /// A multilayer perceptron: `Linear` layers of widths `dims[0] -> dims[1]
    /// -> ... -> dims[last]` with `activation` between them (not after the
    /// last). Layer `i` is initialised from `seed + i`.
    pub fn mlp(b: &mut B, dims: &[usize], activation: Activation, seed: u64) -> Result<Self> {
        let mut layers = Vec::new();
        for (i, w) in dims.windows(2).enumerate() {
            layers.push(Layer::Linear(Linear::new(
                b,
                w[0],
                w[1],
                Init::Uniform {
                    seed: seed + i as u64,
                },
            )?));
            if i + 2 < dims.len() {
                layers.push(Layer::Activation(ActivationLayer::new(activation)));
            }
        }
        Ok(Self { layers })
    }

    /// Forward pass, remembering what backward needs.
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        self.forward_from(b, x.clone(), 0)
    }

    /// [`Sequential::forward`] on rows `rows` of prepared data: a first
    /// linear layer multiplies them in place (masked once under MPC).
    pub fn forward_rows(&mut self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let h = match self.layers.first_mut() {
            Some(Layer::Linear(lin)) => lin.forward_rows(b, data, rows)?,
            Some(_) => {
                let x = b.data_rows(data, rows)?;
                return self.forward_from(b, x, 0);
            }
            None => return b.data_rows(data, rows),
        };
        self.forward_from(b, h, 1)
    }

    /// Layers `start..` of the forward pass on `h`.
    fn forward_from(&mut self, b: &mut B, mut h: B::Tensor, start: usize) -> Result<B::Tensor> {
        for l in &mut self.layers[start..] {
            h = match l {
                Layer::Linear(lin) => lin.forward(b, &h)?,
                Layer::Activation(a) => a.forward(b, &h)?,
                Layer::Conv2d(c) => c.forward(b, &h)?,
                Layer::Pool2d(p) => p.forward(b, &h)?,
            };
        }
        Ok(h)
    }

    /// Forward pass for inference (nothing remembered).
    pub fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        self.predict_from(b, x.clone(), 0)
    }

    /// [`Sequential::predict`] on rows `rows` of prepared data.
    pub fn predict_rows(&self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let h = match self.layers.first() {
            Some(Layer::Linear(lin)) => {
                let y = b.matmul_rows(data, rows, &lin.weight, false)?;
                b.add(&y, &lin.bias)?
            }
            Some(_) => {
                let x = b.data_rows(data, rows)?;
                return self.predict_from(b, x, 0);
            }
            None => return b.data_rows(data, rows),
        };
        self.predict_from(b, h, 1)
    }

    /// Layers `start..` of inference on `h`.
    fn predict_from(&self, b: &mut B, mut h: B::Tensor, start: usize) -> Result<B::Tensor> {
        for l in &self.layers[start..] {
            h = match l {
                Layer::Linear(lin) => {
                    let y = b.matmul(&h, &lin.weight)?;
                    b.add(&y, &lin.bias)?
                }
                Layer::Activation(a) => ActivationLayer::apply(b, a.kind, &h)?,
                Layer::Conv2d(c) => c.predict(b, &h)?,
                Layer::Pool2d(p) => p.predict(b, &h)?,
            };
        }
        Ok(h)
    }

    /// Backward pass from `dL/d(output)`; the first layer's input gradient is skipped.
    pub fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<()> {
        let mut g = grad.clone();
        for (i, l) in self.layers.iter_mut().enumerate().rev() {
            match l {
                Layer::Linear(lin) => {
                    if let Some(next) = lin.backward(b, &g, i > 0)? {
                        g = next;
                    }
                }
                Layer::Activation(a) => g = a.backward(b, &g)?,
                Layer::Conv2d(c) => {
                    if let Some(next) = c.backward(b, &g, i > 0)? {
                        g = next;
                    }
                }
                Layer::Pool2d(p) => g = p.backward(b, &g)?,
            }
        }
        Ok(())
    }

    /// One SGD update of every layer with parameters.
    pub fn step(&mut self, b: &mut B, sgd: &Sgd) -> Result<()> {
        for l in &mut self.layers {
            match l {
                Layer::Linear(lin) => sgd.step(b, lin)?,
                Layer::Conv2d(c) => sgd.update(b, c.params_and_grads()?)?,
                Layer::Activation(_) | Layer::Pool2d(_) => {}
            }
        }
        Ok(())
    }

    /// The most entries any layer produces (or rearranges its input into)
    /// per input row: what sizes memory and triples when rows are processed
    /// together.
    pub fn widest_per_row(&self, b: &B) -> usize {
        self.layers
            .iter()
            .map(|l| match l {
                Layer::Linear(lin) => b.shape(&lin.weight).get(1).copied().unwrap_or(1),
                Layer::Activation(_) => 1,
                Layer::Conv2d(c) => c.entries_per_row(b),
                Layer::Pool2d(p) => p.entries_per_row(),
            })
            .max()
            .unwrap_or(1)
    }

    /// The weights and biases of the layers that have them, in order.
    pub fn parameters(&self) -> Vec<(&B::Tensor, &B::Tensor)> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Linear(lin) => Some((&lin.weight, &lin.bias)),
                Layer::Conv2d(c) => Some((&c.weight, &c.bias)),
                Layer::Activation(_) | Layer::Pool2d(_) => None,
            })
            .collect()
    }
}
