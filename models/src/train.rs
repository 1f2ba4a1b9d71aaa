//! The training loop and evaluation, generic over the backend: the same code
//! trains under MPC and in plaintext.

use crate::error::{ModelError, Result};
use crate::spec::{conv_stages, hidden_activation, ModelKind, TrainConfig};
use serde::{Deserialize, Serialize};
use tessera_layers::softmax::{argmax_cols, softmax_cross_entropy};
use tessera_layers::{
    loss, Activation, ActivationLayer, Backend, Conv2d, Function, Init, Linear, Pool, Pool2d,
    Sequential, Sgd,
};
use tessera_tensor::Prg;

/// A trained network and its loss curve.
pub struct Fitted<'a, B: Backend> {
    /// The layers: one `Linear` for linear, logistic and softmax regression.
    pub net: Sequential<'a, B>,
    /// Loss per epoch, accumulated over its batches: mean squared error for
    /// linear regression, mean squared error of the probabilities (Brier
    /// score) for logistic regression, mean cross-entropy for softmax models.
    pub epoch_losses: Vec<f64>,
    /// Quality on the held-out rows after each epoch, when monitored.
    pub epoch_test: Vec<Evaluation>,
    /// The training rows as prepared for training (masked once under MPC),
    /// to evaluate on them without opening them again ([`evaluate_data`]).
    pub train_data: B::Data,
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

/// The untrained network for `features` inputs.
pub fn build<'a, B: Backend + 'a>(
    b: &mut B,
    features: usize,
    cfg: &TrainConfig,
) -> Result<Sequential<'a, B>> {
    Ok(match cfg.model {
        ModelKind::Linear | ModelKind::Logistic => {
            Sequential::new().with(Linear::new(b, features, 1, Init::Zeros)?)
        }
        ModelKind::Softmax => {
            Sequential::new().with(Linear::new(b, features, cfg.classes, Init::Zeros)?)
        }
        ModelKind::Mlp => {
            let activation = hidden_activation(cfg)?;
            let mut net = Sequential::new();
            let mut width = features;
            if let Some(image) = cfg.image.filter(|_| !cfg.convolutions.is_empty()) {
                if image.iter().product::<usize>() != features {
                    return Err(ModelError::Mismatch(format!(
                        "images of {image:?} have {} values, the data {features} columns",
                        image.iter().product::<usize>()
                    )));
                }
                let (stages, out) = conv_stages(&cfg.convolutions, image)?;
                for (i, st) in stages.into_iter().enumerate() {
                    let init = Init::Uniform {
                        seed: cfg.seed.wrapping_add(1000 + i as u64),
                    };
                    net.push(Conv2d::new(b, st.conv, st.channels, init)?);
                    net.push(ActivationLayer::new(activation));
                    if let Some(p) = st.pool {
                        net.push(Pool2d::new(Pool::Max, p)?);
                    }
                }
                width = out;
            }
            let mut dims = vec![width];
            dims.extend(&cfg.hidden);
            dims.push(cfg.classes);
            net.layers
                .extend(Sequential::mlp(b, &dims, activation, cfg.seed)?.layers);
            net
        }
    })
}

fn sum_all<B: Backend>(b: &mut B, t: &B::Tensor) -> Result<B::Tensor> {
    let s = b.sum_rows(t)?;
    Ok(b.sum_cols(&s)?)
}

/// What training reports while it runs (public facts only: positions and the
/// opened epoch loss), for progress bars and logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainEvent {
    /// A minibatch finished.
    Batch {
        /// Epoch, from 0.
        epoch: usize,
        /// Batches done in this epoch.
        done: usize,
        /// Batches per epoch.
        batches: usize,
    },
    /// An epoch finished with this mean training loss (opened to all parties).
    Epoch {
        /// Epoch, from 0.
        epoch: usize,
        /// Mean training loss of the epoch.
        loss: f64,
        /// Held-out accuracy (R² for linear regression) after the epoch, if monitored.
        test: Option<f64>,
    },
}

/// Receives [`TrainEvent`]s; called from the training thread.
pub type Observer<'a> = &'a (dyn Fn(TrainEvent) + Sync);

/// An observer that ignores every event.
pub fn ignore_events(_: TrainEvent) {}

/// Trains with minibatch SGD on `x: [rows, features]` and `y` (`[rows, 1]`,
/// or one-hot `[rows, classes]` for softmax models). Opens one number per
/// epoch: that epoch's training loss.
pub fn fit<'a, B: Backend + 'a>(
    b: &mut B,
    x: &B::Tensor,
    y: &B::Tensor,
    cfg: &TrainConfig,
) -> Result<Fitted<'a, B>> {
    let data = b.data(x)?;
    fit_observed(b, x, data, y, cfg, None, &ignore_events)
}

/// [`fit`] on `x` prepared as `data` (by [`Backend::data`] or
/// [`Backend::owned_data`]), reporting progress to `observe`, and with
/// `monitor = Some((x, y))` evaluating on those held-out rows after every
/// epoch (which opens one more aggregate per epoch, see [`evaluate`]).
pub fn fit_observed<'a, B: Backend + 'a>(
    b: &mut B,
    x: &B::Tensor,
    data: B::Data,
    y: &B::Tensor,
    cfg: &TrainConfig,
    monitor: Option<(&B::Tensor, &B::Tensor)>,
    observe: Observer<'_>,
) -> Result<Fitted<'a, B>> {
    let shape = b.shape(x);
    let (rows, features) = (shape[0], shape[1]);
    let mut net = build(b, features, cfg)?;
    let sgd = Sgd {
        lr: cfg.learning_rate,
        momentum: cfg.momentum,
    };
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    let mut epoch_test = Vec::new();
    let mut order = batch_order(rows, cfg.seed, 0);
    for epoch in 0..cfg.epochs {
        let next_order = batch_order(rows, cfg.seed, epoch + 1);
        let mut loss_sum: Option<B::Tensor> = None;
        // Softmax models: each batch's probabilities and labels. Picking the
        // true class's probability (a product) and its logarithm run once
        // per epoch on all of them, not once per batch.
        let mut p_rows: Vec<(B::Tensor, B::Tensor)> = Vec::new();
        let batches: Vec<&[usize]> = order.chunks(cfg.batch_size).collect();
        let upcoming: Vec<&[usize]> = batches
            .iter()
            .copied()
            // The next epoch's first batch, if it follows this epoch's last
            // (a next epoch, and no evaluation step between): a provider
            // asks ahead for exactly the steps named here.
            .chain(
                next_order
                    .chunks(cfg.batch_size)
                    .take(usize::from(epoch + 1 < cfg.epochs && monitor.is_none())),
            )
            .collect();
        for (done, batch) in batches.iter().copied().enumerate() {
            b.step_boundary(&upcoming[done..(done + 2).min(upcoming.len())])?;
            let yb = b.select_rows(y, batch)?;
            let out = net.forward_rows(b, &data, batch)?;
            let (grad, batch_loss) = match cfg.model {
                ModelKind::Linear | ModelKind::Logistic => {
                    let pred = match cfg.model {
                        ModelKind::Logistic => {
                            let kind = Activation::Sigmoid(b.cheapest_sigmoid());
                            ActivationLayer::apply(b, kind, &out)?
                        }
                        _ => out,
                    };
                    // Both losses have the gradient (pred - y) / batch with respect to z.
                    let grad = loss::mse_grad(b, &pred, &yb)?;
                    (grad, Some(loss::sum_squared_error(b, &pred, &yb)?))
                }
                ModelKind::Softmax | ModelKind::Mlp => {
                    let (p, grad) = softmax_cross_entropy(b, &out, &yb)?;
                    p_rows.push((p, yb));
                    (grad, None)
                }
            };
            if let Some(batch_loss) = batch_loss {
                loss_sum = Some(match loss_sum {
                    None => batch_loss,
                    Some(s) => b.add(&s, &batch_loss)?,
                });
            }
            net.backward(b, &grad)?;
            net.step(b, &sgd)?;
            observe(TrainEvent::Batch {
                epoch,
                done: done + 1,
                batches: batches.len(),
            });
        }
        if !p_rows.is_empty() {
            // -sum log p_true over the epoch's rows; y is an exact 0/1 mask,
            // so p * y is exact.
            let p = b.concat(&p_rows.iter().map(|(p, _)| p).collect::<Vec<_>>(), 0)?;
            let y = b.concat(&p_rows.iter().map(|(_, y)| y).collect::<Vec<_>>(), 0)?;
            let picked = b.mul(&p, &y)?;
            let p_true = b.sum_cols(&picked)?;
            let logp = b.apply(Function::Log, &p_true)?;
            let s = sum_all(b, &logp)?;
            loss_sum = Some(b.neg(&s)?);
        }
        let total = b.reveal(
            &loss_sum.expect("at least one batch"),
            "training loss of one epoch",
        )?;
        let loss = total.iter().sum::<f64>() / rows as f64;
        check_not_diverging(cfg, epoch, loss, epoch_losses.first().copied())?;
        epoch_losses.push(loss);
        let mut test = None;
        if let Some((tx, ty)) = monitor {
            let e = evaluate(b, &net, tx, ty, cfg.model, "test")?;
            test = e.accuracy.or(e.r2);
            epoch_test.push(e);
        }
        observe(TrainEvent::Epoch { epoch, loss, test });
        order = next_order;
    }
    Ok(Fitted {
        net,
        epoch_losses,
        epoch_test,
        train_data: data,
    })
}

/// Stops training whose loss blew up: not finite, negative (a sum of
/// squares or of `-log p` wrapped around the fixed-point range, beyond the
/// rounding of a near-perfect fit), or ten
/// times the first epoch's. Every party sees the same opened loss, so all
/// stop together.
fn check_not_diverging(
    cfg: &TrainConfig,
    epoch: usize,
    loss: f64,
    first: Option<f64>,
) -> Result<()> {
    let blew_up = match first {
        _ if !loss.is_finite() || loss < -0.01 => true,
        Some(first) => loss > 10.0 * first.max(0.1),
        None => false,
    };
    if blew_up {
        return Err(ModelError::Diverged {
            what: format!(
                "the loss of epoch {} is {}{}",
                epoch + 1,
                tessera_tensor::readable(loss),
                first
                    .map(|f| format!(", from {} after epoch 1", tessera_tensor::readable(f)))
                    .unwrap_or_default(),
            ),
            learning_rate: cfg.learning_rate,
        });
    }
    Ok(())
}

/// Quality of a model on one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// "train" or "test".
    pub set: String,
    /// Number of rows.
    pub rows: usize,
    /// Fraction classified correctly (classifiers).
    pub accuracy: Option<f64>,
    /// Coefficient of determination (linear regression).
    pub r2: Option<f64>,
    /// Mean squared error of the predictions (linear regression).
    pub mse: Option<f64>,
}

/// Most rows evaluated at once.
const EVAL_CHUNK: usize = 4096;
/// Rows per evaluation chunk for `net`: at most the backend's
/// [`Backend::chunk_entries`] entries in any intermediate tensor, which
/// bounds the material (and so the memory) when a large set is evaluated,
/// also for networks whose rows grow inside (a convolution's im2col).
pub(crate) fn eval_chunk<B: Backend>(b: &B, net: &Sequential<'_, B>) -> usize {
    (b.chunk_entries() / net.widest_per_row(b).max(1)).clamp(1, EVAL_CHUNK)
}

/// Quality of `net` on rows `x` with targets `y`, in chunks of rows sized
/// so that memory stays bounded on large sets. Opens one
/// aggregate: the misclassified count, or the squared-error sums.
pub fn evaluate<B: Backend>(
    b: &mut B,
    net: &Sequential<'_, B>,
    x: &B::Tensor,
    y: &B::Tensor,
    kind: ModelKind,
    set: &str,
) -> Result<Evaluation> {
    let rows = b.shape(x)[0];
    let chunk = eval_chunk(b, net);
    evaluate_with(b, rows, chunk, y, kind, set, |b, idx, compares| {
        let xc;
        let x = if idx.len() == rows {
            x
        } else {
            xc = b.select_rows(x, idx)?;
            &xc
        };
        Ok(match compares {
            true => net.predict_for_comparison(b, x)?,
            false => net.predict(b, x)?,
        })
    })
}

/// [`evaluate`] on prepared data (the training rows as masked for training):
/// under MPC the rows are not opened again, only the weights' masked
/// differences.
pub fn evaluate_data<B: Backend>(
    b: &mut B,
    net: &Sequential<'_, B>,
    data: &B::Data,
    y: &B::Tensor,
    kind: ModelKind,
    set: &str,
) -> Result<Evaluation> {
    let rows = b.shape(y)[0];
    let chunk = eval_chunk(b, net);
    evaluate_with(b, rows, chunk, y, kind, set, |b, idx, compares| {
        Ok(match compares {
            true => net.predict_rows_for_comparison(b, data, idx)?,
            false => net.predict_rows(b, data, idx)?,
        })
    })
}

fn evaluate_with<B: Backend>(
    b: &mut B,
    rows: usize,
    chunk: usize,
    y: &B::Tensor,
    kind: ModelKind,
    set: &str,
    mut logits: impl FnMut(&mut B, &[usize], bool) -> Result<B::Tensor>,
) -> Result<Evaluation> {
    // Classes only compare the outputs, which may then come up to a
    // positive factor (`logits` may skip the last truncation).
    let compares = kind != ModelKind::Linear;
    // Linear regression needs the mean of all targets first (local: a sum).
    let mean_y = if kind == ModelKind::Linear {
        let sum_y = sum_all(b, y)?;
        Some(b.scale(&sum_y, 1.0 / rows.max(1) as f64)?)
    } else {
        None
    };
    let mut total: Option<B::Tensor> = None;
    for start in (0..rows).step_by(chunk) {
        let idx: Vec<usize> = (start..(start + chunk).min(rows)).collect();
        // A step of its own: a provider that saw an evaluation of this size
        // before (the last epoch's) asks for its material ahead.
        b.step_boundary(&[&idx])?;
        let z = logits(b, &idx, compares)?;
        let part = if idx.len() == rows {
            chunk_aggregate(b, &z, y, kind, rows, mean_y.as_ref())?
        } else {
            let yc = b.select_rows(y, &idx)?;
            chunk_aggregate(b, &z, &yc, kind, idx.len(), mean_y.as_ref())?
        };
        total = Some(match total {
            None => part,
            Some(t) => b.add(&t, &part)?,
        });
    }
    let Some(total) = total else {
        return Err(ModelError::Config(format!("the {set} set has no rows")));
    };
    let accuracy = |wrong: f64| Evaluation {
        set: set.into(),
        rows,
        accuracy: Some(1.0 - wrong / rows as f64),
        r2: None,
        mse: None,
    };
    match kind {
        ModelKind::Logistic | ModelKind::Softmax | ModelKind::Mlp => {
            let count = b.reveal(&total, &format!("number of misclassified {set} rows"))?;
            Ok(accuracy(count.iter().sum::<f64>().round()))
        }
        ModelKind::Linear => {
            let v = b.reveal(
                &total,
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

/// The shared aggregate of one chunk: `[1, 1]` misclassified rows, or
/// `[1, 2]` sums of squared errors and deviations.
fn chunk_aggregate<B: Backend>(
    b: &mut B,
    z: &B::Tensor,
    y: &B::Tensor,
    kind: ModelKind,
    rows: usize,
    mean_y: Option<&B::Tensor>,
) -> Result<B::Tensor> {
    match kind {
        ModelKind::Logistic => {
            // wrong = y + pos - 2 y pos, with pos = [z > 0]
            let pos = b.positive(z)?;
            let both = b.mul(y, &pos)?;
            let both2 = b.add(&both, &both)?;
            let s = b.add(y, &pos)?;
            let wrong = b.sub(&s, &both2)?;
            sum_all(b, &wrong)
        }
        ModelKind::Softmax | ModelKind::Mlp => {
            let hot = argmax_cols(b, z)?;
            let hit = b.mul(&hot, y)?;
            let right = sum_all(b, &hit)?;
            let wrong = b.neg(&right)?;
            Ok(b.add_scalar(&wrong, rows as f64)?)
        }
        ModelKind::Linear => {
            let sse = loss::sum_squared_error(b, z, y)?;
            let dev = b.sub(y, mean_y.expect("computed for linear regression"))?;
            let sst = b.square(&dev)?;
            let sst = sum_all(b, &sst)?;
            Ok(b.concat(&[&sse, &sst], 1)?)
        }
    }
}
