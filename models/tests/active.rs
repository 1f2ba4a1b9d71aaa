//! Training under active security (SPDZ2k with the dealer): the same model
//! as the semi-honest protocol and as plaintext, every opening checked.

use ndarray::{Array1, Array2};
use tessera_models::*;
use tessera_tensor::Prg;

/// `y = 3 x0 - 2 x1 + 0.5 x2 + 1 + noise`.
fn synthetic(n: usize) -> Dataset {
    let mut prg = Prg::from_seed([7; 32]);
    let x = Array2::from_shape_simple_fn((n, 3), || prg.next_f64() * 4.0 - 2.0);
    let y = Array1::from_iter(
        x.outer_iter()
            .map(|r| 3.0 * r[0] - 2.0 * r[1] + 0.5 * r[2] + 1.0 + (prg.next_f64() - 0.5) * 0.1),
    );
    Dataset {
        path: "synthetic.csv".into(),
        feature_names: vec!["x0".into(), "x1".into(), "x2".into()],
        features: x,
        labels: Some(y),
        lines: (2..n + 2).collect(),
    }
}

#[test]
fn linear_regression_trains_under_active_security_as_semi_honest_and_in_plaintext() {
    let data = synthetic(400);
    let train = TrainConfig {
        model: ModelKind::Linear,
        epochs: 5,
        learning_rate: 0.1,
        batch_size: 32,
        ..TrainConfig::default()
    };
    for (parties, split) in [(2, Split::Rows), (3, Split::Columns)] {
        let mut spec = JobSpec::new(parties, split, train.clone());
        let parts = partition(&data, parties, split, 0).unwrap();
        let honest = run_job_embedded(&spec, &parts, Some([2; 32])).unwrap();
        spec.security = Security::Active;
        let active = run_job_embedded(&spec, &parts, Some([2; 32])).unwrap();
        let plain = run_job_plaintext(&spec, &parts, false).unwrap();
        let (a, h, p) = (
            active.model().unwrap(),
            honest.model().unwrap(),
            &plain.model,
        );
        for (x, y) in a.weights.iter().zip(&h.weights).chain([(&a.bias, &h.bias)]) {
            assert!(
                (x - y).abs() < 1e-2,
                "{parties} parties: active {x} semi-honest {y}"
            );
        }
        let r2 = |m: &SavedModel| m.metrics.test.as_ref().unwrap().r2.unwrap();
        assert!(
            r2(a) > 0.99 && (r2(a) - r2(p)).abs() < 0.01,
            "{} vs {}",
            r2(a),
            r2(p)
        );
        assert!(active.parties[0].trust.contains("active"));
        // The same openings as the semi-honest run: the checks add none.
        let labels = |r: &JobReport| -> Vec<String> {
            r.parties[0]
                .openings
                .iter()
                .map(|o| o.label.clone())
                .collect()
        };
        assert_eq!(labels(&active), labels(&honest));
    }
}

#[test]
fn active_security_without_the_dealer_is_refused_before_any_work() {
    let mut spec = JobSpec::new(
        2,
        Split::Rows,
        TrainConfig {
            model: ModelKind::Linear,
            ..TrainConfig::default()
        },
    );
    spec.security = Security::Active;
    spec.preprocessing = tessera_protocols::prep::Provider::Ot;
    assert!(spec.validate().unwrap_err().to_string().contains("dealer"));
}

#[test]
fn a_linear_model_answers_private_queries_under_active_security() {
    let data = synthetic(200);
    let cfg = TrainConfig {
        model: ModelKind::Linear,
        epochs: 3,
        learning_rate: 0.1,
        ..TrainConfig::default()
    };
    let spec = JobSpec::new(2, Split::Rows, cfg);
    let parts = partition(&data, 2, Split::Rows, 0).unwrap();
    let model = run_job_plaintext(&spec, &parts, false).unwrap().model;
    let queries = synthetic(30);
    for (parties, owner, querier) in [(2, 0, 1), (3, 2, 0)] {
        let mut ispec =
            InferSpec::new(&model, parties, owner, querier, InferOutput::Scores, 30).unwrap();
        let honest = run_inference_embedded(&ispec, &model, &queries, Some([1; 32])).unwrap();
        ispec.security = Security::Active;
        let active = run_inference_embedded(&ispec, &model, &queries, Some([1; 32])).unwrap();
        for (a, h) in active.predictions.iter().zip(&honest.predictions) {
            assert!((a[0] - h[0]).abs() < 1e-3, "{a:?} against {h:?}");
        }
        // Only the querier learned anything, as in the semi-honest run.
        assert!(active
            .openings
            .iter()
            .flatten()
            .all(|o| o.to == Some(querier)));
    }
    // A ReLU network answers classes and softmax scores actively, as
    // semi-honest.
    let digits = Dataset::from_csv(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/digits.csv"),
    )
    .unwrap();
    let mlp = TrainConfig {
        model: ModelKind::Mlp,
        epochs: 2,
        classes: 10,
        hidden: vec![16],
        learning_rate: 0.2,
        ..TrainConfig::default()
    };
    let spec = JobSpec::new(2, Split::Rows, mlp);
    let parts = partition(&digits, 2, Split::Rows, 0).unwrap();
    let model = run_job_plaintext(&spec, &parts, false).unwrap().model;
    let few = digits.select(&(0..12).collect::<Vec<_>>());
    let mut ispec = InferSpec::new(&model, 3, 0, 2, InferOutput::Class, 12).unwrap();
    let honest = run_inference_embedded(&ispec, &model, &few, Some([6; 32])).unwrap();
    ispec.security = Security::Active;
    let active = run_inference_embedded(&ispec, &model, &few, Some([6; 32])).unwrap();
    assert_eq!(active.predictions, honest.predictions);
    ispec.output = InferOutput::Scores;
    let active = run_inference_embedded(&ispec, &model, &few, Some([6; 32])).unwrap();
    ispec.security = Security::SemiHonest;
    let honest = run_inference_embedded(&ispec, &model, &few, Some([6; 32])).unwrap();
    for (a, h) in active.predictions.iter().zip(&honest.predictions) {
        for (x, y) in a.iter().zip(h) {
            assert!((x - y).abs() < 2e-3, "{a:?} against {h:?}");
        }
    }
}

/// A party's opened weights (then, on party 1, the predictions opened to
/// it) with the words it sent to its tamper peer after arming (0 without
/// a tamper), or why it stopped.
type Outcome = std::result::Result<(Vec<f64>, u64), String>;

/// One step of linear regression training and a private prediction under
/// active security, with party `cheater` changing word `word` of what it
/// sends to `peer` after the inputs (`None`: honest). Returns each party's
/// outcome: the opened weights, or the error.
fn cheated_training(
    n: usize,
    tamper: Option<(usize, tessera_protocols::active::Tamper)>,
) -> Vec<Outcome> {
    use tessera_layers::{ActiveBackend, Backend};
    use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
    let data = synthetic(16);
    let x = data.features.clone().into_dyn();
    let y = data
        .labels
        .clone()
        .unwrap()
        .insert_axis(ndarray::Axis(1))
        .into_dyn();
    let cfg = TrainConfig {
        model: ModelKind::Linear,
        epochs: 1,
        batch_size: 8,
        learning_rate: 0.1,
        epoch_eval: false,
        ..TrainConfig::default()
    };
    let slots: Vec<std::sync::Mutex<Option<Outcome>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    let _ = run_embedded(&EmbeddedConfig::new(n).with_seed([4; 32]), |s| {
        let me = s.id();
        let mut run = || -> std::result::Result<(Vec<f64>, u64), ModelError> {
            let mut b = ActiveBackend::new(s)?;
            let xs = b.input(0, (me == 0).then_some(&x), x.shape())?;
            let ys = b.input(n - 1, (me == n - 1).then_some(&y), y.shape())?;
            if let Some((_, t)) = tamper.filter(|(c, _)| *c == me) {
                b.active().tamper(t);
            }
            let fitted = fit(&mut b, &xs, &ys, &cfg)?;
            let (w, _) = fitted.net.parameters()[0];
            let w = w.clone();
            let opened = b.reveal(&w, "weights")?;
            // A private prediction with the trained (still shared) model.
            let predicted = fitted.net.predict(&mut b, &xs)?;
            let to_one = b.reveal_to(&predicted, 1, "predictions")?;
            let mine = tamper.filter(|(c, _)| *c == me);
            let words = mine.map_or(0, |(_, t)| b.active().words_sent(t.peer));
            let mut out: Vec<f64> = opened.iter().copied().collect();
            out.extend(to_one.iter().flatten());
            Ok((out, words))
        };
        let r = run().map_err(|e| e.to_string());
        let failed = r.is_err();
        *slots[me].lock().unwrap() = Some(r);
        if failed {
            Err(tessera_protocols::ProtocolError::InvalidArgument {
                op: "trial",
                detail: "stopped".into(),
            })
        } else {
            Ok(())
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap().unwrap_or(Err("never ran".into())))
        .collect()
}

#[test]
fn a_party_that_cheats_during_training_or_inference_is_caught_before_anything_is_opened() {
    use tessera_protocols::active::Tamper;
    let mut prg = Prg::from_seed([9; 32]);
    for n in [2, 3] {
        let honest = cheated_training(n, None);
        let want: Vec<Vec<f64>> = honest.iter().map(|r| r.clone().unwrap().0).collect();
        // Everyone opened the same weights; party 1 also got 16 predictions.
        let weights = want[0].len();
        assert!(want.iter().all(|w| w[..weights] == want[0][..]));
        assert_eq!(want[1].len(), weights + 16);
        for t in 0..100u64 {
            let cheater = t as usize % n;
            let peer = (cheater + 1) % n;
            // Any word the party sends after the inputs: a tamper that
            // changes nothing (xor 0) counts them.
            let quiet = Tamper {
                peer,
                word: u64::MAX,
                xor: 0,
            };
            let total = cheated_training(n, Some((cheater, quiet)))[cheater]
                .as_ref()
                .unwrap()
                .1;
            let word = prg.next_u64() % total;
            let xor = prg.next_u64().max(1);
            let outs = cheated_training(n, Some((cheater, Tamper { peer, word, xor })));
            let honest_outs: Vec<_> = outs
                .iter()
                .enumerate()
                .filter(|(p, _)| *p != cheater)
                .collect();
            assert!(
                honest_outs.iter().any(|(_, r)| r.is_err()),
                "{n} parties, party {cheater} changed word {word}: not caught"
            );
            for (p, r) in honest_outs {
                if let Ok((w, _)) = r {
                    assert_eq!(w, &want[p], "party {p} released wrong values");
                }
            }
        }
    }
}

#[test]
fn logistic_regression_trains_under_active_security_as_semi_honest() {
    let data = Dataset::from_csv(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/breast_cancer.csv"),
    )
    .unwrap();
    let cfg = TrainConfig {
        epochs: 3,
        ..TrainConfig::default()
    };
    for (parties, split) in [(2, Split::Rows), (3, Split::Columns)] {
        let mut spec = JobSpec::new(parties, split, cfg.clone());
        let parts = partition(&data, parties, split, 0).unwrap();
        let honest = run_job_embedded(&spec, &parts, Some([5; 32])).unwrap();
        spec.security = Security::Active;
        let active = run_job_embedded(&spec, &parts, Some([5; 32])).unwrap();
        let acc = |r: &JobReport| {
            r.model()
                .unwrap()
                .metrics
                .test
                .as_ref()
                .unwrap()
                .accuracy
                .unwrap()
        };
        assert!(acc(&active) > 0.9, "{}", acc(&active));
        assert!(
            (acc(&active) - acc(&honest)).abs() <= 0.02,
            "{} vs {}",
            acc(&active),
            acc(&honest)
        );
    }
}

#[test]
fn softmax_regression_and_an_mlp_train_under_active_security_as_in_plaintext() {
    let data = Dataset::from_csv(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/iris.csv"),
    )
    .unwrap();
    let softmax = TrainConfig {
        model: ModelKind::Softmax,
        classes: 3,
        epochs: 8,
        learning_rate: 1.0,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mlp = TrainConfig {
        model: ModelKind::Mlp,
        hidden: vec![8],
        learning_rate: 0.5,
        ..softmax.clone()
    };
    for (cfg, parties, split) in [(softmax, 3, Split::Columns), (mlp, 2, Split::Rows)] {
        let mut spec = JobSpec::new(parties, split, cfg);
        spec.security = Security::Active;
        let parts = partition(&data, parties, split, 0).unwrap();
        let active = run_job_embedded(&spec, &parts, Some([3; 32])).unwrap();
        let plain = run_job_plaintext(&spec, &parts, false).unwrap();
        let acc = |m: &SavedModel| m.metrics.test.as_ref().unwrap().accuracy.unwrap();
        let (a, p) = (acc(active.model().unwrap()), acc(&plain.model));
        assert!(
            p > 0.8 && (a - p).abs() <= 1.0 / 30.0 + 1e-9,
            "{:?}, {parties} parties: active {a}, plaintext {p}",
            spec.train.model
        );
        assert!(active.parties[0].mac_checks.unwrap().checks > 0);
    }
}
