//! The `tessera` command line.

mod args;
mod bench;
mod infer;
mod inspect;
mod party;
mod train;
mod ui;

use args::*;
use bench::*;
use infer::*;
use inspect::*;
use party::*;
use train::*;
use ui::*;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tessera::human_bytes as bytes;
use tessera::models::{
    partition_shuffled, run_job_embedded_observed, run_job_plaintext, train_test_indices, Dataset,
    Embedded, Evaluation, InferOutput, JobReport, JobSpec, ModelKind, SavedModel, Split,
    TrainConfig, TrainEvent,
};
use tessera::report::{
    class_of, plot_training, predictions_csv, sidecar_paths, Columns, TrainingMetrics,
};

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
        Command::Export(a) => export(a, out),
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
