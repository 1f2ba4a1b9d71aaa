//! `tessera inspect`: what a model file holds.

use super::*;

pub(crate) fn inspect(a: InspectArgs, out: Output) -> Result<()> {
    if tessera::models::is_onnx(&a.model) {
        return inspect_onnx(&a, out);
    }
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
    let cnn = !t.convolutions.is_empty();
    let kind = if cnn {
        "CNN".to_string()
    } else {
        m.kind.to_string()
    };
    println!("{}: {kind} ({})", a.model.display(), m.format);
    let dims = inspect_dims(&m);
    match (cnn, t.image) {
        (true, Some(image)) => {
            let (stages, flat) = tessera::models::conv_stages(&t.convolutions, image)?;
            let convs: Vec<String> = stages
                .iter()
                .map(|s| {
                    let k = s.conv.kernel;
                    let pool = s
                        .pool
                        .map(|p| format!(", max pool {0}x{0}", p.kernel))
                        .unwrap_or_default();
                    format!("conv {k}x{k} to {}{pool}", s.channels)
                })
                .collect();
            let dense: Vec<String> = std::iter::once(flat)
                .chain(dims[1 + stages.len()..].iter().copied())
                .map(|d| d.to_string())
                .collect();
            println!(
                "  layers: {}x{}x{} images -> {} -> dense {}",
                image[0],
                image[1],
                image[2],
                convs.join(" -> "),
                dense.join(" -> ")
            );
        }
        _ => println!(
            "  layers: {}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" -> ")
        ),
    }
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
        "  trained by {} parties, data split by {}, fixed point with {} fractional bits",
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
pub(crate) fn inspect_dims(m: &SavedModel) -> Vec<usize> {
    let mut dims = vec![m.features.len()];
    if m.layers.is_empty() {
        dims.push(1);
    } else {
        dims.extend(m.layers.iter().map(|l| l.bias.len()));
    }
    dims
}

/// `tessera inspect` of an ONNX network: what tessera imported from it.
pub(crate) fn inspect_onnx(a: &InspectArgs, out: Output) -> Result<()> {
    let m = tessera::models::OnnxModel::load(&a.model)?;
    let widths = m.arch.widths()?;
    if out.json {
        let v = serde_json::json!({
            "path": a.model,
            "format": "onnx",
            "producer": m.producer,
            "opset": m.opset,
            "input": {"name": m.input_name, "shape": m.input_shape},
            "architecture": m.arch,
            "parameters": m.parameters(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if out.quiet {
        return Ok(());
    }
    println!(
        "{}: ONNX network from {} (opset {})",
        a.model.display(),
        if m.producer.is_empty() {
            "an unnamed tool"
        } else {
            &m.producer
        },
        m.opset
    );
    println!(
        "  input '{}': rows of shape {:?} ({} values; a CSV row is read in row-major order)",
        m.input_name, m.input_shape, m.arch.inputs
    );
    for (l, w) in m.arch.layers.iter().zip(&widths) {
        println!("  {l}  ->  {w} values");
    }
    println!("  then: {:?} of the outputs", m.arch.head);
    println!(
        "  {} parameters (batch normalisations and biases folded into the layers before them)",
        m.parameters()
    );
    Ok(())
}

/// `tessera export`: a trained model as an ONNX network.
pub(crate) fn export(a: ExportArgs, out: Output) -> Result<()> {
    let m = SavedModel::load(&a.model)?;
    tessera::models::onnx::export(&m, &a.out)
        .with_context(|| format!("cannot export {}", a.model.display()))?;
    if out.text() {
        eprintln!(
            "wrote {} as ONNX (opset 13) to {}: it takes the raw features, scaling included",
            a.model.display(),
            a.out.display()
        );
    }
    Ok(())
}
