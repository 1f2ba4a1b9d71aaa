//! Joint training jobs: what is trained, how the data is split among the
//! parties, and the per-party program that trains it under MPC.

mod partition;
mod party;
mod runners;
mod standardise;

pub use partition::*;
pub use party::*;
pub use runners::*;
use standardise::*;

use crate::data::{train_test_indices, Dataset};
use crate::error::{ModelError, Result};
use crate::infer::SharedModel;
use crate::model::{Metrics, SavedModel, Scaling};
use crate::train::{
    evaluate, evaluate_data, fit_observed, ignore_events, Evaluation, Fitted, Observer,
};
use ndarray::{Array2, ArrayD, Axis};
use serde::{Deserialize, Serialize};
use tessera_layers::{Backend, F32Backend, FixedBackend, MpcBackend, OwnedBlocks};
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
