//! What a training job is: the model, its hyperparameters, how the data is
//! split among the parties, who learns the model, and the limits every size
//! is checked against. One description with one set of defaults
//! ([`TrainConfig::default`], [`JobSpec::new`]) that the command line, the
//! job file and the `Job` builder all map onto. Depends on no other module
//! of this crate, so the training loop, model files, inference and the job
//! runner can all use it without importing one another.

use crate::error::{ModelError, Result};
use serde::{Deserialize, Serialize};
use tessera_layers::{Activation, Window};
use tessera_protocols::prep::Provider;
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

impl std::fmt::Display for Split {
    /// As the command line and job files spell it: "rows", "columns".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Rows => "rows",
            Split::Columns => "columns",
        })
    }
}

/// Most computing parties a job may have.
pub const MAX_PARTIES: usize = 64;
/// Most epochs a job may ask for.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest minibatch.
pub const MAX_BATCH: usize = 1 << 16;
/// Most classes of a softmax model or MLP.
pub const MAX_CLASSES: usize = 10_000;
/// Widest hidden layer of an MLP.
pub const MAX_WIDTH: usize = 1 << 14;
/// Most dense layers of a model.
pub const MAX_LAYERS: usize = 64;
/// Most rows one party may hold (or query).
pub const MAX_ROWS: usize = 1 << 26;
/// Most feature columns.
pub const MAX_FEATURES: usize = 1 << 20;
/// Most values in one party's data (rows times columns).
pub const MAX_ELEMS: usize = 1 << 31;

/// Hyperparameters, shared by all parties and by the plaintext twin.
/// [`TrainConfig::default`] holds the one set of defaults that the command
/// line, the job file and the `Job` builder all start from.
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
    /// An MLP's convolutional stages before its dense layers (a CNN); each
    /// row of the data is then an image of shape `image`.
    #[serde(default)]
    pub convolutions: Vec<ConvSpec>,
    /// The images' `[channels, height, width]` (rows are flattened NCHW).
    #[serde(default)]
    pub image: Option<[usize; 3]>,
}

/// One convolutional stage: a `kernel x kernel` convolution (stride 1,
/// `padding` zeros around) to `channels` planes, the hidden activation, then
/// max pooling over `pool x pool` windows (1: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    /// Output planes.
    pub channels: usize,
    /// Filter side.
    pub kernel: usize,
    /// Zeros around each input plane.
    #[serde(default)]
    pub padding: usize,
    /// Max-pooling window side (and stride); 1 for none.
    #[serde(default = "no_pool")]
    pub pool: usize,
}

fn no_pool() -> usize {
    1
}

/// The geometry of one convolutional stage (see [`conv_stages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvStage {
    /// The convolution's input and filters.
    pub conv: Window,
    /// Its output planes.
    pub channels: usize,
    /// The pooling after it, if any.
    pub pool: Option<Window>,
}

/// The stages of `convolutions` on images of shape `image`, and the width of
/// what the last one outputs (the first dense layer's inputs).
pub fn conv_stages(
    convolutions: &[ConvSpec],
    image: [usize; 3],
) -> Result<(Vec<ConvStage>, usize)> {
    let [mut c, mut h, mut w] = image;
    let mut stages = Vec::new();
    for s in convolutions {
        if s.channels == 0
            || s.channels > MAX_WIDTH
            || s.kernel == 0
            || s.kernel > 32
            || s.pool == 0
        {
            return Err(ModelError::Setting {
                field: "convolutions",
                detail: format!("stage {s:?}: 1 to {MAX_WIDTH} channels, kernels of 1 to 32, pools of 1 or more"),
            });
        }
        let conv = Window {
            channels: c,
            height: h,
            width: w,
            kernel: s.kernel,
            stride: 1,
            padding: s.padding,
        };
        let (oh, ow) = conv.output().map_err(|e| ModelError::Setting {
            field: "convolutions",
            detail: e.to_string(),
        })?;
        let pool = (s.pool > 1).then_some(Window {
            channels: s.channels,
            height: oh,
            width: ow,
            kernel: s.pool,
            stride: s.pool,
            padding: 0,
        });
        (c, h, w) = (s.channels, oh, ow);
        if let Some(p) = pool {
            (h, w) = p.output().map_err(|e| ModelError::Setting {
                field: "convolutions",
                detail: e.to_string(),
            })?;
        }
        stages.push(ConvStage {
            conv,
            channels: s.channels,
            pool,
        });
    }
    Ok((stages, c * h * w))
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
            epoch_eval: true,
            convolutions: vec![],
            image: None,
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
    /// Held-out rows given explicitly: the last `held_out[p]` rows of party
    /// `p`'s data are its test rows (a data set with its own test set, such
    /// as MNIST's). `None`: each party holds out `test_fraction` of its rows,
    /// chosen by the seed.
    #[serde(default)]
    pub held_out: Option<Vec<usize>>,
    /// What the computing parties are trusted to do.
    #[serde(default)]
    pub security: Security,
}

/// What the computing parties are trusted to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// They follow the protocol (and may try to learn from what they see).
    #[default]
    SemiHonest,
    /// Any of them may deviate: MACs (SPDZ2k) catch it before any result is
    /// released. Every model and scenario; the dealer makes the material.
    Active,
}

impl Security {
    /// The name on the command line and in job files.
    pub fn name(self) -> &'static str {
        match self {
            Security::SemiHonest => "semi-honest",
            Security::Active => "active",
        }
    }

    /// What holds, in words for run reports.
    pub fn statement(self) -> &'static str {
        match self {
            Security::SemiHonest => {
                "semi-honest: the parties are trusted to follow the protocol; a party that deviates can change the result unnoticed"
            }
            Security::Active => {
                "active (SPDZ2k MACs, statistical security 2^-57 per check; the dealer trusted): a party that deviates from the protocol is caught before any result is released"
            }
        }
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "semi-honest" => Ok(Security::SemiHonest),
            "active" => Ok(Security::Active),
            other => Err(format!(
                "unknown security '{other}': use 'semi-honest' or 'active'"
            )),
        }
    }
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
            held_out: None,
            security: Security::SemiHonest,
        }
    }

    /// Checks the settings, with a message naming the bad one (by its
    /// job-file name; see [`ModelError::setting_named`]) and, for sizes,
    /// the limit: nothing is allocated from an unchecked size.
    pub fn validate(&self) -> Result<()> {
        let t = &self.train;
        let bad = |field: &'static str, detail: String| Err(ModelError::Setting { field, detail });
        if self.security == Security::Active && self.preprocessing != Provider::Dealer {
            return bad(
                "security",
                format!(
                    "active security takes its authenticated material from the dealer so far, not from {} preprocessing (use --preprocessing dealer)",
                    self.preprocessing
                ),
            );
        }
        if !(2..=MAX_PARTIES).contains(&self.parties) {
            return bad(
                "parties",
                format!("must be 2 to {MAX_PARTIES}, got {}", self.parties),
            );
        }
        if !(1..=MAX_EPOCHS).contains(&t.epochs) {
            return bad(
                "epochs",
                format!("must be 1 to {MAX_EPOCHS}, got {}", t.epochs),
            );
        }
        if !(1..=MAX_BATCH).contains(&t.batch_size) {
            return bad(
                "batch_size",
                format!("must be 1 to {MAX_BATCH}, got {}", t.batch_size),
            );
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0 && t.learning_rate < 100.0) {
            return bad(
                "learning_rate",
                format!("must be in (0, 100), got {}", t.learning_rate),
            );
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return bad("momentum", format!("must be in [0, 1), got {}", t.momentum));
        }
        if !(0.0..0.9).contains(&t.test_fraction) {
            return bad(
                "test_fraction",
                format!("must be in [0, 0.9), got {}", t.test_fraction),
            );
        }
        if self.label_party >= self.parties {
            return bad(
                "label_party",
                format!(
                    "{} does not exist among {} parties",
                    self.label_party, self.parties
                ),
            );
        }
        if let Some(p) = (0..self.model_receivers.len())
            .find(|&i| self.model_receivers[..i].contains(&self.model_receivers[i]))
        {
            return bad(
                "model_receivers",
                format!("list party {} twice", self.model_receivers[p]),
            );
        }
        if self.model_receivers.iter().any(|&p| p >= self.parties) {
            return bad(
                "model_receivers",
                format!(
                    "{:?} must be party ids below {}",
                    self.model_receivers, self.parties
                ),
            );
        }
        if let Some(h) = self.held_out.as_ref().filter(|h| h.len() != self.parties) {
            return bad(
                "held_out",
                format!(
                    "lists {} parties' test rows for {} parties",
                    h.len(),
                    self.parties
                ),
            );
        }
        if let Err(e) = FixedPoint::new(self.frac_bits) {
            return bad("frac_bits", e.to_string());
        }
        if t.model.is_multiclass() && !(2..=MAX_CLASSES).contains(&t.classes) {
            return bad(
                "classes",
                format!(
                    "of a {} model must be 2 to {MAX_CLASSES}, got {} (labels must be 0 to classes - 1)",
                    t.model, t.classes
                ),
            );
        }
        if t.model == ModelKind::Mlp
            && ((t.hidden.is_empty() && t.convolutions.is_empty())
                || t.hidden.iter().any(|&w| !(1..=MAX_WIDTH).contains(&w)))
        {
            return bad(
                "hidden",
                format!(
                    "widths of an MLP must each be 1 to {MAX_WIDTH} (e.g. 128), got {:?}",
                    t.hidden
                ),
            );
        }
        if !t.convolutions.is_empty() {
            let image = match (t.model, t.image, self.split) {
                (ModelKind::Mlp, Some(image), Split::Rows) => image,
                _ => {
                    return bad(
                        "convolutions",
                        "need an MLP on images (their shape given) split by rows".into(),
                    )
                }
            };
            conv_stages(&t.convolutions, image)?;
        }
        hidden_activation(t)?;
        Ok(())
    }
}

/// The `[inputs, outputs]` of each parameter block of a softmax model or
/// MLP with these settings on `features` inputs: each convolution's filters
/// `[C*k*k, OC]`, then the dense layers.
pub fn layer_shapes(cfg: &TrainConfig, features: usize) -> Result<Vec<[usize; 2]>> {
    let mut shapes = Vec::new();
    let mut width = features;
    if let (false, Some(image)) = (cfg.convolutions.is_empty(), cfg.image) {
        let (stages, out) = conv_stages(&cfg.convolutions, image)?;
        for st in &stages {
            let k = st.conv.kernel;
            shapes.push([st.conv.channels * k * k, st.channels]);
        }
        width = out;
    }
    let hidden: &[usize] = match cfg.model {
        ModelKind::Mlp => &cfg.hidden,
        _ => &[],
    };
    for &h in hidden.iter().chain([&cfg.classes]) {
        shapes.push([width, h]);
        width = h;
    }
    Ok(shapes)
}

/// The hidden-layer activation of an MLP.
pub fn hidden_activation(cfg: &TrainConfig) -> Result<Activation> {
    match cfg.relu_degree {
        None => Ok(Activation::Relu),
        Some(d @ (2 | 4)) => Ok(Activation::ReluPoly { degree: d }),
        Some(d) => Err(ModelError::Setting {
            field: "relu_degree",
            detail: format!("must be 2 or 4 (or absent for exact ReLU), got {d}"),
        }),
    }
}
