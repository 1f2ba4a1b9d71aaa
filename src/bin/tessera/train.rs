//! `tessera train`: one joint training job embedded, its report and files.

use super::*;

/// `channels:kernel[:pool[:padding]]` stages.
fn parse_conv(stages: &[String]) -> Result<Vec<tessera::models::ConvSpec>> {
    stages
        .iter()
        .map(|s| {
            let n: Vec<usize> = s
                .split(':')
                .map(|v| v.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    anyhow::anyhow!("--conv stage '{s}' is not channels:kernel[:pool[:padding]]")
                })?;
            match n.as_slice() {
                &[channels, kernel] | &[channels, kernel, _] | &[channels, kernel, _, _] => {
                    Ok(tessera::models::ConvSpec {
                        channels,
                        kernel,
                        pool: n.get(2).copied().unwrap_or(1),
                        padding: n.get(3).copied().unwrap_or(0),
                    })
                }
                _ => bail!("--conv stage '{s}' is not channels:kernel[:pool[:padding]]"),
            }
        })
        .collect()
}

/// A job setting's error in the command line's terms: its flag, not its
/// job-file name.
fn in_flags(e: tessera::models::ModelError) -> tessera::models::ModelError {
    e.setting_named(|field| match field {
        "learning_rate" => "--lr".into(),
        "model_receivers" => "--model-to".into(),
        other => format!("--{}", other.replace('_', "-")),
    })
}

pub(crate) fn train(a: TrainArgs, out: Output) -> Result<()> {
    let split = match a.split {
        SplitArg::Rows => Split::Rows,
        SplitArg::Columns => Split::Columns,
    };
    let model = match a.model {
        ModelArg::Linear => ModelKind::Linear,
        ModelArg::Logistic => ModelKind::Logistic,
        ModelArg::Softmax => ModelKind::Softmax,
        ModelArg::Mlp | ModelArg::Cnn => ModelKind::Mlp,
    };
    let cnn = matches!(a.model, ModelArg::Cnn);
    let convolutions = if cnn { parse_conv(&a.conv)? } else { vec![] };
    let config = TrainConfig {
        model,
        classes: 0,
        hidden: if model == ModelKind::Mlp {
            a.hidden.clone()
        } else {
            vec![]
        },
        convolutions,
        image: match a.image.as_slice() {
            [] => None,
            &[c, h, w] => Some([c, h, w]),
            other => bail!("--image takes channels,height,width, got {other:?}"),
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
    // A directory is MNIST: the training and the test images.
    let mnist = match a.data.as_slice() {
        [dir] if dir.is_dir() => Some(dir.clone()),
        _ => None,
    };
    let loaded: Vec<Dataset> = match &mnist {
        Some(dir) => {
            use tessera::models::{load_mnist, MnistSet, Pixels};
            let pixels = if a.raw_pixels {
                Pixels::Raw
            } else {
                Pixels::Unit
            };
            vec![
                load_mnist(dir, MnistSet::Train, pixels, a.max_rows)?,
                load_mnist(
                    dir,
                    MnistSet::Test,
                    pixels,
                    a.max_rows.map(|n| n.div_ceil(6)),
                )?,
            ]
        }
        None => a
            .data
            .iter()
            .map(Dataset::from_csv)
            .collect::<Result<Vec<_>, _>>()?,
    };
    if let (Some(_), None) = (&mnist, spec.train.image) {
        // Idx images are square planes of one channel (28x28 for MNIST).
        let pixels = loaded[0].feature_names.len();
        let side = (pixels as f64).sqrt().round() as usize;
        if side * side != pixels {
            bail!("images of {pixels} pixels are not square: give their shape with --image 1,H,W");
        }
        spec.train.image = Some([1, side, side]);
    }
    spec.label_party = a.label_party;
    spec.frac_bits = a.frac_bits;
    spec.preprocessing = a.preprocessing;
    spec.security = a.security;
    if !a.model_to.is_empty() {
        spec.model_receivers = a.model_to.clone();
    }
    if model.is_multiclass() {
        spec.train.classes = match a.classes {
            Some(c) => c,
            None => {
                let largest = loaded
                    .iter()
                    .filter_map(|d| d.labels.as_ref())
                    .flat_map(|l| l.iter().copied())
                    .fold(0.0f64, f64::max);
                // Saturates: a stray huge label is then refused by the
                // class limit in `validate`, never allocated for.
                (largest.min(1e15) as usize).saturating_add(1)
            }
        };
    }
    spec.validate().map_err(in_flags)?;
    let parts = if mnist.is_some() {
        if split != Split::Rows {
            bail!("MNIST images are split among the parties by rows: use --split rows");
        }
        // Each party holds a share of the training images, then its share of
        // the test images as its held-out rows.
        let train = partition_shuffled(&loaded[0], a.parties, split, 0, a.seed)?;
        let test = tessera::models::partition(&loaded[1], a.parties, split, 0)?;
        spec.held_out = Some(test.iter().map(Dataset::rows).collect());
        train
            .iter()
            .zip(&test)
            .map(|(tr, te)| tr.stack(te))
            .collect::<Result<Vec<_>, _>>()?
    } else if a.data.len() == 1 {
        let all = loaded.into_iter().next().expect("one file");
        partition_shuffled(&all, a.parties, split, a.label_party, a.seed)?
    } else if a.data.len() == a.parties {
        loaded
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
        TrainEvent::Batch { epoch, done, .. } => {
            if epoch == 0 && done == 1 {
                // The data is shared and the first batch done: training proper.
                bar.set_message("epoch 1");
            }
            bar.inc(1)
        }
        TrainEvent::Epoch { epoch, loss, test } => {
            let test = test
                .map(|t| format!(", held-out {t:.4}"))
                .unwrap_or_default();
            bar.set_message(format!("epoch {} loss {loss:.4}{test}", epoch + 1));
            tracing::info!(epoch = epoch + 1, loss, "epoch done");
        }
    };
    let start = std::time::Instant::now();
    let report = run_job_embedded_observed(&spec, &parts, Embedded::seeded(mpc_seed), &observe)
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
pub(crate) fn parts_train_rows(spec: &JobSpec, parts: &[Dataset]) -> usize {
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

pub(crate) fn print_header(spec: &JobSpec, parts: &[Dataset], insecure: bool) {
    println!(
        "tessera: joint {}, {} parties, data split by {}, embedded (threads of one process)",
        if spec.train.convolutions.is_empty() {
            spec.train.model.to_string()
        } else {
            format!(
                "CNN ({} convolutional stages)",
                spec.train.convolutions.len()
            )
        },
        spec.parties,
        spec.split
    );
    println!(
        "security: {}; {}",
        spec.security.statement(),
        spec.preprocessing.trust()
    );
    if insecure {
        println!(
            "WARNING: --insecure-mpc-seed makes every share predictable; use it only for tests"
        );
    }
    for (p, d) in parts.iter().enumerate() {
        let rows = match spec.held_out.as_ref().map(|h| h[p]) {
            Some(h) => format!("{} training + {h} held-out", d.rows() - h),
            None => d.rows().to_string(),
        };
        println!(
            "  party {p}: {rows} rows x {} feature{} from {}{}",
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

pub(crate) fn print_summary(
    spec: &JobSpec,
    report: &JobReport,
    plain: Option<&SavedModel>,
    wall: f64,
) {
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
    let _ = wall;
    print!("{}", report.cost);
}

/// Checks that `path` can be written (its directory exists and accepts a
/// file) without leaving anything behind, so a long job does not fail at
/// the end for want of a place to save.
pub(crate) fn check_writable(path: &std::path::Path) -> Result<()> {
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
