//! A joint credit-risk model.
//!
//! Banks that hold different customers (the data is split by rows) train a
//! logistic regression on all of them without pooling the data. The trained
//! weights are **never opened**: they stay secret-shared among the banks.
//! Then one bank scores its new applicants with the shared model by private
//! inference; only that bank learns the scores, and the other banks learn
//! nothing about the applicants.
//!
//! Opened during training, to every bank: the pooled per-feature sums and
//! sums of squares (to standardise), the loss of each epoch and the number of
//! misclassified rows; then the scores, to the applicant's bank only.

use super::{role_of, run_parties, Cost, MpcOptions, PartyView};
use crate::layers::{ActiveBackend, MpcBackend, MpcSession};
use crate::models::{
    check_parties, ignore_events, party_infer_shared_with, party_train_with, Dataset, Evaluation,
    InferOutput, JobSpec, ModelError, ModelKind, PartyResult, PartyShape, Result, Security, Split,
    TrainConfig,
};
use serde::Serialize;

/// The public settings of the job.
#[derive(Debug, Clone, Serialize)]
pub struct CreditJob {
    /// Hyperparameters of the logistic regression.
    pub train: TrainConfig,
    /// The bank whose applicants are scored (the only one to see scores).
    pub applicant_bank: usize,
}

/// The scores and what every party saw.
#[derive(Debug, Clone, Serialize)]
pub struct CreditOutcome {
    /// Probability of default for each applicant (the applicant bank's view).
    pub scores: Vec<f64>,
    /// Quality on the banks' held-out rows (opened to all banks).
    pub test: Option<Evaluation>,
    /// Training loss per epoch (opened to all banks).
    pub epoch_losses: Vec<f64>,
    /// What each party learned.
    pub views: Vec<PartyView>,
    /// Bytes, rounds and time, training and scoring together.
    pub cost: Cost,
}

/// Scores from [`party_infer_shared_with`], on the querier.
type Scores = Option<Vec<Vec<f64>>>;

/// One bank's part on either backend: train without opening the weights,
/// then score the querier's `rows` applicants with the shared model.
fn train_and_score<B: MpcSession>(
    b: &mut B,
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    (querier, applicants, rows): (usize, Option<&Dataset>, usize),
) -> Result<(PartyResult, Scores)> {
    let (result, model) = party_train_with(b, spec, shapes, mine, &ignore_events)?;
    let scores =
        party_infer_shared_with(b, &model, querier, InferOutput::Scores, applicants, rows)?;
    Ok((result, scores))
}

/// Trains on `banks[i]` (party `i`) and scores `applicants`, held by
/// `job.applicant_bank`. `mpc` picks the preprocessing and may fix all MPC randomness (tests only).
pub fn run(
    job: &CreditJob,
    banks: &[Dataset],
    applicants: &Dataset,
    mpc: MpcOptions,
) -> Result<CreditOutcome> {
    let mut spec = JobSpec::new(
        banks.len(),
        Split::Rows,
        TrainConfig {
            model: ModelKind::Logistic,
            ..job.train.clone()
        },
    );
    // Nobody receives the weights: the model stays shared.
    spec.model_receivers = vec![];
    spec.preprocessing = mpc.preprocessing;
    spec.security = mpc.security;
    spec.validate()?;
    if job.applicant_bank >= banks.len() {
        return Err(ModelError::Config(format!(
            "applicant bank {} does not exist among {} banks",
            job.applicant_bank,
            banks.len()
        )));
    }
    let shapes = check_parties(&spec, banks)?;
    let roles: Vec<String> = banks.iter().map(|d| role_of(&d.path)).collect();
    let querier = job.applicant_bank;
    let rows = applicants.rows();
    let (values, views, cost) = run_parties(&roles, mpc, |sess| {
        let me = sess.id();
        let mine = &banks[me];
        let asks = (me == querier).then_some(applicants);
        match mpc.security {
            Security::SemiHonest => {
                let mut b = MpcBackend::new(sess);
                train_and_score(&mut b, &spec, &shapes, mine, (querier, asks, rows))
            }
            Security::Active => {
                let mut b = ActiveBackend::new(sess)?;
                train_and_score(&mut b, &spec, &shapes, mine, (querier, asks, rows))
            }
        }
    })?;
    let (result, scores) = &values[querier];
    let scores = scores
        .as_ref()
        .ok_or_else(|| ModelError::Config("the applicant bank received no scores".into()))?;
    Ok(CreditOutcome {
        scores: scores.iter().map(|s| s[0]).collect(),
        test: result.metrics.test.clone(),
        epoch_losses: result.epoch_losses.clone(),
        views,
        cost,
    })
}
