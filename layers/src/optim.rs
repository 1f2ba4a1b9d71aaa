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
        // Every parameter's scaling at once (under MPC, one round each for
        // the momentum and the step, not one per parameter).
        let (mut targets, mut directions, mut velocities) = (Vec::new(), Vec::new(), Vec::new());
        for (param, grad, velocity) in params {
            targets.push(param);
            directions.push(grad);
            velocities.push(velocity);
        }
        if self.momentum > 0.0 {
            let old: Vec<&B::Tensor> = velocities.iter().filter_map(|v| v.as_ref()).collect();
            let mut kept = b.scale_each(&old, self.momentum)?.into_iter();
            for (direction, velocity) in directions.iter_mut().zip(&mut velocities) {
                if velocity.is_some() {
                    let k = kept.next().expect("one kept velocity per stored one");
                    *direction = b.add(&k, direction)?;
                }
                **velocity = Some(direction.clone());
            }
        }
        let updates = b.scale_each(&directions.iter().collect::<Vec<_>>(), self.lr)?;
        for (param, update) in targets.iter_mut().zip(&updates) {
            **param = b.sub(param, update)?;
        }
        Ok(())
    }
}
