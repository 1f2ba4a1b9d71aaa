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
