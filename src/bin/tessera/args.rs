//! The command line: every subcommand's arguments (clap derive).

use super::*;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Train and use models jointly on data no party shows the others (secure multi-party computation)."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Print nothing but errors (and what --json asks for).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// Print the result as JSON on standard output (for scripts); no progress bars.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// How much to print.
#[derive(Clone, Copy)]
pub(crate) struct Output {
    pub(crate) quiet: bool,
    pub(crate) json: bool,
}

impl Output {
    /// Human-readable text goes out unless --quiet or --json.
    pub(crate) fn text(self) -> bool {
        !self.quiet && !self.json
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Write a trained model as an ONNX network (its feature scaling folded
    /// in), for onnxruntime, PyTorch or any other tool that reads ONNX.
    #[command(after_help = "Example:\n  tessera export model.json --out model.onnx")]
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// Small sizes (a smoke test, well under two minutes).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Directory with the MNIST idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz).
    #[arg(long, default_value = "../shared/data/mnist")]
    pub(crate) mnist: PathBuf,
    /// Directory of the ONNX fixtures (`mnist_fc.onnx`, `mnist_cnn.onnx`,
    /// `mnist_test100.csv`).
    #[arg(long, default_value = "models/tests/fixtures/onnx")]
    pub(crate) onnx: PathBuf,
    /// Directory with breast_cancer.csv and digits.csv.
    #[arg(long, default_value = "data")]
    pub(crate) data: PathBuf,
    /// Run only the tasks whose name contains this (e.g. mnist, relu).
    #[arg(long)]
    pub(crate) only: Option<String>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub(crate) json_out: Option<PathBuf>,
    /// Also write the Markdown table here.
    #[arg(long)]
    pub(crate) markdown: Option<PathBuf>,
    /// Where the correlated randomness comes from: "dealer" (a trusted
    /// dealer thread; fastest) or "ot" (the parties make it themselves by
    /// oblivious transfer; no dealer is trusted).
    #[arg(long, default_value = "dealer")]
    pub(crate) preprocessing: tessera::Provider,
    /// "semi-honest" or "active": run every task active security can run
    /// under it (same names), and report the others as skipped, with why.
    #[arg(long, default_value = "semi-honest")]
    pub(crate) security: tessera::models::Security,
    /// Simulated one-way latency on every link, in milliseconds (e.g. 1 for
    /// a data centre, 10 for a wide-area link).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) latency_ms: f64,
    /// Simulated bandwidth of every link, in megabits per second (0:
    /// unlimited).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) bandwidth_mbps: f64,
}

#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// A model file written by `tessera train` or `tessera party`, or an
    /// ONNX network (`.onnx`).
    pub(crate) model: PathBuf,
}

#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    /// A model file written by `tessera train` or `tessera party`.
    pub(crate) model: PathBuf,
    /// Where to write the ONNX network.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ModelArg {
    /// Linear regression (last column: the target).
    Linear,
    /// Binary logistic regression (labels 0/1).
    Logistic,
    /// Multinomial logistic (softmax) regression (labels 0..classes).
    Softmax,
    /// Multilayer perceptron with ReLU and softmax (labels 0..classes).
    Mlp,
    /// Convolutional network: the --conv stages, then an MLP (images only).
    Cnn,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SplitArg {
    Rows,
    Columns,
}

#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// CSV data: once to split one file among the parties (a demo), or once
    /// per party. Or a directory holding the four MNIST idx files (gzipped or
    /// not): the training images are split among the parties and the 10000
    /// test images held out.
    #[arg(long, required = true)]
    pub(crate) data: Vec<PathBuf>,
    /// A CNN's convolutional stages, each `channels:kernel[:pool[:padding]]`
    /// (stride 1; max pooling of `pool x pool`), e.g. "8:5:2,16:5:2".
    #[arg(long, value_delimiter = ',', default_value = "8:5:2,16:5:2")]
    pub(crate) conv: Vec<String>,
    /// The images' shape `channels,height,width` for a CNN on CSV rows
    /// (MNIST's is known: 1,28,28).
    #[arg(long, value_delimiter = ',')]
    pub(crate) image: Vec<usize>,
    /// With MNIST: use only the first N training images (and N/6 test images).
    #[arg(long)]
    pub(crate) max_rows: Option<usize>,
    /// With MNIST: raw pixel values 0-255 instead of value / 255.
    #[arg(long)]
    pub(crate) raw_pixels: bool,
    /// Model to train.
    #[arg(long, value_enum, default_value = "logistic")]
    pub(crate) model: ModelArg,
    /// Number of computing parties (at least 2).
    #[arg(long, default_value_t = 3)]
    pub(crate) parties: usize,
    /// How the data is divided: each party holds some rows, or some columns.
    #[arg(long, value_enum, default_value = "rows")]
    pub(crate) split: SplitArg,
    /// Passes over the training data.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub(crate) epochs: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    pub(crate) lr: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub(crate) batch_size: usize,
    /// Public seed for the data split and batch order.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub(crate) seed: u64,
    /// Fraction of rows held out for testing.
    #[arg(long, default_value_t = TrainConfig::default().test_fraction)]
    pub(crate) test_fraction: f64,
    /// In a split by columns, the party that holds the labels.
    #[arg(long, default_value_t = 0)]
    pub(crate) label_party: usize,
    /// Parties that receive the trained model, e.g. "0,2" (default: all).
    #[arg(long, value_delimiter = ',')]
    pub(crate) model_to: Vec<usize>,
    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = tessera::tensor::DEFAULT_FRAC_BITS)]
    pub(crate) frac_bits: u32,
    /// Number of classes of a softmax model (default: largest label + 1).
    #[arg(long)]
    pub(crate) classes: Option<usize>,
    /// Hidden layer widths of an MLP, e.g. "128" or "128,64".
    #[arg(long, value_delimiter = ',', default_value = "128")]
    pub(crate) hidden: Vec<usize>,
    /// Use a polynomial ReLU of degree 2 or 4 in the MLP instead of the exact one.
    #[arg(long)]
    pub(crate) relu_degree: Option<u8>,
    /// SGD momentum in [0, 1) (0: plain SGD).
    #[arg(long, default_value_t = TrainConfig::default().momentum)]
    pub(crate) momentum: f64,
    /// Where to write the model (JSON).
    #[arg(long, default_value = "model.json")]
    pub(crate) out: PathBuf,
    /// Skip training the plaintext twin used for comparison.
    #[arg(long)]
    pub(crate) no_compare: bool,
    /// Where the correlated randomness comes from: "dealer" (a trusted
    /// dealer thread; fastest) or "ot" (the parties make it themselves by
    /// oblivious transfer; no dealer is trusted).
    #[arg(long, default_value = "dealer")]
    pub(crate) preprocessing: tessera::Provider,
    /// What the parties are trusted to do: "semi-honest" (follow the
    /// protocol) or "active" (any may cheat; SPDZ2k MACs catch it before
    /// anything is released; linear and logistic regression with the dealer
    /// so far).
    #[arg(long, default_value = "semi-honest")]
    pub(crate) security: tessera::models::Security,
    /// Fix all MPC randomness from this seed: reproducible but NOT secure (tests, benchmarks).
    #[arg(long)]
    pub(crate) insecure_mpc_seed: Option<u64>,
    /// Skip evaluating on the held-out rows after every epoch (saves one
    /// forward pass and one opening per epoch; the plot then has no accuracy curve).
    #[arg(long)]
    pub(crate) no_epoch_eval: bool,
    /// Skip the loss/accuracy plot (PNG) beside the model.
    #[arg(long)]
    pub(crate) no_plot: bool,
}

#[derive(clap::Args)]
pub(crate) struct KeygenArgs {
    /// Number of computing parties.
    #[arg(long)]
    pub(crate) parties: usize,
    /// Directory for the CA, certificates, keys and an example job file.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// "dealer" also makes the dealer's certificate; "ot" makes none and an
    /// example job without a dealer.
    #[arg(long, default_value = "dealer")]
    pub(crate) preprocessing: tessera::Provider,
}

#[derive(clap::Args)]
pub(crate) struct SplitArgs {
    /// The CSV to split.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Number of parties.
    #[arg(long)]
    pub(crate) parties: usize,
    /// By rows or by columns.
    #[arg(long, value_enum, default_value = "rows")]
    pub(crate) split: SplitArg,
    /// In a split by columns, the party that keeps the labels.
    #[arg(long, default_value_t = 0)]
    pub(crate) label_party: usize,
    /// Public seed of the row shuffle (the same default as `train`).
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub(crate) seed: u64,
    /// Output directory for party-I.csv.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(clap::Args)]
pub(crate) struct PartyArgs {
    /// The job file (TOML), the same on every host.
    #[arg(long)]
    pub(crate) config: PathBuf,
    /// This party's id (its index among the [[party]] entries).
    #[arg(long)]
    pub(crate) id: usize,
    /// Where to write this party's metrics (JSON); default metrics-party-ID.json beside the job file.
    #[arg(long)]
    pub(crate) metrics: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct DealerArgs {
    /// The job file (TOML), the same on every host.
    #[arg(long)]
    pub(crate) config: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OutputArg {
    /// Only the predicted class (the value, for linear regression).
    Class,
    /// Class probabilities.
    Scores,
}

#[derive(clap::Args)]
pub(crate) struct InferArgs {
    /// The model (held by the owner): a file written by `tessera train`, or
    /// an ONNX network (`.onnx`, e.g. exported from PyTorch).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// The rows to score (held by the querier): a CSV file (a `label` column
    /// is ignored; an image's pixels in row-major order, e.g. 784 columns for
    /// a 1x28x28 input), or a directory with the MNIST test files.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Number of parties.
    #[arg(long, default_value_t = 2)]
    pub(crate) parties: usize,
    /// Party holding the model.
    #[arg(long, default_value_t = 0)]
    pub(crate) owner: usize,
    /// Party holding the rows; the only one that learns the predictions.
    #[arg(long, default_value_t = 1)]
    pub(crate) querier: usize,
    /// What the querier learns.
    #[arg(long, value_enum, default_value = "class")]
    pub(crate) output: OutputArg,
    /// Where to write the querier's predictions (CSV); standard output if omitted.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Where the correlated randomness comes from: "dealer" (a trusted
    /// dealer thread; fastest) or "ot" (the parties make it themselves by
    /// oblivious transfer; no dealer is trusted).
    #[arg(long, default_value = "dealer")]
    pub(crate) preprocessing: tessera::Provider,
    /// What the parties are trusted to do: "semi-honest" or "active" (any
    /// may cheat; MACs catch it before the predictions are released; linear
    /// models, and ReLU networks' classes, with the dealer so far).
    #[arg(long, default_value = "semi-honest")]
    pub(crate) security: tessera::models::Security,
}

#[derive(clap::Args)]
pub(crate) struct PredictArgs {
    /// A model file written by `tessera train`, or an ONNX network (`.onnx`).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// CSV with the model's feature columns (a `label` column is ignored),
    /// or a directory with the MNIST test files.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Where to write predictions (CSV); standard output if omitted.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}
