//! Joint training under MPC against the same recipe in plaintext.

use std::path::PathBuf;
use tessera_models::*;

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
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
    // Shuffle rows with a fixed seed so that each party's block is a fair
    // sample; each party then holds out 20% of its rows for testing.
    let (order, _) = train_test_indices(data.rows(), 0.0, 1);
    let shuffled = data.select(&order);
    let parts = partition(&shuffled, parties, split, 0).unwrap();
    let mpc = run_job_embedded(&spec, &parts, Some([7; 32])).unwrap();
    let plain = run_job_plaintext(&spec, &parts, false).unwrap();
    let (acc_mpc, acc_plain) = (accuracy(mpc.model().unwrap()), accuracy(&plain.model));
    eprintln!("{parties} parties by {split:?}: test accuracy mpc {acc_mpc:.4}, f32 {acc_plain:.4}; losses {:?} vs {:?}",
        mpc.parties[0].epoch_losses, plain.epoch_losses);
    assert!(acc_mpc >= 0.95, "MPC accuracy {acc_mpc}");
    assert_eq!(
        mpc.model().unwrap().features.len(),
        30,
        "one name per feature"
    );
    assert!(
        (acc_mpc - acc_plain).abs() <= 0.01,
        "MPC {acc_mpc} vs plaintext {acc_plain}"
    );
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

/// Synthetic regression data y = 1.5 a - 2 b + 0.5 c + 0 d + 3 + noise.
fn synthetic(rows: usize) -> Dataset {
    let mut prg = tessera_tensor::Prg::from_seed([3; 32]);
    let mut text = String::from("a,b,c,d,label\n");
    for _ in 0..rows {
        let x: Vec<f64> = (0..4).map(|_| prg.next_f64() * 4.0 - 2.0).collect();
        // Sum of 12 uniforms minus 6 is close to a standard normal.
        let noise: f64 = ((0..12).map(|_| prg.next_f64()).sum::<f64>() - 6.0) * 0.1;
        let y = 1.5 * x[0] - 2.0 * x[1] + 0.5 * x[2] + 3.0 + noise;
        text += &format!("{},{},{},{},{}\n", x[0], x[1], x[2], x[3], y);
    }
    Dataset::parse(std::path::Path::new("synthetic.csv"), &text).unwrap()
}

/// Ordinary least squares with intercept by the normal equations (f64).
fn least_squares(d: &Dataset, rows: &[usize]) -> Vec<f64> {
    let k = d.feature_names.len() + 1;
    let mut a = vec![vec![0.0; k + 1]; k];
    let y = d.labels.as_ref().unwrap();
    for &r in rows {
        let mut x: Vec<f64> = d.features.row(r).to_vec();
        x.push(1.0);
        for i in 0..k {
            for j in 0..k {
                a[i][j] += x[i] * x[j];
            }
            a[i][k] += x[i] * y[r];
        }
    }
    for c in 0..k {
        let p = (c..k)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..k {
            if r != c {
                let f = a[r][c] / a[c][c];
                for j in c..=k {
                    a[r][j] -= f * a[c][j];
                }
            }
        }
    }
    (0..k).map(|i| a[i][k] / a[i][i]).collect()
}

/// Raw-feature coefficients and intercept of a model trained on standardised features.
fn raw_coefficients(m: &SavedModel) -> Vec<f64> {
    let mut c: Vec<f64> = m
        .weights
        .iter()
        .zip(&m.scaling.std)
        .map(|(w, s)| w / s)
        .collect();
    let shift: f64 = c.iter().zip(&m.scaling.mean).map(|(w, mu)| w * mu).sum();
    c.push(m.bias - shift);
    c
}

#[test]
fn linear_regression_recovers_least_squares_coefficients() {
    let data = synthetic(1000);
    let train = TrainConfig {
        model: ModelKind::Linear,
        epochs: 30,
        learning_rate: 0.1,
        batch_size: 32,
        seed: 5,
        test_fraction: 0.2,
        ..TrainConfig::default()
    };
    for (parties, split) in [(2, Split::Rows), (3, Split::Columns)] {
        let spec = JobSpec::new(parties, split, train.clone());
        let parts = partition(&data, parties, split, 0).unwrap();
        let mpc = run_job_embedded(&spec, &parts, Some([1; 32])).unwrap();
        let model = mpc.model().unwrap();
        // The OLS reference on exactly the training rows the job used.
        let train_rows: Vec<usize> = match split {
            Split::Columns => train_test_indices(1000, 0.2, 5).0,
            Split::Rows => {
                let half = 500;
                let (a, _) = train_test_indices(half, 0.2, 5);
                a.iter()
                    .copied()
                    .chain(a.iter().map(|i| i + half))
                    .collect()
            }
        };
        let ols = least_squares(&data, &train_rows);
        let got = raw_coefficients(model);
        eprintln!("{split:?}: mpc {got:?}\n      ols {ols:?}");
        for (g, o) in got.iter().zip(&ols) {
            assert!((g - o).abs() < 0.02, "coefficient {g} vs least squares {o}");
        }
        let r2 = model.metrics.test.as_ref().unwrap().r2.unwrap();
        assert!(r2 > 0.99, "test R^2 {r2}");
    }
}

#[test]
fn mismatched_party_data_is_a_clear_error() {
    let data = breast_cancer();
    let spec = JobSpec::new(2, Split::Columns, TrainConfig::default());
    let mut parts = partition(&data, 2, Split::Columns, 0).unwrap();
    parts[1] = parts[1].select(&(0..100).collect::<Vec<_>>());
    let e = run_job_embedded(&spec, &parts, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("same rows") && e.contains("100 rows") && e.contains("569"),
        "{e}"
    );

    let spec = JobSpec::new(2, Split::Rows, TrainConfig::default());
    let mut parts = partition(&data, 2, Split::Rows, 0).unwrap();
    parts[1] = parts[1].select_columns(&[0, 1, 2]);
    let e = run_job_embedded(&spec, &parts, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("same columns") && e.contains("party 1"), "{e}");

    let spec = JobSpec::new(3, Split::Rows, TrainConfig::default());
    let e = run_job_embedded(&spec, &parts, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 parties") && e.contains("2 data files"), "{e}");
}

#[test]
fn values_too_large_for_the_encoding_are_a_clear_error() {
    let text = "a,b,label\n1,2,0\n3,4e12,1\n5,6,0\n7,8,1\n";
    let d = Dataset::parse(std::path::Path::new("huge.csv"), text).unwrap();
    let spec = JobSpec::new(
        2,
        Split::Rows,
        TrainConfig {
            test_fraction: 0.0,
            ..TrainConfig::default()
        },
    );
    let parts = partition(&d, 2, Split::Rows, 0).unwrap();
    let e = run_job_embedded(&spec, &parts, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("huge.csv, line 3, column 2 ('b')") && e.contains("too large"),
        "{e}"
    );
}

#[test]
fn bad_labels_and_settings_are_clear_errors() {
    let d = Dataset::parse(
        std::path::Path::new("l.csv"),
        "a,label\n1,0\n2,2\n3,1\n4,0\n",
    )
    .unwrap();
    let parts = partition(&d, 2, Split::Rows, 0).unwrap();
    let e = run_job_embedded(
        &JobSpec::new(2, Split::Rows, TrainConfig::default()),
        &parts,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("l.csv, line 3") && e.contains("labels 0 or 1"),
        "{e}"
    );
    let bad = TrainConfig {
        learning_rate: f64::NAN,
        ..TrainConfig::default()
    };
    let e = run_job_embedded(&JobSpec::new(2, Split::Rows, bad), &parts, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("learning_rate must be in (0, 100)"), "{e}");
}

#[test]
fn model_is_opened_only_to_its_receivers() {
    let data = breast_cancer();
    let mut spec = JobSpec::new(
        3,
        Split::Columns,
        TrainConfig {
            epochs: 2,
            ..TrainConfig::default()
        },
    );
    spec.model_receivers = vec![2];
    let parts = partition(&data, 3, Split::Columns, 0).unwrap();
    let report = run_job_embedded(&spec, &parts, Some([2; 32])).unwrap();
    assert!(report.parties[0].model.is_none());
    assert!(report.parties[1].model.is_none());
    let model = report.parties[2].model.as_ref().unwrap();
    assert_eq!(model.features.len(), 30);
    // Everything opened to all parties is an aggregate of at most two numbers per
    // epoch or set; the weights and scaling went to party 2 only.
    for o in &report.parties[0].openings {
        match o.to {
            None => assert!(
                o.shape.iter().product::<usize>() <= 2,
                "{o:?} opened to all"
            ),
            Some(p) => assert_eq!(p, 2, "{o:?}"),
        }
    }
    // The saved model predicts the same test accuracy that was opened.
    let path = std::env::temp_dir().join(format!("tessera-test-{}.json", std::process::id()));
    model.save(&path).unwrap();
    let loaded = SavedModel::load(&path).unwrap();
    assert_eq!(&loaded, model);
    let probs = loaded.predict(&data).unwrap();
    let labels = data.labels.as_ref().unwrap();
    let acc = probs
        .iter()
        .zip(labels)
        .filter(|(p, y)| ((p[0] > 0.5) as u8 as f64) == **y)
        .count() as f64
        / 569.0;
    assert!(acc > 0.93, "saved model accuracy on all rows {acc}");
    std::fs::write(&path, "{}").unwrap();
    assert!(SavedModel::load(&path)
        .unwrap_err()
        .to_string()
        .contains("not a tessera model"));
    std::fs::remove_file(&path).ok();
}

fn multiclass(
    name: &str,
    model: ModelKind,
    parties: usize,
    split: Split,
    train: TrainConfig,
) -> (f64, f64) {
    let data = Dataset::from_csv(data_path(name)).unwrap();
    let (order, _) = train_test_indices(data.rows(), 0.0, 1);
    let parts = partition(&data.select(&order), parties, split, 0).unwrap();
    let spec = JobSpec::new(parties, split, TrainConfig { model, ..train });
    let mpc = run_job_embedded(&spec, &parts, Some([3; 32])).unwrap();
    let plain = run_job_plaintext(&spec, &parts, false).unwrap();
    let (a, b) = (accuracy(mpc.model().unwrap()), accuracy(&plain.model));
    eprintln!("{name} {model:?} {parties} parties by {split:?}: test accuracy mpc {a:.4}, f32 {b:.4}; losses {:?} vs {:?}",
        mpc.parties[0].epoch_losses, plain.epoch_losses);
    (a, b)
}

#[test]
fn mlp_on_digits_matches_plaintext() {
    let train = TrainConfig {
        epochs: 10,
        learning_rate: 0.2,
        batch_size: 64,
        classes: 10,
        hidden: vec![128],
        ..TrainConfig::default()
    };
    let (mpc, plain) = multiclass("digits.csv", ModelKind::Mlp, 2, Split::Rows, train);
    assert!(mpc >= 0.95, "MLP accuracy {mpc}");
    assert!((mpc - plain).abs() <= 0.02, "MPC {mpc} vs f32 {plain}");
}

#[test]
fn softmax_regression_on_iris_matches_plaintext() {
    let train = TrainConfig {
        epochs: 30,
        learning_rate: 1.0,
        batch_size: 16,
        classes: 3,
        ..TrainConfig::default()
    };
    for (parties, split) in [(2, Split::Rows), (3, Split::Columns)] {
        let (mpc, plain) = multiclass(
            "iris.csv",
            ModelKind::Softmax,
            parties,
            split,
            train.clone(),
        );
        assert!(mpc >= 0.85, "softmax accuracy {mpc}");
        assert!((mpc - plain).abs() <= 0.02, "MPC {mpc} vs f32 {plain}");
    }
}

#[test]
fn class_labels_out_of_range_are_a_clear_error() {
    let d = Dataset::parse(
        std::path::Path::new("c.csv"),
        "a,label\n1,0\n2,3\n3,1\n4,0\n",
    )
    .unwrap();
    let parts = partition(&d, 2, Split::Rows, 0).unwrap();
    let train = TrainConfig {
        model: ModelKind::Softmax,
        classes: 3,
        ..TrainConfig::default()
    };
    let e = run_job_embedded(&JobSpec::new(2, Split::Rows, train), &parts, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("c.csv, line 3") && e.contains("integer labels 0 to 2"),
        "{e}"
    );
}

#[test]
fn momentum_matches_plaintext_and_speeds_up_training() {
    let data = Dataset::from_csv(data_path("iris.csv")).unwrap();
    let (order, _) = train_test_indices(data.rows(), 0.0, 1);
    let parts = partition(&data.select(&order), 2, Split::Rows, 0).unwrap();
    let run = |momentum: f64| {
        let train = TrainConfig {
            model: ModelKind::Softmax,
            classes: 3,
            epochs: 10,
            learning_rate: 0.2,
            batch_size: 16,
            momentum,
            ..TrainConfig::default()
        };
        let spec = JobSpec::new(2, Split::Rows, train);
        let mpc = run_job_embedded(&spec, &parts, Some([4; 32])).unwrap();
        let plain = run_job_plaintext(&spec, &parts, false).unwrap();
        (
            mpc.parties[0].epoch_losses.clone(),
            accuracy(mpc.model().unwrap()),
            plain.epoch_losses,
            accuracy(&plain.model),
        )
    };
    let (plain_sgd_losses, _, _, _) = run(0.0);
    let (losses, acc, f32_losses, f32_acc) = run(0.9);
    eprintln!("momentum 0.9: mpc losses {losses:?}\nf32 {f32_losses:?}\nsgd {plain_sgd_losses:?}");
    assert!((acc - f32_acc).abs() <= 0.02, "MPC {acc} vs f32 {f32_acc}");
    for (m, f) in losses.iter().zip(&f32_losses) {
        assert!(
            (m - f).abs() < 0.01 * f.max(0.1),
            "epoch loss {m} vs f32 {f}"
        );
    }
    assert!(
        losses[9] < 0.5 * plain_sgd_losses[9],
        "momentum {} vs plain {}",
        losses[9],
        plain_sgd_losses[9]
    );
}

/// A regression CSV whose target is around 3e5 (house prices, say): `y =
/// 3e5 + 2e4 (x0 - 0.5 x1 + 0.3 x2) + noise`, with `x3` a near copy of `x0`.
fn large_target_csv(name: &str, rows: usize) -> PathBuf {
    let mut prg = tessera_tensor::Prg::from_seed([9; 32]);
    let mut normal = || (0..12).map(|_| prg.next_f64()).sum::<f64>() - 6.0;
    let mut text = String::from("x0,x1,x2,x3,label\n");
    for _ in 0..rows {
        let x: Vec<f64> = (0..3).map(|_| normal()).collect();
        let x3 = x[0] + 0.05 * normal();
        let y = 3e5 + 2e4 * (x[0] - 0.5 * x[1] + 0.3 * x[2]) + 1e3 * normal();
        text += &format!("{:.4},{:.4},{:.4},{:.4},{:.2}\n", x[0], x[1], x[2], x3, y);
    }
    let path = std::env::temp_dir().join(format!("tessera-{}-{name}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn r2_of(m: &SavedModel, d: &Dataset) -> f64 {
    let y = d.labels.as_ref().unwrap();
    let p = m.predict(d).unwrap();
    let mean = y.mean().unwrap();
    let ss_res: f64 = y.iter().zip(&p).map(|(y, p)| (y - p[0]).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|y| (y - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

#[test]
fn regression_targets_far_outside_the_product_range_train_as_in_plaintext() {
    let path = large_target_csv("large_target", 400);
    let data = Dataset::from_csv(&path).unwrap();
    for (parties, split) in [(2, Split::Rows), (3, Split::Columns)] {
        let cfg = TrainConfig {
            model: ModelKind::Linear,
            epochs: 5,
            learning_rate: 0.1,
            epoch_eval: true,
            ..TrainConfig::default()
        };
        let spec = JobSpec::new(parties, split, cfg);
        let parts = partition(&data, parties, split, 0).unwrap();
        let mpc = run_job_embedded(&spec, &parts, Some([3; 32])).unwrap();
        let plain = run_job_plaintext(&spec, &parts, false).unwrap();
        let (m, p) = (mpc.model().unwrap(), &plain.model);
        let test_r2 = |m: &SavedModel| m.metrics.test.as_ref().unwrap().r2.unwrap();
        eprintln!(
            "{parties} by {split:?}: test R^2 mpc {:.4} f32 {:.4}; bias {} vs {}; losses {:?} vs {:?}",
            test_r2(m),
            test_r2(p),
            m.bias,
            p.bias,
            mpc.parties[0].epoch_losses,
            plain.epoch_losses
        );
        assert!(test_r2(m) > 0.95 && (test_r2(m) - test_r2(p)).abs() < 0.01);
        // Held-out R^2 after every epoch does not jump about.
        let per_epoch: Vec<f64> = mpc.parties[0]
            .epoch_test
            .iter()
            .map(|e| e.r2.unwrap())
            .collect();
        assert!(
            per_epoch.windows(2).all(|w| w[1] > w[0] - 0.01),
            "{per_epoch:?}"
        );
        // The saved model predicts in the target's own units.
        assert!(r2_of(m, &data) > 0.95, "{}", r2_of(m, &data));
        assert!((m.bias - 3e5).abs() < 2e4, "bias {}", m.bias);
        // Losses and MSE are in the target's units too, as in plaintext.
        let mse = |m: &SavedModel| m.metrics.train.mse.unwrap();
        assert!(
            (mse(m) / mse(p) - 1.0).abs() < 0.05,
            "{} vs {}",
            mse(m),
            mse(p)
        );
        assert!(mse(m) > 1e5 && mse(m) < 1e8);
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_diverging_loss_stops_training_with_advice() {
    let path = large_target_csv("diverging", 200);
    let data = Dataset::from_csv(&path).unwrap();
    let cfg = TrainConfig {
        model: ModelKind::Linear,
        epochs: 10,
        learning_rate: 60.0,
        ..TrainConfig::default()
    };
    let spec = JobSpec::new(2, Split::Rows, cfg);
    let parts = partition(&data, 2, Split::Rows, 0).unwrap();
    let plain = run_job_plaintext(&spec, &parts, false)
        .unwrap_err()
        .to_string();
    let mpc = run_job_embedded(&spec, &parts, Some([3; 32]))
        .unwrap_err()
        .to_string();
    for e in [plain, mpc] {
        assert!(
            e.contains("training diverged")
                && e.contains("lower the learning rate (it was 60; try 6)"),
            "{e}"
        );
    }
    std::fs::remove_file(path).unwrap();
}

/// A job whose preprocessing is all made before it starts (listed by a dry
/// run on zeros) trains the same model as one whose material is made as it
/// goes, never waits for the dealer online, and is dealt no more: a
/// mispredicted item would have been made twice, and waited for.
#[test]
fn preprocessing_made_ahead_trains_the_same_model_without_waiting() {
    let data = Dataset::from_csv(data_path("iris.csv")).unwrap();
    let (order, _) = train_test_indices(data.rows(), 0.0, 1);
    for (parties, split, model) in [
        (2, Split::Rows, ModelKind::Mlp),
        (3, Split::Columns, ModelKind::Softmax),
    ] {
        let parts = partition(&data.select(&order), parties, split, 0).unwrap();
        let train = TrainConfig {
            model,
            epochs: 2,
            learning_rate: 0.5,
            batch_size: 16,
            classes: 3,
            hidden: vec![8],
            ..TrainConfig::default()
        };
        let spec = JobSpec::new(parties, split, train);
        let run = |make_ahead| {
            let run = Embedded {
                mpc_seed: Some([5; 32]),
                make_ahead,
                ..Embedded::default()
            };
            run_job_embedded_observed(&spec, &parts, run, &ignore_events).unwrap()
        };
        let (demand, ahead) = (run(false), run(true));
        assert_eq!(demand.offline_seconds, 0.0);
        assert!(ahead.offline_seconds > 0.0);
        assert_eq!(
            ahead.model().unwrap().layers,
            demand.model().unwrap().layers,
            "{model:?}"
        );
        for (a, d) in ahead.cost.stats.iter().zip(&demand.cost.stats) {
            assert_eq!(
                a.preprocessing_wait_s, 0.0,
                "party {} waited online",
                a.party
            );
            assert!(a.preprocessing_bytes <= d.preprocessing_bytes);
        }
    }
}
