//! The `tessera` binary end to end: train, predict, and errors as sentences.

mod common;
use common::{repo, tessera, Scratch};

fn scratch(test: &str) -> Scratch {
    Scratch::new("cli", test)
}

#[test]
fn train_then_predict() {
    let tmp = scratch("train_then_predict");
    let model = tmp.join("model.json");
    let out = tessera()
        .args([
            "train",
            "--parties",
            "2",
            "--split",
            "columns",
            "--epochs",
            "3",
            "--data",
        ])
        .arg(repo("data/breast_cancer.csv"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("trusted dealer"), "{stdout}");
    assert!(stdout.contains("test:  accuracy"), "{stdout}");
    assert!(stdout.contains("rounds"), "{stdout}");
    assert!(
        stdout.contains("trained model weights and bias -> all parties"),
        "{stdout}"
    );

    let preds = tmp.join("preds.csv");
    let out = tessera()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(repo("data/breast_cancer.csv"))
        .arg("--out")
        .arg(&preds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&preds).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "class,probability");
    assert_eq!(lines.len(), 570);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let acc: f64 = stderr
        .split("labels: ")
        .nth(1)
        .and_then(|s| s.trim().trim_end_matches('%').parse().ok())
        .expect("accuracy line");
    assert!(acc > 93.0, "{stderr}");
}

#[test]
fn bad_input_gives_a_sentence_not_a_panic() {
    let tmp = scratch("bad_input_gives_a_sentence_not_a_panic");
    let bad = tmp.join("bad.csv");
    std::fs::write(&bad, "a,b,label\n1,2,0\n1,oops,1\n").unwrap();
    let out = tessera()
        .args(["train", "--parties", "2", "--data"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.csv, line 3, column 2 ('b'): 'oops' is not a number"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = tessera()
        .args(["train", "--data", "/nonexistent.csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("cannot read /nonexistent.csv"),
        "{stderr}"
    );

    let out = tessera()
        .args(["train", "--parties", "1", "--data"])
        .arg(repo("data/breast_cancer.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--parties must be 2 to 64"),
        "{stderr}"
    );
}

#[test]
fn training_writes_a_plot_and_metrics_beside_the_model() {
    let tmp = scratch("training_writes_a_plot_and_metrics_beside_the_model");
    let model = tmp.join("iris.json");
    let out = tessera()
        .args([
            "train",
            "--model",
            "softmax",
            "--parties",
            "3",
            "--epochs",
            "4",
            "--quiet",
            "--data",
        ])
        .arg(repo("data/iris.csv"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "--quiet printed {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The PNG decodes to the documented size and is not blank.
    let png = image::open(model.with_extension("png"))
        .expect("a decodable PNG")
        .to_rgb8();
    assert_eq!(png.dimensions(), (1200, 480));
    let coloured = png.pixels().filter(|p| p.0[2] > 150 && p.0[0] < 80).count();
    assert!(
        coloured > 200,
        "no blue MPC curve drawn ({coloured} pixels)"
    );

    // The metrics JSON has the documented fields, consistent with the run.
    let text = std::fs::read_to_string(model.with_extension("metrics.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(m["format"], "tessera-metrics/1");
    let epochs = m["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 4);
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e["epoch"], i + 1);
        assert!(e["loss"].as_f64().unwrap() > 0.0);
        let acc = e["test_metric"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        assert!(e["plaintext_loss"].as_f64().is_some());
    }
    let last = epochs[3]["test_metric"].as_f64().unwrap();
    assert_eq!(
        Some(last),
        m["test"]["accuracy"].as_f64(),
        "the final test accuracy is the last epoch's"
    );
    let parties = m["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 3);
    for (i, p) in parties.iter().enumerate() {
        assert_eq!(p["party"], i);
        assert!(p["bytes_sent"].as_u64().unwrap() > 0 && p["rounds"].as_u64().unwrap() > 0);
    }
    let opened: Vec<&str> = m["opened"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert!(opened.contains(&"training loss of one epoch"), "{opened:?}");
    assert!(m["wall_seconds"].as_f64().unwrap() > 0.0);

    // inspect, as text and as JSON.
    let out = tessera().arg("inspect").arg(&model).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("softmax regression") && text.contains("4 -> 3"),
        "{text}"
    );
    let out = tessera()
        .args(["inspect", "--json"])
        .arg(&model)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect --json is JSON");
    assert_eq!(v["layers"], serde_json::json!([4, 3]));
    assert_eq!(v["parties"], 3);
}

#[test]
fn json_output_parses_and_every_subcommand_help_has_an_example() {
    let tmp = scratch("json_output_parses_and_every_subcommand_help_has_an_example");
    let model = tmp.join("bc.json");
    let out = tessera()
        .args([
            "--json",
            "train",
            "--parties",
            "2",
            "--epochs",
            "2",
            "--no-plot",
            "--data",
        ])
        .arg(repo("data/breast_cancer.csv"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("train --json is JSON");
    assert_eq!(v["epochs"].as_array().unwrap().len(), 2);
    assert!(
        !model.with_extension("png").exists(),
        "--no-plot drew a plot"
    );

    let out = tessera()
        .args(["predict", "--json", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(repo("data/breast_cancer.csv"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("predict --json is JSON");
    assert_eq!(v["predictions"].as_array().unwrap().len(), 569);
    assert!(v["accuracy_against_labels"].as_f64().unwrap() > 0.9);

    for sub in [
        "train", "infer", "predict", "inspect", "bench", "keygen", "split", "party", "dealer",
    ] {
        let out = tessera().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example") && help.contains(&format!("tessera {sub}")),
            "{sub} --help has no example:\n{help}"
        );
    }
}

#[test]
fn one_party_jobs_and_unwritable_outputs_are_refused_before_any_work() {
    let tmp = scratch("one_party_jobs_and_unwritable_outputs");
    for args in [
        vec!["split", "--parties", "0"],
        vec!["split", "--parties", "1"],
        vec!["keygen", "--parties", "0"],
        vec!["keygen", "--parties", "1"],
    ] {
        let out = tessera()
            .args(&args)
            .arg("--out")
            .arg(tmp.join("out"))
            .args(if args[0] == "split" {
                vec!["--data", "data/iris.csv"]
            } else {
                vec![]
            })
            .current_dir(repo(""))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} exited 0");
        assert!(err.contains("at least 2"), "{args:?}: {err}");
        assert!(!tmp.join("out").exists(), "{args:?} wrote files");
    }
    // --out in a directory that does not exist: refused at once, not after training.
    let start = std::time::Instant::now();
    let out = tessera()
        .args(["train", "--parties", "2", "--epochs", "200", "--data"])
        .arg(repo("data/breast_cancer.csv"))
        .arg("--out")
        .arg(tmp.join("no/such/dir/model.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot write") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!err.contains("epoch"), "trained before failing: {err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    // --quiet silences keygen.
    let out = tessera()
        .args(["--quiet", "keygen", "--parties", "2", "--out"])
        .arg(tmp.join("keys"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn banners_name_models_and_parties_properly() {
    let tmp = scratch("banners_name_models_and_parties_properly");
    // A party id beyond the job file is refused before any banner.
    let keys = tmp.join("keys");
    assert!(tessera()
        .args(["--quiet", "keygen", "--parties", "2", "--out"])
        .arg(&keys)
        .status()
        .unwrap()
        .success());
    let out = tessera()
        .args(["party", "--config"])
        .arg(keys.join("job.example.toml"))
        .args(["--id", "5"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("there is no party 5") && err.contains("lists 2 parties"),
        "{err}"
    );
    assert!(!err.contains("party 5 of 2"), "{err}");
    // Model names read as words, one feature is singular, receivers are not repeated.
    let one = tmp.join("one.csv");
    let rows: String = (0..40)
        .map(|i| format!("{},{}\n", i as f64 / 10.0, (i >= 20) as u8))
        .collect();
    std::fs::write(&one, format!("x,label\n{rows}")).unwrap();
    let out = tessera()
        .args([
            "train",
            "--model",
            "mlp",
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--no-compare",
            "--data",
        ])
        .arg(&one)
        .arg("--out")
        .arg(tmp.join("m.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("joint MLP,"), "{text}");
    assert!(text.contains("x 1 feature from"), "{text}");
    assert!(!text.contains("Mlp"), "{text}");
    let out = tessera()
        .args(["train", "--model-to", "0,0", "--data"])
        .arg(repo("data/breast_cancer.csv"))
        .arg("--out")
        .arg(tmp.join("m2.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("party 0 twice"),
        "{err}"
    );
}

/// Writes an MNIST-format pair (`prefix` train or t10k) of `n` 2x2 images
/// whose label is the brightest pixel's index.
fn write_idx(dir: &std::path::Path, prefix: &str, n: u32, seed: u32) {
    let mut images = vec![0, 0, 8, 3];
    let mut labels = vec![0, 0, 8, 1];
    for v in [n, 2, 2] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    labels.extend_from_slice(&n.to_be_bytes());
    for i in 0..n {
        let hot = (i * 7 + seed) % 4;
        for p in 0..4 {
            images.push(if p == hot {
                200 + (i % 50) as u8
            } else {
                (i * 13 + p * 29) as u8 % 60
            });
        }
        labels.push(hot as u8);
    }
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
}

#[test]
fn mnist_idx_files_train_on_the_training_images_and_test_on_the_test_images() {
    let tmp = scratch("mnist_idx");
    let dir = tmp.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    write_idx(&dir, "train", 120, 1);
    write_idx(&dir, "t10k", 30, 2);
    let model = tmp.join("m.json");
    let out = tessera()
        .args([
            "train",
            "--model",
            "softmax",
            "--parties",
            "3",
            "--epochs",
            "8",
            "--lr",
            "1",
        ])
        .args([
            "--batch-size",
            "16",
            "--insecure-mpc-seed",
            "3",
            "--json",
            "--no-plot",
            "--data",
        ])
        .arg(&dir)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // All 120 training images trained on, all 30 test images held out.
    assert_eq!(m["train"]["rows"], 120, "{m}");
    assert_eq!(m["test"]["rows"], 30, "{m}");
    let (mpc, plain) = (&m["test"]["accuracy"], &m["plaintext_test"]["accuracy"]);
    assert!(mpc.as_f64().unwrap() >= 0.9, "{mpc}");
    assert_eq!(mpc, plain);
    // The classes were read from the labels (four), pixels scaled to [0, 1].
    let saved = tessera::models::SavedModel::load(&model).unwrap();
    assert_eq!(saved.training.classes, 4);
    assert!(saved.scaling.mean.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // A CNN on the same images, and what inspect says of it.
    let cnn = tmp.join("cnn.json");
    let out = tessera()
        .args([
            "train", "--model", "cnn", "--conv", "3:2", "--hidden", "4", "--epochs", "2",
        ])
        .args([
            "--parties",
            "2",
            "--no-compare",
            "--no-plot",
            "--quiet",
            "--data",
        ])
        .arg(&dir)
        .arg("--out")
        .arg(&cnn)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tessera().arg("inspect").arg(&cnn).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CNN") && text.contains("1x2x2 images -> conv 2x2 to 3 -> dense 3 -> 4 -> 4"),
        "{text}"
    );
    // Only rows: a split by columns of the pixels is refused with a reason.
    let out = tessera()
        .args([
            "train", "--model", "softmax", "--split", "columns", "--data",
        ])
        .arg(&dir)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--split rows"),
        "{stderr}"
    );
}
