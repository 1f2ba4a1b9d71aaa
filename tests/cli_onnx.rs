//! The ONNX path of the `tessera` binary: inspect, private inference and
//! plaintext prediction with a PyTorch export, and export of a trained model.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::Scratch;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .unwrap()
}

fn repo(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

fn fixture(name: &str) -> String {
    repo(&format!("models/tests/fixtures/onnx/{name}"))
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The first column of a predictions file.
fn classes(path: &std::path::Path) -> Vec<usize> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_pytorch_export_is_inspected_and_queried_privately() {
    let tmp = Scratch::new("cli_onnx", "pytorch");
    let text = ok(&tessera(&["inspect", &fixture("mnist_cnn.onnx")]));
    assert!(text.contains("ONNX network from pytorch"), "{text}");
    assert!(
        text.contains("conv 5x5 stride 1 padding 0: 1x28x28 -> 8 channels"),
        "{text}"
    );
    assert!(text.contains("max pool 2x2"), "{text}");

    let preds = tmp.join("preds.csv");
    let out = tessera(&[
        "infer",
        "--model",
        &fixture("mnist_cnn.onnx"),
        "--data",
        &fixture("mnist_test100.csv"),
        "--parties",
        "3",
        "--owner",
        "2",
        "--querier",
        "0",
        "--out",
        &preds.display().to_string(),
    ]);
    ok(&out);
    let torch: Vec<usize> = std::fs::read_to_string(fixture("mnist_cnn.outputs.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
        })
        .collect();
    let got = classes(&preds);
    let same = got.iter().zip(&torch).filter(|(a, b)| a == b).count();
    assert!(same >= 99, "{same} of 100 classes as PyTorch's");

    ok(&tessera(&[
        "predict",
        "--model",
        &fixture("mnist_fc.onnx"),
        "--data",
        &fixture("mnist_test100.csv"),
        "--out",
        &tmp.join("plain.csv").display().to_string(),
    ]));
    assert_eq!(classes(&tmp.join("plain.csv")).len(), 100);

    let bad = tmp.join("bad.onnx");
    std::fs::write(&bad, b"\xff\xff not protobuf").unwrap();
    let out = tessera(&[
        "infer",
        "--model",
        &bad.display().to_string(),
        "--data",
        &fixture("mnist_test100.csv"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.onnx") && err.contains("not an ONNX model"),
        "{err}"
    );
}

#[test]
fn a_trained_model_exported_to_onnx_answers_as_it_did() {
    let tmp = Scratch::new("cli_onnx", "export");
    let model = tmp.join("model.json").display().to_string();
    let onnx = tmp.join("model.onnx").display().to_string();
    let digits = repo("data/digits.csv");
    ok(&tessera(&[
        "train", "--data", &digits, "--model", "mlp", "--hidden", "32", "--epochs", "2", "--out",
        &model, "--quiet",
    ]));
    ok(&tessera(&["export", &model, "--out", &onnx]));
    let text = ok(&tessera(&["inspect", &onnx]));
    assert!(text.contains("dense 64 -> 32"), "{text}");
    let run = |m: &str, name: &str| {
        let out = tmp.join(name);
        ok(&tessera(&[
            "infer",
            "--model",
            m,
            "--data",
            &digits,
            "--out",
            &out.display().to_string(),
        ]));
        classes(&out)
    };
    let (from_json, from_onnx) = (run(&model, "json.csv"), run(&onnx, "onnx.csv"));
    let same = from_json
        .iter()
        .zip(&from_onnx)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        same * 100 >= 99 * from_json.len(),
        "{same} of {}",
        from_json.len()
    );
}
