//! Models trained jointly under MPC: linear and logistic regression, the
//! data loading and partitioning among parties, training loops, evaluation
//! that opens only aggregates, and model files.
//!
//! The entry points are [`run_job_embedded`] (all parties in this process),
//! [`party_main`] (one party's program, for any runtime), and
//! [`run_job_plaintext`] (the same recipe in plaintext, for comparison).
//!
//! **What is opened** in a training job, and to whom (every opening is also
//! recorded in each party's [`PartyResult::openings`]):
//! * split by rows: the pooled per-feature sums and sums of squares of the
//!   training rows (to standardise), to all parties;
//! * the training loss of each epoch, to all parties;
//! * the number of misclassified rows (or the sums of squared errors and
//!   deviations) on the training and test sets, to all parties;
//! * the trained weights and bias, and in a split by columns each party's
//!   feature means and deviations, to the model receivers only.
//!
//! Two hospitals, each with its own rows, train one logistic regression;
//! the MPC result matches the same recipe trained in plaintext:
//!
//! ```
//! use tessera_models::{partition, run_job_embedded, run_job_plaintext, Dataset, JobSpec, Split, TrainConfig};
//!
//! let all = Dataset::from_csv("../data/breast_cancer.csv")?;
//! let parts = partition(&all, 2, Split::Rows, 0)?; // party 0: first half, party 1: the rest
//! let spec = JobSpec::new(2, Split::Rows, TrainConfig { epochs: 3, ..Default::default() });
//! let mpc = run_job_embedded(&spec, &parts, None)?;
//! let plain = run_job_plaintext(&spec, &parts, false)?;
//! let (a, b) = (mpc.model().unwrap(), &plain.model);
//! assert!((a.metrics.train.accuracy.unwrap() - b.metrics.train.accuracy.unwrap()).abs() < 0.01);
//! // Every party saw the same openings: scaling sums, losses, error counts, the model.
//! assert!(mpc.parties[0].openings.iter().all(|o| o.to.is_none()));
//! # Ok::<(), tessera_models::ModelError>(())
//! ```

mod arch;
mod data;
mod error;
mod infer;
mod infer_spec;
mod job;
mod mnist;
mod model;
pub mod onnx;
mod spec;
mod train;

pub use arch::{ActivationSpec, Architecture, Head, LayerSpec, MAX_ARCH_LAYERS, MAX_ROW_ENTRIES};
pub use data::{train_test_indices, CsvTable, Dataset};
pub use error::{ModelError, Result};
pub use infer::{
    folded_blocks, infer_fixed, infer_plain, load_model, party_infer, party_infer_shared,
    party_infer_shared_with, plan_infer, run_inference_embedded, run_inference_embedded_with,
    InferModel, InferOutput, InferReport, InferSpec, SharedModel, MAX_PLANNED_WORDS,
};
pub use job::{
    check_own_data, check_parties, check_parties_shapes, partition, partition_shuffled, party_main,
    party_run, party_train, party_train_with, run_job_embedded, run_job_embedded_observed,
    run_job_plaintext, Embedded, JobReport, PartyResult, PartyShape, PlainReport,
};
pub use mnist::{load_mnist, MnistSet, Pixels};
pub use model::{Dense, Metrics, SavedModel, Scaling, MODEL_FORMAT};
pub use onnx::{is_onnx, OnnxModel};
pub use spec::{
    conv_stages, hidden_activation, layer_shapes, ConvSpec, ConvStage, JobSpec, ModelKind,
    Security, Split, TrainConfig, MAX_BATCH, MAX_CLASSES, MAX_ELEMS, MAX_EPOCHS, MAX_FEATURES,
    MAX_LAYERS, MAX_PARTIES, MAX_ROWS, MAX_WIDTH,
};
pub use train::{
    batch_order, build, evaluate, evaluate_data, fit, fit_observed, ignore_events, Evaluation,
    Fitted, Observer, TrainEvent,
};
