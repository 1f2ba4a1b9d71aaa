//! `tessera infer` (private inference) and `tessera predict` (plaintext, by a model holder).

use super::*;
use tessera::models::{load_model, InferModel};

/// The rows to score: a CSV file, or a directory with the MNIST test
/// files (idx, gzipped or not; pixels scaled to [0, 1]).
fn query_rows(path: &std::path::Path) -> Result<Dataset> {
    if path.is_dir() {
        use tessera::models::{load_mnist, MnistSet, Pixels};
        return Ok(load_mnist(path, MnistSet::Test, Pixels::Unit, None)?);
    }
    Ok(Dataset::from_csv(path)?)
}

/// The CSV columns of `model`'s predictions.
fn csv_of(model: &dyn InferModel, preds: &[Vec<f64>], what: Columns) -> Result<String> {
    let spec = model.infer_spec(2, 0, 1, InferOutput::Scores, preds.len())?;
    let outputs = spec.dims.last().copied().unwrap_or(1);
    Ok(predictions_csv(spec.kind, outputs, preds, what))
}

pub(crate) fn infer(a: InferArgs, out: Output) -> Result<()> {
    let model = load_model(&a.model)?;
    let data = query_rows(&a.data)?;
    let output = match a.output {
        OutputArg::Class => InferOutput::Class,
        OutputArg::Scores => InferOutput::Scores,
    };
    if out.text() {
        eprintln!(
            "tessera: private inference, {} parties embedded; party {} holds the model, party {} the {} rows",
            a.parties, a.owner, a.querier, data.rows()
        );
        eprintln!(
            "security: {}; {}",
            a.security.statement(),
            a.preprocessing.trust()
        );
    }
    let bar = spinner(out, "computing the predictions under MPC");
    let start = std::time::Instant::now();
    let mut spec = model.infer_spec(a.parties, a.owner, a.querier, output, data.rows())?;
    spec.preprocessing = a.preprocessing;
    spec.security = a.security;
    let report = tessera::models::run_inference_embedded(&spec, model.as_ref(), &data, None)
        .context("private inference failed")?;
    let wall = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let what = match output {
        InferOutput::Class => Columns::Class,
        InferOutput::Scores => Columns::Scores,
    };
    let csv = csv_of(model.as_ref(), &report.predictions, what)?;
    if let Some(path) = &a.out {
        std::fs::write(path, &csv).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if out.json {
        let v = serde_json::json!({
            "predictions": report.predictions,
            "openings": report.openings,
            "parties": report.cost.stats,
            "wall_seconds": wall,
            "out": a.out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if out.text() {
        eprintln!("opened: the predictions, to party {} only", a.querier);
        eprint!("{}", report.cost);
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

pub(crate) fn predict(a: PredictArgs, out: Output) -> Result<()> {
    let model = load_model(&a.model)?;
    let data = query_rows(&a.data)?;
    let preds = model.predict_plain(&data)?;
    let csv = csv_of(model.as_ref(), &preds, Columns::Both)?;
    let kind = model.infer_spec(2, 0, 1, InferOutput::Scores, 1)?.kind;
    let accuracy = match (&data.labels, kind) {
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
