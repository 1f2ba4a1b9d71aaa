//! A convolutional network trained jointly, saved, reloaded and queried
//! privately: MPC against the plaintext twin at every step.

use ndarray::{Array1, Array2};
use tessera_models::*;
use tessera_tensor::Prg;

/// 6x6 single-channel images whose label is the brightest quadrant.
fn quadrants(n: usize, seed: u8) -> Dataset {
    let mut prg = Prg::from_seed([seed; 32]);
    let mut x = Array2::<f64>::zeros((n, 36));
    let mut y = Array1::<f64>::zeros(n);
    for i in 0..n {
        let q = (prg.next_f64() * 4.0) as usize % 4;
        for p in 0..36 {
            let (r, c) = (p / 6, p % 6);
            let inside = (r / 3) * 2 + c / 3 == q;
            x[[i, p]] = prg.next_f64() * 0.3 + if inside { 0.7 } else { 0.0 };
        }
        y[i] = q as f64;
    }
    Dataset {
        path: "quadrants.csv".into(),
        feature_names: (0..36).map(|j| format!("pixel_{j}")).collect(),
        features: x,
        labels: Some(y),
        lines: (2..n + 2).collect(),
    }
}

fn cnn_spec(parties: usize) -> JobSpec {
    let cfg = TrainConfig {
        model: ModelKind::Mlp,
        epochs: 6,
        learning_rate: 0.5,
        batch_size: 16,
        classes: 4,
        hidden: vec![],
        convolutions: vec![ConvSpec {
            channels: 4,
            kernel: 3,
            padding: 1,
            pool: 2,
        }],
        image: Some([1, 6, 6]),
        ..TrainConfig::default()
    };
    JobSpec::new(parties, Split::Rows, cfg)
}

#[test]
fn a_cnn_trains_jointly_saves_and_answers_private_queries_as_in_plaintext() {
    let data = quadrants(240, 1);
    for parties in [2, 3] {
        let spec = cnn_spec(parties);
        let parts = partition(&data, parties, Split::Rows, 0).unwrap();
        let mpc = run_job_embedded(&spec, &parts, Some([4; 32])).unwrap();
        let plain = run_job_plaintext(&spec, &parts, false).unwrap();
        let model = mpc.model().unwrap();
        let acc = |m: &SavedModel| m.metrics.test.as_ref().unwrap().accuracy.unwrap();
        assert!(acc(model) >= 0.9, "CNN test accuracy {}", acc(model));
        assert!((acc(model) - acc(&plain.model)).abs() <= 0.03);
        // Nothing about the images' statistics was opened.
        assert!(mpc.parties[0]
            .openings
            .iter()
            .all(|o| !o.label.contains("means")));
        // The saved file round-trips and answers private queries exactly as
        // its plaintext prediction does.
        let path =
            std::env::temp_dir().join(format!("tessera-cnn-{}-{parties}.json", std::process::id()));
        model.save(&path).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let queries = quadrants(20, 9);
        let spec =
            InferSpec::new(&loaded, parties, 0, parties - 1, InferOutput::Class, 20).unwrap();
        let report = run_inference_embedded(&spec, &loaded, &queries, Some([2; 32])).unwrap();
        let plain_scores = loaded.predict(&queries).unwrap();
        let agree = report
            .predictions
            .iter()
            .zip(&plain_scores)
            .filter(|(p, s)| {
                let best = (0..4).fold(0, |b, i| if s[i] > s[b] { i } else { b });
                p[0] as usize == best
            })
            .count();
        assert!(
            agree >= 19,
            "{agree} of 20 private predictions match plaintext"
        );
        // Exported to ONNX and imported again, it predicts what it did.
        let onnx = path.with_extension("onnx");
        tessera_models::onnx::export(&loaded, &onnx).unwrap();
        let imported = OnnxModel::load(&onnx).unwrap();
        std::fs::remove_file(&onnx).unwrap();
        assert_eq!(imported.input_shape, vec![1, 6, 6]);
        let again = imported.predict_plain(&queries).unwrap();
        for (a, b) in again.iter().flatten().zip(plain_scores.iter().flatten()) {
            assert!((a - b).abs() < 1e-5, "{a} against {b}");
        }
    }
    // Settings that cannot describe a CNN are refused before any work.
    let mut bad = cnn_spec(2);
    bad.train.image = Some([1, 5, 5]);
    let parts = partition(&data, 2, Split::Rows, 0).unwrap();
    assert!(run_job_embedded(&bad, &parts, None).is_err());
    let mut bad = cnn_spec(2);
    bad.split = Split::Columns;
    assert!(bad.validate().is_err());
}
