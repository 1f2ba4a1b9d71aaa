use crate::{Activation, ActivationLayer, Backend, Init, Linear, Module, Result, Sgd};

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
pub struct Sequential<'a, B: Backend> {
    /// The layers, in order.
    pub layers: Vec<Box<dyn Module<B> + 'a>>,
}

impl<'a, B: Backend + 'a> Default for Sequential<'a, B> {
    fn default() -> Self {
        Self { layers: Vec::new() }
    }
}

impl<'a, B: Backend + 'a> Sequential<'a, B> {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: impl Module<B> + 'a) {
        self.layers.push(Box::new(layer));
    }

    /// Appends a layer (builder style).
    pub fn with(mut self, layer: impl Module<B> + 'a) -> Self {
        self.push(layer);
        self
    }

    /// A multilayer perceptron: `Linear` layers of widths `dims[0] -> dims[1]
    /// -> ... -> dims[last]` with `activation` between them (not after the
    /// last). Layer `i` is initialised from `seed + i`.
    pub fn mlp(b: &mut B, dims: &[usize], activation: Activation, seed: u64) -> Result<Self> {
        let mut net = Self::new();
        for (i, w) in dims.windows(2).enumerate() {
            let init = Init::Uniform {
                seed: seed + i as u64,
            };
            net.push(Linear::new(b, w[0], w[1], init)?);
            if i + 2 < dims.len() {
                net.push(ActivationLayer::new(activation));
            }
        }
        Ok(net)
    }

    /// Forward pass, remembering what backward needs. A layer followed by an
    /// exact ReLU takes it in one step where it can
    /// ([`Module::forward_relu`]).
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        self.forward_from(b, 0, x.clone())
    }

    /// [`Sequential::forward`] on rows `rows` of prepared data: a first
    /// linear layer multiplies them in place (masked once under MPC).
    pub fn forward_rows(&mut self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let relu_follows = self.relu_follows(0);
        let Some(first) = self.layers.first_mut() else {
            return b.data_rows(data, rows);
        };
        if relu_follows {
            if let Some((h, mask)) = first.forward_rows_relu(b, data, rows)? {
                self.layers[1].remember_relu_mask(mask)?;
                return self.forward_from(b, 2, h);
            }
        }
        let h = first.forward_rows(b, data, rows)?;
        self.forward_from(b, 1, h)
    }

    /// Layers `start..` applied to `h` in training.
    fn forward_from(&mut self, b: &mut B, start: usize, mut h: B::Tensor) -> Result<B::Tensor> {
        let mut i = start;
        while i < self.layers.len() {
            if self.relu_follows(i) {
                if let Some((y, mask)) = self.layers[i].forward_relu(b, &h)? {
                    self.layers[i + 1].remember_relu_mask(mask)?;
                    h = y;
                    i += 2;
                    continue;
                }
            }
            h = self.layers[i].forward(b, &h)?;
            i += 1;
        }
        Ok(h)
    }

    /// Forward pass for inference (nothing remembered). A layer followed by
    /// an exact ReLU takes it in one step where it can
    /// ([`Module::predict_relu`]).
    pub fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        self.predict_from(b, 0, x.clone(), false)
    }

    /// [`Sequential::predict`] up to a positive factor, for a head that only
    /// compares the outputs (argmax, sign): the last layer may skip its
    /// truncation ([`Module::predict_wide`]; one round fewer under MPC).
    pub fn predict_for_comparison(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        self.predict_from(b, 0, x.clone(), true)
    }

    /// [`Sequential::predict`] on rows `rows` of prepared data.
    pub fn predict_rows(&self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        self.predict_rows_from(b, data, rows, false)
    }

    /// [`Sequential::predict_for_comparison`] on rows `rows` of prepared data.
    pub fn predict_rows_for_comparison(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<B::Tensor> {
        self.predict_rows_from(b, data, rows, true)
    }

    fn predict_rows_from(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
        wide_last: bool,
    ) -> Result<B::Tensor> {
        let Some(first) = self.layers.first() else {
            return b.data_rows(data, rows);
        };
        if self.relu_follows(0) {
            if let Some(h) = first.predict_rows_relu(b, data, rows)? {
                return self.predict_from(b, 2, h, wide_last);
            }
        }
        if wide_last && self.layers.len() == 1 {
            if let Some(y) = first.predict_rows_wide(b, data, rows)? {
                return Ok(y);
            }
        }
        let h = first.predict_rows(b, data, rows)?;
        self.predict_from(b, 1, h, wide_last)
    }

    /// Layers `start..` applied to `h`; the last one up to a positive factor
    /// if `wide_last`.
    fn predict_from(
        &self,
        b: &mut B,
        start: usize,
        mut h: B::Tensor,
        wide_last: bool,
    ) -> Result<B::Tensor> {
        let mut i = start;
        while let Some(layer) = self.layers.get(i) {
            if self.relu_follows(i) {
                if let Some(y) = layer.predict_relu(b, &h)? {
                    h = y;
                    i += 2;
                    continue;
                }
            }
            if wide_last && i + 1 == self.layers.len() {
                if let Some(y) = layer.predict_wide(b, &h)? {
                    return Ok(y);
                }
            }
            h = layer.predict(b, &h)?;
            i += 1;
        }
        Ok(h)
    }

    /// Whether layer `i + 1` is an exact ReLU.
    fn relu_follows(&self, i: usize) -> bool {
        self.layers.get(i + 1).is_some_and(|l| l.is_relu())
    }

    /// Backward pass from `dL/d(output)`; the first layer's input gradient is skipped.
    pub fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<()> {
        let mut g = grad.clone();
        for (i, l) in self.layers.iter_mut().enumerate().rev() {
            if let Some(next) = l.backward(b, &g, i > 0)? {
                g = next;
            }
        }
        Ok(())
    }

    /// One SGD update of every layer with parameters, all at once (under
    /// MPC the scalings of every parameter share their rounds).
    pub fn step(&mut self, b: &mut B, sgd: &Sgd) -> Result<()> {
        let mut all = Vec::new();
        for l in &mut self.layers {
            all.extend(l.params_and_grads()?);
        }
        sgd.update(b, all)
    }

    /// The most entries any layer produces (or rearranges its input into)
    /// per input row: what sizes memory and triples when rows are processed
    /// together.
    pub fn widest_per_row(&self, b: &B) -> usize {
        self.layers
            .iter()
            .map(|l| l.entries_per_row(b))
            .max()
            .unwrap_or(1)
    }

    /// The weights and biases of the layers that have them, in order.
    pub fn parameters(&self) -> Vec<(&B::Tensor, &B::Tensor)> {
        self.layers.iter().filter_map(|l| l.parameters()).collect()
    }
}
