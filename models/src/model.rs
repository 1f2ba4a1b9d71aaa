//! Saved models: a readable JSON file with the weights and everything needed
//! to use and audit them.

use crate::error::{ModelError, Result};
use crate::spec::{JobSpec, ModelKind, Split, TrainConfig};
use crate::train::Evaluation;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tessera_tensor::readable;

/// What a missing bias reads as (see [`SavedModel::bias`]).
fn missing() -> f64 {
    f64::NAN
}

/// Format tag written into every model file.
pub const MODEL_FORMAT: &str = "tessera-model/1";

/// Per-feature standardisation applied before the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Mean of each feature over the training rows.
    pub mean: Vec<f64>,
    /// Standard deviation of each feature (1 for a constant feature).
    pub std: Vec<f64>,
}

/// One dense layer of a saved network: `y = x W + b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// `weights[i][j]`: input `i` to output `j`.
    pub weights: Vec<Vec<f64>>,
    /// One bias per output.
    pub bias: Vec<f64>,
}

impl Dense {
    /// Splits a revealed `[in + 1, out]` block (weights, then the bias row).
    pub fn from_block(block: &ndarray::ArrayD<f64>) -> Self {
        let rows: Vec<Vec<f64>> = block
            .outer_iter()
            .map(|r| r.iter().copied().collect())
            .collect();
        let (bias, weights) = rows.split_last().expect("at least the bias row");
        Dense {
            weights: weights.to_vec(),
            bias: bias.clone(),
        }
    }
}

/// Train and test quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// On the training rows.
    pub train: Evaluation,
    /// On the held-out rows, if any.
    pub test: Option<Evaluation>,
}

/// A trained linear or logistic regression model with its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Linear or logistic.
    pub kind: ModelKind,
    /// Feature names, in the order of `weights`.
    pub features: Vec<String>,
    /// Linear and logistic regression: one weight per standardised feature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<f64>,
    /// Linear and logistic regression: the intercept (required there;
    /// absent from a file it reads as NaN, which [`SavedModel::load`] refuses).
    #[serde(default = "missing")]
    pub bias: f64,
    /// Softmax models: the dense layers in order (ReLU between them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Dense>,
    /// Standardisation of the raw features.
    pub scaling: Scaling,
    /// Fractional bits of the fixed-point arithmetic it was trained with.
    pub frac_bits: u32,
    /// Number of parties that trained it.
    pub parties: usize,
    /// How the data was split among them.
    pub split: Split,
    /// Who was trusted for preprocessing.
    pub preprocessing: String,
    /// Hyperparameters.
    pub training: TrainConfig,
    /// Quality at the end of training.
    pub metrics: Metrics,
    /// Version of tessera that wrote it.
    pub tessera_version: String,
}

impl SavedModel {
    /// Assembles a model record.
    /// `params` are the revealed `[in + 1, out]` blocks of each dense layer.
    pub fn new(
        spec: &JobSpec,
        features: Vec<String>,
        params: &[ndarray::ArrayD<f64>],
        scaling: Scaling,
        metrics: Metrics,
        preprocessing: &str,
    ) -> Self {
        let layers: Vec<Dense> = params.iter().map(Dense::from_block).collect();
        let (weights, bias, layers) = if spec.train.model.is_multiclass() {
            (vec![], 0.0, layers)
        } else {
            let l = &layers[0];
            (l.weights.iter().map(|r| r[0]).collect(), l.bias[0], vec![])
        };
        Self {
            format: MODEL_FORMAT.into(),
            kind: spec.train.model,
            features,
            weights,
            bias,
            layers,
            scaling,
            frac_bits: spec.frac_bits,
            parties: spec.parties,
            split: spec.split,
            preprocessing: preprocessing.into(),
            training: spec.train.clone(),
            metrics,
            tessera_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Writes the model as pretty JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = serde_json::to_string_pretty(self).expect("a model serialises");
        std::fs::write(path, text + "\n").map_err(|e| ModelError::io(path, &e))
    }

    /// Reads a model file, checking its format and consistency.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |reason: String| ModelError::Io {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, &e))?;
        let m: SavedModel = serde_json::from_str(&text)
            .map_err(|e| io(format!("not a tessera model file: {e}")))?;
        if m.format != MODEL_FORMAT {
            return Err(io(format!(
                "model format '{}' is not supported (expected '{MODEL_FORMAT}')",
                m.format
            )));
        }
        let mut m = m;
        m.check().map_err(io)?;
        if m.kind.is_multiclass() {
            m.bias = 0.0;
        }
        Ok(m)
    }

    /// Every check a model file must pass before anything uses it (run by
    /// [`SavedModel::load`], so `infer`, `predict` and `inspect` agree):
    /// shapes that fit together, a supported fixed-point precision, finite
    /// scaling with positive deviations, and finite weights small enough to
    /// be multiplied in that precision.
    fn check(&self) -> std::result::Result<(), String> {
        let fixed = tessera_tensor::FixedPoint::new(self.frac_bits).map_err(|_| {
            format!(
                "frac_bits {} is not supported (use 1 to 24)",
                self.frac_bits
            )
        })?;
        let d = self.features.len();
        if self.scaling.mean.len() != d || self.scaling.std.len() != d {
            return Err(format!(
                "{d} features but {} means and {} deviations",
                self.scaling.mean.len(),
                self.scaling.std.len()
            ));
        }
        for (j, name) in self.features.iter().enumerate() {
            let (mu, sd) = (self.scaling.mean[j], self.scaling.std[j]);
            if !(mu.is_finite() && sd.is_finite() && sd > 0.0) {
                return Err(format!(
                    "feature '{name}' has mean {} and standard deviation {}: \
                     a deviation must be positive and finite (1 for a constant feature)",
                    readable(mu),
                    readable(sd)
                ));
            }
        }
        let limit = fixed.product_limit();
        let weight = |v: f64, what: &dyn Fn() -> String| {
            if v.is_finite() && v.abs() < limit {
                Ok(())
            } else {
                Err(format!(
                    "{} is {}: weights must be finite and below {} in magnitude \
                     to be multiplied with {} fractional bits",
                    what(),
                    readable(v),
                    readable(limit),
                    self.frac_bits
                ))
            }
        };
        if self.kind.is_multiclass() {
            let shapes = crate::spec::layer_shapes(&self.training, d).map_err(|e| e.to_string())?;
            if shapes.len() != self.layers.len() {
                return Err(format!(
                    "{} layers, but the training settings describe {}",
                    self.layers.len(),
                    shapes.len()
                ));
            }
            for (i, (l, [inputs, outputs])) in self.layers.iter().zip(shapes).enumerate() {
                if l.weights.len() != inputs
                    || l.bias.len() != outputs
                    || l.weights.iter().any(|r| r.len() != outputs)
                {
                    return Err(format!(
                        "layer {i} does not take {inputs} inputs to {outputs} outputs"
                    ));
                }
                for (r, row) in l.weights.iter().enumerate() {
                    for (c, &v) in row.iter().enumerate() {
                        weight(v, &|| {
                            format!("layer {i}'s weight from input {r} to output {c}")
                        })?;
                    }
                }
                for (c, &v) in l.bias.iter().enumerate() {
                    weight(v, &|| format!("layer {i}'s bias of output {c}"))?;
                }
            }
        } else {
            if self.weights.len() != d {
                return Err(format!("{d} features but {} weights", self.weights.len()));
            }
            for (j, &v) in self.weights.iter().enumerate() {
                weight(v, &|| {
                    format!("the weight of feature '{}'", self.features[j])
                })?;
            }
            if self.bias.is_nan() {
                return Err(format!(
                    "a {} model needs a bias; the file has none",
                    self.kind
                ));
            }
            weight(self.bias, &|| "the bias".into())?;
        }
        Ok(())
    }
}
