//! One party's program: standardise, share, train, evaluate, and open the
//! model to its receivers.

use super::*;

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
pub(crate) struct Prepared<B: Backend> {
    pub(crate) x_train: B::Tensor,
    /// `x_train` prepared for training (see [`Backend::data`]).
    pub(crate) data: B::Data,
    pub(crate) y_train: B::Tensor,
    pub(crate) x_test: Option<(B::Tensor, B::Tensor)>,
    pub(crate) scaling: Vec<Option<Scaling>>,
    pub(crate) n_train: usize,
}

impl<B: Backend> Prepared<B> {
    /// The held-out rows to evaluate after every epoch, if the job asks for it.
    pub(crate) fn monitor(&self, train: &TrainConfig) -> Option<(&B::Tensor, &B::Tensor)> {
        self.x_test
            .as_ref()
            .filter(|_| train.epoch_eval)
            .map(|(x, y)| (x, y))
    }
}

pub(crate) fn split_sizes(shape: &PartyShape, t: &TrainConfig) -> (Vec<usize>, Vec<usize>) {
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
    // 1. Scaling: local in a split by columns; pooled moments opened in a
    // split by rows. A linear regression's target is standardised too.
    let linear = spec.train.model == ModelKind::Linear;
    let n_train: usize = shapes
        .iter()
        .map(|s| split_sizes(s, &spec.train).0.len())
        .sum();
    let (scalings, target): (Vec<Option<Scaling>>, Option<TargetScale>) = match spec.split {
        Split::Columns => {
            let scalings = (0..spec.parties)
                .map(|p| (p == me).then(|| local_stats(&mine.features.select(Axis(0), &my_train))))
                .collect();
            // The label party's target moments, opened to all (the MSE in
            // the target's units, opened to all anyway, reveals its spread).
            let target = if linear {
                let local = match (me == spec.label_party, &mine.labels) {
                    (true, Some(y)) => {
                        let y = y.select(Axis(0), &my_train);
                        Some(moments(&y.insert_axis(Axis(1)), my_train.len()).into_dyn())
                    }
                    _ => None,
                };
                let t = b.input(spec.label_party, local.as_ref(), &[2, 1])?;
                let m = b.reveal(&t, "the target's mean and mean square (to standardise it)")?;
                Some(TargetScale::from_moments(m[[0, 0]], m[[1, 0]]))
            } else {
                None
            };
            (scalings, target)
        }
        Split::Rows => {
            let d = shapes[0].features.len();
            let cols = stats_columns(mine, &my_train, linear)?;
            let mine_moments = moments(&cols, n_train);
            check_moments_fit(mine, &my_train, &cols, &mine_moments, fixed, spec.parties)?;
            let k = cols.ncols();
            let mine_moments = mine_moments.into_dyn();
            let mut total = None;
            for p in 0..spec.parties {
                let s = b.input(p, (p == me).then_some(&mine_moments), &[2, k])?;
                total = Some(match total {
                    None => s,
                    Some(t) => b.add(&t, &s)?,
                });
            }
            let m = b.reveal(
                &total.expect("n >= 2"),
                "pooled means and means of squares of every column (for standardisation)",
            )?;
            let m = m.into_dimensionality::<ndarray::Ix2>().expect("2-D");
            let s = column_stats(&m.row(0).to_vec()[..d], &m.row(1).to_vec()[..d], 1.0);
            let target = linear.then(|| TargetScale::from_moments(m[[0, d]], m[[1, d]]));
            (vec![Some(s); 1], target)
        }
    };
    let my_scaling = match spec.split {
        Split::Columns => scalings[me].clone().expect("own scaling"),
        Split::Rows => scalings[0].clone().expect("pooled scaling"),
    };
    let local = LocalData {
        train_x: standardise(mine, &my_train, &my_scaling, fixed)?,
        test_x: standardise(mine, &my_test, &my_scaling, fixed)?,
        train_y: target_of(mine, &my_train, &spec.train, target, fixed)?,
        test_y: target_of(mine, &my_test, &spec.train, target, fixed)?,
    };
    tracing::info!(party = me, parties = spec.parties, split = ?spec.split, "inputs standardised; sharing them");
    let prepared = share_all(&mut b, spec, shapes, me, &local, scalings)?;
    tracing::info!(party = me, rows = prepared.n_train, "training");
    let monitor = prepared.monitor(&spec.train);
    let fitted = fit_observed(
        &mut b,
        &prepared.x_train,
        prepared.data.clone(),
        &prepared.y_train,
        &spec.train,
        monitor,
        observe,
    )?;
    let mut metrics = evaluate_all(&mut b, &fitted, &prepared, spec.train.model)?;
    let (mut epoch_losses, mut epoch_test) =
        (fitted.epoch_losses.clone(), fitted.epoch_test.clone());
    if let Some(t) = target {
        t.report(
            &mut epoch_losses,
            epoch_test
                .iter_mut()
                .chain([&mut metrics.train])
                .chain(metrics.test.as_mut()),
        );
    }
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
        target: target.map(|t| (t.mean, t.std)),
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
        target,
        &metrics,
        &trust,
    )?;
    let openings = b.session().openings().to_vec();
    let result = PartyResult {
        model,
        epoch_losses,
        epoch_test,
        metrics,
        openings,
        trust,
    };
    Ok((result, shared))
}

/// One party's standardised local data.
pub(crate) struct LocalData {
    pub(crate) train_x: Array2<f64>,
    pub(crate) test_x: Array2<f64>,
    pub(crate) train_y: Option<ArrayD<f64>>,
    pub(crate) test_y: Option<ArrayD<f64>>,
}

/// Turns every party's data into joint tensors under MPC: party `me` inputs
/// its own blocks, the others' arrive as shares of their declared shapes.
pub(crate) fn share_all<B: Backend>(
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
    // Each party holds its own block of the training matrix in the clear.
    let extents: Vec<usize> = (0..spec.parties)
        .map(|p| match spec.split {
            Split::Rows => sizes[p].0,
            Split::Columns => shapes[p].features.len(),
        })
        .collect();
    let mine = local.train_x.clone().into_dyn();
    let owned = OwnedBlocks {
        axis,
        extents: &extents,
        mine: Some(&mine),
    };
    let data = b.owned_data(&x_train, &owned)?;
    let x_test = if xs_test.is_empty() || ys_test.is_empty() {
        None
    } else {
        Some((cat(b, &xs_test, axis)?, cat(b, &ys_test, 0)?))
    };
    let n_train = b.shape(&x_train)[0];
    Ok(Prepared {
        x_train,
        data,
        y_train,
        x_test,
        scaling,
        n_train,
    })
}

pub(crate) fn evaluate_all<B: Backend>(
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
pub(crate) fn open_model<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    blocks: &[B::Tensor],
    scalings: &[Option<Scaling>],
    my_scaling: &Scaling,
    target: Option<TargetScale>,
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
    let (Some(mut params), Some(scaling)) = (mine, scaling) else {
        return Ok(None);
    };
    if let Some(t) = target {
        t.unstandardise(&mut params);
    }
    Ok(Some(SavedModel::new(
        spec,
        joint_features(spec, shapes),
        &params,
        scaling,
        metrics.clone(),
        trust,
    )))
}
