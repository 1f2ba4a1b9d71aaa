//! The `tessera` binary end to end: train, predict, and errors as sentences.

use std::path::PathBuf;
use std::process::Command;

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn train_then_predict() {
    let model = scratch("model.json");
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

    let preds = scratch("preds.csv");
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
    assert_eq!(lines[0], "probability,class");
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
    let bad = scratch("bad.csv");
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
        !out.status.success() && stderr.contains("--parties must be at least 2"),
        "{stderr}"
    );
}
