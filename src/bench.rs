//! `tessera bench`: end-to-end tasks, each timed next to its plaintext `f32`
//! twin in the same process, with the cost MPC adds: preprocessing wait,
//! bytes and rounds per party, and peak memory.

use crate::models::{infer_plain, Dataset, InferOutput, InferSpec, ModelError, Result, SavedModel};
use crate::protocols::runtime::{run_embedded, EmbeddedConfig, PartyOutcome};
use crate::protocols::{approx, arith, binary, AShare, ProtocolError, Session};
use crate::tensor::{matmul::f32_matmul, FixedPoint, Prg, RingTensor};
use crate::{infer_privately, Job, Provider};
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
    /// Directory of the shipped CSVs (`breast_cancer.csv`, `digits.csv`).
    pub data: PathBuf,
    /// Only tasks whose name contains this.
    pub filter: Option<String>,
    /// Where the correlated randomness comes from (every task, same names).
    pub preprocessing: Provider,
}

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
    /// Accuracy under MPC, for learning tasks.
    pub accuracy_mpc: Option<f64>,
    /// Accuracy of the plaintext twin.
    pub accuracy_plaintext: Option<f64>,
    /// Why a task was skipped, or anything else worth knowing.
    pub note: Option<String>,
}

/// Counters gathered from a run.
#[derive(Default)]
struct Cost {
    mpc_s: f64,
    wait_s: f64,
    peer_wait_s: f64,
    bytes: u64,
    dealer: u64,
    rounds: u64,
}

impl Cost {
    fn from_outcomes<T>(outs: &[PartyOutcome<T>]) -> Self {
        Self::from_stats(
            &outs.iter().map(|o| o.stats.clone()).collect::<Vec<_>>(),
            outs.iter()
                .map(|o| o.elapsed.as_secs_f64())
                .fold(0.0, f64::max),
        )
    }
    fn from_stats(stats: &[crate::protocols::Stats], mpc_s: f64) -> Self {
        Cost {
            mpc_s,
            wait_s: stats
                .iter()
                .map(|s| s.preprocessing_wait_s)
                .fold(0.0, f64::max),
            peer_wait_s: stats.iter().map(|s| s.peer_wait_s).fold(0.0, f64::max),
            bytes: stats.iter().map(|s| s.total_sent()).max().unwrap_or(0),
            dealer: stats
                .iter()
                .map(|s| s.preprocessing_bytes + s.preprocessing_bytes_sent)
                .max()
                .unwrap_or(0),
            rounds: stats.iter().map(|s| s.rounds).max().unwrap_or(0),
        }
    }
}

/// Resets the kernel's peak-RSS counter of this process (Linux).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset (Linux: `VmHWM`).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[allow(clippy::too_many_arguments)]
fn result(
    name: &str,
    description: String,
    parties: usize,
    cost: Cost,
    plaintext_s: f64,
    target_ratio: Option<f64>,
    accuracy: (Option<f64>, Option<f64>),
    peak: Option<u64>,
) -> TaskResult {
    TaskResult {
        name: name.into(),
        description,
        parties,
        mpc_s: cost.mpc_s,
        plaintext_s,
        ratio: cost.mpc_s / plaintext_s.max(1e-9),
        target_ratio,
        offline_s: 0.0,
        preprocessing_wait_s: cost.wait_s,
        online_s: (cost.mpc_s - cost.wait_s).max(0.0),
        peer_wait_s: cost.peer_wait_s,
        bytes_sent_per_party: cost.bytes,
        preprocessing_bytes: cost.dealer,
        rounds: cost.rounds,
        peak_memory_bytes: peak,
        accuracy_mpc: accuracy.0,
        accuracy_plaintext: accuracy.1,
        note: None,
    }
}

/// Times `f` a few times and keeps the fastest (plaintext runs are short and noisy).
fn best_of<T>(times: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..times.max(1) {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

/// Runs an MPC task `reps` times and keeps the fastest run: the machine is
/// shared and noisy, and the plaintext twins are timed the same way.
fn fastest_run<T>(reps: usize, mut run: impl FnMut() -> Result<(Cost, T)>) -> Result<(Cost, T)> {
    let mut best = run()?;
    for _ in 1..reps {
        let next = run()?;
        if next.0.mpc_s < best.0.mpc_s {
            best = next;
        }
    }
    Ok(best)
}

/// Trains `job` under MPC and in plaintext on the same split.
fn training_task(
    name: &str,
    description: String,
    job: &Job,
    parts: &[Dataset],
    target: Option<f64>,
    reps: usize,
) -> Result<TaskResult> {
    reset_peak_memory();
    let (cost, trained) = fastest_run(reps, || {
        let trained = job.train(parts)?;
        let cost = Cost::from_stats(&trained.report.stats, trained.metrics.wall_seconds);
        Ok((cost, trained))
    })?;
    let peak = peak_memory();
    let (plain_s, plain) = best_of(5, || job.train_plaintext(parts));
    let plain = plain?;
    let acc = |m: &SavedModel| m.metrics.test.as_ref().and_then(|t| t.accuracy);
    Ok(result(
        name,
        description,
        job.spec().parties,
        cost,
        plain_s,
        target,
        (trained.model.as_ref().and_then(acc), acc(&plain.model)),
        peak,
    ))
}

/// Runs one MPC operation on `parties` embedded parties with a fixed input
/// owned by party 0, against the `f32` twin.
fn op_task(
    provider: Provider,
    name: &str,
    description: String,
    shape: &[usize],
    reps: usize,
    plain: impl Fn(&[f32]) -> Vec<f32>,
    op: impl Fn(&mut Session, &AShare) -> std::result::Result<AShare, ProtocolError> + Sync,
) -> Result<TaskResult> {
    let fp = FixedPoint::default();
    let mut prg = Prg::from_seed([9; 32]);
    let len: usize = shape.iter().product();
    let xs: Vec<f64> = (0..len).map(|_| prg.next_f64() * 8.0 - 4.0).collect();
    let enc = RingTensor::from_vec(
        shape,
        xs.iter().map(|&v| fp.encode(v).expect("small")).collect(),
    )
    .map_err(|e| ModelError::Config(e.to_string()))?;
    reset_peak_memory();
    let (cost, ()) = fastest_run(reps, || {
        let outs = run_embedded(&EmbeddedConfig::new(2).with_preprocessing(provider), |s| {
            let x = arith::share_input(s, 0, (s.id() == 0).then_some(&enc), shape)?;
            let y = op(s, &x)?;
            // Nothing is opened: the result stays shared, as inside a model.
            Ok::<_, ProtocolError>(y.len())
        })?;
        Ok((Cost::from_outcomes(&outs), ()))
    })?;
    let peak = peak_memory();
    let xf: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
    let (plain_s, _) = best_of(3, || plain(&xf));
    Ok(result(
        name,
        description,
        2,
        cost,
        plain_s,
        None,
        (None, None),
        peak,
    ))
}

fn skipped(name: &str, description: String, why: String) -> TaskResult {
    TaskResult {
        name: name.into(),
        description,
        parties: 2,
        mpc_s: f64::NAN,
        plaintext_s: f64::NAN,
        ratio: f64::NAN,
        target_ratio: None,
        offline_s: f64::NAN,
        preprocessing_wait_s: f64::NAN,
        online_s: f64::NAN,
        peer_wait_s: f64::NAN,
        bytes_sent_per_party: 0,
        preprocessing_bytes: 0,
        rounds: 0,
        peak_memory_bytes: None,
        accuracy_mpc: None,
        accuracy_plaintext: None,
        note: Some(why),
    }
}

/// Reads an MNIST idx pair (gzipped) into a dataset whose label is 1 for
/// the digit 0 and 0 otherwise (binary, as logistic regression needs).
pub fn load_mnist_binary(dir: &Path, rows: Option<usize>) -> Result<Dataset> {
    use std::io::Read;
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, &e))?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut out)
            .map_err(|e| ModelError::io(&path, &e))?;
        Ok(out)
    };
    let images = read("train-images-idx3-ubyte.gz")?;
    let labels = read("train-labels-idx1-ubyte.gz")?;
    let be =
        |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    if images.len() < 16 || be(&images, 0) != 2051 || labels.len() < 8 || be(&labels, 0) != 2049 {
        return Err(ModelError::Mismatch(format!(
            "{} does not hold MNIST idx files (bad magic numbers)",
            dir.display()
        )));
    }
    let (n, h, w) = (be(&images, 4), be(&images, 8), be(&images, 12));
    let n = rows.map_or(n, |r| r.min(n));
    if images.len() < 16 + n * h * w || labels.len() < 8 + n {
        return Err(ModelError::Mismatch(format!(
            "{}: MNIST files are truncated",
            dir.display()
        )));
    }
    let features =
        ndarray::Array2::from_shape_fn((n, h * w), |(i, j)| f64::from(images[16 + i * h * w + j]));
    let labels = ndarray::Array1::from_shape_fn(n, |i| f64::from(u8::from(labels[8 + i] == 0)));
    Ok(Dataset {
        path: dir.join("train-images-idx3-ubyte.gz"),
        feature_names: (0..h * w).map(|j| format!("pixel_{j}")).collect(),
        features,
        labels: Some(labels),
        lines: (1..=n).collect(),
    })
}

/// Bytes per second one thread of the dealer expands from a seed (the
/// AES-CTR stream all preprocessing material is drawn from), best of three
/// runs of 64 MiB.
pub fn prg_throughput() -> f64 {
    let mut buf = vec![0u64; 8 << 20];
    let (s, _) = best_of(3, || Prg::from_seed([5; 32]).fill(&mut buf));
    (buf.len() * 8) as f64 / s
}

/// Random OTs per second between two parties on in-memory links (the IKNP
/// extension alone, both directions at once, after the base OTs), and bytes
/// sent per OT: the rate every OT-made correlation builds on.
pub fn random_ot_rate(n: usize) -> Result<(f64, f64)> {
    use crate::protocols::channel::{MemChannel, DEFAULT_TIMEOUT};
    use crate::protocols::prep::OtProvider;
    use crate::protocols::Channel;
    let (a, b) = MemChannel::pair(DEFAULT_TIMEOUT);
    let links: Vec<Vec<Option<Box<dyn Channel>>>> =
        vec![vec![None, Some(Box::new(a))], vec![Some(Box::new(b)), None]];
    let runs: Vec<std::result::Result<(f64, u64), ProtocolError>> = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .into_iter()
            .enumerate()
            .map(|(id, chans)| {
                s.spawn(move || {
                    let mut p = OtProvider::connect(id, chans, Prg::from_seed([id as u8 + 1; 32]))?;
                    let before = crate::protocols::Preprocessing::bytes_sent(&p);
                    let start = Instant::now();
                    // In batches of 2^18, as the provider makes its own.
                    for _ in 0..n.div_ceil(1 << 18) {
                        p.random_ots(1 << 18, |j| (j & 1) as u64)?;
                    }
                    let sent = crate::protocols::Preprocessing::bytes_sent(&p) - before;
                    Ok((start.elapsed().as_secs_f64(), sent))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("OT benchmark thread"))
            .collect()
    });
    let mut worst = 0f64;
    let mut bytes = 0u64;
    for r in runs {
        let (t, b) = r?;
        worst = worst.max(t);
        bytes = bytes.max(b);
    }
    // Each party received as many OTs as it sent: twice that in all.
    let per_party = (n.div_ceil(1 << 18) << 18) as f64;
    Ok((2.0 * per_party / worst, bytes as f64 / per_party))
}

/// The ring matmul kernel against the plain i-k-j loop on one core, and the
/// kernel on all cores, in multiply-adds per second (`n^3` products).
#[derive(Debug, Clone, Serialize)]
pub struct KernelRate {
    /// Matrix size.
    pub n: usize,
    /// The blocked kernel, one thread.
    pub kernel_one_core: f64,
    /// The plain i-k-j loop, one thread.
    pub ikj_one_core: f64,
    /// The blocked kernel, every core.
    pub kernel_all_cores: f64,
}

/// Measures [`KernelRate`] at `n = 1024` (256 with `quick`), best of two runs each.
pub fn kernel_throughput(quick: bool) -> Result<KernelRate> {
    use crate::tensor::matmul::{ring_matmul, ring_matmul_ikj};
    let n = if quick { 256 } else { 1024 };
    let mut prg = Prg::from_seed([8; 32]);
    let (a, b) = (prg.next_u64_vec(n * n), prg.next_u64_vec(n * n));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| ModelError::Config(format!("cannot start a thread pool: {e}")))?;
    let rate = |s: f64| (n * n * n) as f64 / s;
    let (kernel_1, _) = one.install(|| best_of(2, || ring_matmul(&a, &b, n, n, n)));
    let (ikj_1, _) = best_of(2, || ring_matmul_ikj(&a, &b, n, n, n));
    let (kernel_all, _) = best_of(2, || ring_matmul(&a, &b, n, n, n));
    Ok(KernelRate {
        n,
        kernel_one_core: rate(kernel_1),
        ikj_one_core: rate(ikj_1),
        kernel_all_cores: rate(kernel_all),
    })
}

/// Runs every task (or those matching the filter) in order.
pub fn run(opts: &BenchOptions, mut progress: impl FnMut(&str)) -> Result<Vec<TaskResult>> {
    let wanted = |name: &str| !matches!(&opts.filter, Some(f) if !name.contains(f.as_str()));
    let mut out = Vec::new();
    let q = opts.quick;
    // Short tasks keep the fastest of three runs, MPC and plaintext alike.
    let reps = if q { 1 } else { 3 };

    if wanted("logreg_breast_cancer") {
        progress("logreg_breast_cancer");
        let data = Dataset::from_csv(opts.data.join("breast_cancer.csv"))?;
        let job = Job::logistic(2)
            .preprocessing(opts.preprocessing)
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

    let digits = Dataset::from_csv(opts.data.join("digits.csv"))?;
    let mlp = Job::mlp(2, &[128], 10)
        .preprocessing(opts.preprocessing)
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

    if wanted("inference_digits") {
        progress("inference_digits");
        // A model trained in plaintext (the owner's), then queried on the held-out rows.
        let trained = mlp
            .clone()
            .epochs(10)
            .train_plaintext(&mlp.split_dataset(&digits)?)?;
        let (_, test) = crate::models::train_test_indices(digits.rows(), 0.2, 42);
        let rows = digits.select(&test);
        reset_peak_memory();
        let (cost, report) = fastest_run(reps, || {
            let report = infer_privately(
                &trained.model,
                &rows,
                2,
                0,
                1,
                InferOutput::Class,
                opts.preprocessing,
            )?;
            let cost = Cost::from_stats(
                &report.stats,
                report.seconds.iter().copied().fold(0.0, f64::max),
            );
            Ok((cost, report))
        })?;
        let peak = peak_memory();
        let spec = InferSpec::new(&trained.model, 2, 0, 1, InferOutput::Class, rows.rows())?;
        let (plain_s, plain) = best_of(20, || {
            infer_plain(&mut crate::layers::F32Backend, &spec, &trained.model, &rows)
        });
        let plain = plain?;
        let labels = rows.labels.as_ref().expect("digits has labels");
        let acc = |p: &[Vec<f64>]| {
            Some(p.iter().zip(labels).filter(|(p, y)| p[0] == **y).count() as f64 / p.len() as f64)
        };
        let mut r = result(
            "inference_digits",
            format!("private inference, MLP 64-128-10, {} digits rows in one batch, classes to the querier", rows.rows()),
            2,
            cost,
            plain_s,
            Some(40.0),
            (acc(&report.predictions), acc(&plain)), peak);
        r.offline_s = report.planning_seconds;
        out.push(r);
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
                let job = Job::logistic(2)
                    .preprocessing(opts.preprocessing)
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
            let outs = run_embedded(
                &EmbeddedConfig::new(2).with_preprocessing(opts.preprocessing),
                |s| {
                    let x = arith::share_input(s, 0, (s.id() == 0).then_some(&enc), &[n, n])?;
                    let y = arith::share_input(s, 1, (s.id() == 1).then_some(&enc), &[n, n])?;
                    Ok::<_, ProtocolError>(arith::matmul_fixed(s, &x, &y)?.len())
                },
            )?;
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
        let provider = opts.preprocessing;
        let (cost, ()) = fastest_run(reps, || {
            let outs = run_embedded(&EmbeddedConfig::new(2).with_preprocessing(provider), |s| {
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
            opts.preprocessing,
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
            opts.preprocessing,
            "sigmoid",
            format!("sigmoid (accurate to 1e-4) on {len} elements"),
            &[len],
            1,
            |x| x.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
            approx::sigmoid,
        )?);
    }
    Ok(out)
}

fn fmt_s(s: f64) -> String {
    if s.is_nan() {
        "-".into()
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} us", s * 1e6)
    }
}

/// The results as a Markdown table.
pub fn markdown(results: &[TaskResult]) -> String {
    let mut t = String::from(
        "| task | MPC | plaintext f32 | ratio (target) | prep. wait / online (peer wait) | offline | sent per party | preprocessing bytes | rounds | peak memory | accuracy MPC / f32 |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        if let Some(note) = r.note.as_ref().filter(|_| r.mpc_s.is_nan()) {
            t += &format!("| {} | {note} | | | | | | | | | |\n", r.description);
            continue;
        }
        let description = match &r.note {
            Some(note) => format!("{} ({note})", r.description),
            None => r.description.clone(),
        };
        let acc = match (r.accuracy_mpc, r.accuracy_plaintext) {
            (Some(a), Some(b)) => format!("{:.2}% / {:.2}%", 100.0 * a, 100.0 * b),
            _ => "-".into(),
        };
        let target = r
            .target_ratio
            .map(|t| format!(" (<= {t:.0}x)"))
            .unwrap_or_default();
        t +=
            &format!(
            "| {} | {} | {} | {:.1}x{target} | {} / {} ({}) | {} | {} | {} | {} | {} | {acc} |\n",
            description,
            fmt_s(r.mpc_s),
            fmt_s(r.plaintext_s),
            r.ratio,
            fmt_s(r.preprocessing_wait_s),
            fmt_s(r.online_s),
            fmt_s(r.peer_wait_s),
            if r.offline_s > 0.0 { fmt_s(r.offline_s) } else { "-".into() },
            crate::human_bytes(r.bytes_sent_per_party),
            crate::human_bytes(r.preprocessing_bytes),
            r.rounds,
            r.peak_memory_bytes
                .map(crate::human_bytes)
                .unwrap_or_else(|| "-".into()),
        );
    }
    t
}
