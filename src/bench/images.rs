//! Image tasks: private inference of networks imported from ONNX (the
//! PyTorch fixtures), one image and a batch of 100, and one training epoch
//! of a CNN on MNIST.

use super::*;
use crate::models::{load_mnist, ConvSpec, MnistSet, OnnxModel, Pixels};

/// The target for private inference of the FC network on 100
/// images (a mature C++ framework with a dealer takes 0.31 s here).
const FC_BATCH_TARGET_S: f64 = 0.030;

/// Private inference of the FC and CNN fixtures on the first 100 MNIST test
/// images (shipped as a CSV beside the fixtures) and on the first one.
pub(crate) fn onnx_tasks(
    opts: &BenchOptions,
    reps: usize,
    out: &mut Vec<TaskResult>,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    let images = opts.onnx.join("mnist_test100.csv");
    for (net, about) in [
        ("fc", "MLP 784-128-128-10"),
        ("cnn", "CNN conv5x5x8-pool-conv5x5x16-pool-100-10"),
    ] {
        let model_path = opts.onnx.join(format!("mnist_{net}.onnx"));
        let loaded =
            OnnxModel::load(&model_path).and_then(|m| Ok((m, Dataset::from_csv(&images)?)));
        for (rows, suffix) in [(100, ""), (1, "_1")] {
            let name = format!("onnx_{net}_inference{suffix}");
            if opts.security == crate::models::Security::Active
                && super::not_active(&name).is_some()
            {
                continue;
            }
            let desc = format!(
                "private inference, {about} from PyTorch (ONNX), {rows} MNIST test image{}, classes to the querier",
                if rows > 1 { "s in one batch" } else { "" }
            );
            let (model, data) = match &loaded {
                Ok(pair) => pair,
                Err(e) => {
                    out.push(skipped(
                        &name,
                        desc,
                        format!("skipped: {e} (pass --onnx DIR with the fixtures)"),
                    ));
                    continue;
                }
            };
            progress(&name);
            let data = data.select(&(0..rows).collect::<Vec<_>>());
            let mut r = inference_task(&name, desc, model, &data, None, reps, opts)?;
            if net == "fc" && rows == 100 && opts.preprocessing == Provider::Dealer {
                r.target_seconds = Some(FC_BATCH_TARGET_S);
            }
            out.push(r);
        }
    }
    Ok(())
}

/// One training epoch of a LeNet-like CNN (conv 5x5 x8, max pool 2, conv
/// 5x5 x16, max pool 2, dense 100, 10) on MNIST, with the dealer.
pub(crate) fn mnist_cnn_epoch(
    opts: &BenchOptions,
    out: &mut Vec<TaskResult>,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    let rows = opts.quick.then_some(2000);
    let n = rows.unwrap_or(60000);
    let name = "mnist_cnn_epoch";
    let desc = format!(
        "CNN conv5x5x8-pool-conv5x5x16-pool-100-10, MNIST {n} x 1x28x28, 1 epoch, batch 64"
    );
    if opts.preprocessing == Provider::Ot {
        out.push(skipped(
            name,
            desc,
            "skipped with OT: hours (its matrix triples by Gilboa's OT)".into(),
        ));
        return Ok(());
    }
    let train = match load_mnist(&opts.mnist, MnistSet::Train, Pixels::Unit, rows) {
        Ok(d) => d,
        Err(e) => {
            let why = format!("skipped: {e} (pass --mnist DIR with the MNIST idx files)");
            out.push(skipped(name, desc, why));
            return Ok(());
        }
    };
    progress(name);
    let stage = |channels| ConvSpec {
        channels,
        kernel: 5,
        padding: 0,
        pool: 2,
    };
    let job = opts
        .job(Job::mlp(2, &[100], 10))
        .convolutions(&[stage(8), stage(16)], [1, 28, 28])
        .epoch_eval(false)
        .epochs(1)
        .batch_size(64)
        .learning_rate(0.1)
        .test_fraction(0.1);
    let parts = job.split_dataset(&train)?;
    drop(train);
    out.push(training_task(name, desc, &job, &parts, None, 1)?);
    Ok(())
}
