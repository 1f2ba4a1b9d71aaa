//! `tessera bench`: end-to-end tasks, each timed next to its plaintext `f32`
//! twin in the same process, with the cost MPC adds: preprocessing wait,
//! bytes and rounds per party, and peak memory.

mod images;
mod measure;
mod mnist;
mod rates;
mod security;
mod table;

use measure::*;
pub use mnist::load_mnist_binary;
pub use rates::*;
pub use table::markdown;

use crate::models::{
    infer_plain, Dataset, InferModel, InferOutput, ModelError, Result, SavedModel, Security,
};
use crate::protocols::runtime::{run_embedded, EmbeddedConfig, PartyOutcome};
use crate::protocols::{approx, arith, binary, AShare, ProtocolError, Session};
use crate::tensor::{matmul::f32_matmul, FixedPoint, Prg, RingTensor};
use crate::{Job, Provider, SimulatedLink};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Small sizes that finish in well under two minutes (a smoke test).
    pub quick: bool,
    /// Where the MNIST idx files are (`train-images-idx3-ubyte.gz`, ...).
    pub mnist: PathBuf,
    /// Where the ONNX fixtures are (`mnist_fc.onnx`, `mnist_cnn.onnx`,
    /// `mnist_test100.csv`).
    pub onnx: PathBuf,
    /// Directory of the shipped CSVs (`breast_cancer.csv`, `digits.csv`).
    pub data: PathBuf,
    /// Only tasks whose name contains this.
    pub filter: Option<String>,
    /// Where the correlated randomness comes from (every task, same names).
    pub preprocessing: Provider,
    /// Semi-honest or active (every task that active security runs, same
    /// names; the others are reported as skipped, with the reason).
    pub security: Security,
    /// The simulated network between the parties (and the dealer).
    pub link: SimulatedLink,
}

impl BenchOptions {
    /// `job` with these options' provider, security and link.
    pub(crate) fn job(&self, job: Job) -> Job {
        job.preprocessing(self.preprocessing)
            .security(self.security)
            .over(self.link)
    }

    /// Two embedded parties with these options' provider and link.
    pub(crate) fn embedded(&self) -> EmbeddedConfig {
        EmbeddedConfig::new(2)
            .with_preprocessing(self.preprocessing)
            .over(self.link)
    }
}

/// Why a task does not run under active security, if it does not.
fn not_active(name: &str) -> Option<&'static str> {
    Some(match name {
        "mnist_mlp_epoch" | "mnist_cnn_epoch" => {
            "MNIST's 60000 x 784 training matrix as 128-bit values with MACs takes more than this machine's 24 GB when every party and the dealer share one process; mlp_digits_epoch and mlp_active run"
        }
        "matmul" | "beaver_triples" | "relu" | "sigmoid" | "mlp_digits_online" => {
            "a measurement of the semi-honest protocols; the active costs are in logreg_active and mlp_active"
        }
        "mnist_logreg_epoch" => {
            "MNIST's 60000 x 784 training matrix as 128-bit values with MACs, its mask and its opening take more than this machine's 24 GB when every party and the dealer share one process; logreg_breast_cancer and logreg_active run"
        }
        _ => return None,
    })
}

/// Every task name, in the order `run` reports them.
const TASKS: [&str; 20] = [
    "logreg_breast_cancer",
    "logreg_semi_honest",
    "logreg_active",
    "mlp_semi_honest",
    "mlp_active",
    "mlp_digits_epoch",
    "mlp_digits_online",
    "inference_digits",
    "mnist_logreg_epoch",
    "mnist_mlp_epoch",
    "mnist_mlp_inference",
    "onnx_fc_inference",
    "onnx_fc_inference_1",
    "onnx_cnn_inference",
    "onnx_cnn_inference_1",
    "mnist_cnn_epoch",
    "matmul",
    "beaver_triples",
    "relu",
    "sigmoid",
];

/// One task's figures. Times are seconds of wall time.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    /// Short name, e.g. `mnist_logreg_epoch`.
    pub name: String,
    /// What was run.
    pub description: String,
    /// Computing parties.
    pub parties: usize,
    /// MPC wall time (slowest party).
    pub mpc_s: f64,
    /// The plaintext `f32` twin's wall time.
    pub plaintext_s: f64,
    /// `mpc_s / plaintext_s`.
    pub ratio: f64,
    /// The target ratio from the issue tracker, where one is set.
    pub target_ratio: Option<f64>,
    /// The target MPC time from the issue tracker, where one is set (the
    /// dealer-free provider's targets are times, not ratios).
    pub target_seconds: Option<f64>,
    /// Time spent before the online phase, not counted in `mpc_s`: party 0's
    /// dry run that lists the dealer's material so it is made ahead.
    pub offline_s: f64,
    /// Time parties spent on preprocessing during the run: waiting for the
    /// dealer's material, or making it by OT (max over parties).
    pub preprocessing_wait_s: f64,
    /// `mpc_s` minus the wait: computing and messaging.
    pub online_s: f64,
    /// Of the online time, how long the busiest-waiting party was blocked on
    /// its peers' messages (their compute, latency and transfer).
    pub peer_wait_s: f64,
    /// Bytes sent by the busiest party to the other parties.
    pub bytes_sent_per_party: u64,
    /// Preprocessing bytes of the busiest party: received from the dealer,
    /// or sent plus received by OT among the parties.
    pub preprocessing_bytes: u64,
    /// Communication rounds.
    pub rounds: u64,
    /// Peak resident memory of the process during the task, if measurable.
    pub peak_memory_bytes: Option<u64>,
    /// CPU time of the whole process during the measured run (every
    /// party's thread, the dealer's and the worker pool's, made-ahead
    /// material included), where the platform reports it: what the run
    /// costs in compute, which wall time on shared cores hides.
    pub cpu_s: Option<f64>,
    /// Accuracy under MPC, for learning tasks.
    pub accuracy_mpc: Option<f64>,
    /// Accuracy of the plaintext twin.
    pub accuracy_plaintext: Option<f64>,
    /// Why a task was skipped, or anything else worth knowing.
    pub note: Option<String>,
}

/// Runs every task (or those matching the filter) in order.
pub fn run(opts: &BenchOptions, mut progress: impl FnMut(&str)) -> Result<Vec<TaskResult>> {
    let matches = |name: &str| !matches!(&opts.filter, Some(f) if !name.contains(f.as_str()));
    let active = opts.security == Security::Active;
    // A group name (e.g. `mnist_mlp`) is wanted if any of its tasks runs.
    let wanted = |group: &str| {
        TASKS
            .iter()
            .any(|t| t.starts_with(group) && matches(t) && !(active && not_active(t).is_some()))
    };
    let mut out = Vec::new();
    let q = opts.quick;
    // Short tasks keep the fastest of three runs, MPC and plaintext alike.
    let reps = if q { 1 } else { 3 };

    if wanted("logreg_breast_cancer") {
        progress("logreg_breast_cancer");
        let data = Dataset::from_csv(opts.data.join("breast_cancer.csv"))?;
        let job = opts
            .job(Job::logistic(2))
            // Training alone is measured: no held-out evaluation per epoch.
            .epoch_eval(false)
            .epochs(10);
        let parts = job.split_dataset(&data)?;
        out.push(training_task(
            "logreg_breast_cancer",
            "logistic regression, breast_cancer (455 train rows x 30), 10 epochs, batch 32".into(),
            &job,
            &parts,
            None,
            reps,
        )?);
    }

    if [
        "logreg_semi_honest",
        "logreg_active",
        "mlp_semi_honest",
        "mlp_active",
    ]
    .iter()
    .any(|t| wanted(t))
    {
        security::security_tasks(opts, reps, &mut out, &mut progress)?;
    }

    let digits = Dataset::from_csv(opts.data.join("digits.csv"))?;
    let mlp = opts
        .job(Job::mlp(2, &[128], 10))
        // Training alone is measured: no held-out evaluation per epoch.
        .epoch_eval(false)
        .epochs(1)
        .batch_size(64)
        .learning_rate(0.2);
    if wanted("mlp_digits_epoch") {
        progress("mlp_digits_epoch");
        let parts = mlp.split_dataset(&digits)?;
        out.push(training_task(
            "mlp_digits_epoch",
            "MLP 64-128-10 (exact ReLU, softmax), digits (1437 train rows), 1 epoch, batch 64"
                .into(),
            &mlp,
            &parts,
            Some(75.0),
            reps,
        )?);
    }
    if wanted("mlp_digits_online") {
        progress("mlp_digits_online");
        let parts = mlp.split_dataset(&digits)?;
        out.push(training_task(
            "mlp_digits_online",
            "the same MLP epoch, online: all its preprocessing made before it starts (offline apart)"
                .into(),
            &mlp.clone().make_ahead(true),
            &parts,
            Some(20.0),
            reps,
        )?);
    }

    if wanted("inference_digits") {
        progress("inference_digits");
        // A model trained in plaintext (the owner's), then queried on the held-out rows.
        let trained = mlp
            .clone()
            .epochs(10)
            .train_plaintext(&mlp.split_dataset(&digits)?)?;
        let (_, test) = crate::models::train_test_indices(digits.rows(), 0.2, 42);
        let rows = digits.select(&test);
        out.push(inference_task(
            "inference_digits",
            format!("private inference, MLP 64-128-10, {} digits rows in one batch, classes to the querier", rows.rows()),
            &trained.model,
            &rows,
            Some(40.0),
            reps,
            opts,
        )?);
    }

    if wanted("mnist_logreg_epoch") {
        progress("mnist_logreg_epoch");
        let rows = q.then_some(6000);
        let desc = format!(
            "logistic regression, MNIST {} x 784 (digit 0 vs rest), 1 epoch, batch 128",
            rows.unwrap_or(60000)
        );
        match load_mnist_binary(&opts.mnist, rows) {
            Ok(mnist) => {
                let job = opts
                    .job(Job::logistic(2))
                    // Training alone is measured: no held-out evaluation per epoch.
                    .epoch_eval(false)
                    .epochs(1)
                    .batch_size(128)
                    .learning_rate(0.1)
                    .test_fraction(0.1);
                let parts = job.split_dataset(&mnist)?;
                drop(mnist);
                out.push(training_task(
                    "mnist_logreg_epoch",
                    desc,
                    &job,
                    &parts,
                    Some(50.0),
                    1,
                )?);
            }
            Err(e) => out.push(skipped(
                "mnist_logreg_epoch",
                desc,
                format!("skipped: {e} (pass --mnist DIR with the MNIST idx .gz files)"),
            )),
        }
    }

    if wanted("mnist_mlp") {
        mnist_mlp_tasks(opts, reps, &mut out, &mut progress)?;
    }
    if wanted("onnx") {
        images::onnx_tasks(opts, reps, &mut out, &mut progress)?;
    }
    if wanted("mnist_cnn") {
        images::mnist_cnn_epoch(opts, &mut out, &mut progress)?;
    }

    // With OT a matrix triple costs about 2 kbit per scalar product, so the
    // secret matmul runs at 256^3 there (a 1024^3 one would move ~560 GB).
    let n = match (q, opts.preprocessing) {
        (true, _) | (false, Provider::Ot) => 256,
        _ => 1024,
    };
    if wanted("matmul") {
        progress("matmul");
        let fp = FixedPoint::default();
        let mut prg = Prg::from_seed([3; 32]);
        let a: Vec<f64> = (0..n * n).map(|_| prg.next_f64() - 0.5).collect();
        let enc = RingTensor::from_vec(
            &[n, n],
            a.iter().map(|&v| fp.encode(v).expect("small")).collect(),
        )
        .map_err(|e| ModelError::Config(e.to_string()))?;
        reset_peak_memory();
        let (cost, ()) = fastest_run(reps, || {
            let outs = run_embedded(&opts.embedded(), |s| {
                let x = arith::share_input(s, 0, (s.id() == 0).then_some(&enc), &[n, n])?;
                let y = arith::share_input(s, 1, (s.id() == 1).then_some(&enc), &[n, n])?;
                Ok::<_, ProtocolError>(arith::matmul_fixed(s, &x, &y)?.len())
            })?;
            Ok((Cost::from_outcomes(&outs), ()))
        })?;
        let peak = peak_memory();
        let af: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let (plain_s, _) = best_of(3, || f32_matmul(&af, &af, n, n, n));
        out.push(result(
            "matmul",
            format!("secret x secret fixed-point matmul {n}x{n}x{n}"),
            2,
            cost,
            plain_s,
            None,
            (None, None),
            peak,
        ));
    }

    let len = if q { 100_000 } else { 1_000_000 };
    if wanted("beaver_triples") {
        progress("beaver_triples");
        // The preprocessing alone: `len` 64-bit Beaver triples made and
        // taken, against one plaintext product per triple.
        let (cost, ()) = fastest_run(reps, || {
            let outs = run_embedded(&opts.embedded(), |s| {
                let t = s
                    .prep()
                    .take(&crate::protocols::prep::Material::Triple(vec![len]))?;
                Ok::<_, ProtocolError>(t.len())
            })?;
            Ok((Cost::from_outcomes(&outs), ()))
        })?;
        let mut prg = Prg::from_seed([2; 32]);
        let (a, b) = (prg.next_u64_vec(len), prg.next_u64_vec(len));
        let (plain_s, _) = best_of(3, || {
            a.iter()
                .zip(&b)
                .map(|(x, y)| x.wrapping_mul(*y))
                .collect::<Vec<_>>()
        });
        let mut r = result(
            "beaver_triples",
            format!("{len} Beaver triples over Z_2^64, made and taken (preprocessing only)"),
            2,
            Cost {
                mpc_s: cost.mpc_s,
                ..cost
            },
            plain_s,
            None,
            (None, None),
            None,
        );
        r.note = Some(format!(
            "{:.2} us and {} per triple per party",
            r.mpc_s / len as f64 * 1e6,
            crate::human_bytes(r.preprocessing_bytes / len as u64)
        ));
        out.push(r);
    }
    if wanted("relu") {
        progress("relu");
        out.push(op_task(
            opts,
            "relu",
            format!("exact ReLU on {len} elements"),
            &[len],
            reps,
            |x| x.iter().map(|v| v.max(0.0)).collect(),
            binary::relu,
        )?);
    }
    if wanted("sigmoid") {
        progress("sigmoid");
        out.push(op_task(
            opts,
            "sigmoid",
            format!("sigmoid (accurate to 1e-4) on {len} elements"),
            &[len],
            1,
            |x| x.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
            approx::sigmoid,
        )?);
    }
    if active {
        // The targets are the semi-honest protocol's.
        for r in &mut out {
            r.target_ratio = None;
            r.target_seconds = None;
        }
        for name in TASKS.iter().filter(|t| matches(t)) {
            if let Some(why) = not_active(name) {
                out.push(skipped(
                    name,
                    format!("{name} (not run under --security active)"),
                    format!("skipped under --security active: {why}"),
                ));
            }
        }
    }
    if opts.preprocessing == Provider::Ot && !q {
        for r in &mut out {
            r.target_ratio = None;
            r.target_seconds = OT_TARGETS_S
                .iter()
                .find(|(name, _)| *name == r.name)
                .map(|&(_, s)| s);
        }
    }
    Ok(out)
}

/// The fully connected network of the SecureML paper (784-128-128-10) on
/// MNIST: one training epoch (with the dealer; with OT it would take about
/// three quarters of an hour) and private inference on 100 test images.
fn mnist_mlp_tasks(
    opts: &BenchOptions,
    reps: usize,
    out: &mut Vec<TaskResult>,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    use crate::models::{load_mnist, MnistSet, Pixels};
    let rows = opts.quick.then_some(6000);
    let n = rows.unwrap_or(60000);
    let epoch = format!("MLP 784-128-128-10 (SecureML), MNIST {n} x 784, 1 epoch, batch 64");
    let infer = "private inference, MLP 784-128-128-10, 100 MNIST test images in one batch, classes to the querier".to_string();
    let train = match load_mnist(&opts.mnist, MnistSet::Train, Pixels::Unit, rows) {
        Ok(d) => d,
        Err(e) => {
            let why = format!("skipped: {e} (pass --mnist DIR with the MNIST idx files)");
            out.push(skipped("mnist_mlp_epoch", epoch, why.clone()));
            out.push(skipped("mnist_mlp_inference", infer, why));
            return Ok(());
        }
    };
    let job = opts
        .job(Job::mlp(2, &[128, 128], 10))
        .epoch_eval(false)
        .epochs(1)
        .batch_size(64)
        .learning_rate(0.1)
        .test_fraction(0.1);
    let parts = job.split_dataset(&train)?;
    drop(train);
    progress("mnist_mlp_epoch");
    let ot = opts.preprocessing == Provider::Ot;
    if opts.security == Security::Active {
        // Reported as skipped with the other tasks active security cannot run.
    } else if ot {
        out.push(skipped(
            "mnist_mlp_epoch",
            epoch,
            "skipped with OT: about 45 minutes (its matrix triples by Gilboa's OT)".into(),
        ));
    } else {
        out.push(training_task(
            "mnist_mlp_epoch",
            epoch,
            &job,
            &parts,
            Some(30.0),
            1,
        )?);
    }
    progress("mnist_mlp_inference");
    if ot && opts.quick {
        out.push(skipped(
            "mnist_mlp_inference",
            infer,
            "skipped with OT in a quick run: its offline phase alone takes tens of seconds".into(),
        ));
        return Ok(());
    }
    let trained = job.clone().epochs(3).train_plaintext(&parts)?;
    let test = load_mnist(&opts.mnist, MnistSet::Test, Pixels::Unit, Some(100))?;
    out.push(inference_task(
        "mnist_mlp_inference",
        infer,
        &trained.model,
        &test,
        None,
        reps,
        opts,
    )?);
    Ok(())
}

/// The dealer-free provider's targets (2 parties, everything counted), in
/// seconds of MPC time at the full sizes.
const OT_TARGETS_S: [(&str, f64); 4] = [
    ("logreg_breast_cancer", 1.5),
    ("mlp_digits_epoch", 30.0),
    ("inference_digits", 3.0),
    ("relu", 5.0),
];
