//! Every model trains and infers with dealer-free (OT) preprocessing as it
//! does with the dealer: same accuracy against plaintext, 2 and 3 parties.

use std::path::PathBuf;
use tessera_models::*;
use tessera_protocols::prep::Provider;

fn data(name: &str) -> Dataset {
    Dataset::from_csv(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../data")
            .join(name),
    )
    .unwrap()
}

fn test_accuracy(m: &SavedModel) -> f64 {
    m.metrics.test.as_ref().unwrap().accuracy.unwrap()
}

/// Trains `spec` with OT and with the dealer (same seed) and in plaintext;
/// returns (ot, dealer, plaintext) test accuracy.
fn three_ways(mut spec: JobSpec, parts: &[Dataset]) -> (f64, f64, f64) {
    spec.preprocessing = Provider::Ot;
    let ot = run_job_embedded(&spec, parts, Some([5; 32])).unwrap();
    for p in &ot.parties {
        assert!(p.trust.contains("no dealer"), "{}", p.trust);
    }
    for s in &ot.cost.stats {
        assert!(s.preprocessing_bytes_sent > 0, "OT traffic is counted");
    }
    spec.preprocessing = Provider::Dealer;
    let dealer = run_job_embedded(&spec, parts, Some([5; 32])).unwrap();
    let plain = run_job_plaintext(&spec, parts, false).unwrap();
    (
        test_accuracy(ot.model().unwrap()),
        test_accuracy(dealer.model().unwrap()),
        test_accuracy(&plain.model),
    )
}

#[test]
fn logistic_regression_with_ot_matches_the_dealer_and_plaintext() {
    let d = data("breast_cancer.csv");
    let (order, _) = train_test_indices(d.rows(), 0.0, 1);
    let d = d.select(&order);
    for (parties, split) in [(2, Split::Rows), (3, Split::Columns)] {
        let spec = JobSpec::new(parties, split, TrainConfig::default());
        let parts = partition(&d, parties, split, 0).unwrap();
        let (ot, dealer, plain) = three_ways(spec, &parts);
        eprintln!("{parties} by {split:?}: ot {ot:.4} dealer {dealer:.4} f32 {plain:.4}");
        assert!(ot >= 0.95, "OT accuracy {ot}");
        assert!((ot - dealer).abs() <= 0.01 && (ot - plain).abs() <= 0.01);
    }
}

#[test]
fn softmax_and_mlp_with_ot_match_plaintext() {
    let iris = data("iris.csv");
    let (order, _) = train_test_indices(iris.rows(), 0.0, 1);
    let iris = iris.select(&order);
    let softmax = TrainConfig {
        model: ModelKind::Softmax,
        epochs: 20,
        learning_rate: 1.0,
        batch_size: 16,
        classes: 3,
        ..TrainConfig::default()
    };
    let spec = JobSpec::new(3, Split::Rows, softmax);
    let parts = partition(&iris, 3, Split::Rows, 0).unwrap();
    let (ot, dealer, plain) = three_ways(spec, &parts);
    assert!(ot >= 0.85 && (ot - dealer).abs() <= 0.04 && (ot - plain).abs() <= 0.04);

    // A small MLP on a slice of digits (OT matrix triples cost ~2 kbit per
    // scalar product, so the full-size network is left to the benchmarks).
    let digits = data("digits.csv");
    let (order, _) = train_test_indices(digits.rows(), 0.0, 2);
    let digits = digits.select(&order[..400]);
    let mlp = TrainConfig {
        model: ModelKind::Mlp,
        epochs: 4,
        learning_rate: 0.2,
        batch_size: 32,
        classes: 10,
        hidden: vec![12],
        ..TrainConfig::default()
    };
    let spec = JobSpec::new(2, Split::Rows, mlp);
    let parts = partition(&digits, 2, Split::Rows, 0).unwrap();
    let (ot, dealer, plain) = three_ways(spec, &parts);
    eprintln!("mlp: ot {ot:.4} dealer {dealer:.4} f32 {plain:.4}");
    assert!(ot >= 0.7, "MLP accuracy {ot}");
    assert!((ot - plain).abs() <= 0.03 && (ot - dealer).abs() <= 0.03);
}

#[test]
fn private_inference_with_ot_gives_the_plaintext_classes() {
    let digits = data("digits.csv");
    let (order, _) = train_test_indices(digits.rows(), 0.0, 3);
    let digits = digits.select(&order);
    let train = TrainConfig {
        model: ModelKind::Mlp,
        epochs: 5,
        learning_rate: 0.2,
        batch_size: 64,
        classes: 10,
        hidden: vec![16],
        ..TrainConfig::default()
    };
    let parts = partition(&digits, 2, Split::Rows, 0).unwrap();
    let model = run_job_plaintext(&JobSpec::new(2, Split::Rows, train), &parts, false)
        .unwrap()
        .model;
    let rows = digits.select(&(0..60).collect::<Vec<_>>());
    for parties in [2, 3] {
        let mut spec = InferSpec::new(
            &model,
            parties,
            0,
            parties - 1,
            InferOutput::Class,
            rows.rows(),
        )
        .unwrap();
        spec.preprocessing = Provider::Ot;
        let report = run_inference_embedded(&spec, &model, &rows, None).unwrap();
        let plain = infer_plain(&mut tessera_layers::F32Backend, &spec, &model, &rows).unwrap();
        let same = report
            .predictions
            .iter()
            .zip(&plain)
            .filter(|(a, b)| a == b)
            .count();
        assert!(
            same >= 59,
            "{parties} parties: {same} of 60 classes as in plaintext"
        );
        // Nothing but the classes, to the querier.
        for (p, opened) in report.openings.iter().enumerate() {
            assert!(
                opened.iter().all(|o| o.to == Some(parties - 1)),
                "party {p}: {opened:?}"
            );
        }
    }
}
