//! Joint training jobs: what is trained, how the data is split among the
//! parties, and the per-party program that trains it under MPC.

use crate::data::{train_test_indices, Dataset};
use crate::error::{ModelError, Result};
use crate::infer::SharedModel;
use crate::model::{Metrics, SavedModel, Scaling};
use crate::train::{
    evaluate, evaluate_data, fit_observed, ignore_events, Evaluation, Fitted, Observer,
};
use ndarray::{Array2, ArrayD, Axis};
use serde::{Deserialize, Serialize};
use tessera_layers::{Backend, F32Backend, FixedBackend, MpcBackend};
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{Opening, Session, Stats};
use tessera_tensor::FixedPoint;

/// Which model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Least-squares linear regression.
    Linear,
    /// Binary logistic regression (labels 0/1).
    Logistic,
    /// Multinomial logistic (softmax) regression (labels 0..classes).
    Softmax,
    /// Multilayer perceptron with softmax output (labels 0..classes).
    Mlp,
}

impl std::fmt::Display for ModelKind {
    /// The model's name in sentences: "logistic regression", "MLP".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Linear => "linear regression",
            ModelKind::Logistic => "logistic regression",
            ModelKind::Softmax => "softmax regression",
            ModelKind::Mlp => "MLP",
        })
    }
}

impl ModelKind {
    /// True for models with a softmax over `classes` outputs.
    pub fn is_multiclass(self) -> bool {
        matches!(self, ModelKind::Softmax | ModelKind::Mlp)
    }
}

/// How the data is divided among the parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Horizontal: each party holds some samples, all features and labels.
    Rows,
    /// Vertical: each party holds some features of every sample; one party holds the labels.
    Columns,
}

/// Hyperparameters, shared by all parties and by the plaintext twin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model to train.
    pub model: ModelKind,
    /// Passes over the training data.
    pub epochs: usize,
    /// SGD learning rate.
    pub learning_rate: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Public seed for the train/test split and batch order.
    pub seed: u64,
    /// Fraction of each party's rows held out for testing.
    pub test_fraction: f64,
    /// Number of classes of a softmax model (labels 0..classes).
    #[serde(default)]
    pub classes: usize,
    /// Widths of an MLP's hidden layers.
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Polynomial ReLU of this degree (2 or 4) instead of the exact ReLU.
    #[serde(default)]
    pub relu_degree: Option<u8>,
    /// SGD momentum in `[0, 1)`; 0 for plain SGD.
    #[serde(default)]
    pub momentum: f64,
    /// Evaluate on the held-out rows after every epoch (opens one more
    /// aggregate per epoch: the misclassified count, or the squared-error sums).
    #[serde(default)]
    pub epoch_eval: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Logistic,
            epochs: 10,
            learning_rate: 0.5,
            batch_size: 32,
            seed: 42,
            test_fraction: 0.2,
            classes: 0,
            hidden: vec![],
            relu_degree: None,
            momentum: 0.0,
            epoch_eval: false,
        }
    }
}

/// A whole job: training settings plus who holds what and who learns the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Hyperparameters.
    pub train: TrainConfig,
    /// Data split among parties.
    pub split: Split,
    /// Number of computing parties.
    pub parties: usize,
    /// In a split by columns, the party holding the labels.
    pub label_party: usize,
    /// Parties that receive the trained model (weights and scaling). Empty:
    /// the model stays secret-shared and nobody learns the weights.
    pub model_receivers: Vec<usize>,
    /// Fixed-point fractional bits.
    pub frac_bits: u32,
    /// Where the correlated randomness comes from (a trusted dealer, or the
    /// parties themselves by oblivious transfer).
    #[serde(default)]
    pub preprocessing: Provider,
}

impl JobSpec {
    /// A job with default settings for `parties` parties.
    pub fn new(parties: usize, split: Split, train: TrainConfig) -> Self {
        Self {
            train,
            split,
            parties,
            label_party: 0,
            model_receivers: (0..parties).collect(),
            frac_bits: tessera_tensor::DEFAULT_FRAC_BITS,
            preprocessing: Provider::Dealer,
        }
    }

    /// Checks the settings, with a message naming the bad one.
    pub fn validate(&self) -> Result<()> {
        let t = &self.train;
        let bad = |m: String| Err(ModelError::Config(m));
        if self.parties < 2 {
            return bad(format!(
                "--parties must be at least 2, got {}",
                self.parties
            ));
        }
        if t.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if t.batch_size == 0 {
            return bad("--batch-size must be at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0 && t.learning_rate < 100.0) {
            return bad(format!("--lr must be in (0, 100), got {}", t.learning_rate));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return bad(format!("--momentum must be in [0, 1), got {}", t.momentum));
        }
        if !(0.0..0.9).contains(&t.test_fraction) {
            return bad(format!(
                "--test-fraction must be in [0, 0.9), got {}",
                t.test_fraction
            ));
        }
        if self.label_party >= self.parties {
            return bad(format!(
                "label party {} does not exist among {} parties",
                self.label_party, self.parties
            ));
        }
        if let Some(p) = (0..self.model_receivers.len())
            .find(|&i| self.model_receivers[..i].contains(&self.model_receivers[i]))
        {
            return bad(format!(
                "model receivers list party {} twice",
                self.model_receivers[p]
            ));
        }
        if self.model_receivers.iter().any(|&p| p >= self.parties) {
            return bad(format!(
                "model receivers {:?} must be party ids below {}",
                self.model_receivers, self.parties
            ));
        }
        FixedPoint::new(self.frac_bits).map_err(|e| ModelError::Config(e.to_string()))?;
        if t.model.is_multiclass() && t.classes < 2 {
            return bad(format!(
                "a {:?} model needs --classes of at least 2, got {}",
                t.model, t.classes
            ));
        }
        if t.model == ModelKind::Mlp && (t.hidden.is_empty() || t.hidden.contains(&0)) {
            return bad("an MLP needs --hidden widths, each at least 1 (e.g. --hidden 128)".into());
        }
        crate::train::hidden_activation(t)?;
        Ok(())
    }
}

/// The public facts about one party's data: shape and column names. Every
/// party knows these about every other party (they fix the message sizes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyShape {
    /// Number of rows.
    pub rows: usize,
    /// Feature column names.
    pub features: Vec<String>,
}

/// For demos: shuffles `all`'s rows with the public `seed` (so each party's
/// block is a fair sample), then [`partition`]s them.
pub fn partition_shuffled(
    all: &Dataset,
    parties: usize,
    split: Split,
    label_party: usize,
    seed: u64,
) -> Result<Vec<Dataset>> {
    let (order, _) = train_test_indices(all.rows(), 0.0, seed ^ 0x9e37);
    partition(&all.select(&order), parties, split, label_party)
}

/// Splits one table among `n` parties (for demos and tests): contiguous row
/// blocks, or contiguous column blocks with the labels at `label_party`.
pub fn partition(
    data: &Dataset,
    n: usize,
    split: Split,
    label_party: usize,
) -> Result<Vec<Dataset>> {
    let blocks = |len: usize| -> Vec<Vec<usize>> {
        (0..n)
            .map(|p| ((p * len / n)..((p + 1) * len / n)).collect())
            .collect()
    };
    match split {
        Split::Rows => {
            if data.rows() < n {
                return Err(ModelError::Mismatch(format!(
                    "{} rows cannot be split among {n} parties",
                    data.rows()
                )));
            }
            Ok(blocks(data.rows()).iter().map(|r| data.select(r)).collect())
        }
        Split::Columns => {
            let d = data.feature_names.len();
            if d < n {
                return Err(ModelError::Mismatch(format!(
                    "{d} features cannot be split among {n} parties"
                )));
            }
            Ok(blocks(d)
                .iter()
                .enumerate()
                .map(|(p, cols)| {
                    let mut part = data.select_columns(cols);
                    if p != label_party {
                        part.labels = None;
                    }
                    part
                })
                .collect())
        }
    }
}

/// Checks that the parties' public shapes fit the job (distributed mode,
/// where each party sees only the others' shapes).
pub fn check_parties_shapes(spec: &JobSpec, shapes: &[PartyShape]) -> Result<()> {
    spec.validate()?;
    for (p, s) in shapes.iter().enumerate() {
        match spec.split {
            Split::Rows if s.features != shapes[0].features => {
                return Err(ModelError::Mismatch(format!(
                    "split by rows needs the same columns at every party: party {p} has {:?}, party 0 has {:?}",
                    s.features, shapes[0].features
                )))
            }
            Split::Columns if s.rows != shapes[0].rows => {
                return Err(ModelError::Mismatch(format!(
                    "split by columns needs the same rows at every party: party {p} has {} rows, party 0 has {}",
                    s.rows, shapes[0].rows
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks one party's own data against the job: labels where it must hold
/// them, of the right kind.
pub fn check_own_data(spec: &JobSpec, party: usize, d: &Dataset) -> Result<()> {
    let holds_labels = match spec.split {
        Split::Rows => true,
        Split::Columns => party == spec.label_party,
    };
    if holds_labels {
        d.require_labels()?;
        if spec.train.model == ModelKind::Logistic {
            d.check_binary_labels()?;
        }
        if spec.train.model.is_multiclass() {
            d.check_class_labels(spec.train.classes)?;
        }
    } else if d.labels.is_some() {
        return Err(ModelError::Mismatch(format!(
            "{} has a label column, but in a split by columns only the label party {} holds labels",
            d.path.display(),
            spec.label_party
        )));
    }
    Ok(())
}

/// Checks that the parties' data fit the job; errors name the party and file.
pub fn check_parties(spec: &JobSpec, data: &[Dataset]) -> Result<Vec<PartyShape>> {
    spec.validate()?;
    if data.len() != spec.parties {
        return Err(ModelError::Mismatch(format!(
            "the job has {} parties but {} data files were given",
            spec.parties,
            data.len()
        )));
    }
    let first = &data[0];
    for (p, d) in data.iter().enumerate() {
        let has_labels = d.labels.is_some();
        match spec.split {
            Split::Rows => {
                if d.feature_names != first.feature_names {
                    return Err(ModelError::Mismatch(format!(
                        "split by rows needs the same columns at every party: party {p} ({}) has {} columns {:?}, party 0 ({}) has {} columns {:?}",
                        d.path.display(), d.feature_names.len(), d.feature_names, first.path.display(), first.feature_names.len(), first.feature_names
                    )));
                }
                d.require_labels()?;
            }
            Split::Columns => {
                if d.rows() != first.rows() {
                    return Err(ModelError::Mismatch(format!(
                        "split by columns needs the same rows at every party: party {p} ({}) has {} rows, party 0 ({}) has {}",
                        d.path.display(), d.rows(), first.path.display(), first.rows()
                    )));
                }
                if p == spec.label_party {
                    d.require_labels()?;
                } else if has_labels {
                    return Err(ModelError::Mismatch(format!(
                        "party {p} ({}) has a label column, but in a split by columns only the label party {} holds labels",
                        d.path.display(), spec.label_party
                    )));
                }
            }
        }
        if spec.train.model == ModelKind::Logistic && has_labels {
            d.check_binary_labels()?;
        }
        if spec.train.model.is_multiclass() && has_labels {
            d.check_class_labels(spec.train.classes)?;
        }
    }
    Ok(data
        .iter()
        .map(|d| PartyShape {
            rows: d.rows(),
            features: d.feature_names.clone(),
        })
        .collect())
}

/// In a split by rows the per-column sums of squares are shared; they must
/// stay encodable even after adding up every party's.
fn check_sums_fit(
    d: &Dataset,
    sums: &Array2<f64>,
    fixed: FixedPoint,
    parties: usize,
) -> Result<()> {
    let limit = fixed.limit() / parties as f64;
    for (j, &sq) in sums.row(1).iter().enumerate() {
        if sq >= limit {
            let (i, v) =
                d.features
                    .column(j)
                    .iter()
                    .enumerate()
                    .fold((0, 0.0f64), |best, (i, &v)| {
                        if v.abs() > best.1.abs() {
                            (i, v)
                        } else {
                            best
                        }
                    });
            return Err(ModelError::Value {
                path: d.path.clone(),
                line: d.lines[i],
                column: j + 1,
                name: d.feature_names[j].clone(),
                reason: format!(
                    "values as large as {v:e} are too large for the encoding: the column's sum of squares {sq:.3e} must stay below {limit:.3e} ({} fractional bits, {parties} parties); rescale the column (for example to thousands) or use fewer fractional bits",
                    fixed.frac_bits()
                ),
            });
        }
    }
    Ok(())
}

/// The joint model's feature names: one party's columns in a split by rows,
/// every party's columns in order in a split by columns.
fn joint_features(spec: &JobSpec, shapes: &[PartyShape]) -> Vec<String> {
    match spec.split {
        Split::Rows => shapes[0].features.clone(),
        Split::Columns => shapes.iter().flat_map(|s| s.features.clone()).collect(),
    }
}

/// Per-column mean and standard deviation (a constant column gets std 1).
fn column_stats(sum: &[f64], sum_sq: &[f64], count: f64) -> Scaling {
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let std = sum_sq
        .iter()
        .zip(&mean)
        .map(|(sq, m)| {
            let var = (sq / count - m * m).max(0.0);
            if var > 1e-12 {
                var.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    Scaling { mean, std }
}

fn local_stats(x: &Array2<f64>) -> Scaling {
    let sum: Vec<f64> = x.sum_axis(Axis(0)).to_vec();
    let sq: Vec<f64> = x.mapv(|v| v * v).sum_axis(Axis(0)).to_vec();
    column_stats(&sum, &sq, x.nrows() as f64)
}

/// Standardises with `scaling` and checks that every value can take part in
/// fixed-point products; errors name the file, line and column.
fn standardise(d: &Dataset, rows: &[usize], s: &Scaling, fixed: FixedPoint) -> Result<Array2<f64>> {
    let x = d.features.select(Axis(0), rows);
    let mut out = x.clone();
    let limit = fixed.product_limit();
    for ((i, j), v) in out.indexed_iter_mut() {
        *v = (*v - s.mean[j]) / s.std[j];
        if v.abs() >= limit {
            return Err(ModelError::Value {
                path: d.path.clone(),
                line: d.lines[rows[i]],
                column: j + 1,
                name: d.feature_names[j].clone(),
                reason: format!(
                    "after standardisation the value is {v:.3e}, beyond the fixed-point product limit {limit} for {} fractional bits; remove the outlier or use fewer fractional bits",
                    fixed.frac_bits()
                ),
            });
        }
    }
    Ok(out)
}

/// Labels of `rows` as a column, or one-hot `[rows, classes]` for softmax models.
fn labels_of(d: &Dataset, rows: &[usize], t: &TrainConfig) -> Result<ArrayD<f64>> {
    let l = d.require_labels()?.select(Axis(0), rows);
    if !t.model.is_multiclass() {
        return Ok(l.insert_axis(Axis(1)).into_dyn());
    }
    let mut hot = Array2::<f64>::zeros((l.len(), t.classes));
    for (i, &c) in l.iter().enumerate() {
        hot[[i, c as usize]] = 1.0;
    }
    Ok(hot.into_dyn())
}

/// Width of the label tensor.
fn label_width(t: &TrainConfig) -> usize {
    if t.model.is_multiclass() {
        t.classes
    } else {
        1
    }
}

/// What one party ends with.
#[derive(Debug, Clone, Serialize)]
pub struct PartyResult {
    /// The trained model, if this party is a receiver.
    pub model: Option<SavedModel>,
    /// Training loss per epoch (opened to all).
    pub epoch_losses: Vec<f64>,
    /// Held-out quality after each epoch, with `epoch_eval` (opened to all).
    pub epoch_test: Vec<Evaluation>,
    /// Train and test quality (opened to all).
    pub metrics: Metrics,
    /// Every opening this party took part in.
    pub openings: Vec<Opening>,
    /// Who was trusted.
    pub trust: String,
}

/// Train and test sets, already standardised, in the joint order.
struct Prepared<B: Backend> {
    x_train: B::Tensor,
    y_train: B::Tensor,
    x_test: Option<(B::Tensor, B::Tensor)>,
    scaling: Vec<Option<Scaling>>,
    n_train: usize,
}

impl<B: Backend> Prepared<B> {
    /// The held-out rows to evaluate after every epoch, if the job asks for it.
    fn monitor(&self, train: &TrainConfig) -> Option<(&B::Tensor, &B::Tensor)> {
        self.x_test
            .as_ref()
            .filter(|_| train.epoch_eval)
            .map(|(x, y)| (x, y))
    }
}

fn split_sizes(shape: &PartyShape, t: &TrainConfig) -> (Vec<usize>, Vec<usize>) {
    train_test_indices(shape.rows, t.test_fraction, t.seed)
}

/// One party's program: standardise, share, train, evaluate, and open the
/// model to its receivers. Runs identically on every party.
pub fn party_main(
    sess: &mut Session,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
) -> Result<PartyResult> {
    Ok(party_train(sess, spec, shapes, mine, &ignore_events)?.0)
}

/// [`party_main`], reporting training progress to `observe`, and also
/// returning this party's shares of the trained model, so that the same
/// session can go on to use the model without anyone seeing it (see
/// [`crate::party_infer_shared`]). With no model receivers, nothing about
/// the weights is opened.
pub fn party_train(
    sess: &mut Session,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    observe: Observer<'_>,
) -> Result<(PartyResult, SharedModel)> {
    let me = sess.id();
    let fixed = sess.fixed();
    let trust = sess.trust_statement();
    let mut b = MpcBackend::new(sess);
    let (my_train, my_test) = split_sizes(&shapes[me], &spec.train);
    // 1. Scaling: local in a split by columns; pooled sums opened in a split by rows.
    let scalings: Vec<Option<Scaling>> = match spec.split {
        Split::Columns => (0..spec.parties)
            .map(|p| (p == me).then(|| local_stats(&mine.features.select(Axis(0), &my_train))))
            .collect(),
        Split::Rows => {
            let d = shapes[0].features.len();
            let x = mine.features.select(Axis(0), &my_train);
            let mut mine_sums = Array2::<f64>::zeros((2, d));
            mine_sums.row_mut(0).assign(&x.sum_axis(Axis(0)));
            mine_sums
                .row_mut(1)
                .assign(&x.mapv(|v| v * v).sum_axis(Axis(0)));
            check_sums_fit(mine, &mine_sums, fixed, spec.parties)?;
            let mine_sums = mine_sums.into_dyn();
            let mut total = None;
            for p in 0..spec.parties {
                let s = b.input(p, (p == me).then_some(&mine_sums), &[2, d])?;
                total = Some(match total {
                    None => s,
                    Some(t) => b.add(&t, &s)?,
                });
            }
            let sums = b.reveal(
                &total.expect("n >= 2"),
                "pooled feature sums and sums of squares (for standardisation)",
            )?;
            let n_train: usize = shapes
                .iter()
                .map(|s| split_sizes(s, &spec.train).0.len())
                .sum();
            let sums = sums.into_dimensionality::<ndarray::Ix2>().expect("2-D");
            let s = column_stats(&sums.row(0).to_vec(), &sums.row(1).to_vec(), n_train as f64);
            vec![Some(s); 1]
        }
    };
    let my_scaling = match spec.split {
        Split::Columns => scalings[me].clone().expect("own scaling"),
        Split::Rows => scalings[0].clone().expect("pooled scaling"),
    };
    let local = LocalData {
        train_x: standardise(mine, &my_train, &my_scaling, fixed)?,
        test_x: standardise(mine, &my_test, &my_scaling, fixed)?,
        train_y: mine
            .labels
            .as_ref()
            .map(|_| labels_of(mine, &my_train, &spec.train))
            .transpose()?,
        test_y: mine
            .labels
            .as_ref()
            .map(|_| labels_of(mine, &my_test, &spec.train))
            .transpose()?,
    };
    tracing::info!(party = me, parties = spec.parties, split = ?spec.split, "inputs standardised; sharing them");
    let prepared = share_all(&mut b, spec, shapes, me, &local, scalings)?;
    tracing::info!(party = me, rows = prepared.n_train, "training");
    let monitor = prepared.monitor(&spec.train);
    let fitted = fit_observed(
        &mut b,
        &prepared.x_train,
        &prepared.y_train,
        prepared.n_train,
        &spec.train,
        monitor,
        observe,
    )?;
    let metrics = evaluate_all(&mut b, &fitted, &prepared, spec.train.model)?;
    tracing::info!(party = me, receivers = ?spec.model_receivers, "trained; opening the model to its receivers");
    let mut blocks = Vec::new();
    for (w, bias) in fitted.net.parameters() {
        blocks.push(b.concat(&[w, bias], 0)?);
    }
    let features = joint_features(spec, shapes);
    let mut dims = vec![features.len()];
    dims.extend(blocks.iter().map(|bl| bl.shape()[1]));
    let shared = SharedModel {
        kind: spec.train.model,
        relu_degree: spec.train.relu_degree,
        dims,
        scaling: match spec.split {
            Split::Rows => Some(my_scaling.clone()),
            Split::Columns => None,
        },
        features,
        blocks,
    };
    // Open the model (and each party's scaling, in a split by columns) to the receivers only.
    let model = open_model(
        &mut b,
        spec,
        shapes,
        &shared.blocks,
        &prepared.scaling,
        &my_scaling,
        &metrics,
        &trust,
    )?;
    let openings = b.session().openings().to_vec();
    let result = PartyResult {
        model,
        epoch_losses: fitted.epoch_losses.clone(),
        epoch_test: fitted.epoch_test.clone(),
        metrics,
        openings,
        trust,
    };
    Ok((result, shared))
}

/// One party's standardised local data.
struct LocalData {
    train_x: Array2<f64>,
    test_x: Array2<f64>,
    train_y: Option<ArrayD<f64>>,
    test_y: Option<ArrayD<f64>>,
}

/// Turns every party's data into joint tensors under MPC: party `me` inputs
/// its own blocks, the others' arrive as shares of their declared shapes.
fn share_all<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    me: usize,
    local: &LocalData,
    scaling: Vec<Option<Scaling>>,
) -> Result<Prepared<B>> {
    let sizes: Vec<(usize, usize)> = shapes
        .iter()
        .map(|s| {
            let (tr, te) = split_sizes(s, &spec.train);
            (tr.len(), te.len())
        })
        .collect();
    let mut xs_train = Vec::new();
    let mut xs_test = Vec::new();
    let mut ys_train = Vec::new();
    let mut ys_test = Vec::new();
    for p in 0..spec.parties {
        let mine = p == me;
        let d = shapes[p].features.len();
        let (rtr, rte) = sizes[p];
        let tx = local.train_x.clone().into_dyn();
        let ex = local.test_x.clone().into_dyn();
        xs_train.push(b.input(p, mine.then_some(&tx), &[rtr, d])?);
        if rte > 0 {
            xs_test.push(b.input(p, mine.then_some(&ex), &[rte, d])?);
        }
        let holds_labels = match spec.split {
            Split::Rows => true,
            Split::Columns => p == spec.label_party,
        };
        if holds_labels {
            ys_train.push(b.input(
                p,
                if mine { local.train_y.as_ref() } else { None },
                &[rtr, label_width(&spec.train)],
            )?);
            if rte > 0 {
                ys_test.push(b.input(
                    p,
                    if mine { local.test_y.as_ref() } else { None },
                    &[rte, label_width(&spec.train)],
                )?);
            }
        }
    }
    let axis = match spec.split {
        Split::Rows => 0,
        Split::Columns => 1,
    };
    let cat = |b: &mut B, parts: &[B::Tensor], axis: usize| -> Result<B::Tensor> {
        let refs: Vec<&B::Tensor> = parts.iter().collect();
        Ok(b.concat(&refs, axis)?)
    };
    let x_train = cat(b, &xs_train, axis)?;
    let y_train = cat(b, &ys_train, 0)?;
    let x_test = if xs_test.is_empty() || ys_test.is_empty() {
        None
    } else {
        Some((cat(b, &xs_test, axis)?, cat(b, &ys_test, 0)?))
    };
    let n_train = b.shape(&x_train)[0];
    Ok(Prepared {
        x_train,
        y_train,
        x_test,
        scaling,
        n_train,
    })
}

fn evaluate_all<B: Backend>(
    b: &mut B,
    fitted: &Fitted<B>,
    p: &Prepared<B>,
    kind: ModelKind,
) -> Result<Metrics> {
    // The training rows were masked once for training; evaluating on them
    // reuses that, so they are not opened again.
    let train: Evaluation = evaluate_data(
        b,
        &fitted.net,
        &fitted.train_data,
        &p.y_train,
        kind,
        "train",
    )?;
    // The last epoch's held-out evaluation, when monitored, is the final one.
    let test = match (&p.x_test, fitted.epoch_test.last()) {
        (_, Some(e)) => Some(e.clone()),
        (Some((x, y)), None) => Some(evaluate(b, &fitted.net, x, y, kind, "test")?),
        (None, None) => None,
    };
    Ok(Metrics { train, test })
}

#[allow(clippy::too_many_arguments)]
fn open_model<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    blocks: &[B::Tensor],
    scalings: &[Option<Scaling>],
    my_scaling: &Scaling,
    metrics: &Metrics,
    trust: &str,
) -> Result<Option<SavedModel>> {
    if spec.model_receivers.is_empty() {
        return Ok(None);
    }
    let all_receive = spec.model_receivers.len() == spec.parties;
    let mut mine = Some(Vec::new());
    for params in blocks {
        let label = "trained model weights and bias";
        let got = if all_receive {
            Some(b.reveal(params, label)?)
        } else {
            let mut got = None;
            for &r in &spec.model_receivers {
                if let Some(v) = b.reveal_to(params, r, label)? {
                    got = Some(v);
                }
            }
            got
        };
        mine = match (mine, got) {
            (Some(mut v), Some(p)) => {
                v.push(p);
                Some(v)
            }
            _ => None,
        };
    }
    // Scaling of every feature: already public in a split by rows; in a split
    // by columns each party opens its own columns' statistics to the receivers.
    let scaling = match spec.split {
        Split::Rows => Some(my_scaling.clone()),
        Split::Columns => {
            let mut mean = Vec::new();
            let mut std = Vec::new();
            let mut complete = true;
            for (p, shape) in shapes.iter().enumerate() {
                let d = shape.features.len();
                let local = scalings[p].as_ref().map(|s| {
                    let mut a = Array2::<f64>::zeros((2, d));
                    a.row_mut(0).assign(&ndarray::Array1::from(s.mean.clone()));
                    a.row_mut(1).assign(&ndarray::Array1::from(s.std.clone()));
                    a.into_dyn()
                });
                let t = b.input(p, local.as_ref(), &[2, d])?;
                let mut got = None;
                if all_receive {
                    got =
                        Some(b.reveal(&t, "feature scaling (mean, std) of each party's columns")?);
                } else {
                    for &r in &spec.model_receivers {
                        if let Some(v) = b.reveal_to(
                            &t,
                            r,
                            "feature scaling (mean, std) of each party's columns",
                        )? {
                            got = Some(v);
                        }
                    }
                }
                match got {
                    Some(v) => {
                        let v = v.into_dimensionality::<ndarray::Ix2>().expect("2-D");
                        mean.extend(v.row(0).iter());
                        std.extend(v.row(1).iter());
                    }
                    None => complete = false,
                }
            }
            complete.then_some(Scaling { mean, std })
        }
    };
    let (Some(params), Some(scaling)) = (mine, scaling) else {
        return Ok(None);
    };
    Ok(Some(SavedModel::new(
        spec,
        joint_features(spec, shapes),
        &params,
        scaling,
        metrics.clone(),
        trust,
    )))
}

/// Everything an embedded job reports.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// Each party's result, in party order.
    pub parties: Vec<PartyResult>,
    /// Each party's communication counters.
    pub stats: Vec<Stats>,
    /// Wall time of each party's computation, in seconds.
    pub seconds: Vec<f64>,
}

impl JobReport {
    /// The model as received by the first receiver.
    pub fn model(&self) -> Option<&SavedModel> {
        self.parties.iter().find_map(|p| p.model.as_ref())
    }
}

/// Runs a job with all parties (and the dealer) as threads of this process.
/// `data[p]` is party `p`'s data; each party thread reads only its own.
/// `mpc_seed` fixes all MPC randomness (reproducible, for tests only).
pub fn run_job_embedded(
    spec: &JobSpec,
    data: &[Dataset],
    mpc_seed: Option<[u8; 32]>,
) -> Result<JobReport> {
    run_job_embedded_observed(spec, data, mpc_seed, &ignore_events)
}

/// [`run_job_embedded`], reporting party 0's training progress to `observe`
/// (every party trains in lockstep, so one party's progress is the job's).
pub fn run_job_embedded_observed(
    spec: &JobSpec,
    data: &[Dataset],
    mpc_seed: Option<[u8; 32]>,
    observe: Observer<'_>,
) -> Result<JobReport> {
    let shapes = check_parties(spec, data)?;
    let mut cfg = EmbeddedConfig::new(spec.parties);
    cfg.fixed = FixedPoint::new(spec.frac_bits).map_err(|e| ModelError::Config(e.to_string()))?;
    cfg.seed = mpc_seed;
    cfg.preprocessing = spec.preprocessing;
    let outs = run_embedded(&cfg, |sess| {
        let me = sess.id();
        let observer: Observer<'_> = if me == 0 { observe } else { &ignore_events };
        Ok::<_, ModelError>(party_train(sess, spec, &shapes, &data[me], observer)?.0)
    })?;
    Ok(JobReport {
        stats: outs.iter().map(|o| o.stats.clone()).collect(),
        seconds: outs.iter().map(|o| o.elapsed.as_secs_f64()).collect(),
        parties: outs.into_iter().map(|o| o.value).collect(),
    })
}

/// Result of training the same recipe in plaintext.
#[derive(Debug, Clone, Serialize)]
pub struct PlainReport {
    /// Backend used.
    pub backend: String,
    /// The model.
    pub model: SavedModel,
    /// Loss per epoch.
    pub epoch_losses: Vec<f64>,
    /// Held-out quality after each epoch, with `epoch_eval`.
    pub epoch_test: Vec<Evaluation>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Trains the same recipe on the same split in plaintext (`f32`, or fixed
/// point when `fixed` is set): the reference MPC results are compared with.
pub fn run_job_plaintext(spec: &JobSpec, data: &[Dataset], fixed: bool) -> Result<PlainReport> {
    let shapes = check_parties(spec, data)?;
    let start = std::time::Instant::now();
    let fp = FixedPoint::new(spec.frac_bits).map_err(|e| ModelError::Config(e.to_string()))?;
    // Same standardisation as under MPC: statistics over all training rows of each column.
    let mut parts = Vec::new();
    let mut scalings = Vec::new();
    for (p, d) in data.iter().enumerate() {
        let (tr, te) = split_sizes(&shapes[p], &spec.train);
        parts.push((d, tr, te));
    }
    let scaling_rows = match spec.split {
        Split::Rows => {
            let all: Vec<Array2<f64>> = parts
                .iter()
                .map(|(d, tr, _)| d.features.select(Axis(0), tr))
                .collect();
            let views: Vec<_> = all.iter().map(|a| a.view()).collect();
            Some(local_stats(
                &ndarray::concatenate(Axis(0), &views).expect("same columns"),
            ))
        }
        Split::Columns => None,
    };
    let mut locals = Vec::new();
    for (d, tr, te) in &parts {
        let s = scaling_rows
            .clone()
            .unwrap_or_else(|| local_stats(&d.features.select(Axis(0), tr)));
        locals.push(LocalData {
            train_x: standardise(d, tr, &s, fp)?,
            test_x: standardise(d, te, &s, fp)?,
            train_y: d
                .labels
                .as_ref()
                .map(|_| labels_of(d, tr, &spec.train))
                .transpose()?,
            test_y: d
                .labels
                .as_ref()
                .map(|_| labels_of(d, te, &spec.train))
                .transpose()?,
        });
        scalings.push(s);
    }
    let scaling = match spec.split {
        Split::Rows => scalings[0].clone(),
        Split::Columns => Scaling {
            mean: scalings.iter().flat_map(|s| s.mean.clone()).collect(),
            std: scalings.iter().flat_map(|s| s.std.clone()).collect(),
        },
    };
    fn go<B: Backend>(
        b: &mut B,
        spec: &JobSpec,
        shapes: &[PartyShape],
        locals: &[LocalData],
        scaling: Scaling,
    ) -> Result<(SavedModel, Vec<f64>, Vec<Evaluation>)> {
        let prepared = combine_plain(b, spec, locals)?;
        let monitor = prepared.monitor(&spec.train);
        let fitted = fit_observed(
            b,
            &prepared.x_train,
            &prepared.y_train,
            prepared.n_train,
            &spec.train,
            monitor,
            &ignore_events,
        )?;
        let metrics = evaluate_all(b, &fitted, &prepared, spec.train.model)?;
        let mut params = Vec::new();
        for (w, bias) in fitted.net.parameters() {
            let p = b.concat(&[w, bias], 0)?;
            params.push(b.reveal(&p, "model")?);
        }
        let model = SavedModel::new(
            spec,
            joint_features(spec, shapes),
            &params,
            scaling,
            metrics,
            "none (plaintext)",
        );
        Ok((model, fitted.epoch_losses, fitted.epoch_test))
    }
    let ((model, losses, epoch_test), backend) = if fixed {
        let r = go(&mut FixedBackend::new(fp), spec, &shapes, &locals, scaling)?;
        (r, "fixed")
    } else {
        (go(&mut F32Backend, spec, &shapes, &locals, scaling)?, "f32")
    };
    Ok(PlainReport {
        backend: backend.into(),
        model,
        epoch_losses: losses,
        epoch_test,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Assembles the joint tensors on a plaintext backend from every party's data.
fn combine_plain<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    locals: &[LocalData],
) -> Result<Prepared<B>> {
    let axis = match spec.split {
        Split::Rows => 0,
        Split::Columns => 1,
    };
    let tx: Vec<ArrayD<f64>> = locals
        .iter()
        .map(|l| l.train_x.clone().into_dyn())
        .collect();
    let ex: Vec<ArrayD<f64>> = locals.iter().map(|l| l.test_x.clone().into_dyn()).collect();
    let cat = |parts: Vec<&ArrayD<f64>>, axis: usize| -> ArrayD<f64> {
        let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
        ndarray::concatenate(Axis(axis), &views).expect("checked shapes")
    };
    let ys = |f: &dyn Fn(&LocalData) -> Option<&ArrayD<f64>>| -> Vec<&ArrayD<f64>> {
        locals.iter().filter_map(f).collect()
    };
    let x_train = b.public(&cat(tx.iter().collect(), axis))?;
    let y_train = b.public(&cat(ys(&|l| l.train_y.as_ref()), 0))?;
    let x_test = if ex.iter().any(|e| e.shape()[0] > 0) {
        let nonempty: Vec<&ArrayD<f64>> = ex.iter().filter(|e| e.shape()[0] > 0).collect();
        let ty = ys(&|l| l.test_y.as_ref().filter(|y| y.shape()[0] > 0));
        Some((b.public(&cat(nonempty, axis))?, b.public(&cat(ty, 0))?))
    } else {
        None
    };
    let n_train = b.shape(&x_train)[0];
    Ok(Prepared {
        x_train,
        y_train,
        x_test,
        scaling: vec![],
        n_train,
    })
}
