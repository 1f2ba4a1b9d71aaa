//! Joint training under MPC against the same recipe in plaintext.

use std::path::PathBuf;
use tessera_models::*;

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data").join(name)
}

fn breast_cancer() -> Dataset {
    Dataset::from_csv(data_path("breast_cancer.csv")).unwrap()
}

fn accuracy(m: &SavedModel) -> f64 {
    m.metrics.test.as_ref().unwrap().accuracy.unwrap()
}

fn check_logistic(parties: usize, split: Split) {
    let data = breast_cancer();
    let spec = JobSpec::new(parties, split, TrainConfig::default());
    let shuffled = {
        // 80/20 split with a fixed seed is applied per party; shuffle rows first
        // so that each party's block is a fair sample.
        let (a, b) = train_test_indices(data.rows(), 0.0, 1);
        assert!(b.is_empty());
        data.select(&a)
    };
    let parts = partition(&shuffled, parties, split, 0).unwrap();
    let mpc = run_job_embedded(&spec, &parts, Some([7; 32])).unwrap();
    let plain = run_job_plaintext(&spec, &parts, false).unwrap();
    let (acc_mpc, acc_plain) = (accuracy(mpc.model().unwrap()), accuracy(&plain.model));
    eprintln!("{parties} parties by {split:?}: test accuracy mpc {acc_mpc:.4}, f32 {acc_plain:.4}; losses {:?} vs {:?}",
        mpc.parties[0].epoch_losses, plain.epoch_losses);
    assert!(acc_mpc >= 0.95, "MPC accuracy {acc_mpc}");
    assert!((acc_mpc - acc_plain).abs() <= 0.01, "MPC {acc_mpc} vs plaintext {acc_plain}");
    // Every party saw the same opened metrics.
    for p in &mpc.parties {
        assert_eq!(p.metrics, mpc.parties[0].metrics);
        assert!(p.trust.contains("trusted dealer"));
    }
}

#[test]
fn logistic_regression_3_parties_split_by_rows() {
    check_logistic(3, Split::Rows);
}

#[test]
fn logistic_regression_2_parties_split_by_columns() {
    check_logistic(2, Split::Columns);
}
