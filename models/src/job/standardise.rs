//! Scaling and labels: each party standardises its own data with pooled or
//! local statistics before sharing it.

use super::*;

/// The joint model's feature names: one party's columns in a split by rows,
/// every party's columns in order in a split by columns.
pub(crate) fn joint_features(spec: &JobSpec, shapes: &[PartyShape]) -> Vec<String> {
    match spec.split {
        Split::Rows => shapes[0].features.clone(),
        Split::Columns => shapes.iter().flat_map(|s| s.features.clone()).collect(),
    }
}

/// Per-column mean and standard deviation (a constant column gets std 1).
pub(crate) fn column_stats(sum: &[f64], sum_sq: &[f64], count: f64) -> Scaling {
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

pub(crate) fn local_stats(x: &Array2<f64>) -> Scaling {
    let sum: Vec<f64> = x.sum_axis(Axis(0)).to_vec();
    let sq: Vec<f64> = x.mapv(|v| v * v).sum_axis(Axis(0)).to_vec();
    column_stats(&sum, &sq, x.nrows() as f64)
}

/// Standardises with `scaling` and checks that every value can take part in
/// fixed-point products; errors name the file, line and column.
pub(crate) fn standardise(
    d: &Dataset,
    rows: &[usize],
    s: &Scaling,
    fixed: FixedPoint,
) -> Result<Array2<f64>> {
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

/// Per-column sums and sums of squares of `cols`, divided by the pooled
/// row count `n` (so they stay within the encoding for large values).
pub(crate) fn moments(cols: &Array2<f64>, n: usize) -> Array2<f64> {
    let n = n.max(1) as f64;
    let mut m = Array2::<f64>::zeros((2, cols.ncols()));
    m.row_mut(0).assign(&(cols.sum_axis(Axis(0)) / n));
    m.row_mut(1)
        .assign(&(cols.mapv(|v| v * v).sum_axis(Axis(0)) / n));
    m
}

/// The columns whose pooled statistics standardise a split by rows: the
/// features of `rows`, and the target when it is standardised too.
pub(crate) fn stats_columns(d: &Dataset, rows: &[usize], with_target: bool) -> Result<Array2<f64>> {
    let x = d.features.select(Axis(0), rows);
    if !with_target {
        return Ok(x);
    }
    let y = d
        .require_labels()?
        .select(Axis(0), rows)
        .insert_axis(Axis(1));
    Ok(ndarray::concatenate(Axis(1), &[x.view(), y.view()]).expect("same rows"))
}

/// This party's labels of `rows` as the model trains on them (see
/// [`labels_of`]), standardised when the job has a target scale.
pub(crate) fn target_of(
    d: &Dataset,
    rows: &[usize],
    t: &TrainConfig,
    target: Option<TargetScale>,
    fixed: FixedPoint,
) -> Result<Option<ArrayD<f64>>> {
    if d.labels.is_none() {
        return Ok(None);
    }
    let y = labels_of(d, rows, t)?;
    Ok(Some(match target {
        Some(s) => s.standardise(d, rows, y, fixed)?,
        None => y,
    }))
}

/// Labels of `rows` as a column, or one-hot `[rows, classes]` for softmax models.
pub(crate) fn labels_of(d: &Dataset, rows: &[usize], t: &TrainConfig) -> Result<ArrayD<f64>> {
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
pub(crate) fn label_width(t: &TrainConfig) -> usize {
    if t.model.is_multiclass() {
        t.classes
    } else {
        1
    }
}

/// Mean and standard deviation of a linear regression's target. The target
/// is trained standardised, as the features are, so that its size never
/// meets the fixed-point range or makes the default learning rate diverge;
/// the model, the losses and the MSE are reported in the target's own units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TargetScale {
    pub(crate) mean: f64,
    pub(crate) std: f64,
}

impl TargetScale {
    /// From a mean and a mean of squares (a constant target gets std 1).
    pub(crate) fn from_moments(mean: f64, mean_sq: f64) -> Self {
        let s = column_stats(&[mean], &[mean_sq], 1.0);
        Self {
            mean: s.mean[0],
            std: s.std[0],
        }
    }

    /// Standardises a `[rows, 1]` target, checking that every value can take
    /// part in fixed-point products; errors name the file and line.
    pub(crate) fn standardise(
        &self,
        d: &Dataset,
        rows: &[usize],
        y: ArrayD<f64>,
        fixed: FixedPoint,
    ) -> Result<ArrayD<f64>> {
        let limit = fixed.product_limit();
        let out = y.mapv(|v| (v - self.mean) / self.std);
        if let Some((i, v)) = out.iter().enumerate().find(|(_, v)| v.abs() >= limit) {
            return Err(ModelError::Row {
                path: d.path.clone(),
                line: d.lines[rows[i]],
                reason: format!(
                    "the label is {} standard deviations from the mean, beyond the fixed-point \
                     product limit {limit} for {} fractional bits; remove the outlier",
                    tessera_tensor::readable(*v),
                    fixed.frac_bits()
                ),
            });
        }
        Ok(out)
    }

    /// Turns the last `[in + 1, 1]` block (weights, then bias) from
    /// predicting the standardised target to predicting the target.
    pub(crate) fn unstandardise(&self, params: &mut [ArrayD<f64>]) {
        if let Some(last) = params.last_mut() {
            last.mapv_inplace(|v| v * self.std);
            if let Some(bias) = last.iter_mut().last() {
                *bias += self.mean;
            }
        }
    }

    /// Losses and mean squared errors in the target's units.
    pub(crate) fn report<'a>(
        &self,
        losses: &mut [f64],
        evaluations: impl IntoIterator<Item = &'a mut Evaluation>,
    ) {
        let var = self.std * self.std;
        losses.iter_mut().for_each(|l| *l *= var);
        for e in evaluations {
            if let Some(m) = e.mse.as_mut() {
                *m *= var;
            }
        }
    }
}

/// The statistics that standardise a job and every present party's data
/// standardised with them.
pub(crate) struct Standardised {
    /// Per party (a split by columns: its own columns' statistics, where its
    /// data is present), or one pooled entry (a split by rows).
    pub(crate) scalings: Vec<Option<Scaling>>,
    /// A linear regression's target scale.
    pub(crate) target: Option<TargetScale>,
    /// Each party's standardised data, where present.
    pub(crate) locals: Vec<Option<LocalData>>,
}

/// Standardises the job's data on `b`: in a split by columns each party
/// uses its own columns' statistics; in a split by rows every party inputs
/// its per-column moments and the pooled ones are opened to all. A linear
/// regression's target is standardised too (its moments opened to all).
/// `data[p]` is party `p`'s data where this process holds it: only its own
/// under MPC, everyone's for the plaintext twin, which so standardises
/// exactly as the parties do.
pub(crate) fn standardise_all<B: Backend>(
    b: &mut B,
    fixed: FixedPoint,
    spec: &JobSpec,
    shapes: &[PartyShape],
    data: &[Option<&Dataset>],
) -> Result<Standardised> {
    let linear = spec.train.model == ModelKind::Linear;
    let splits: Vec<(Vec<usize>, Vec<usize>)> = shapes
        .iter()
        .enumerate()
        .map(|(p, s)| split_sizes(p, s, spec))
        .collect();
    let n_train: usize = splits.iter().map(|(tr, _)| tr.len()).sum();
    let (scalings, target): (Vec<Option<Scaling>>, Option<TargetScale>) = match spec.split {
        // Images are left as they are: per-pixel statistics would not fit
        // filters that slide over every position (and nothing is opened).
        Split::Rows if !spec.train.convolutions.is_empty() => {
            let d = shapes[0].features.len();
            let identity = Scaling {
                mean: vec![0.0; d],
                std: vec![1.0; d],
            };
            (vec![Some(identity)], None)
        }
        Split::Columns => {
            let scalings = data
                .iter()
                .zip(&splits)
                .map(|(d, (tr, _))| d.map(|d| local_stats(&d.features.select(Axis(0), tr))))
                .collect();
            // The label party's target moments, opened to all (the MSE in
            // the target's units, opened to all anyway, reveals its spread).
            let target = if linear {
                let lp = spec.label_party;
                let local = match data[lp].and_then(|d| d.labels.as_ref()) {
                    Some(y) => {
                        let y = y.select(Axis(0), &splits[lp].0);
                        Some(moments(&y.insert_axis(Axis(1)), splits[lp].0.len()).into_dyn())
                    }
                    None => None,
                };
                let t = b.input(lp, local.as_ref(), &[2, 1])?;
                let m = b.reveal(&t, "the target's mean and mean square (to standardise it)")?;
                Some(TargetScale::from_moments(m[[0, 0]], m[[1, 0]]))
            } else {
                None
            };
            (scalings, target)
        }
        Split::Rows => {
            let d = shapes[0].features.len();
            let k = d + usize::from(linear);
            let mut total = None;
            for p in 0..spec.parties {
                let local = match data[p] {
                    Some(own) => {
                        let cols = stats_columns(own, &splits[p].0, linear)?;
                        let m = moments(&cols, n_train);
                        check_moments_fit(own, &splits[p].0, &cols, &m, fixed, spec.parties)?;
                        Some(m.into_dyn())
                    }
                    None => None,
                };
                let s = b.input(p, local.as_ref(), &[2, k])?;
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
    let mut locals = Vec::with_capacity(spec.parties);
    for (p, d) in data.iter().enumerate() {
        let Some(d) = d else {
            locals.push(None);
            continue;
        };
        let scaling = match spec.split {
            Split::Columns => scalings[p].as_ref(),
            Split::Rows => scalings[0].as_ref(),
        }
        .expect("statistics where the data is");
        let (tr, te) = &splits[p];
        locals.push(Some(LocalData {
            train_x: standardise(d, tr, scaling, fixed)?,
            test_x: standardise(d, te, scaling, fixed)?,
            train_y: target_of(d, tr, &spec.train, target, fixed)?,
            test_y: target_of(d, te, &spec.train, target, fixed)?,
        }));
    }
    Ok(Standardised {
        scalings,
        target,
        locals,
    })
}
