//! Loss gradients (already divided by the batch size) and loss sums.

use crate::{Backend, Result};

/// Gradient of the mean squared error `1/(2N) sum (p - y)^2`: `(p - y) / N`.
pub fn mse_grad<B: Backend>(b: &mut B, pred: &B::Tensor, target: &B::Tensor) -> Result<B::Tensor> {
    let n = b.shape(pred).first().copied().unwrap_or(1).max(1);
    let diff = b.sub(pred, target)?;
    b.scale(&diff, 1.0 / n as f64)
}

/// Gradient of binary cross-entropy with respect to the logits, given the
/// sigmoid probabilities: `(p - y) / N`.
pub fn bce_with_sigmoid_grad<B: Backend>(
    b: &mut B,
    prob: &B::Tensor,
    target: &B::Tensor,
) -> Result<B::Tensor> {
    mse_grad(b, prob, target)
}

/// Sum of squared errors `sum (p - y)^2` as a `[1, 1]` tensor.
pub fn sum_squared_error<B: Backend>(
    b: &mut B,
    pred: &B::Tensor,
    target: &B::Tensor,
) -> Result<B::Tensor> {
    let diff = b.sub(pred, target)?;
    let sq = b.square(&diff)?;
    let per_col = b.sum_rows(&sq)?;
    let t = b.transpose(&per_col)?;
    b.sum_rows(&t)
}
