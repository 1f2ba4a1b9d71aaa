//! The layer abstraction: anything that maps a batch forward, passes a
//! gradient back and may hold parameters. [`crate::Sequential`] holds boxed
//! modules, so a new layer is one new type with one `impl Module`, and the
//! container never changes.

use crate::{Backend, Result};

/// One layer of a network, on backend `B`. Tensors are `[batch, width]`,
/// one example per row (images flattened channel-major, as NCHW).
pub trait Module<B: Backend> {
    /// Forward pass in training: remembers what [`Module::backward`] needs.
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor>;

    /// Forward pass for inference: remembers nothing.
    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor>;

    /// [`Module::forward`] on rows of prepared data, for a first layer. A
    /// layer that multiplies its input (dense) overrides this so that under
    /// MPC the data is masked once for the whole training run.
    fn forward_rows(&mut self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let x = b.data_rows(data, rows)?;
        self.forward(b, &x)
    }

    /// [`Module::predict`] on rows of prepared data.
    fn predict_rows(&self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let x = b.data_rows(data, rows)?;
        self.predict(b, &x)
    }

    /// [`Module::predict`] followed by an exact ReLU, in one step where the
    /// layer can leave its last truncation to the ReLU's comparison (a dense
    /// layer: under MPC one opening and one round fewer). `None` where it
    /// cannot.
    fn predict_relu(&self, b: &mut B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        let _ = (b, x);
        Ok(None)
    }

    /// [`Module::predict_rows`] followed by an exact ReLU, as
    /// [`Module::predict_relu`].
    fn predict_rows_relu(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<B::Tensor>> {
        let _ = (b, data, rows);
        Ok(None)
    }

    /// [`Module::predict`] up to a positive factor, for a head that only
    /// compares the outputs (argmax, sign): a dense layer skips its
    /// truncation (under MPC its output is at twice the fractional bits, and
    /// takes one round fewer). `None` where the layer cannot.
    fn predict_wide(&self, b: &mut B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        let _ = (b, x);
        Ok(None)
    }

    /// [`Module::predict_rows`] up to a positive factor, as
    /// [`Module::predict_wide`].
    fn predict_rows_wide(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<B::Tensor>> {
        let _ = (b, data, rows);
        Ok(None)
    }

    /// [`Module::forward`] followed by an exact ReLU, in one step as
    /// [`Module::predict_relu`]: the ReLU's output and the mask its backward
    /// pass needs (handed to the ReLU by [`Module::remember_relu_mask`]).
    /// `None` where the layer cannot.
    fn forward_relu(&mut self, b: &mut B, x: &B::Tensor) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let _ = (b, x);
        Ok(None)
    }

    /// [`Module::forward_rows`] followed by an exact ReLU, as
    /// [`Module::forward_relu`].
    fn forward_rows_relu(
        &mut self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let _ = (b, data, rows);
        Ok(None)
    }

    /// Whether the layer is an exact ReLU, which the layer before it may
    /// fold in ([`Module::predict_relu`], [`Module::forward_relu`]).
    fn is_relu(&self) -> bool {
        false
    }

    /// An exact ReLU's forward pass done by the layer before it
    /// ([`Module::forward_relu`]): keeps the mask for the backward pass.
    fn remember_relu_mask(&mut self, mask: B::Tensor) -> Result<()> {
        let _ = mask;
        Err(crate::LayerError::Usage(
            "a ReLU mask handed to a layer that is not an exact ReLU".into(),
        ))
    }

    /// Backward pass from `dL/d(output)`: stores parameter gradients and
    /// returns `dL/d(input)` when `want_input` (a first layer skips it).
    fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>>;

    /// Each parameter with its gradient from the last backward pass and its
    /// momentum buffer, for the optimiser ([`crate::Sgd::update`]), which
    /// steps every layer's at once; none for a layer without parameters.
    #[allow(clippy::type_complexity)]
    fn params_and_grads(
        &mut self,
    ) -> Result<Vec<(&mut B::Tensor, B::Tensor, &mut Option<B::Tensor>)>> {
        Ok(Vec::new())
    }

    /// The most entries the layer produces (or rearranges its input into)
    /// per input row: what sizes memory and triples for a batch.
    fn entries_per_row(&self, b: &B) -> usize;

    /// Weights and bias, for layers that have them.
    fn parameters(&self) -> Option<(&B::Tensor, &B::Tensor)> {
        None
    }
}
