//! The training loop and evaluation, generic over the backend: the same code
//! trains under MPC and in plaintext.

use crate::error::Result;
use crate::job::{ModelKind, TrainConfig};
use serde::{Deserialize, Serialize};
use tessera_layers::{loss, Backend, Init, Linear, Sgd, Sigmoid};
use tessera_tensor::Prg;

/// A trained linear layer and its loss curve.
pub struct Fitted<B: Backend> {
    /// Weights `[features, 1]` and bias `[1, 1]`.
    pub layer: Linear<B>,
    /// Mean squared error of the predictions (probabilities for logistic
    /// regression: the Brier score) per epoch, accumulated over its batches.
    pub epoch_losses: Vec<f64>,
}

/// The order in which rows are visited in `epoch`: public, from the job seed.
pub fn batch_order(rows: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(epoch as u64).to_le_bytes());
    key[16] = 0xb7;
    let mut order: Vec<usize> = (0..rows).collect();
    Prg::from_seed(key).shuffle(&mut order);
    order
}

/// Trains with minibatch SGD on `x: [rows, features]`, `y: [rows, 1]`.
/// Opens one number per epoch: that epoch's training loss.
pub fn fit<B: Backend>(
    b: &mut B,
    x: &B::Tensor,
    y: &B::Tensor,
    rows: usize,
    cfg: &TrainConfig,
) -> Result<Fitted<B>> {
    let features = b.shape(x)[1];
    let mut layer = Linear::new(b, features, 1, Init::Zeros)?;
    let sgd = Sgd {
        lr: cfg.learning_rate,
    };
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        let order = batch_order(rows, cfg.seed, epoch);
        let mut loss_sum: Option<B::Tensor> = None;
        for batch in order.chunks(cfg.batch_size) {
            let xb = b.select_rows(x, batch)?;
            let yb = b.select_rows(y, batch)?;
            let z = layer.forward(b, &xb)?;
            let pred = match cfg.model {
                ModelKind::Logistic => Sigmoid::apply(b, &z)?,
                ModelKind::Linear => z,
            };
            // Both losses have the gradient (pred - y) / batch with respect to z.
            let grad = loss::mse_grad(b, &pred, &yb)?;
            let sse = loss::sum_squared_error(b, &pred, &yb)?;
            loss_sum = Some(match loss_sum {
                None => sse,
                Some(s) => b.add(&s, &sse)?,
            });
            layer.backward(b, &grad, false)?;
            sgd.step(b, &mut layer)?;
        }
        let total = b.reveal(
            &loss_sum.expect("at least one batch"),
            "training loss of one epoch",
        )?;
        epoch_losses.push(total.iter().sum::<f64>() / rows as f64);
    }
    Ok(Fitted {
        layer,
        epoch_losses,
    })
}

/// Quality of a model on one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// "train" or "test".
    pub set: String,
    /// Number of rows.
    pub rows: usize,
    /// Fraction classified correctly (logistic regression).
    pub accuracy: Option<f64>,
    /// Coefficient of determination (linear regression).
    pub r2: Option<f64>,
    /// Mean squared error of the predictions (linear regression).
    pub mse: Option<f64>,
}

/// Evaluates on `x`, `y` and opens only the aggregate: the number of correct
/// classifications, or the sums of squared errors and deviations.
pub fn evaluate<B: Backend>(
    b: &mut B,
    fitted: &Fitted<B>,
    x: &B::Tensor,
    y: &B::Tensor,
    kind: ModelKind,
    set: &str,
) -> Result<Evaluation> {
    let rows = b.shape(x)[0];
    let z = b.matmul(x, &fitted.layer.weight)?;
    let z = b.add(&z, &fitted.layer.bias)?;
    let sum_all = |b: &mut B, t: &B::Tensor| -> Result<B::Tensor> {
        let s = b.sum_rows(t)?;
        let s = b.transpose(&s)?;
        Ok(b.sum_rows(&s)?)
    };
    match kind {
        ModelKind::Logistic => {
            // correct = 1 - y - pos + 2 y pos, with pos = [z > 0]
            let pos = b.positive(&z)?;
            let both = b.mul(y, &pos)?;
            let both2 = b.scale(&both, 2.0)?;
            let s = b.add(y, &pos)?;
            let wrong = b.sub(&s, &both2)?;
            let wrong = sum_all(b, &wrong)?;
            let count = b.reveal(&wrong, &format!("number of misclassified {set} rows"))?;
            let wrong = count.iter().sum::<f64>().round();
            Ok(Evaluation {
                set: set.into(),
                rows,
                accuracy: Some(1.0 - wrong / rows as f64),
                r2: None,
                mse: None,
            })
        }
        ModelKind::Linear => {
            let sse = loss::sum_squared_error(b, &z, y)?;
            let sum_y = sum_all(b, y)?;
            let mean_y = b.scale(&sum_y, 1.0 / rows as f64)?;
            let dev = b.sub(y, &mean_y)?;
            let sst = b.square(&dev)?;
            let sst = sum_all(b, &sst)?;
            let both = b.concat(&[&sse, &sst], 1)?;
            let v = b.reveal(
                &both,
                &format!("sums of squared errors and deviations on {set} rows"),
            )?;
            let v: Vec<f64> = v.iter().copied().collect();
            let r2 = if v[1] > 0.0 { 1.0 - v[0] / v[1] } else { 0.0 };
            Ok(Evaluation {
                set: set.into(),
                rows,
                accuracy: None,
                r2: Some(r2),
                mse: Some(v[0] / rows as f64),
            })
        }
    }
}
