//! The common path in a few calls: describe a job, train it with every
//! party in this process, get the model, its metrics and the cost.
//!
//! ```
//! use tessera::{Job, models::Dataset};
//!
//! let data = Dataset::from_csv("data/iris.csv")?;
//! let job = Job::softmax(2, 3).epochs(20).learning_rate(2.0);
//! let parts = job.split_dataset(&data)?; // a demo: one file split among the parties
//! let trained = job.train(&parts)?;
//! let model = trained.model.expect("every party receives the model by default");
//! assert!(model.metrics.test.unwrap().accuracy.unwrap() > 0.8);
//! assert!(trained.metrics.parties[0].rounds > 0);
//! # Ok::<(), tessera::models::ModelError>(())
//! ```

use crate::models::{
    partition_shuffled, run_inference_embedded, run_job_embedded_observed, run_job_plaintext,
    Dataset, Embedded, InferModel, InferOutput, InferReport, JobReport, JobSpec, ModelKind,
    Observer, PlainReport, Result, SavedModel, Split, TrainConfig,
};
pub use crate::protocols::channel::SimulatedLink;
pub use crate::protocols::prep::Provider;
use crate::report::TrainingMetrics;

/// A joint training job, built step by step from defaults (logistic
/// regression settings: 10 epochs, learning rate 0.5, batch 32, 20% held
/// out, data split by rows, every party receives the model).
#[derive(Debug, Clone)]
pub struct Job {
    spec: JobSpec,
    run: Embedded,
}

/// The outcome of [`Job::train`].
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model, as opened to its first receiver (`None` with no receivers).
    pub model: Option<SavedModel>,
    /// Per-epoch curves, final quality, cost per party and every opening.
    pub metrics: TrainingMetrics,
    /// Each party's full result and counters.
    pub report: JobReport,
}

impl Job {
    /// A job training `model` among `parties` parties.
    pub fn new(model: ModelKind, parties: usize) -> Self {
        let train = TrainConfig {
            model,
            ..TrainConfig::default()
        };
        Job {
            spec: JobSpec::new(parties, Split::Rows, train),
            run: Embedded::default(),
        }
    }
    /// Binary logistic regression (labels 0/1).
    pub fn logistic(parties: usize) -> Self {
        Self::new(ModelKind::Logistic, parties)
    }
    /// Least-squares linear regression (the `label` column is the target).
    pub fn linear(parties: usize) -> Self {
        Self::new(ModelKind::Linear, parties)
    }
    /// Softmax regression over `classes` classes.
    pub fn softmax(parties: usize, classes: usize) -> Self {
        let mut j = Self::new(ModelKind::Softmax, parties);
        j.spec.train.classes = classes;
        j
    }
    /// A multilayer perceptron with these hidden widths and `classes` outputs.
    pub fn mlp(parties: usize, hidden: &[usize], classes: usize) -> Self {
        let mut j = Self::new(ModelKind::Mlp, parties);
        j.spec.train.classes = classes;
        j.spec.train.hidden = hidden.to_vec();
        j
    }
    /// How the data is divided: by rows (samples) or by columns (features).
    pub fn split(mut self, split: Split) -> Self {
        self.spec.split = split;
        self
    }
    /// Passes over the training data.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.spec.train.epochs = epochs;
        self
    }
    /// SGD learning rate.
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.spec.train.learning_rate = lr;
        self
    }
    /// Minibatch size.
    pub fn batch_size(mut self, batch: usize) -> Self {
        self.spec.train.batch_size = batch;
        self
    }
    /// SGD momentum in `[0, 1)`.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.spec.train.momentum = momentum;
        self
    }
    /// Fraction of each party's rows held out for testing.
    pub fn test_fraction(mut self, fraction: f64) -> Self {
        self.spec.train.test_fraction = fraction;
        self
    }
    /// Public seed of the train/test split, batch order and initial weights.
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.train.seed = seed;
        self
    }
    /// Polynomial ReLU of degree 2 or 4 in an MLP instead of the exact one.
    pub fn relu_degree(mut self, degree: u8) -> Self {
        self.spec.train.relu_degree = Some(degree);
        self
    }
    /// What the parties are trusted to do (active: SPDZ2k MACs).
    pub fn security(mut self, security: crate::models::Security) -> Self {
        self.spec.security = security;
        self
    }

    /// A CNN: these convolutional stages on images of shape `image`
    /// (`[channels, height, width]`) before the MLP's dense layers.
    pub fn convolutions(mut self, stages: &[crate::models::ConvSpec], image: [usize; 3]) -> Self {
        self.spec.train.convolutions = stages.to_vec();
        self.spec.train.image = Some(image);
        self
    }

    /// Runs the embedded parties over a simulated network (latency and
    /// bandwidth on every link), to see what the job costs on a real one.
    pub fn over(mut self, link: SimulatedLink) -> Self {
        self.run.link = link;
        self
    }

    /// Semi-honest: make all of the job's preprocessing before the parties
    /// start (the offline phase), so that the reported wall time is the
    /// online phase alone and the offline time is reported apart
    /// ([`crate::models::JobReport::offline_seconds`]).
    pub fn make_ahead(mut self, on: bool) -> Self {
        self.run.make_ahead = on;
        self
    }

    /// Evaluate on the held-out rows after every epoch (one more opening per epoch).
    pub fn epoch_eval(mut self, on: bool) -> Self {
        self.spec.train.epoch_eval = on;
        self
    }
    /// In a split by columns, the party holding the labels.
    pub fn label_party(mut self, party: usize) -> Self {
        self.spec.label_party = party;
        self
    }
    /// The parties that receive the trained model; empty keeps it secret-shared.
    pub fn model_to(mut self, parties: &[usize]) -> Self {
        self.spec.model_receivers = parties.to_vec();
        self
    }
    /// Fixed-point fractional bits (default 16).
    pub fn frac_bits(mut self, bits: u32) -> Self {
        self.spec.frac_bits = bits;
        self
    }
    /// Where the correlated randomness comes from: the trusted dealer
    /// (default, fastest) or the parties themselves by oblivious transfer
    /// (no one outside the computing parties is trusted).
    pub fn preprocessing(mut self, provider: Provider) -> Self {
        self.spec.preprocessing = provider;
        self
    }
    /// Fixes all MPC randomness: reproducible runs for tests, **not secure**.
    pub fn insecure_mpc_seed(mut self, seed: [u8; 32]) -> Self {
        self.run.mpc_seed = Some(seed);
        self
    }
    /// The job as every party sees it.
    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// For demos: shuffles one dataset's rows with the public seed and
    /// splits it among the parties the way the job says (by rows, or by
    /// columns with the labels at the label party).
    pub fn split_dataset(&self, all: &Dataset) -> Result<Vec<Dataset>> {
        partition_shuffled(
            all,
            self.spec.parties,
            self.spec.split,
            self.spec.label_party,
            self.spec.train.seed,
        )
    }

    /// Trains with every party and the dealer as threads of this process;
    /// `data[p]` is party `p`'s data.
    pub fn train(&self, data: &[Dataset]) -> Result<Trained> {
        self.train_observed(data, &crate::models::ignore_events)
    }

    /// [`Job::train`], reporting training progress to `observe`.
    pub fn train_observed(&self, data: &[Dataset], observe: Observer<'_>) -> Result<Trained> {
        self.spec.validate()?;
        let start = std::time::Instant::now();
        let report = run_job_embedded_observed(&self.spec, data, self.run, observe)?;
        let wall = start.elapsed().as_secs_f64();
        Ok(Trained {
            model: report.model().cloned(),
            metrics: TrainingMetrics::new(&self.spec, &report, None, wall),
            report,
        })
    }

    /// The same recipe on the same split in plaintext `f32`: what the MPC
    /// result should be compared with.
    pub fn train_plaintext(&self, data: &[Dataset]) -> Result<PlainReport> {
        self.spec.validate()?;
        run_job_plaintext(&self.spec, data, false)
    }
}

/// Private inference with every party in this process: `owner` inputs the
/// model, `querier` the rows, and only the querier learns the outputs.
///
/// ```
/// use tessera::{infer_privately, Job, Provider, models::{Dataset, InferOutput}};
///
/// let data = Dataset::from_csv("data/breast_cancer.csv")?;
/// let job = Job::logistic(2).epochs(3);
/// let model = job.train(&job.split_dataset(&data)?)?.model.unwrap();
/// let report = infer_privately(&model, &data, 2, 0, 1, InferOutput::Class, Provider::Dealer)?;
/// assert_eq!(report.predictions.len(), data.rows());
/// // Only the querier (party 1) received anything.
/// assert!(report.openings[0].iter().all(|o| o.to == Some(1)));
/// # Ok::<(), tessera::models::ModelError>(())
/// ```
pub fn infer_privately(
    model: &dyn InferModel,
    rows: &Dataset,
    parties: usize,
    owner: usize,
    querier: usize,
    output: InferOutput,
    preprocessing: Provider,
) -> Result<InferReport> {
    let mut spec = model.infer_spec(parties, owner, querier, output, rows.rows())?;
    spec.preprocessing = preprocessing;
    run_inference_embedded(&spec, model, rows, None)
}
