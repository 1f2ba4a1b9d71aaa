use crate::{Backend, Linear, Result};

/// Plain stochastic gradient descent: `p <- p - lr * grad`.
#[derive(Debug, Clone, Copy)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f64,
}

impl Sgd {
    /// Applies one update to a layer from its last backward pass.
    pub fn step<B: Backend>(&self, b: &mut B, layer: &mut Linear<B>) -> Result<()> {
        for (param, grad) in layer.params_and_grads()? {
            let update = b.scale(&grad, self.lr)?;
            *param = b.sub(param, &update)?;
        }
        Ok(())
    }
}
