use crate::{Backend, Function, LayerError, Result, Sigmoid};

/// Which sigmoid to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigmoidKind {
    /// A piecewise cubic picked by one batch of comparisons: error <= 1e-4,
    /// 10 rounds, 1196 bits per element (the cheapest as well).
    Accurate,
    /// Clipped odd degree-9 polynomial ([`Sigmoid::apply`]): error <= 3.5e-3, 17 rounds.
    Polynomial,
    /// Hard sigmoid `clip(x/4 + 1/2, 0, 1)`: error <= 0.12, 5 rounds.
    PiecewiseLinear,
}

/// ReLU approximations, least-squares fits of `max(x, 0)` on `[-4, 4]`.
/// Coefficients of `1, x, x^2, x^3, x^4`.
const RELU_POLY2: [f64; 3] = [0.37501874, 0.5, 0.11718164];
const RELU_POLY4: [f64; 5] = [0.23438671, 0.5, 0.20506788, 0.0, -0.0064077305];

/// An elementwise activation function.
///
/// | activation | error vs `max(x,0)` on `[-4, 4]` | rounds (MPC) |
/// |---|---|---|
/// | `Relu` (exact) | 0 | 4 forward, 1 backward |
/// | `ReluPoly { degree: 2 }` | 0.375 | 2 forward, 2 backward |
/// | `ReluPoly { degree: 4 }` | 0.234 | 4 forward, 4 backward |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact ReLU from a comparison.
    Relu,
    /// Polynomial ReLU of degree 2 or 4, fitted on `[-4, 4]`; it is not a ReLU outside.
    ReluPoly {
        /// 2 or 4.
        degree: u8,
    },
    /// Sigmoid of the given kind.
    Sigmoid(SigmoidKind),
    /// Hyperbolic tangent (accurate to 2e-4).
    Tanh,
}

impl Activation {
    fn relu_coeffs(degree: u8) -> Result<&'static [f64]> {
        match degree {
            2 => Ok(&RELU_POLY2),
            4 => Ok(&RELU_POLY4),
            d => Err(LayerError::Usage(format!(
                "polynomial ReLU of degree {d}: only 2 and 4 exist"
            ))),
        }
    }
}

/// Evaluates `sum c_i x^i` by Horner's rule with backend ops.
fn horner<B: Backend>(b: &mut B, x: &B::Tensor, coeffs: &[f64]) -> Result<B::Tensor> {
    let d = coeffs.len() - 1;
    let mut acc = b.scale(x, coeffs[d])?;
    for &c in coeffs[1..d].iter().rev() {
        let shifted = b.add_scalar(&acc, c)?;
        acc = b.mul(&shifted, x)?;
    }
    b.add_scalar(&acc, coeffs[0])
}

/// An activation as a layer, remembering what its backward pass needs.
pub struct ActivationLayer<B: Backend> {
    /// The function.
    pub kind: Activation,
    cache: Option<B::Tensor>,
}

impl<B: Backend> ActivationLayer<B> {
    /// A layer applying `kind`.
    pub fn new(kind: Activation) -> Self {
        Self { kind, cache: None }
    }

    /// The activation of `x` without remembering anything (inference).
    pub fn apply(b: &mut B, kind: Activation, x: &B::Tensor) -> Result<B::Tensor> {
        Ok(Self::eval(b, kind, x)?.0)
    }

    /// Output and what backward needs (mask, input or output).
    fn eval(b: &mut B, kind: Activation, x: &B::Tensor) -> Result<(B::Tensor, B::Tensor)> {
        Ok(match kind {
            Activation::Relu => b.relu_with_mask(x)?,
            Activation::ReluPoly { degree } => {
                (horner(b, x, Activation::relu_coeffs(degree)?)?, x.clone())
            }
            Activation::Sigmoid(k) => {
                let y = match k {
                    SigmoidKind::Accurate => b.apply(Function::Sigmoid, x)?,
                    SigmoidKind::Polynomial => Sigmoid::apply(b, x)?,
                    SigmoidKind::PiecewiseLinear => {
                        // clip(x/4 + 1/2, 0, 1) = relu(u) - relu(u - 1)
                        let u = b.scale(x, 0.25)?;
                        let u = b.add_scalar(&u, 0.5)?;
                        let rows = b.shape(&u)[0];
                        let v = b.add_scalar(&u, -1.0)?;
                        let both = b.concat(&[&u, &v], 0)?;
                        let r = b.relu(&both)?;
                        let ru = b.select_rows(&r, &(0..rows).collect::<Vec<_>>())?;
                        let rv = b.select_rows(&r, &(rows..2 * rows).collect::<Vec<_>>())?;
                        b.sub(&ru, &rv)?
                    }
                };
                (y.clone(), y)
            }
            Activation::Tanh => {
                let y = b.apply(Function::Tanh, x)?;
                (y.clone(), y)
            }
        })
    }

    /// Forward pass.
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let (y, cache) = Self::eval(b, self.kind, x)?;
        self.cache = Some(cache);
        Ok(y)
    }

    /// Backward pass: `dL/dx` from `dL/dy`.
    pub fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<B::Tensor> {
        let cache = self
            .cache
            .take()
            .ok_or_else(|| LayerError::Usage("activation backward called before forward".into()))?;
        let deriv = match self.kind {
            Activation::Relu => return b.mul_mask(grad, &cache),
            Activation::ReluPoly { degree } => {
                let c = Activation::relu_coeffs(degree)?;
                let d: Vec<f64> = c
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(|(i, v)| i as f64 * v)
                    .collect();
                horner(b, &cache, &d)?
            }
            Activation::Sigmoid(_) => {
                let neg = b.neg(&cache)?;
                let one_minus = b.add_scalar(&neg, 1.0)?;
                b.mul(&cache, &one_minus)?
            }
            Activation::Tanh => {
                let sq = b.square(&cache)?;
                let neg = b.neg(&sq)?;
                b.add_scalar(&neg, 1.0)?
            }
        };
        b.mul(grad, &deriv)
    }
}

impl<B: Backend> crate::Module<B> for ActivationLayer<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        ActivationLayer::forward(self, b, x)
    }

    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Self::apply(b, self.kind, x)
    }

    fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        if !want_input {
            self.cache = None;
            return Ok(None);
        }
        ActivationLayer::backward(self, b, grad).map(Some)
    }

    fn entries_per_row(&self, _b: &B) -> usize {
        1
    }

    fn is_relu(&self) -> bool {
        self.kind == Activation::Relu
    }

    fn remember_relu_mask(&mut self, mask: B::Tensor) -> Result<()> {
        if !self.is_relu() {
            return Err(LayerError::Usage(format!(
                "a ReLU mask handed to a {:?} activation",
                self.kind
            )));
        }
        self.cache = Some(mask);
        Ok(())
    }
}
