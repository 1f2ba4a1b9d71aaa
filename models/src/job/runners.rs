//! Running a job: every party as a thread of this process, or the same
//! recipe in plaintext as the twin to compare with.

use super::*;

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
    // A linear regression's target: pooled over every party's training
    // rows (in a split by columns only the label party has any).
    let target = (spec.train.model == ModelKind::Linear).then(|| {
        let ys: Vec<f64> = parts
            .iter()
            .filter_map(|(d, tr, _)| d.labels.as_ref().map(|l| (l, tr)))
            .flat_map(|(l, tr)| tr.iter().map(|&i| l[i]))
            .collect();
        TargetScale::of(&ys)
    });
    let mut locals = Vec::new();
    for (d, tr, te) in &parts {
        let s = scaling_rows
            .clone()
            .unwrap_or_else(|| local_stats(&d.features.select(Axis(0), tr)));
        locals.push(LocalData {
            train_x: standardise(d, tr, &s, fp)?,
            test_x: standardise(d, te, &s, fp)?,
            train_y: target_of(d, tr, &spec.train, target, fp)?,
            test_y: target_of(d, te, &spec.train, target, fp)?,
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
        target: Option<TargetScale>,
    ) -> Result<(SavedModel, Vec<f64>, Vec<Evaluation>)> {
        let prepared = combine_plain(b, spec, locals)?;
        let monitor = prepared.monitor(&spec.train);
        let fitted = fit_observed(
            b,
            &prepared.x_train,
            prepared.data.clone(),
            &prepared.y_train,
            &spec.train,
            monitor,
            &ignore_events,
        )?;
        let mut metrics = evaluate_all(b, &fitted, &prepared, spec.train.model)?;
        let mut params = Vec::new();
        for (w, bias) in fitted.net.parameters() {
            let p = b.concat(&[w, bias], 0)?;
            params.push(b.reveal(&p, "model")?);
        }
        let (mut losses, mut epoch_test) = (fitted.epoch_losses, fitted.epoch_test);
        if let Some(t) = target {
            t.report(
                &mut losses,
                epoch_test
                    .iter_mut()
                    .chain([&mut metrics.train])
                    .chain(metrics.test.as_mut()),
            );
            t.unstandardise(&mut params);
        }
        let model = SavedModel::new(
            spec,
            joint_features(spec, shapes),
            &params,
            scaling,
            metrics,
            "none (plaintext)",
        );
        Ok((model, losses, epoch_test))
    }
    let ((model, losses, epoch_test), backend) = if fixed {
        let r = go(
            &mut FixedBackend::new(fp),
            spec,
            &shapes,
            &locals,
            scaling,
            target,
        )?;
        (r, "fixed")
    } else {
        let r = go(&mut F32Backend, spec, &shapes, &locals, scaling, target)?;
        (r, "f32")
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
pub(crate) fn combine_plain<B: Backend>(
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
    let data = b.data(&x_train)?;
    Ok(Prepared {
        x_train,
        data,
        y_train,
        x_test,
        scaling: vec![],
        n_train,
    })
}
