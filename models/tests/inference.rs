//! Private inference against the plaintext fixed-point model.

use std::path::PathBuf;
use tessera_models::*;

fn digits_model_and_test_rows() -> (SavedModel, Dataset) {
    let data =
        Dataset::from_csv(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/digits.csv"))
            .unwrap();
    let (train, test) = train_test_indices(data.rows(), 0.2, 11);
    let train_cfg = TrainConfig {
        model: ModelKind::Mlp,
        epochs: 4,
        learning_rate: 0.2,
        batch_size: 64,
        test_fraction: 0.0,
        classes: 10,
        hidden: vec![128],
        ..TrainConfig::default()
    };
    let spec = JobSpec::new(2, Split::Rows, train_cfg);
    let parts = partition(&data.select(&train), 2, Split::Rows, 0).unwrap();
    let model = run_job_plaintext(&spec, &parts, false).unwrap().model;
    (model, data.select(&test))
}

#[test]
fn private_inference_agrees_with_fixed_point_and_opens_only_predictions() {
    let (model, test) = digits_model_and_test_rows();
    let spec = InferSpec::new(&model, 2, 0, 1, InferOutput::Class, test.rows()).unwrap();
    let report = run_inference_embedded(&spec, &model, &test, Some([5; 32])).unwrap();
    let reference =
        infer_fixed(&spec, &model, &test, tessera_tensor::FixedPoint::default()).unwrap();
    let plain: Vec<usize> = model
        .predict(&test)
        .unwrap()
        .iter()
        .map(|p| (0..10).fold(0, |b, i| if p[i] > p[b] { i } else { b }))
        .collect();
    let agree = report
        .predictions
        .iter()
        .zip(&reference)
        .filter(|(a, b)| a == b)
        .count();
    let agree_f64 = report
        .predictions
        .iter()
        .zip(&plain)
        .filter(|(a, b)| a[0] as usize == **b)
        .count();
    let labels = test.labels.as_ref().unwrap();
    let correct = report
        .predictions
        .iter()
        .zip(labels)
        .filter(|(p, y)| p[0] == **y)
        .count();
    eprintln!(
        "{} rows: agree with fixed point {agree}, with f64 {agree_f64}, correct {correct}",
        test.rows()
    );
    assert_eq!(test.rows(), 359);
    assert!(
        agree as f64 >= 0.99 * test.rows() as f64,
        "only {agree} rows agree"
    );
    assert!(
        correct as f64 >= 0.9 * test.rows() as f64,
        "accuracy {correct}"
    );
    // Only the predictions were opened, and only to the querier.
    for openings in &report.openings {
        assert_eq!(openings.len(), 1, "{openings:?}");
        assert_eq!(openings[0].to, Some(1));
        assert_eq!(
            openings[0].shape,
            vec![test.rows(), 1],
            "the class index only"
        );
    }
    // The inference really ran as a multi-round protocol (not a local shortcut).
    assert!(report.cost.stats[0].rounds > 10);
}

#[test]
fn scores_with_three_parties_match_fixed_point() {
    let (model, test) = digits_model_and_test_rows();
    let few = test.select(&(0..20).collect::<Vec<_>>());
    let spec = InferSpec::new(&model, 3, 2, 0, InferOutput::Scores, few.rows()).unwrap();
    let report = run_inference_embedded(&spec, &model, &few, None).unwrap();
    let reference =
        infer_fixed(&spec, &model, &few, tessera_tensor::FixedPoint::default()).unwrap();
    for (got, want) in report.predictions.iter().zip(&reference) {
        let sum: f64 = got.iter().sum();
        assert!((sum - 1.0).abs() < 2e-3, "probabilities sum to {sum}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{g} vs {w}");
        }
    }
    assert!(InferSpec::new(&model, 2, 1, 1, InferOutput::Class, 3).is_err());
}

#[test]
fn sizes_declared_by_peers_are_checked_before_use() {
    let (model, test) = digits_model_and_test_rows();
    let good = InferSpec::new(&model, 2, 0, 1, InferOutput::Class, test.rows()).unwrap();
    good.check(2).unwrap();
    let cases: Vec<(InferSpec, &str)> = vec![
        (
            InferSpec {
                dims: vec![],
                ..good.clone()
            },
            "widths []",
        ),
        (
            InferSpec {
                dims: vec![64],
                ..good.clone()
            },
            "widths [64]",
        ),
        (
            InferSpec {
                dims: vec![64, 1 << 40, 10],
                ..good.clone()
            },
            "a layer of width",
        ),
        (
            InferSpec {
                dims: vec![0, 10],
                ..good.clone()
            },
            "0 features",
        ),
        (
            InferSpec {
                rows: 1 << 40,
                ..good.clone()
            },
            "rows",
        ),
        (
            InferSpec {
                owner: 1,
                ..good.clone()
            },
            "two different parties",
        ),
        (
            InferSpec {
                frac_bits: 0,
                ..good.clone()
            },
            "fractional bits",
        ),
    ];
    for (spec, want) in cases {
        let err = spec.check(2).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
        // The same spec in a run is an error on every party, not a panic.
        let out = run_inference_embedded(&spec, &model, &test, Some([1; 32]));
        assert!(out.is_err(), "{want}");
    }
    // A party's declared data shape in training.
    let spec = JobSpec::new(2, Split::Rows, TrainConfig::default());
    let shape = |rows| PartyShape {
        rows,
        features: vec!["a".into()],
    };
    let err = check_parties_shapes(&spec, &[shape(10), shape(MAX_ROWS + 1)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("party 1 declares") && err.contains("limits"),
        "{err}"
    );
    assert!(check_parties_shapes(&spec, &[shape(10)]).is_err());
}
