//! Saved models: a readable JSON file with the weights and everything needed
//! to use and audit them.

use crate::data::Dataset;
use crate::error::{ModelError, Result};
use crate::job::{JobSpec, ModelKind, Split, TrainConfig};
use crate::train::Evaluation;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    /// One weight per standardised feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub bias: f64,
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
    pub fn new(
        spec: &JobSpec,
        features: Vec<String>,
        weights: Vec<f64>,
        bias: f64,
        scaling: Scaling,
        metrics: Metrics,
        preprocessing: &str,
    ) -> Self {
        Self {
            format: MODEL_FORMAT.into(),
            kind: spec.train.model,
            features,
            weights,
            bias,
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
        std::fs::write(path, text + "\n").map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Reads a model file, checking its format and consistency.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |reason: String| ModelError::Io {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        let m: SavedModel = serde_json::from_str(&text)
            .map_err(|e| io(format!("not a tessera model file: {e}")))?;
        if m.format != MODEL_FORMAT {
            return Err(io(format!(
                "model format '{}' is not supported (expected '{MODEL_FORMAT}')",
                m.format
            )));
        }
        let d = m.features.len();
        if m.weights.len() != d || m.scaling.mean.len() != d || m.scaling.std.len() != d {
            return Err(io(format!(
                "{d} features but {} weights, {} means and {} deviations",
                m.weights.len(),
                m.scaling.mean.len(),
                m.scaling.std.len()
            )));
        }
        Ok(m)
    }

    /// Predictions for every row of `data`: probabilities of class 1 for
    /// logistic regression, values for linear regression. The file's columns
    /// must be the model's features, by name and order (a `label` column is ignored).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        if data.feature_names != self.features {
            return Err(ModelError::Mismatch(format!(
                "{} has columns {:?}, but the model expects {:?}",
                data.path.display(),
                data.feature_names,
                self.features
            )));
        }
        Ok(data
            .features
            .rows()
            .into_iter()
            .map(|row| {
                let z: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(j, v)| {
                        (v - self.scaling.mean[j]) / self.scaling.std[j] * self.weights[j]
                    })
                    .sum::<f64>()
                    + self.bias;
                match self.kind {
                    ModelKind::Logistic => 1.0 / (1.0 + (-z).exp()),
                    ModelKind::Linear => z,
                }
            })
            .collect())
    }
}
