//! Private inference: the model owner's weights and the querier's rows both
//! stay secret; only the querier learns the predictions.

use crate::arch::Head;
use crate::data::Dataset;
use crate::error::{ModelError, Result};
use crate::model::{SavedModel, Scaling};
use crate::spec::{hidden_activation, ConvSpec, ModelKind};
use ndarray::{Array2, ArrayD};
use serde::Serialize;
use tessera_layers::softmax::{argmax_index_cols, softmax};
use tessera_layers::{Backend, FixedBackend, Function, MpcBackend, MpcSession, OwnedBlocks};
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, RunCost};
use tessera_protocols::{AShare, Opening, PartyId, Session};
use tessera_tensor::FixedPoint;

pub use crate::infer_spec::{InferOutput, InferSpec};

impl SavedModel {
    /// Predictions for every row of `data`: `[probability of class 1]` for
    /// logistic regression, `[value]` for linear regression, class
    /// probabilities for softmax models. The file's columns
    /// must be the model's features, by name and order (a `label` column is ignored).
    ///
    /// Runs the same forward pass as private inference ([`infer_plain`]) on
    /// the plaintext `f32` backend.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<Vec<f64>>> {
        if data.feature_names != self.features {
            return Err(ModelError::Mismatch(format!(
                "{} has columns {:?}, but the model expects {:?}",
                data.path.display(),
                data.feature_names,
                self.features
            )));
        }
        let spec = InferSpec::new(self, 2, 0, 1, InferOutput::Scores, data.rows())?;
        infer_plain(&mut tessera_layers::F32Backend, &spec, self, data)
    }
}

/// A model its owner can run private inference with: tessera's own
/// ([`SavedModel`]) or an imported ONNX network.
pub trait InferModel: Sync {
    /// The public description of inferring with it on `rows` rows.
    fn infer_spec(
        &self,
        parties: usize,
        owner: PartyId,
        querier: PartyId,
        output: InferOutput,
        rows: usize,
    ) -> Result<InferSpec>;

    /// The secret parameter blocks `[inputs + 1, outputs]` (weights, then
    /// the bias row), in the order of [`InferSpec::block_shapes`].
    fn blocks(&self) -> Result<Vec<ArrayD<f64>>>;

    /// Plaintext predictions (scores) for every row of `data`, by the
    /// forward pass of private inference on the `f32` backend: what a
    /// party holding the model computes alone.
    fn predict_plain(&self, data: &Dataset) -> Result<Vec<Vec<f64>>> {
        let spec = self.infer_spec(2, 0, 1, InferOutput::Scores, data.rows())?;
        infer_plain(&mut tessera_layers::F32Backend, &spec, self, data)
    }
}

/// Reads a model for inference: an `.onnx` file is imported
/// ([`crate::OnnxModel`]); any other file is read as a tessera model.
pub fn load_model(path: &std::path::Path) -> Result<Box<dyn InferModel>> {
    Ok(if crate::onnx::is_onnx(path) {
        Box::new(crate::OnnxModel::load(path)?)
    } else {
        Box::new(SavedModel::load(path)?)
    })
}

impl InferModel for SavedModel {
    fn infer_spec(
        &self,
        parties: usize,
        owner: PartyId,
        querier: PartyId,
        output: InferOutput,
        rows: usize,
    ) -> Result<InferSpec> {
        InferSpec::new(self, parties, owner, querier, output, rows)
    }

    fn blocks(&self) -> Result<Vec<ArrayD<f64>>> {
        hidden_activation(&self.training)?;
        Ok(folded_blocks(self))
    }

    fn predict_plain(&self, data: &Dataset) -> Result<Vec<Vec<f64>>> {
        self.predict(data)
    }
}

/// The owner's layers as `[in + 1, out]` blocks (weights, then bias), with the
/// feature scaling folded into the first layer so the querier sends raw rows.
pub fn folded_blocks(model: &SavedModel) -> Vec<ArrayD<f64>> {
    let dense: Vec<(Vec<Vec<f64>>, Vec<f64>)> = if model.kind.is_multiclass() {
        model
            .layers
            .iter()
            .map(|l| (l.weights.clone(), l.bias.clone()))
            .collect()
    } else {
        vec![(
            model.weights.iter().map(|w| vec![*w]).collect(),
            vec![model.bias],
        )]
    };
    dense
        .into_iter()
        .enumerate()
        .map(|(i, (mut w, mut b))| {
            if i == 0 {
                for (j, row) in w.iter_mut().enumerate() {
                    let (mu, sd) = (model.scaling.mean[j], model.scaling.std[j]);
                    for (k, v) in row.iter_mut().enumerate() {
                        *v /= sd;
                        b[k] -= mu * *v;
                    }
                }
            }
            let (rows, cols) = (w.len() + 1, b.len());
            Array2::from_shape_fn(
                (rows, cols),
                |(r, c)| if r + 1 < rows { w[r][c] } else { b[c] },
            )
            .into_dyn()
        })
        .collect()
}

/// Whether [`head`] only compares the network's outputs (a class by argmax
/// or by sign), so that they may come up to a positive factor.
fn head_compares(spec: &InferSpec) -> Result<bool> {
    let arch = spec.architecture()?;
    Ok(spec.output == InferOutput::Class && !(arch.head == Head::Identity && arch.outputs()? == 1))
}

/// The tensor to open from the network's output `z`.
fn head<B: Backend>(b: &mut B, spec: &InferSpec, z: &B::Tensor) -> Result<B::Tensor> {
    let outputs = b.shape(z).get(1).copied().unwrap_or(1);
    Ok(match (spec.architecture()?.head, spec.output) {
        (Head::Identity, InferOutput::Scores) => z.clone(),
        (Head::Identity, InferOutput::Class) if outputs == 1 => z.clone(),
        (Head::Sigmoid, InferOutput::Class) if outputs == 1 => b.positive(z)?,
        (Head::Sigmoid, InferOutput::Scores) => b.apply(Function::Sigmoid, z)?,
        (Head::Softmax, InferOutput::Scores) => softmax(b, z)?,
        (Head::LogSoftmax, InferOutput::Scores) => {
            let p = softmax(b, z)?;
            b.apply(Function::Log, &p)?
        }
        (_, InferOutput::Class) => argmax_index_cols(b, z)?,
    })
}

/// The joint forward pass over the rows of `x` (prepared by
/// [`query_data`]), in chunks that keep every intermediate tensor bounded
/// (as evaluation does), each chunk's result opened by `open`. Returns the
/// decoded predictions where `open` gives them (on the querier), `None`
/// elsewhere.
fn predict_chunks<B: Backend>(
    b: &mut B,
    spec: &InferSpec,
    blocks: &[B::Tensor],
    x: &B::Data,
    mut open: impl FnMut(&mut B, &B::Tensor) -> Result<Option<ArrayD<f64>>>,
) -> Result<Option<Vec<Vec<f64>>>> {
    let net = spec.architecture()?.build(b, blocks)?;
    let rows = spec.rows;
    let chunk = crate::train::eval_chunk(b, &net);
    let compares = head_compares(spec)?;
    let mut all = Some(Vec::with_capacity(rows));
    for start in (0..rows).step_by(chunk) {
        if start > 0 {
            // Each chunk asks for what the last one did: a provider may
            // make the next chunks' material while this one is computed.
            b.step_boundary(&[])?;
        }
        let chunk_rows: Vec<usize> = (start..(start + chunk).min(rows)).collect();
        let z = if compares {
            net.predict_rows_for_comparison(b, x, &chunk_rows)?
        } else {
            net.predict_rows(b, x, &chunk_rows)?
        };
        let out = head(b, spec, &z)?;
        match (open(b, &out)?, all.as_mut()) {
            (Some(o), Some(v)) => v.extend(decode(spec, &o)),
            _ => all = None,
        }
    }
    Ok(all)
}

/// Decodes the opened tensor into one prediction per row: the class index
/// (`[class]`) or the scores.
fn decode(spec: &InferSpec, opened: &ArrayD<f64>) -> Vec<Vec<f64>> {
    opened
        .outer_iter()
        .map(|row| {
            let v: Vec<f64> = row.iter().copied().collect();
            match (spec.kind, spec.output) {
                (ModelKind::Linear, _) | (_, InferOutput::Scores) => v,
                (_, InferOutput::Class) => vec![v[0].round()],
            }
        })
        .collect()
}

/// A trained model that was never opened: every party holds additive shares
/// of its weights. Produced by [`crate::party_train`] and used in the same
/// session by [`party_infer_shared`].
#[derive(Debug, Clone)]
pub struct SharedModel<T = AShare> {
    /// Model kind.
    pub kind: ModelKind,
    /// Hidden activation: exact ReLU or polynomial of this degree.
    pub relu_degree: Option<u8>,
    /// Widths `[features, hidden..., outputs]`.
    pub dims: Vec<usize>,
    /// The joint feature names, in model order.
    pub features: Vec<String>,
    /// Feature standardisation, public in a split by rows (the pooled
    /// statistics were opened to all); `None` in a split by columns, where
    /// each party's column statistics stay with that party.
    pub scaling: Option<Scaling>,
    /// A linear regression's target `(mean, std)`: the shared weights
    /// predict the standardised target, and the querier's predictions are
    /// put back in the target's units (public, like the scaling).
    pub target: Option<(f64, f64)>,
    /// A CNN's convolutional stages and input images (see [`InferSpec`]).
    pub convolutions: Vec<ConvSpec>,
    /// A CNN's input images, `[channels, height, width]`.
    pub image: Option<[usize; 3]>,
    /// This party's shares of each layer as an `[inputs + 1, outputs]` block:
    /// weights, then the bias row.
    pub blocks: Vec<T>,
}

/// Private inference with a model that stays secret-shared: the querier
/// standardises its rows with the public scaling and inputs them; only the
/// predictions are opened, to the querier alone. Every party calls this with
/// its own shares; only the querier passes `rows`. Returns the predictions on
/// the querier, `None` elsewhere.
pub fn party_infer_shared(
    sess: &mut Session,
    model: &SharedModel,
    querier: PartyId,
    output: InferOutput,
    rows: Option<&Dataset>,
    n_rows: usize,
) -> Result<Option<Vec<Vec<f64>>>> {
    let mut b = MpcBackend::new(sess);
    party_infer_shared_with(&mut b, model, querier, output, rows, n_rows)
}

/// [`party_infer_shared`] on either MPC backend, with the model's shares
/// as [`crate::party_train_with`] left them on the same backend.
pub fn party_infer_shared_with<B: MpcSession>(
    b: &mut B,
    model: &SharedModel<B::Tensor>,
    querier: PartyId,
    output: InferOutput,
    rows: Option<&Dataset>,
    n_rows: usize,
) -> Result<Option<Vec<Vec<f64>>>> {
    let sess = MpcSession::session(b);
    let me = sess.id();
    let fixed = sess.fixed();
    let Some(scaling) = &model.scaling else {
        return Err(ModelError::Config(
            "a shared model trained on data split by columns has no public scaling; \
             open it to its owner and use party_infer instead"
                .into(),
        ));
    };
    let spec = InferSpec {
        parties: sess.n(),
        owner: querier,
        querier,
        output,
        kind: model.kind,
        dims: model.dims.clone(),
        relu_degree: model.relu_degree,
        rows: n_rows,
        frac_bits: fixed.frac_bits(),
        preprocessing: Provider::Dealer,
        security: crate::spec::Security::SemiHonest,
        convolutions: model.convolutions.clone(),
        image: model.image,
        graph: None,
    };
    let x = match rows.filter(|_| me == querier) {
        Some(d) => {
            check_query(d, &spec)?;
            if d.feature_names != model.features {
                return Err(ModelError::Mismatch(format!(
                    "{} has columns {:?}; the model was trained on {:?}",
                    d.path.display(),
                    d.feature_names,
                    model.features
                )));
            }
            let mut x = d.features.clone();
            for (j, mut col) in x.columns_mut().into_iter().enumerate() {
                col.mapv_inplace(|v| (v - scaling.mean[j]) / scaling.std[j]);
            }
            let standardised = Dataset {
                features: x,
                ..d.clone()
            };
            check_products(&standardised, fixed)?;
            Some(standardised.features.into_dyn())
        }
        None => None,
    };
    let xs = query_data(b, &spec, x.as_ref())?;
    let opened = predict_chunks(b, &spec, &model.blocks, &xs, |b, out| {
        Ok(b.reveal_to(out, querier, "predictions for the querier")?)
    })?;
    b.finish()?;
    Ok(opened.map(|mut p| {
        if let Some((mean, std)) = model.target {
            p.iter_mut().flatten().for_each(|v| *v = *v * std + mean);
        }
        p
    }))
}

/// The querier's rows must have the job's declared shape.
fn check_query(d: &Dataset, spec: &InferSpec) -> Result<()> {
    if d.feature_names.len() != spec.dims[0] || d.rows() != spec.rows {
        return Err(ModelError::Mismatch(format!(
            "{} has {} rows of {} features; the job declares {} rows of {}",
            d.path.display(),
            d.rows(),
            d.feature_names.len(),
            spec.rows,
            spec.dims[0]
        )));
    }
    Ok(())
}

/// One party's program for private inference. The owner passes its model,
/// the querier its rows; returns the predictions on the querier, `None` elsewhere.
pub fn party_infer(
    sess: &mut Session,
    spec: &InferSpec,
    model: Option<&dyn InferModel>,
    rows: Option<&Dataset>,
) -> Result<Option<Vec<Vec<f64>>>> {
    let me = sess.id();
    let fixed = sess.fixed();
    spec.check(sess.n())?;
    let blocks = match model.filter(|_| me == spec.owner) {
        Some(m) => Some(m.blocks()?),
        None => None,
    };
    let x = match rows.filter(|_| me == spec.querier) {
        Some(d) => {
            check_query(d, spec)?;
            check_products(d, fixed)?;
            Some(d.features.clone().into_dyn())
        }
        None => None,
    };
    match spec.security {
        crate::spec::Security::SemiHonest => infer_with(
            &mut MpcBackend::new(sess),
            spec,
            blocks.as_deref(),
            x.as_ref(),
        ),
        crate::spec::Security::Active => {
            let mut b = tessera_layers::ActiveBackend::new(sess)?;
            let out = infer_with(&mut b, spec, blocks.as_deref(), x.as_ref())?;
            b.active().check()?;
            Ok(out)
        }
    }
}

/// The owner inputs its blocks, the querier its rows, and only the
/// querier learns the predictions: on any MPC backend.
fn infer_with<B: Backend>(
    b: &mut B,
    spec: &InferSpec,
    blocks: Option<&[ArrayD<f64>]>,
    x: Option<&ArrayD<f64>>,
) -> Result<Option<Vec<Vec<f64>>>> {
    let mut shared = Vec::new();
    for (i, shape) in spec.block_shapes()?.into_iter().enumerate() {
        shared.push(b.input(spec.owner, blocks.map(|bl| &bl[i]), &shape)?);
    }
    let xs = query_data(b, spec, x)?;
    predict_chunks(b, spec, &shared, &xs, |b, out| {
        Ok(b.reveal_to(out, spec.querier, "predictions for the querier")?)
    })
}

/// The querier's rows `x` (`Some` on the querier only), as data it holds
/// in the clear: under MPC the first layer multiplies by them through held
/// triples, one matrix product per party and one round, with material made
/// before the query exists.
fn query_data<B: Backend>(b: &mut B, spec: &InferSpec, x: Option<&ArrayD<f64>>) -> Result<B::Data> {
    let xs = b.input(spec.querier, x, &[spec.rows, spec.dims[0]])?;
    let mut extents = vec![0; spec.parties];
    extents[spec.querier] = spec.rows;
    let owned = OwnedBlocks {
        axis: 0,
        extents: &extents,
        mine: x,
        single_use: true,
    };
    Ok(b.owned_data(&xs, &owned)?)
}

/// Raw query values enter products with the folded weights: they must stay
/// within the product limit.
fn check_products(d: &Dataset, fixed: FixedPoint) -> Result<()> {
    let limit = fixed.product_limit();
    for ((i, j), v) in d.features.indexed_iter() {
        if v.abs() >= limit {
            return Err(ModelError::Value {
                path: d.path.clone(),
                line: d.lines[i],
                column: j + 1,
                name: d.feature_names[j].clone(),
                reason: format!(
                    "{v} is beyond the fixed-point product limit {limit}; rescale the column"
                ),
            });
        }
    }
    Ok(())
}

/// The same computation in plaintext fixed point: the reference private
/// inference is compared with.
pub fn infer_fixed(
    spec: &InferSpec,
    model: &dyn InferModel,
    rows: &Dataset,
    fixed: FixedPoint,
) -> Result<Vec<Vec<f64>>> {
    infer_plain(&mut FixedBackend::new(fixed), spec, model, rows)
}

/// The same computation on any plaintext backend (`f32` for the speed
/// baseline in benchmarks, fixed point for the bit-faithful reference).
pub fn infer_plain<B: Backend, M: InferModel + ?Sized>(
    b: &mut B,
    spec: &InferSpec,
    model: &M,
    rows: &Dataset,
) -> Result<Vec<Vec<f64>>> {
    let blocks: Vec<_> = model
        .blocks()?
        .iter()
        .map(|bl| b.public(bl))
        .collect::<std::result::Result<_, _>>()?;
    if rows.rows() != spec.rows {
        return Err(ModelError::Mismatch(format!(
            "{} rows to predict; the job declares {}",
            rows.rows(),
            spec.rows
        )));
    }
    let x = b.public(&rows.features.clone().into_dyn())?;
    let x = b.data(&x)?;
    let all = predict_chunks(b, spec, &blocks, &x, |b, out| {
        Ok(Some(b.reveal(out, "predictions")?))
    })?;
    Ok(all.expect("a plaintext backend opens every chunk"))
}

/// What an embedded inference run reports.
#[derive(Debug, Clone, Serialize)]
pub struct InferReport {
    /// The querier's predictions.
    pub predictions: Vec<Vec<f64>>,
    /// Each party's openings.
    pub openings: Vec<Vec<Opening>>,
    /// Each party's counters (bytes and rounds of the whole run, waits of
    /// the online phase only) and online wall time: from the moment every
    /// party has the material until the predictions are out.
    pub cost: RunCost,
    /// Offline seconds before the online phase: party 0's dry run listing the
    /// preprocessing items ([`plan_infer`]), then the provider making them.
    pub planning_seconds: f64,
}

/// The preprocessing items party 0 takes in [`party_infer`] for `spec`, found
/// by a dry run on zeros (only shapes matter). Known before any query
/// arrives: pass them to the session's provider with
/// [`tessera_protocols::Preprocessing::plan`] and the dealer makes the
/// material while the parties compute, instead of on demand.
pub fn plan_infer(
    spec: &InferSpec,
    model: Option<&dyn InferModel>,
    fixed: FixedPoint,
) -> Result<Vec<tessera_protocols::prep::Material>> {
    tessera_protocols::session::plan(0, spec.parties, fixed, spec.preprocessing, |sess| {
        let model = model.filter(|_| spec.owner == 0);
        let zeros = (spec.querier == 0).then(|| Dataset {
            path: "dry run".into(),
            feature_names: (0..spec.dims[0]).map(|j| format!("x{j}")).collect(),
            features: ndarray::Array2::zeros((spec.rows, spec.dims[0])),
            labels: None,
            lines: (1..=spec.rows).collect(),
        });
        party_infer(sess, spec, model, zeros.as_ref())
    })
}

/// The most preprocessing words (per party) made ahead of a private
/// inference or a training job (1 GiB); a larger query is served chunk by
/// chunk, its material made as it goes.
pub use tessera_protocols::session::MAX_PLANNED_WORDS;

/// Runs private inference with every party as a thread of this process.
/// `mpc_seed` fixes all MPC randomness (reproducible, for tests only).
pub fn run_inference_embedded(
    spec: &InferSpec,
    model: &dyn InferModel,
    rows: &Dataset,
    mpc_seed: Option<[u8; 32]>,
) -> Result<InferReport> {
    run_inference_embedded_with(spec, model, rows, crate::Embedded::seeded(mpc_seed))
}

/// [`run_inference_embedded`] with a run's settings (seed, simulated link).
pub fn run_inference_embedded_with(
    spec: &InferSpec,
    model: &dyn InferModel,
    rows: &Dataset,
    run: crate::Embedded,
) -> Result<InferReport> {
    let cfg = run.config(spec.parties, spec.frac_bits, spec.preprocessing)?;
    let planning = std::time::Instant::now();
    // The dry run's provider makes no authenticated material: an active
    // run takes its material as it goes.
    // Too much to hold at once: the chunks' material is made as they go,
    // each chunk's while the one before is computed.
    let items = tessera_protocols::session::fitting_plan(match spec.security {
        crate::spec::Security::SemiHonest => plan_infer(spec, Some(model), cfg.fixed)?,
        crate::spec::Security::Active => Vec::new(),
    });
    let planning_seconds = planning.elapsed().as_secs_f64();
    let outs = run_embedded(&cfg, |sess| -> Result<_> {
        let me = sess.id();
        // Offline: the dealer makes the planned material and party 0 has it
        // before the query is processed; then every party starts together.
        let offline = sess.make_ahead(&items)?;
        let waited = sess.stats();
        let online = std::time::Instant::now();
        let preds = party_infer(
            sess,
            spec,
            (me == spec.owner).then_some(model),
            (me == spec.querier).then_some(rows),
        )?;
        Ok((
            preds,
            sess.openings().to_vec(),
            offline,
            online.elapsed().as_secs_f64(),
            waited,
        ))
    })?;
    let predictions = outs[spec.querier]
        .value
        .0
        .clone()
        .ok_or_else(|| ModelError::Config("the querier received nothing".into()))?;
    Ok(InferReport {
        predictions,
        openings: outs.iter().map(|o| o.value.1.clone()).collect(),
        cost: RunCost {
            stats: outs
                .iter()
                .map(|o| o.stats.waits_since(&o.value.4))
                .collect(),
            seconds: outs.iter().map(|o| o.value.3).collect(),
        },
        planning_seconds: planning_seconds + outs.iter().map(|o| o.value.2).fold(0.0, f64::max),
    })
}
