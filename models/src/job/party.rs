//! One party's program: standardise, share, train, evaluate, and open the
//! model to its receivers.

use super::*;

/// What one party ends with.
#[derive(Debug, Clone, Serialize)]
pub struct PartyResult {
    /// Under active security, the MAC checks this party ran (their rounds
    /// and bytes are also in the session's counters).
    pub mac_checks: Option<tessera_protocols::active::CheckStats>,
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

/// Party `p`'s training and held-out rows: its last `held_out[p]` rows when
/// the job gives them, else a seeded `test_fraction` of them.
pub(crate) fn split_sizes(
    p: usize,
    shape: &PartyShape,
    spec: &JobSpec,
) -> (Vec<usize>, Vec<usize>) {
    match &spec.held_out {
        Some(h) => {
            let cut = shape.rows.saturating_sub(h[p]);
            ((0..cut).collect(), (cut..shape.rows).collect())
        }
        None => train_test_indices(shape.rows, spec.train.test_fraction, spec.train.seed),
    }
}

/// One party's program: standardise, share, train, evaluate, and open the
/// model to its receivers. Runs identically on every party.
pub fn party_main(
    sess: &mut Session,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
) -> Result<PartyResult> {
    party_run(sess, spec, shapes, mine, &ignore_events)
}

/// [`party_main`] reporting progress to `observe`: the semi-honest or the
/// actively secure protocol, as the job says.
pub fn party_run(
    sess: &mut Session,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    observe: Observer<'_>,
) -> Result<PartyResult> {
    spec.validate()?;
    match spec.security {
        Security::SemiHonest => {
            let mut b = MpcBackend::new(sess);
            Ok(party_train_with(&mut b, spec, shapes, mine, observe)?.0)
        }
        Security::Active => {
            let mut b = ActiveBackend::new(sess)?;
            Ok(party_train_with(&mut b, spec, shapes, mine, observe)?.0)
        }
    }
}

/// [`party_main`], reporting training progress to `observe`, and also
/// returning this party's shares of the trained model, so that the same
/// session can go on to use the model without anyone seeing it (see
/// [`crate::party_infer_shared`]). With no model receivers, nothing about
/// the weights is opened. Semi-honest; [`party_train_with`] takes either
/// backend.
pub fn party_train(
    sess: &mut Session,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    observe: Observer<'_>,
) -> Result<(PartyResult, SharedModel)> {
    if spec.security == Security::Active {
        return Err(ModelError::Config(
            "party_train is the semi-honest entry point: run an active job with party_train_with on an ActiveBackend".into(),
        ));
    }
    party_train_with(&mut MpcBackend::new(sess), spec, shapes, mine, observe)
}

/// [`party_train`] on either MPC backend: the model's shares stay on `b`
/// for [`crate::party_infer_shared_with`] on the same backend. Everything
/// opened is verified (under active security) before it is returned.
pub fn party_train_with<B: MpcSession>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    observe: Observer<'_>,
) -> Result<(PartyResult, SharedModel<B::Tensor>)> {
    let sess = MpcSession::session(b);
    let (me, fixed) = (sess.id(), sess.fixed());
    let trust = match spec.security {
        Security::SemiHonest => sess.trust_statement(),
        Security::Active => format!("{}; {}", sess.trust_statement(), spec.security.statement()),
    };
    let (mut t, st) = train_own(b, (me, fixed), spec, shapes, mine, observe, &trust)?;
    b.finish()?;
    let features = joint_features(spec, shapes);
    let mut dims = vec![features.len()];
    dims.extend(t.blocks.iter().map(|bl| b.shape(bl)[1]));
    let shared = SharedModel {
        kind: spec.train.model,
        relu_degree: spec.train.relu_degree,
        dims,
        scaling: match spec.split {
            Split::Rows => st.scalings[0].clone(),
            Split::Columns => None,
        },
        target: st.target.map(|t| (t.mean, t.std)),
        convolutions: spec.train.convolutions.clone(),
        image: spec.train.image,
        features,
        blocks: std::mem::take(&mut t.blocks),
    };
    let mut result = t.result(MpcSession::session(b).openings(), trust);
    result.mac_checks = b.mac_checks();
    Ok((result, shared))
}

/// One party's standardisation and joint training on its own data `mine`
/// (`me` and the session's fixed point given as `who`), on any MPC backend.
fn train_own<B: Backend>(
    b: &mut B,
    who: (usize, FixedPoint),
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    observe: Observer<'_>,
    trust: &str,
) -> Result<(Trained<B>, Standardised)> {
    let (me, fixed) = who;
    let mut data = vec![None; spec.parties];
    data[me] = Some(mine);
    let st = standardise_all(b, fixed, spec, shapes, &data)?;
    tracing::info!(party = me, parties = spec.parties, split = ?spec.split, "inputs standardised; sharing them");
    let t = train_jointly(b, spec, shapes, &st, observe, trust)?;
    Ok((t, st))
}

impl<B: Backend> Trained<B> {
    /// The party's report, with its session's openings.
    fn result(self, openings: &[Opening], trust: String) -> PartyResult {
        PartyResult {
            mac_checks: None,
            model: self.model,
            epoch_losses: self.epoch_losses,
            epoch_test: self.epoch_test,
            metrics: self.metrics,
            openings: openings.to_vec(),
            trust,
        }
    }
}

/// What joint training ends with, on any backend.
pub(crate) struct Trained<B: Backend> {
    /// The model, where the job opened it to whoever runs this.
    pub(crate) model: Option<SavedModel>,
    pub(crate) epoch_losses: Vec<f64>,
    pub(crate) epoch_test: Vec<Evaluation>,
    pub(crate) metrics: Metrics,
    /// Each layer's `[in + 1, out]` block as the backend holds it.
    pub(crate) blocks: Vec<B::Tensor>,
}

/// The job after standardisation: share, train, evaluate, open the model.
/// The same code for one party under MPC (its own data in `st`) and for the
/// plaintext twin (everyone's).
pub(crate) fn train_jointly<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    st: &Standardised,
    observe: Observer<'_>,
    trust: &str,
) -> Result<Trained<B>> {
    let prepared = share_all(b, spec, shapes, &st.locals)?;
    tracing::info!(rows = prepared.n_train, "training");
    let monitor = prepared.monitor(&spec.train);
    let fitted = fit_observed(
        b,
        &prepared.x_train,
        prepared.data.clone(),
        &prepared.y_train,
        &spec.train,
        monitor,
        observe,
    )?;
    let mut metrics = evaluate_all(b, &fitted, &prepared, spec.train.model)?;
    let (mut epoch_losses, mut epoch_test) =
        (fitted.epoch_losses.clone(), fitted.epoch_test.clone());
    if let Some(t) = st.target {
        t.report(
            &mut epoch_losses,
            epoch_test
                .iter_mut()
                .chain([&mut metrics.train])
                .chain(metrics.test.as_mut()),
        );
    }
    tracing::info!(receivers = ?spec.model_receivers, "trained; opening the model to its receivers");
    let mut blocks = Vec::new();
    for (w, bias) in fitted.net.parameters() {
        blocks.push(b.concat(&[w, bias], 0)?);
    }
    // Open the model (and each party's scaling, in a split by columns) to the receivers only.
    let model = open_model(b, spec, shapes, &blocks, st, &metrics, trust)?;
    Ok(Trained {
        model,
        epoch_losses,
        epoch_test,
        metrics,
        blocks,
    })
}

/// One party's standardised local data.
pub(crate) struct LocalData {
    pub(crate) train_x: Array2<f64>,
    pub(crate) test_x: Array2<f64>,
    pub(crate) train_y: Option<ArrayD<f64>>,
    pub(crate) test_y: Option<ArrayD<f64>>,
}

/// Turns every party's data into joint tensors: each party inputs its own
/// blocks (`locals[p]`, present where that party's data is), the others'
/// arrive as shares of their declared shapes.
pub(crate) fn share_all<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    locals: &[Option<LocalData>],
) -> Result<Prepared<B>> {
    let sizes: Vec<(usize, usize)> = shapes
        .iter()
        .enumerate()
        .map(|(p, s)| {
            let (tr, te) = split_sizes(p, s, spec);
            (tr.len(), te.len())
        })
        .collect();
    let mut xs_train = Vec::new();
    let mut xs_test = Vec::new();
    let mut ys_train = Vec::new();
    let mut ys_test = Vec::new();
    for p in 0..spec.parties {
        let local = locals[p].as_ref();
        let d = shapes[p].features.len();
        let (rtr, rte) = sizes[p];
        let tx = local.map(|l| l.train_x.clone().into_dyn());
        let ex = local.map(|l| l.test_x.clone().into_dyn());
        xs_train.push(b.input(p, tx.as_ref(), &[rtr, d])?);
        if rte > 0 {
            xs_test.push(b.input(p, ex.as_ref(), &[rte, d])?);
        }
        let holds_labels = match spec.split {
            Split::Rows => true,
            Split::Columns => p == spec.label_party,
        };
        if holds_labels {
            ys_train.push(b.input(
                p,
                local.and_then(|l| l.train_y.as_ref()),
                &[rtr, label_width(&spec.train)],
            )?);
            if rte > 0 {
                ys_test.push(b.input(
                    p,
                    local.and_then(|l| l.test_y.as_ref()),
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
    // Each party holds its own block of the training matrix in the clear
    // (under MPC this party's block is the one local block it has).
    let extents: Vec<usize> = (0..spec.parties)
        .map(|p| match spec.split {
            Split::Rows => sizes[p].0,
            Split::Columns => shapes[p].features.len(),
        })
        .collect();
    let present: Vec<&LocalData> = locals.iter().flatten().collect();
    let mine = match present.as_slice() {
        [one] => Some(one.train_x.clone().into_dyn()),
        _ => None,
    };
    let owned = OwnedBlocks {
        axis,
        extents: &extents,
        mine: mine.as_ref(),
        single_use: false,
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
        n_train,
    })
}

pub(crate) fn evaluate_all<B: Backend>(
    b: &mut B,
    fitted: &Fitted<'_, B>,
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

pub(crate) fn open_model<B: Backend>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    blocks: &[B::Tensor],
    st: &Standardised,
    metrics: &Metrics,
    trust: &str,
) -> Result<Option<SavedModel>> {
    let (scalings, target) = (&st.scalings, st.target);
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
        Split::Rows => scalings[0].clone(),
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
