//! `tessera infer` (private inference) and `tessera predict` (plaintext, by a model holder).

use super::*;

pub(crate) fn infer(a: InferArgs, out: Output) -> Result<()> {
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
