//! Who holds what: partitioning a dataset among parties, and checking that
//! the parties' data fit together (with errors naming file, line and column).

use super::*;

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
    if shapes.len() != spec.parties {
        return Err(ModelError::Mismatch(format!(
            "{} data shapes for {} parties",
            shapes.len(),
            spec.parties
        )));
    }
    for (p, s) in shapes.iter().enumerate() {
        if let Some(h) = spec
            .held_out
            .as_ref()
            .map(|h| h[p])
            .filter(|&h| h >= s.rows)
        {
            return Err(ModelError::Mismatch(format!(
                "party {p} has {} rows, so it cannot hold out {h} for testing and train on the rest",
                s.rows
            )));
        }
        let cols = s.features.len();
        if s.rows > MAX_ROWS || cols > MAX_FEATURES || s.rows.saturating_mul(cols) > MAX_ELEMS {
            return Err(ModelError::Mismatch(format!(
                "party {p} declares {} rows of {cols} columns: more than the limits \
                 ({MAX_ROWS} rows, {MAX_FEATURES} columns, {MAX_ELEMS} values per party)",
                s.rows
            )));
        }
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
    let shapes: Vec<PartyShape> = data
        .iter()
        .map(|d| PartyShape {
            rows: d.rows(),
            features: d.feature_names.clone(),
        })
        .collect();
    check_parties_shapes(spec, &shapes)?;
    Ok(shapes)
}

/// In a split by rows each party's per-column moments (`moments`: sums and
/// sums of squares over the pooled row count) are shared; they must stay
/// encodable after adding up every party's. `cols` are the columns behind
/// them (`rows` of `d`, the features, then the target if it is included).
pub(crate) fn check_moments_fit(
    d: &Dataset,
    rows: &[usize],
    cols: &Array2<f64>,
    moments: &Array2<f64>,
    fixed: FixedPoint,
    parties: usize,
) -> Result<()> {
    let limit = fixed.limit() / parties as f64;
    for (j, &sq) in moments.row(1).iter().enumerate() {
        if sq >= limit {
            let (i, v) = cols
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
            let name = d
                .feature_names
                .get(j)
                .cloned()
                .unwrap_or_else(|| "label".into());
            return Err(ModelError::Value {
                path: d.path.clone(),
                line: d.lines[rows[i]],
                column: j + 1,
                name,
                reason: format!(
                    "values as large as {} are too large for the encoding: the column's mean square {} must stay below {} ({} fractional bits, {parties} parties); rescale the column (for example to thousands) or use fewer fractional bits",
                    tessera_tensor::readable(v),
                    tessera_tensor::readable(sq),
                    tessera_tensor::readable(limit),
                    fixed.frac_bits()
                ),
            });
        }
    }
    Ok(())
}
