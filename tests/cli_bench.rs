//! `tessera bench` end to end: every task reported as JSON and Markdown,
//! without a dealer, and under active security.

mod common;
use common::{repo, tessera, Scratch};

fn scratch(test: &str) -> Scratch {
    Scratch::new("cli_bench", test)
}

#[test]
fn bench_without_a_dealer_reports_the_same_task_names() {
    let out = tessera()
        .args([
            "--json",
            "bench",
            "--quick",
            "--preprocessing",
            "ot",
            "--only",
            "logreg",
            "--data",
        ])
        .arg(repo("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["preprocessing"], "ot");
    assert!(v["trust"].as_str().unwrap().contains("no dealer"));
    let t = &v["tasks"][0];
    assert_eq!(t["name"], "logreg_breast_cancer");
    assert!(t["preprocessing_bytes"].as_u64().unwrap() > 0);
    assert!(t["accuracy_mpc"].as_f64().unwrap() > 0.9);
}

#[test]
fn bench_under_active_security_runs_what_it_can_and_says_why_not_the_rest() {
    let out = tessera()
        .args([
            "--json",
            "bench",
            "--quick",
            "--security",
            "active",
            "--only",
            "logreg_",
            "--data",
        ])
        .arg(repo("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["security"], "active");
    let tasks = v["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "logreg_breast_cancer",
            "logreg_semi_honest",
            "logreg_active",
            // It matches the filter too, and says why it did not run.
            "mnist_logreg_epoch"
        ]
    );
    // The first ran actively: the same cost as logreg_active.
    assert_eq!(
        tasks[0]["bytes_sent_per_party"],
        tasks[2]["bytes_sent_per_party"]
    );
    assert!(tasks[0]["accuracy_mpc"].as_f64().unwrap() > 0.9);
    let out = tessera()
        .args([
            "--json",
            "bench",
            "--quick",
            "--security",
            "active",
            "--only",
            "relu",
            "--data",
        ])
        .arg(repo("data"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let note = v["tasks"][0]["note"].as_str().unwrap();
    assert!(
        note.starts_with("skipped under --security active"),
        "{note}"
    );
}

#[test]
fn bench_quick_runs_every_task_and_reports_json() {
    let tmp = scratch("bench_quick_runs_every_task_and_reports_json");
    let md = tmp.join("bench.md");
    let out = tessera()
        .args(["--json", "bench", "--quick", "--data"])
        .arg(repo("data"))
        .arg("--mnist")
        .arg(repo("../shared/data/mnist"))
        .arg("--onnx")
        .arg(repo("models/tests/fixtures/onnx"))
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --json is JSON");
    assert!(v["dealer_prg_bytes_per_s"].as_f64().unwrap() > 0.0);
    let tasks = v["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "logreg_breast_cancer",
            "logreg_semi_honest",
            "logreg_active",
            "mlp_semi_honest",
            "mlp_active",
            "mlp_digits_epoch",
            "mlp_digits_online",
            "inference_digits",
            "mnist_logreg_epoch",
            "mnist_mlp_epoch",
            "mnist_mlp_inference",
            "onnx_fc_inference",
            "onnx_fc_inference_1",
            "onnx_cnn_inference",
            "onnx_cnn_inference_1",
            "mnist_cnn_epoch",
            "matmul",
            "beaver_triples",
            "relu",
            "sigmoid"
        ]
    );
    for t in tasks {
        if t["note"].as_str().is_some_and(|n| n.starts_with("skipped")) {
            // Only MNIST may be missing (a fresh clone without ../shared).
            assert!(t["name"].as_str().unwrap().starts_with("mnist_"), "{t}");
            continue;
        }
        // Times are recorded, never asserted on; the counters must be real.
        assert!(
            t["mpc_s"].as_f64().unwrap() > 0.0 && t["plaintext_s"].as_f64().unwrap() > 0.0,
            "{t}"
        );
        assert!(
            t["rounds"].as_u64().unwrap() > 0 && t["bytes_sent_per_party"].as_u64().unwrap() > 0,
            "{t}"
        );
        // The process's CPU time over the measured run (every thread).
        if cfg!(unix) {
            assert!(t["cpu_s"].as_f64().is_some_and(|c| c > 0.0), "{t}");
        }
        if let (Some(a), Some(b)) = (t["accuracy_mpc"].as_f64(), t["accuracy_plaintext"].as_f64()) {
            assert!((a - b).abs() < 0.03, "{t}");
        }
    }
    let table = std::fs::read_to_string(&md).unwrap();
    assert_eq!(table.lines().count(), 2 + tasks.len(), "{table}");
}

#[test]
fn bench_over_a_simulated_link_pays_the_latency_of_every_round() {
    let out = tessera()
        .args([
            "--json",
            "bench",
            "--quick",
            "--only",
            "logreg_breast_cancer",
            "--latency-ms",
            "2",
            "--bandwidth-mbps",
            "1000",
            "--data",
        ])
        .arg(repo("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["latency_ms"], 2.0);
    assert_eq!(v["bandwidth_mbps"], 1000.0);
    let t = &v["tasks"][0];
    // Every round waits at least one latency for the peer's message.
    let rounds = t["rounds"].as_f64().unwrap();
    assert!(rounds > 100.0, "{t}");
    assert!(t["mpc_s"].as_f64().unwrap() >= rounds * 0.002, "{t}");
    assert!(t["accuracy_mpc"].as_f64().unwrap() > 0.9);

    let out = tessera()
        .args(["bench", "--quick", "--latency-ms=-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--latency-ms") && err.contains("latency of -1 ms"),
        "{err}"
    );
}
