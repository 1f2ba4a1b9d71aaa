//! The `tessera` binary refusing bad input before any work: sizes from the
//! input bounded, settings named as the caller names them, hand-edited
//! model files refused alike by every command.

mod common;
use common::{repo, tessera, Scratch};

fn scratch(test: &str) -> Scratch {
    Scratch::new("cli-input", test)
}

#[test]
fn sizes_from_input_are_bounded_and_settings_named_in_the_callers_terms() {
    let tmp = scratch("sizes_from_input_are_bounded");
    let run = |args: &[&str], data: &std::path::Path| {
        let out = tessera()
            .args([
                "train",
                "--parties",
                "2",
                "--no-compare",
                "--no-plot",
                "--out",
            ])
            .arg(tmp.join("m.json"))
            .args(args)
            .arg("--data")
            .arg(data)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let iris = repo("data/iris.csv");
    // A class count from the command line, and one from a stray label.
    let err = run(&["--model", "softmax", "--classes", "1000000"], &iris);
    assert!(
        err.contains("--classes of a softmax regression model must be 2 to 10000, got 1000000"),
        "{err}"
    );
    let stray = tmp.join("stray.csv");
    std::fs::write(&stray, "a,label\n1,0\n2,1\n3,1000000\n4,0\n").unwrap();
    let err = run(&["--model", "softmax"], &stray);
    assert!(
        err.contains("--classes") && err.contains("got 1000001"),
        "{err}"
    );
    let huge = tmp.join("huge.csv");
    std::fs::write(&huge, "a,label\n1,0\n2,1\n3,1e300\n4,0\n").unwrap();
    let err = run(&["--model", "mlp"], &huge);
    assert!(err.contains("--classes") && err.contains("10000"), "{err}");
    let err = run(&["--model", "mlp", "--hidden", "100000000"], &iris);
    assert!(err.contains("--hidden widths"), "{err}");
    let err = run(&["--lr", "500"], &repo("data/breast_cancer.csv"));
    assert!(err.contains("--lr must be in (0, 100), got 500"), "{err}");

    // The same setting in a job file is named as the file names it.
    let job = tmp.join("job.toml");
    std::fs::write(
        &job,
        "[job]\nmodel = \"logistic\"\nsplit = \"rows\"\nlearning_rate = 500\n\n[tls]\nca = \"ca.pem\"\n\n\
         [dealer]\naddress = \"127.0.0.1:1\"\ncert = \"d.pem\"\nkey = \"d.key\"\n\n\
         [[party]]\naddress = \"127.0.0.1:2\"\ncert = \"p0.pem\"\nkey = \"p0.key\"\ndata = \"a.csv\"\n\n\
         [[party]]\naddress = \"127.0.0.1:3\"\ncert = \"p1.pem\"\nkey = \"p1.key\"\ndata = \"b.csv\"\n",
    )
    .unwrap();
    let err = tessera::deploy::JobFile::load(&job)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("learning_rate must be in (0, 100), got 500") && !err.contains("--lr"),
        "{err}"
    );
    // Network figures that cannot be durations are refused when the file is
    // read, not met as a panic when the links open.
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("learning_rate = 500", "learning_rate = 0.5");
    for (network, expect) in [
        ("delay_ms = -5", "latency of -5 ms"),
        ("rate_mbps = -1", "bandwidth of -1 Mbit/s"),
        ("recv_timeout_s = 0", "recv_timeout_s = 0"),
        ("connect_timeout_s = -3", "connect_timeout_s = -3"),
    ] {
        std::fs::write(&job, format!("{text}\n[network]\n{network}\n")).unwrap();
        let err = tessera::deploy::JobFile::load(&job)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expect) && err.contains("[network]"),
            "{network}: {err}"
        );
    }
}

#[test]
fn hand_edited_model_files_are_refused_alike_by_every_command() {
    let tmp = scratch("hand_edited_model_files");
    let data = repo("data/breast_cancer.csv");
    let good = tmp.join("good.json");
    let out = tessera()
        .args([
            "train",
            "--parties",
            "2",
            "--epochs",
            "1",
            "--no-compare",
            "--no-plot",
            "--quiet",
        ])
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit, &str); 6] = [
        (
            "frac0",
            |m| m["frac_bits"] = 0.into(),
            "frac_bits 0 is not supported",
        ),
        (
            "frac60",
            |m| m["frac_bits"] = 60.into(),
            "frac_bits 60 is not supported",
        ),
        (
            "std0",
            |m| m["scaling"]["std"][2] = 0.0.into(),
            "standard deviation 0",
        ),
        ("huge", |m| m["weights"][1] = 1e300.into(), "is 1e300"),
        (
            "nobias",
            |m| {
                m.as_object_mut().unwrap().remove("bias");
            },
            "needs a bias; the file has none",
        ),
        (
            "hugebias",
            |m| m["bias"] = (-1e20).into(),
            "the bias is -1e20",
        ),
    ];
    for (name, edit, want) in edits {
        let mut m = model.clone();
        edit(&mut m);
        let path = tmp.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
        let runs: [Vec<std::ffi::OsString>; 3] = [
            vec!["inspect".into(), path.clone().into()],
            vec![
                "predict".into(),
                "--model".into(),
                path.clone().into(),
                "--data".into(),
                data.clone().into(),
            ],
            vec![
                "infer".into(),
                "--model".into(),
                path.clone().into(),
                "--data".into(),
                data.clone().into(),
            ],
        ];
        for args in runs {
            let out = tessera().args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{name} {:?} was accepted", args[0]);
            assert!(stderr.contains(want), "{name} {:?}: {stderr}", args[0]);
            assert!(!stderr.contains("000000000000"), "{name}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}
