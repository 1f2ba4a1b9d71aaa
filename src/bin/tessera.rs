//! The `tessera` command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tessera::human_bytes as bytes;
use tessera::models::{
    partition_shuffled, run_job_embedded_observed, run_job_plaintext, train_test_indices, Dataset,
    Evaluation, InferOutput, JobReport, JobSpec, ModelKind, SavedModel, Split, TrainConfig,
    TrainEvent,
};
use tessera::report::{
    class_of, plot_training, predictions_csv, sidecar_paths, Columns, TrainingMetrics,
};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Train and use models jointly on data no party shows the others (secure multi-party computation)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print nothing but errors (and what --json asks for).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print the result as JSON on standard output (for scripts); no progress bars.
    #[arg(long, global = true)]
    json: bool,
}

/// How much to print.
#[derive(Clone, Copy)]
struct Output {
    quiet: bool,
    json: bool,
}

impl Output {
    /// Human-readable text goes out unless --quiet or --json.
    fn text(self) -> bool {
        !self.quiet && !self.json
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train a model jointly, all parties and the dealer in this process.
    #[command(
        after_help = "Examples:\n  tessera train --data data/breast_cancer.csv --parties 3\n  tessera train --data data/breast_cancer.csv --parties 2 --split columns --out model.json\n  tessera train --data bank_a.csv --data bank_b.csv --model logistic --epochs 20"
    )]
    Train(TrainArgs),
    /// Private inference: the model owner's weights and the querier's rows stay
    /// secret; only the querier learns the predictions (parties as threads).
    #[command(
        after_help = "Example:\n  tessera infer --model model.json --data queries.csv --parties 2 --owner 0 --querier 1 --output class --out predictions.csv"
    )]
    Infer(InferArgs),
    /// Create a CA and a certificate and key for each party and the dealer.
    #[command(
        after_help = "Example:\n  tessera keygen --parties 3 --out certs\n  (then copy certs/ca.pem and each endpoint's own .pem and .key to its host)"
    )]
    Keygen(KeygenArgs),
    /// Split one CSV into one file per party (by rows or columns), as the embedded demo does.
    #[command(
        after_help = "Example:\n  tessera split --data data/breast_cancer.csv --parties 3 --split rows --out parts"
    )]
    Split(SplitArgs),
    /// Run one party of a distributed job (one process per party, mutual TLS).
    #[command(
        after_help = "Example:\n  tessera party --config job.toml --id 1\n  (start every party and the dealer, in any order, each on its host)"
    )]
    Party(PartyArgs),
    /// Run the trusted dealer of a distributed job.
    #[command(after_help = "Example:\n  tessera dealer --config job.toml")]
    Dealer(DealerArgs),
    /// Predict with a saved model on a CSV file (by a party that received the model).
    #[command(
        after_help = "Example:\n  tessera predict --model model.json --data data/breast_cancer.csv --out predictions.csv"
    )]
    Predict(PredictArgs),
    /// Benchmark end-to-end tasks under MPC against plaintext f32 in the same run.
    #[command(
        after_help = "Examples:\n  tessera bench --quick\n  tessera bench --mnist ../shared/data/mnist --markdown BENCHMARKS-table.md --json-out bench.json\n  tessera bench --only mlp"
    )]
    Bench(BenchArgs),
    /// Print a saved model's metadata: kind, features, how it was trained, by whom, its metrics.
    #[command(
        after_help = "Example:\n  tessera inspect model.json\n  tessera inspect model.json --json"
    )]
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Small sizes (a smoke test, well under two minutes).
    #[arg(long)]
    quick: bool,
    /// Directory with the MNIST idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz).
    #[arg(long, default_value = "../shared/data/mnist")]
    mnist: PathBuf,
    /// Directory with breast_cancer.csv and digits.csv.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Run only the tasks whose name contains this (e.g. mnist, relu).
    #[arg(long)]
    only: Option<String>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Also write the Markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Where the correlated randomness comes from: "dealer" (a trusted
    /// dealer thread; fastest) or "ot" (the parties make it themselves by
    /// oblivious transfer; no dealer is trusted).
    #[arg(long, default_value = "dealer")]
    preprocessing: tessera::Provider,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// A model file written by `tessera train` or `tessera party`.
    model: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModelArg {
    /// Linear regression (last column: the target).
    Linear,
    /// Binary logistic regression (labels 0/1).
    Logistic,
    /// Multinomial logistic (softmax) regression (labels 0..classes).
    Softmax,
    /// Multilayer perceptron with ReLU and softmax (labels 0..classes).
    Mlp,
}

#[derive(Clone, Copy, ValueEnum)]
enum SplitArg {
    Rows,
    Columns,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// CSV data: once to split one file among the parties (a demo), or once per party.
    #[arg(long, required = true)]
    data: Vec<PathBuf>,
    /// Model to train.
    #[arg(long, value_enum, default_value = "logistic")]
    model: ModelArg,
    /// Number of computing parties (at least 2).
    #[arg(long, default_value_t = 3)]
    parties: usize,
    /// How the data is divided: each party holds some rows, or some columns.
    #[arg(long, value_enum, default_value = "rows")]
    split: SplitArg,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Public seed for the data split and batch order.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fraction of rows held out for testing.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// In a split by columns, the party that holds the labels.
    #[arg(long, default_value_t = 0)]
    label_party: usize,
    /// Parties that receive the trained model, e.g. "0,2" (default: all).
    #[arg(long, value_delimiter = ',')]
    model_to: Vec<usize>,
    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,
    /// Number of classes of a softmax model (default: largest label + 1).
    #[arg(long)]
    classes: Option<usize>,
    /// Hidden layer widths of an MLP, e.g. "128" or "128,64".
    #[arg(long, value_delimiter = ',', default_value = "128")]
    hidden: Vec<usize>,
    /// Use a polynomial ReLU of degree 2 or 4 in the MLP instead of the exact one.
    #[arg(long)]
    relu_degree: Option<u8>,
    /// SGD momentum in [0, 1) (0: plain SGD).
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    /// Where to write the model (JSON).
    #[arg(long, default_value = "model.json")]
    out: PathBuf,
    /// Skip training the plaintext twin used for comparison.
    #[arg(long)]
    no_compare: bool,
    /// Where the correlated randomness comes from: "dealer" (a trusted
    /// dealer thread; fastest) or "ot" (the parties make it themselves by
    /// oblivious transfer; no dealer is trusted).
    #[arg(long, default_value = "dealer")]
    preprocessing: tessera::Provider,
    /// Fix all MPC randomness from this seed: reproducible but NOT secure (tests, benchmarks).
    #[arg(long)]
    insecure_mpc_seed: Option<u64>,
    /// Skip evaluating on the held-out rows after every epoch (saves one
    /// forward pass and one opening per epoch; the plot then has no accuracy curve).
    #[arg(long)]
    no_epoch_eval: bool,
    /// Skip the loss/accuracy plot (PNG) beside the model.
    #[arg(long)]
    no_plot: bool,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Number of computing parties.
    #[arg(long)]
    parties: usize,
    /// Directory for the CA, certificates, keys and an example job file.
    #[arg(long)]
    out: PathBuf,
    /// "dealer" also makes the dealer's certificate; "ot" makes none and an
    /// example job without a dealer.
    #[arg(long, default_value = "dealer")]
    preprocessing: tessera::Provider,
}

#[derive(clap::Args)]
struct SplitArgs {
    /// The CSV to split.
    #[arg(long)]
    data: PathBuf,
    /// Number of parties.
    #[arg(long)]
    parties: usize,
    /// By rows or by columns.
    #[arg(long, value_enum, default_value = "rows")]
    split: SplitArg,
    /// In a split by columns, the party that keeps the labels.
    #[arg(long, default_value_t = 0)]
    label_party: usize,
    /// Public seed of the row shuffle (the same default as `train`).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory for party-I.csv.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct PartyArgs {
    /// The job file (TOML), the same on every host.
    #[arg(long)]
    config: PathBuf,
    /// This party's id (its index among the [[party]] entries).
    #[arg(long)]
    id: usize,
    /// Where to write this party's metrics (JSON); default metrics-party-ID.json beside the job file.
    #[arg(long)]
    metrics: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DealerArgs {
    /// The job file (TOML), the same on every host.
    #[arg(long)]
    config: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputArg {
    /// Only the predicted class (the value, for linear regression).
    Class,
    /// Class probabilities.
    Scores,
}

#[derive(clap::Args)]
struct InferArgs {
    /// The model file (held by the owner).
    #[arg(long)]
    model: PathBuf,
    /// CSV rows to score (held by the querier; a `label` column is ignored).
    #[arg(long)]
    data: PathBuf,
    /// Number of parties.
    #[arg(long, default_value_t = 2)]
    parties: usize,
    /// Party holding the model.
    #[arg(long, default_value_t = 0)]
    owner: usize,
    /// Party holding the rows; the only one that learns the predictions.
    #[arg(long, default_value_t = 1)]
    querier: usize,
    /// What the querier learns.
    #[arg(long, value_enum, default_value = "class")]
    output: OutputArg,
    /// Where to write the querier's predictions (CSV); standard output if omitted.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the correlated randomness comes from: "dealer" (a trusted
    /// dealer thread; fastest) or "ot" (the parties make it themselves by
    /// oblivious transfer; no dealer is trusted).
    #[arg(long, default_value = "dealer")]
    preprocessing: tessera::Provider,
}

#[derive(clap::Args)]
struct PredictArgs {
    /// A model file written by `tessera train`.
    #[arg(long)]
    model: PathBuf,
    /// CSV with the model's feature columns (a `label` column is ignored).
    #[arg(long)]
    data: PathBuf,
    /// Where to write predictions (CSV); standard output if omitted.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Large tensors are allocated and freed every round; the system allocator
/// returns them to the kernel each time and pays page faults to get them back
/// (measured: half the time of a comparison on 10^5 elements). mimalloc keeps
/// them, once told not to purge ([`keep_freed_memory`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc to keep freed memory for reuse instead of handing it back
/// to the kernel 10 ms later. Every session's threads free large tensors
/// that the next round allocates again; purged, each came back as fresh
/// zeroed pages, a quarter of the CPU time of MLP training (perf), and
/// private inference took 34-40 ms instead of 28. The process's footprint
/// stays at its peak, which is what a job needs anyway.
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc v2's `mimalloc.h` (the binding names
    // no constant for it); -1 means never purge.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a process-wide option before any thread is started; the
    // option is a plain integer that mimalloc reads when it purges.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1)
    };
}

fn main() -> ExitCode {
    keep_freed_memory();
    // RUST_LOG=info (or tessera=debug, ...) turns on logs; they go to stderr
    // and carry only public facts (phases, shapes, opened labels, counters).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let out = Output {
        quiet: cli.quiet,
        json: cli.json,
    };
    match cli.command {
        Command::Train(a) => train(a, out),
        Command::Predict(a) => predict(a, out),
        Command::Infer(a) => infer(a, out),
        Command::Inspect(a) => inspect(a, out),
        Command::Bench(a) => bench(a, out),
        Command::Keygen(a) => {
            at_least_two_parties(a.parties)?;
            for p in tessera::deploy::keygen(&a.out, a.parties, a.preprocessing)? {
                if out.text() {
                    println!("wrote {}", p.display());
                }
            }
            if out.text() {
                println!("private keys (*.key) are readable by their owner only; give each host only its own key");
            }
            Ok(())
        }
        Command::Party(a) => party(a),
        Command::Split(a) => {
            let split = match a.split {
                SplitArg::Rows => Split::Rows,
                SplitArg::Columns => Split::Columns,
            };
            at_least_two_parties(a.parties)?;
            let all = Dataset::from_csv(&a.data)?;
            for (i, part) in partition_shuffled(&all, a.parties, split, a.label_party, a.seed)?
                .iter()
                .enumerate()
            {
                std::fs::create_dir_all(&a.out)
                    .with_context(|| format!("cannot write to {}", a.out.display()))?;
                let path = a.out.join(format!("party-{i}.csv"));
                part.write_csv(&path)?;
                if out.text() {
                    println!(
                        "wrote {} ({} rows x {} features)",
                        path.display(),
                        part.rows(),
                        part.feature_names.len()
                    );
                }
            }
            Ok(())
        }
        Command::Dealer(a) => {
            let file = tessera::deploy::JobFile::load(&a.config)?;
            if out.text() {
                eprintln!(
                    "tessera dealer: {} parties; {}",
                    file.party.len(),
                    tessera::protocols::prep::DEALER_TRUST
                );
            }
            let sent = tessera::deploy::run_dealer(&file)?;
            if out.text() {
                eprintln!("dealer done: sent {} to party 0", bytes(sent));
            }
            Ok(())
        }
    }
}

fn train(a: TrainArgs, out: Output) -> Result<()> {
    let split = match a.split {
        SplitArg::Rows => Split::Rows,
        SplitArg::Columns => Split::Columns,
    };
    let model = match a.model {
        ModelArg::Linear => ModelKind::Linear,
        ModelArg::Logistic => ModelKind::Logistic,
        ModelArg::Softmax => ModelKind::Softmax,
        ModelArg::Mlp => ModelKind::Mlp,
    };
    let config = TrainConfig {
        model,
        classes: 0,
        hidden: if model == ModelKind::Mlp {
            a.hidden.clone()
        } else {
            vec![]
        },
        relu_degree: a.relu_degree,
        momentum: a.momentum,
        epoch_eval: !a.no_epoch_eval,
        epochs: a.epochs,
        learning_rate: a.lr,
        batch_size: a.batch_size,
        seed: a.seed,
        test_fraction: a.test_fraction,
    };
    let mut spec = JobSpec::new(a.parties, split, config);
    // Before any work: a job that trains for an hour must not then fail to save.
    check_writable(&a.out)?;
    let read_all = || -> Result<Vec<Dataset>> {
        Ok(a.data
            .iter()
            .map(Dataset::from_csv)
            .collect::<Result<Vec<_>, _>>()?)
    };
    let loaded = read_all()?;
    spec.label_party = a.label_party;
    spec.frac_bits = a.frac_bits;
    spec.preprocessing = a.preprocessing;
    if !a.model_to.is_empty() {
        spec.model_receivers = a.model_to.clone();
    }
    if model.is_multiclass() {
        spec.train.classes = match a.classes {
            Some(c) => c,
            None => {
                loaded
                    .iter()
                    .filter_map(|d| d.labels.as_ref())
                    .flat_map(|l| l.iter().copied())
                    .fold(0.0f64, f64::max) as usize
                    + 1
            }
        };
    }
    spec.validate()?;
    let parts = if a.data.len() == 1 {
        let all = loaded.into_iter().next().expect("one file");
        partition_shuffled(&all, a.parties, split, a.label_party, a.seed)?
    } else if a.data.len() == a.parties {
        a.data
            .iter()
            .map(Dataset::from_csv)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        bail!(
            "{} --data files for {} parties: give one file (split among the parties) or one per party",
            a.data.len(),
            a.parties
        );
    };
    let mpc_seed = a.insecure_mpc_seed.map(|s| {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&s.to_le_bytes());
        k
    });
    // Check every party's data before printing anything about the run.
    tessera::models::check_parties(&spec, &parts)?;
    if out.text() {
        print_header(&spec, &parts, a.insecure_mpc_seed.is_some());
    }
    let batches = spec.train.epochs as u64
        * parts_train_rows(&spec, &parts).div_ceil(spec.train.batch_size) as u64;
    let bar = progress_bar(out, batches);
    let observe = |e: TrainEvent| match e {
        TrainEvent::Batch { .. } => bar.inc(1),
        TrainEvent::Epoch { epoch, loss, test } => {
            let test = test
                .map(|t| format!(", held-out {t:.4}"))
                .unwrap_or_default();
            bar.set_message(format!("epoch {} loss {loss:.4}{test}", epoch + 1));
            tracing::info!(epoch = epoch + 1, loss, "epoch done");
        }
    };
    let start = std::time::Instant::now();
    let report = run_job_embedded_observed(&spec, &parts, mpc_seed, &observe)
        .context("joint training failed")?;
    let wall = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let plain = if a.no_compare {
        None
    } else {
        Some(run_job_plaintext(&spec, &parts, false)?)
    };
    let model = report
        .model()
        .context("no party received the model")?
        .clone();
    model.save(&a.out)?;
    let metrics = TrainingMetrics::new(&spec, &report, plain.as_ref(), wall);
    let (metrics_path, plot_path) = sidecar_paths(&a.out);
    metrics
        .save(&metrics_path)
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;
    let plot = if a.no_plot {
        None
    } else {
        plot_training(&metrics, &plot_path)
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", plot_path.display()))?;
        Some(plot_path)
    };
    if out.json {
        println!("{}", serde_json::to_string_pretty(&metrics)?);
    } else if out.text() {
        print_summary(&spec, &report, plain.as_ref().map(|p| &p.model), wall);
        println!(
            "wrote {} (the model, for parties {:?})",
            a.out.display(),
            spec.model_receivers
        );
        println!(
            "wrote {} (per-epoch loss and accuracy, cost per party)",
            metrics_path.display()
        );
        if let Some(p) = plot {
            println!(
                "wrote {} (loss and accuracy curves, MPC against plaintext)",
                p.display()
            );
        }
    }
    Ok(())
}

/// Training rows over all parties (for the progress bar's length).
fn parts_train_rows(spec: &JobSpec, parts: &[Dataset]) -> usize {
    let rows: Vec<usize> = match spec.split {
        Split::Rows => parts.iter().map(|d| d.rows()).collect(),
        Split::Columns => vec![parts[0].rows()],
    };
    rows.iter()
        .map(|&r| {
            train_test_indices(r, spec.train.test_fraction, spec.train.seed)
                .0
                .len()
        })
        .sum()
}

/// A progress bar on stderr, hidden for --quiet, --json and non-terminals.
fn progress_bar(out: Output, len: u64) -> indicatif::ProgressBar {
    if !out.text() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:32}] {pos}/{len} batches, {per_sec}, ETA {eta}  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message("sharing the data");
    bar
}

fn describe(e: &Evaluation) -> String {
    match (e.accuracy, e.r2) {
        (Some(acc), _) => format!("accuracy {:.2}% ({} rows)", acc * 100.0, e.rows),
        (_, Some(r2)) => format!(
            "R^2 {r2:.4}, MSE {:.4} ({} rows)",
            e.mse.unwrap_or(f64::NAN),
            e.rows
        ),
        _ => String::from("-"),
    }
}

fn print_header(spec: &JobSpec, parts: &[Dataset], insecure: bool) {
    println!(
        "tessera: joint {}, {} parties, data split by {:?}, embedded (threads of one process)",
        spec.train.model, spec.parties, spec.split
    );
    println!(
        "security: semi-honest parties; {}",
        spec.preprocessing.trust()
    );
    if insecure {
        println!(
            "WARNING: --insecure-mpc-seed makes every share predictable; use it only for tests"
        );
    }
    for (p, d) in parts.iter().enumerate() {
        println!(
            "  party {p}: {} rows x {} feature{} from {}{}",
            d.rows(),
            d.feature_names.len(),
            if d.feature_names.len() == 1 { "" } else { "s" },
            d.path.display(),
            if d.labels.is_some() {
                ", holds labels"
            } else {
                ""
            }
        );
    }
}

fn print_summary(spec: &JobSpec, report: &JobReport, plain: Option<&SavedModel>, wall: f64) {
    let p0 = &report.parties[0];
    println!("opened during the job:");
    let mut seen: Vec<(String, Option<usize>, usize)> = Vec::new();
    for o in &p0.openings {
        match seen
            .iter_mut()
            .find(|(l, t, _)| *l == o.label && *t == o.to)
        {
            Some(s) => s.2 += 1,
            None => seen.push((o.label.clone(), o.to, 1)),
        }
    }
    for (label, to, count) in seen {
        let who = to
            .map(|p| format!("party {p}"))
            .unwrap_or_else(|| "all parties".into());
        let times = if count > 1 {
            format!(" (x{count})")
        } else {
            String::new()
        };
        println!("  {label} -> {who}{times}");
    }
    let loss_name = match spec.train.model {
        ModelKind::Linear => "mean squared error",
        ModelKind::Logistic => "mean squared error of probabilities",
        ModelKind::Softmax | ModelKind::Mlp => "mean cross-entropy",
    };
    let losses = &p0.epoch_losses;
    // At most ten lines: every epoch of a short run, evenly spaced ones of a long run.
    let step = losses.len().div_ceil(10).max(1);
    println!("training loss ({loss_name}):");
    for (e, l) in losses.iter().enumerate() {
        if e % step == 0 || e + 1 == losses.len() {
            let test = p0
                .epoch_test
                .get(e)
                .map(|t| format!("   held-out {}", describe(t)))
                .unwrap_or_default();
            println!("  epoch {:>3}: {l:.6}{test}", e + 1);
        }
    }
    println!("result (MPC):");
    println!("  train: {}", describe(&p0.metrics.train));
    if let Some(t) = &p0.metrics.test {
        println!("  test:  {}", describe(t));
    }
    if let Some(m) = plain {
        println!("same recipe in plaintext f32 (for comparison):");
        println!("  train: {}", describe(&m.metrics.train));
        if let Some(t) = &m.metrics.test {
            println!("  test:  {}", describe(t));
        }
    }
    println!("cost: wall time {wall:.2} s");
    for s in &report.stats {
        println!(
            "  party {}: sent {}, received {}, {} rounds; {}",
            s.party,
            bytes(s.total_sent()),
            bytes(s.total_received()),
            s.rounds,
            preprocessing_cost(s)
        );
    }
}

/// Checks that `path` can be written (its directory exists and accepts a
/// file) without leaving anything behind, so a long job does not fail at
/// the end for want of a place to save.
fn check_writable(path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "cannot write {}: the directory {} does not exist; create it or choose another --out",
            path.display(),
            dir.display()
        );
    }
    let probe = dir.join(format!(".tessera-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| {
            format!(
                "cannot write {}: {} is not writable",
                path.display(),
                dir.display()
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A job needs two parties at least: one alone has nobody to compute with.
fn at_least_two_parties(parties: usize) -> Result<()> {
    if parties < 2 {
        anyhow::bail!(
            "--parties must be at least 2 (got {parties}): a job is computed jointly by two or more parties"
        );
    }
    Ok(())
}

/// The preprocessing line of a party's cost: the dealer's bytes, or the
/// parties' own OT traffic (sent and received, apart from the online bytes).
fn preprocessing_cost(s: &tessera::protocols::Stats) -> String {
    if s.preprocessing_bytes_sent > 0 {
        format!(
            "preprocessing by OT: sent {}, received {}, {:.2} s",
            bytes(s.preprocessing_bytes_sent),
            bytes(s.preprocessing_bytes),
            s.preprocessing_wait_s
        )
    } else {
        format!("{} from the dealer", bytes(s.preprocessing_bytes))
    }
}

/// One party of a private-inference job file.
fn infer_party(file: &tessera::deploy::JobFile, a: PartyArgs) -> Result<()> {
    let inf = file.inference.as_ref().expect("checked at load");
    eprintln!(
        "tessera party {} of {}: private inference; party {} holds the model, party {} the rows and learns the predictions; security: semi-honest parties; {}",
        a.id,
        file.party.len(),
        inf.owner,
        inf.querier,
        file.preprocessing.trust()
    );
    let m = tessera::deploy::run_inference_party(file, a.id)?;
    let path = a.metrics.unwrap_or_else(|| {
        file.path(std::path::Path::new(&format!(
            "metrics-party-{}.json",
            a.id
        )))
    });
    std::fs::write(&path, serde_json::to_string_pretty(&m)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "party {}: sent {}, received {}, {} rounds; connect {:.2} s, compute {:.2} s",
        a.id,
        bytes(m.stats.total_sent()),
        bytes(m.stats.total_received()),
        m.stats.rounds,
        m.connect_s,
        m.compute_s
    );
    match &m.predictions_path {
        Some(p) => eprintln!("predictions written to {}", p.display()),
        None => eprintln!("this party learns nothing about the predictions"),
    }
    Ok(())
}

fn party(a: PartyArgs) -> Result<()> {
    let file = tessera::deploy::JobFile::load(&a.config)?;
    // Checked before anything is announced: "party 5 of 2" is no banner.
    if a.id >= file.party.len() {
        bail!(
            "there is no party {}: {} lists {} parties (ids 0 to {})",
            a.id,
            a.config.display(),
            file.party.len(),
            file.party.len() - 1
        );
    }
    let Some(job) = &file.job else {
        return infer_party(&file, a);
    };
    eprintln!(
        "tessera party {} of {}: {}, split by {:?}; security: semi-honest parties; {}",
        a.id,
        file.party.len(),
        job.model,
        job.split,
        file.preprocessing.trust()
    );
    if job.insecure_mpc_seed.is_some() {
        eprintln!(
            "WARNING: insecure_mpc_seed makes every share predictable; use it only for tests"
        );
    }
    let m = tessera::deploy::run_party(&file, a.id)?;
    let path = a.metrics.unwrap_or_else(|| {
        file.path(std::path::Path::new(&format!(
            "metrics-party-{}.json",
            a.id
        )))
    });
    std::fs::write(&path, serde_json::to_string_pretty(&m)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(t) = &m.metrics.test {
        eprintln!("test: {}", describe(t));
    }
    eprintln!(
        "party {}: sent {}, received {}, {} rounds; connect {:.2} s, compute {:.2} s (preprocessing {:.2} s)",
        a.id,
        bytes(m.stats.total_sent()),
        bytes(m.stats.total_received()),
        m.stats.rounds,
        m.connect_s,
        m.compute_s,
        m.preprocessing_s
    );
    match &m.model_path {
        Some(p) => eprintln!("model written to {}", p.display()),
        None => eprintln!("this party does not receive the model"),
    }
    eprintln!("metrics written to {}", path.display());
    Ok(())
}

fn infer(a: InferArgs, out: Output) -> Result<()> {
    let model = SavedModel::load(&a.model)?;
    let data = Dataset::from_csv(&a.data)?;
    let output = match a.output {
        OutputArg::Class => InferOutput::Class,
        OutputArg::Scores => InferOutput::Scores,
    };
    if out.text() {
        eprintln!(
            "tessera: private inference, {} parties embedded; party {} holds the model, party {} the {} rows",
            a.parties, a.owner, a.querier, data.rows()
        );
        eprintln!("security: semi-honest parties; {}", a.preprocessing.trust());
    }
    let bar = spinner(out, "computing the predictions under MPC");
    let start = std::time::Instant::now();
    let report = tessera::infer_privately(
        &model,
        &data,
        a.parties,
        a.owner,
        a.querier,
        output,
        a.preprocessing,
    )
    .context("private inference failed")?;
    let wall = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let what = match output {
        InferOutput::Class => Columns::Class,
        InferOutput::Scores => Columns::Scores,
    };
    let csv = predictions_csv(
        model.kind,
        model.training.classes,
        &report.predictions,
        what,
    );
    if let Some(path) = &a.out {
        std::fs::write(path, &csv).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if out.json {
        let v = serde_json::json!({
            "predictions": report.predictions,
            "openings": report.openings,
            "parties": report.stats,
            "wall_seconds": wall,
            "out": a.out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if out.text() {
        eprintln!("opened: the predictions, to party {} only", a.querier);
        eprintln!("cost: wall time {wall:.2} s");
        for s in &report.stats {
            eprintln!(
                "  party {}: sent {}, received {}, {} rounds",
                s.party,
                bytes(s.total_sent()),
                bytes(s.total_received()),
                s.rounds
            );
        }
    }
    match &a.out {
        Some(path) if out.text() => {
            eprintln!("the querier's predictions written to {}", path.display())
        }
        Some(_) => {}
        None => print!("{csv}"),
    }
    Ok(())
}

/// A spinner on stderr for a step without a known length.
fn spinner(out: Output, msg: &'static str) -> indicatif::ProgressBar {
    if !out.text() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(msg);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn predict(a: PredictArgs, out: Output) -> Result<()> {
    let model = SavedModel::load(&a.model)?;
    let data = Dataset::from_csv(&a.data)?;
    let preds = model.predict(&data)?;
    let csv = predictions_csv(model.kind, model.training.classes, &preds, Columns::Both);
    let accuracy = match (&data.labels, model.kind) {
        (Some(labels), kind) if kind != ModelKind::Linear => {
            let correct = preds
                .iter()
                .zip(labels)
                .filter(|(p, y)| class_of(p) as f64 == **y)
                .count();
            Some(correct as f64 / preds.len().max(1) as f64)
        }
        _ => None,
    };
    if let Some(path) = &a.out {
        std::fs::write(path, &csv).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if out.json {
        let v = serde_json::json!({
            "predictions": preds,
            "classes": preds.iter().map(|p| class_of(p)).collect::<Vec<_>>(),
            "accuracy_against_labels": accuracy,
            "out": a.out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match &a.out {
        Some(path) if out.text() => {
            eprintln!("wrote {} predictions to {}", preds.len(), path.display())
        }
        Some(_) => {}
        None => print!("{csv}"),
    }
    if let (Some(acc), true) = (accuracy, out.text()) {
        eprintln!("accuracy against the file's labels: {:.2}%", 100.0 * acc);
    }
    Ok(())
}

fn inspect(a: InspectArgs, out: Output) -> Result<()> {
    let m = SavedModel::load(&a.model)?;
    if out.json {
        let v = serde_json::json!({
            "path": a.model,
            "format": m.format,
            "kind": m.kind,
            "features": m.features,
            "layers": inspect_dims(&m),
            "frac_bits": m.frac_bits,
            "parties": m.parties,
            "split": m.split,
            "preprocessing": m.preprocessing,
            "training": m.training,
            "metrics": m.metrics,
            "tessera_version": m.tessera_version,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if out.quiet {
        return Ok(());
    }
    let t = &m.training;
    println!("{}: {:?} model ({})", a.model.display(), m.kind, m.format);
    println!(
        "  layers: {}",
        inspect_dims(&m)
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    let shown: Vec<&str> = m.features.iter().take(8).map(String::as_str).collect();
    let more = m.features.len().saturating_sub(8);
    println!(
        "  features ({}): {}{}",
        m.features.len(),
        shown.join(", "),
        if more > 0 {
            format!(", ... ({more} more)")
        } else {
            String::new()
        }
    );
    println!(
        "  trained by {} parties, data split by {:?}, fixed point with {} fractional bits",
        m.parties, m.split, m.frac_bits
    );
    println!(
        "  recipe: {} epochs, learning rate {}, batch {}, momentum {}, seed {}, test fraction {}{}",
        t.epochs,
        t.learning_rate,
        t.batch_size,
        t.momentum,
        t.seed,
        t.test_fraction,
        match t.relu_degree {
            Some(d) => format!(", polynomial ReLU of degree {d}"),
            None => String::new(),
        }
    );
    println!("  train: {}", describe(&m.metrics.train));
    if let Some(e) = &m.metrics.test {
        println!("  test:  {}", describe(e));
    }
    println!("  preprocessing: {}", m.preprocessing);
    println!("  written by tessera {}", m.tessera_version);
    Ok(())
}

/// Widths `[features, hidden..., outputs]` of a saved model.
fn inspect_dims(m: &SavedModel) -> Vec<usize> {
    let mut dims = vec![m.features.len()];
    if m.layers.is_empty() {
        dims.push(1);
    } else {
        dims.extend(m.layers.iter().map(|l| l.bias.len()));
    }
    dims
}

fn bench(a: BenchArgs, out: Output) -> Result<()> {
    let opts = tessera::bench::BenchOptions {
        quick: a.quick,
        mnist: a.mnist,
        data: a.data,
        filter: a.only,
        preprocessing: a.preprocessing,
    };
    if out.text() {
        eprintln!(
            "tessera bench{}: 2 parties embedded (threads), each task next to plaintext f32 in this process; {}",
            if opts.quick { " --quick" } else { "" },
            opts.preprocessing.trust()
        );
    }
    let bar = spinner(out, "running");
    let results = tessera::bench::run(&opts, |name| bar.set_message(format!("running {name}")))?;
    bar.finish_and_clear();
    let table = tessera::bench::markdown(&results);
    let prg = tessera::bench::prg_throughput();
    let kernel = tessera::bench::kernel_throughput(opts.quick)?;
    let ots = tessera::bench::random_ot_rate(if opts.quick { 1 << 18 } else { 1 << 22 })?;
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "quick": opts.quick,
        "preprocessing": opts.preprocessing,
        "trust": opts.preprocessing.trust(),
        "threads": rayon_threads(),
        "dealer_prg_bytes_per_s": prg,
        "random_ots_per_s": ots.0,
        "random_ot_bytes_sent": ots.1,
        "ring_matmul": kernel,
        "tasks": results,
    }))?;
    if let Some(p) = &a.json_out {
        std::fs::write(p, json.clone() + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &a.markdown {
        std::fs::write(p, &table).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if out.json {
        println!("{json}");
    } else if !out.quiet {
        print!("{table}");
        println!(
            "dealer PRG expansion (AES-128-CTR, one thread): {}/s",
            bytes(prg as u64)
        );
        println!(
            "ring matmul {n}^3: blocked kernel {:.2} G multiply-adds/s on one core, {:.2}x the plain i-k-j loop ({:.2} G/s); {:.2} G/s on {} cores",
            kernel.kernel_one_core / 1e9,
            kernel.kernel_one_core / kernel.ikj_one_core,
            kernel.ikj_one_core / 1e9,
            kernel.kernel_all_cores / 1e9,
            rayon_threads(),
            n = kernel.n,
        );
        println!(
            "random OT extension (IKNP, 2 parties, both directions): {:.1} M OTs/s, {:.1} bytes sent per OT",
            ots.0 / 1e6,
            ots.1
        );
    }
    Ok(())
}

/// Threads available to the kernels (for the record).
fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
