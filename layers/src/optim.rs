use crate::{Backend, Linear, Result};

/// Stochastic gradient descent, optionally with (heavy-ball) momentum:
/// `v <- momentum * v + grad`, `p <- p - lr * v`. With `momentum = 0` this is
/// plain SGD and keeps no state.
#[derive(Debug, Clone, Copy)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f64,
    /// Momentum coefficient in `[0, 1)`; 0 for plain SGD.
    pub momentum: f64,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self { lr, momentum: 0.0 }
    }

    /// Applies one update to a layer from its last backward pass.
    pub fn step<B: Backend>(&self, b: &mut B, layer: &mut Linear<B>) -> Result<()> {
        self.update(b, layer.params_and_grads()?)
    }

    /// Applies one update to parameters, each with its gradient and its
    /// momentum buffer (any layer's).
    #[allow(clippy::type_complexity)]
    pub fn update<B: Backend>(
        &self,
        b: &mut B,
        params: Vec<(&mut B::Tensor, B::Tensor, &mut Option<B::Tensor>)>,
    ) -> Result<()> {
        for (param, grad, velocity) in params {
            let direction = if self.momentum > 0.0 {
                let v = match velocity.take() {
                    None => grad,
                    Some(v) => {
                        let kept = b.scale(&v, self.momentum)?;
                        b.add(&kept, &grad)?
                    }
                };
                *velocity = Some(v.clone());
                v
            } else {
                grad
            };
            let update = b.scale(&direction, self.lr)?;
            *param = b.sub(param, &update)?;
        }
        Ok(())
    }
}
