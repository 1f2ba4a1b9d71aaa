//! Parties and the dealer as separate `tessera` processes over mutual TLS on
//! 127.0.0.1: same model as the embedded mode, and clear failures.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tessera::models::{run_job_embedded, Dataset, JobSpec, SavedModel, Split, TrainConfig};

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

mod common;
use common::Scratch;

fn scratch(name: &str) -> Scratch {
    Scratch::new("dist", name)
}

/// A port that was free when checked, below the kernel's ephemeral range
/// (32768-60999 on Linux). A port the kernel picks for `bind(0)` lies in
/// that range, where any outgoing connection of a test running alongside
/// can take it before the party binds it (seen in CI: "Address already in
/// use"); below it, only listeners compete, and this process hands out each
/// port once.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = std::process::id().wrapping_mul(131) % SPAN;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < SPAN, "no free port below the ephemeral range");
        let port = (FIRST + (start + n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Keys, per-party data and a job file for `parties` parties in `dir`.
fn setup(dir: &Path, parties: usize, epochs: usize, extra_network: &str) {
    setup_with(
        dir,
        parties,
        epochs,
        extra_network,
        tessera::Provider::Dealer,
    )
}

fn setup_with(
    dir: &Path,
    parties: usize,
    epochs: usize,
    extra_network: &str,
    provider: tessera::Provider,
) {
    tessera::deploy::keygen(dir, parties, provider).unwrap();
    let out = tessera()
        .args(["split", "--parties", &parties.to_string(), "--data"])
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/breast_cancer.csv"))
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut job = format!(
        "preprocessing = \"{provider}\"\n[job]\nmodel = \"logistic\"\nsplit = \"rows\"\nepochs = {epochs}\nlearning_rate = 0.5\nbatch_size = 32\nseed = 42\ninsecure_mpc_seed = 7\n\n[tls]\nca = \"ca.pem\"\n\n[network]\n{extra_network}\n"
    );
    if provider == tessera::Provider::Dealer {
        job += &format!(
            "\n[dealer]\naddress = \"127.0.0.1:{}\"\ncert = \"dealer.pem\"\nkey = \"dealer.key\"\n",
            free_port()
        );
    }
    for i in 0..parties {
        job += &format!(
            "\n[[party]]\naddress = \"127.0.0.1:{}\"\ncert = \"party-{i}.pem\"\nkey = \"party-{i}.key\"\ndata = \"party-{i}.csv\"\n",
            free_port()
        );
    }
    std::fs::write(dir.join("job.toml"), job).unwrap();
}

fn spawn_party(dir: &Path, job: &str, id: usize) -> Child {
    tessera()
        .args(["party", "--config"])
        .arg(dir.join(job))
        .args(["--id", &id.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn spawn_dealer(dir: &Path, job: &str) -> Child {
    tessera()
        .args(["dealer", "--config"])
        .arg(dir.join(job))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a process with a deadline; kills it if it overruns.
fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("process still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn separate_processes_train_the_same_model_as_embedded() {
    let dir = scratch("same");
    setup(&dir, 3, 4, "");
    // Start in a scrambled order: connections retry until everyone is up.
    let p2 = spawn_party(&dir, "job.toml", 2);
    let dealer = spawn_dealer(&dir, "job.toml");
    let p0 = spawn_party(&dir, "job.toml", 0);
    std::thread::sleep(Duration::from_millis(200));
    let p1 = spawn_party(&dir, "job.toml", 1);
    for (who, child) in [
        ("party 0", p0),
        ("party 1", p1),
        ("party 2", p2),
        ("dealer", dealer),
    ] {
        let out = finish(child, Duration::from_secs(120));
        assert!(out.status.success(), "{who} failed: {}", stderr(&out));
    }
    let parts: Vec<Dataset> = (0..3)
        .map(|i| Dataset::from_csv(dir.join(format!("party-{i}.csv"))).unwrap())
        .collect();
    let spec = JobSpec::new(
        3,
        Split::Rows,
        TrainConfig {
            epochs: 4,
            ..TrainConfig::default()
        },
    );
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&7u64.to_le_bytes());
    let embedded = run_job_embedded(&spec, &parts, Some(seed)).unwrap();
    let reference = embedded.model().unwrap();
    for i in 0..3 {
        let m = SavedModel::load(dir.join(format!("model-party-{i}.json"))).unwrap();
        assert_eq!(
            m.weights, reference.weights,
            "party {i}: weights differ from the embedded run"
        );
        assert_eq!(m.bias, reference.bias);
        assert_eq!(m.scaling, reference.scaling);
        let metrics: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("metrics-party-{i}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            metrics["stats"]["rounds"],
            serde_json::json!(embedded.cost.stats[i].rounds)
        );
        assert_eq!(
            metrics["stats"]["bytes_sent"],
            serde_json::json!(embedded.cost.stats[i].bytes_sent)
        );
        assert!(metrics["compute_s"].as_f64().unwrap() > 0.0);
    }
    // `tessera train` with the same data and settings, left at its defaults
    // (the job file's and the library's): the same model, bit for bit.
    let cli_model = dir.join("model-cli.json");
    let out = tessera()
        .args([
            "train",
            "--parties",
            "3",
            "--epochs",
            "4",
            "--insecure-mpc-seed",
            "7",
        ])
        .args(["--no-compare", "--no-plot", "--quiet", "--out"])
        .arg(&cli_model)
        .args((0..3).flat_map(|i| {
            [
                std::ffi::OsString::from("--data"),
                dir.join(format!("party-{i}.csv")).into(),
            ]
        }))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cli = SavedModel::load(&cli_model).unwrap();
    assert_eq!(
        cli.weights, reference.weights,
        "`tessera train` and the job file disagree"
    );
    assert_eq!(cli.metrics, reference.metrics);
}

#[test]
fn without_a_dealer_separate_processes_train_the_same_model_as_embedded() {
    let dir = scratch("ot");
    setup_with(&dir, 2, 2, "", tessera::Provider::Ot);
    assert!(
        !dir.join("dealer.pem").exists(),
        "no dealer certificate is made"
    );
    let p1 = spawn_party(&dir, "job.toml", 1);
    let p0 = spawn_party(&dir, "job.toml", 0);
    let mut errs = Vec::new();
    for (who, child) in [("party 0", p0), ("party 1", p1)] {
        let out = finish(child, Duration::from_secs(120));
        assert!(out.status.success(), "{who} failed: {}", stderr(&out));
        errs.push(stderr(&out));
    }
    assert!(errs[0].contains("no dealer"), "{}", errs[0]);
    // A dealer for this job has nothing to do, and says so.
    let dealer = finish(spawn_dealer(&dir, "job.toml"), Duration::from_secs(30));
    assert!(!dealer.status.success());
    assert!(stderr(&dealer).contains("no dealer"), "{}", stderr(&dealer));
    let parts: Vec<Dataset> = (0..2)
        .map(|i| Dataset::from_csv(dir.join(format!("party-{i}.csv"))).unwrap())
        .collect();
    let mut spec = JobSpec::new(
        2,
        Split::Rows,
        TrainConfig {
            epochs: 2,
            ..TrainConfig::default()
        },
    );
    spec.preprocessing = tessera::Provider::Ot;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&7u64.to_le_bytes());
    let embedded = run_job_embedded(&spec, &parts, Some(seed)).unwrap();
    let reference = embedded.model().unwrap();
    for i in 0..2 {
        let m = SavedModel::load(dir.join(format!("model-party-{i}.json"))).unwrap();
        assert_eq!(m.weights, reference.weights, "party {i}");
        assert_eq!(m.bias, reference.bias);
    }
}

#[test]
fn killing_a_party_stops_the_others_with_a_clear_error() {
    let dir = scratch("kill");
    setup(&dir, 3, 400, "recv_timeout_s = 20");
    let dealer = spawn_dealer(&dir, "job.toml");
    let p0 = spawn_party(&dir, "job.toml", 0);
    let p1 = spawn_party(&dir, "job.toml", 1);
    let mut p2 = spawn_party(&dir, "job.toml", 2);
    std::thread::sleep(Duration::from_millis(2500));
    p2.kill().unwrap();
    p2.wait().unwrap();
    let killed_at = Instant::now();
    for (who, child) in [("party 0", p0), ("party 1", p1)] {
        let out = finish(child, Duration::from_secs(30));
        let err = stderr(&out);
        assert!(!out.status.success(), "{who} should fail");
        // Each survivor names the peer it lost: party 2, or a survivor that
        // stopped first (or, on a slow machine, the one missing at the handshake).
        let names_a_peer = err.contains("connection to party") || err.contains("party-2");
        let says_why = [
            "disconnected",
            "no message",
            "no handshake",
            "no authenticated connection",
        ]
        .iter()
        .any(|w| err.contains(w));
        assert!(names_a_peer && says_why, "{who}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(
        killed_at.elapsed() < Duration::from_secs(25),
        "the others stopped within the timeout"
    );
    // The dealer does not report success for a failed job, and says it is
    // the one reporting.
    let dealer = finish(dealer, Duration::from_secs(30));
    let err = stderr(&dealer);
    assert!(!dealer.status.success(), "dealer exited 0: {err}");
    assert!(!err.contains("dealer done"), "{err}");
    assert!(err.contains("the dealer: connection to party 0"), "{err}");
    assert!(
        !dir.join("model-party-0.json").exists(),
        "no model written as if complete"
    );
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let dir = scratch("ca");
    setup(&dir, 2, 2, "connect_timeout_s = 4");
    let rogue = dir.join("rogue");
    tessera::deploy::keygen(&rogue, 2, tessera::Provider::Dealer).unwrap();
    std::fs::copy(rogue.join("party-1.pem"), dir.join("party-1.pem")).unwrap();
    std::fs::copy(rogue.join("party-1.key"), dir.join("party-1.key")).unwrap();
    let dealer = spawn_dealer(&dir, "job.toml");
    let p0 = spawn_party(&dir, "job.toml", 0);
    let p1 = spawn_party(&dir, "job.toml", 1);
    let o1 = finish(p1, Duration::from_secs(30));
    assert!(!o1.status.success());
    let e1 = stderr(&o1);
    assert!(
        e1.contains("error:")
            && (e1.contains("handshake") || e1.contains("certificate") || e1.contains("refused")),
        "{e1}"
    );
    let o0 = finish(p0, Duration::from_secs(30));
    assert!(!o0.status.success());
    assert!(
        stderr(&o0).contains("party-1"),
        "party 0 names the peer it never authenticated: {}",
        stderr(&o0)
    );
    let _ = finish(dealer, Duration::from_secs(30));
}

#[test]
fn a_different_job_file_is_refused_at_the_handshake() {
    let dir = scratch("job");
    setup(&dir, 2, 3, "connect_timeout_s = 10");
    let text = std::fs::read_to_string(dir.join("job.toml")).unwrap();
    std::fs::write(
        dir.join("other.toml"),
        text.replace("epochs = 3", "epochs = 5"),
    )
    .unwrap();
    let dealer = spawn_dealer(&dir, "job.toml");
    let p0 = spawn_party(&dir, "job.toml", 0);
    let p1 = spawn_party(&dir, "other.toml", 1);
    for child in [p0, p1] {
        let out = finish(child, Duration::from_secs(30));
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("job.epochs") && err.contains('3') && err.contains('5'),
            "{err}"
        );
    }
    let _ = finish(dealer, Duration::from_secs(30));
}

#[test]
fn private_inference_across_processes_reveals_predictions_to_the_querier_only() {
    use tessera::models::{
        infer_fixed, partition, run_job_plaintext, InferOutput, InferSpec, ModelKind,
    };
    let dir = scratch("infer");
    setup(&dir, 2, 1, "");
    // The owner's model: softmax regression on iris, trained in plaintext.
    let iris =
        Dataset::from_csv(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/iris.csv")).unwrap();
    let spec = JobSpec::new(
        2,
        Split::Rows,
        TrainConfig {
            model: ModelKind::Softmax,
            classes: 3,
            epochs: 30,
            learning_rate: 1.0,
            batch_size: 16,
            ..TrainConfig::default()
        },
    );
    let model = run_job_plaintext(&spec, &partition(&iris, 2, Split::Rows, 0).unwrap(), false)
        .unwrap()
        .model;
    model.save(dir.join("model.json")).unwrap();
    iris.write_csv(&dir.join("party-1.csv")).unwrap();
    let text = std::fs::read_to_string(dir.join("job.toml")).unwrap();
    let start = text.find("[job]").unwrap();
    let end = text.find("[tls]").unwrap();
    let infer = format!("{}[inference]\nmodel = \"model.json\"\nowner = 0\nquerier = 1\noutput = \"class\"\nout = \"predictions.csv\"\n\n{}", &text[..start], &text[end..]);
    std::fs::write(dir.join("infer.toml"), infer).unwrap();
    let dealer = spawn_dealer(&dir, "infer.toml");
    let p0 = spawn_party(&dir, "infer.toml", 0);
    let p1 = spawn_party(&dir, "infer.toml", 1);
    for (who, child) in [("owner", p0), ("querier", p1), ("dealer", dealer)] {
        let out = finish(child, Duration::from_secs(60));
        assert!(out.status.success(), "{who}: {}", stderr(&out));
    }
    let text = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
    // The same format as `tessera infer --out`: a `class` header first.
    assert_eq!(text.lines().next(), Some("class"), "{text}");
    let got: Vec<f64> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    let ispec = InferSpec::new(&model, 2, 0, 1, InferOutput::Class, iris.rows()).unwrap();
    let reference = infer_fixed(
        &ispec,
        &model,
        &iris,
        tessera::tensor::FixedPoint::default(),
    )
    .unwrap();
    let agree = got
        .iter()
        .zip(&reference)
        .filter(|(g, r)| **g == r[0])
        .count();
    assert!(
        agree >= 149,
        "{agree} of 150 predictions agree with fixed point"
    );
    let owner: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics-party-0.json")).unwrap())
            .unwrap();
    assert!(
        owner["predictions_path"].is_null(),
        "the owner learns no prediction"
    );
}

/// Party 1's address in the job file of `dir`.
fn party_address(dir: &Path, id: usize) -> String {
    let file = tessera::deploy::JobFile::load(&dir.join("job.toml")).unwrap();
    file.party[id].address.clone()
}

#[test]
fn handshakes_dropped_by_a_peer_still_starting_are_retried_until_it_is_up() {
    let dir = scratch("flaky");
    setup_with(&dir, 2, 2, "connect_timeout_s = 30", tessera::Provider::Ot);
    // Party 1's port answers first as a proxy whose backend is not up yet:
    // it accepts every connection and drops it at once.
    let fake = TcpListener::bind(party_address(&dir, 1)).unwrap();
    fake.set_nonblocking(true).unwrap();
    let p0 = spawn_party(&dir, "job.toml", 0);
    let (until, mut dropped) = (Instant::now() + Duration::from_millis(1500), 0);
    while Instant::now() < until {
        if let Ok((s, _)) = fake.accept() {
            drop(s);
            dropped += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(fake);
    assert!(dropped >= 1, "party 0 never tried to connect");
    let p1 = spawn_party(&dir, "job.toml", 1);
    for (who, child) in [("party 0", p0), ("party 1", p1)] {
        let out = finish(child, Duration::from_secs(120));
        assert!(out.status.success(), "{who} failed: {}", stderr(&out));
    }
}

#[test]
fn a_handshake_that_stalls_ends_in_a_timeout_naming_the_peer() {
    let dir = scratch("stalled");
    setup_with(&dir, 2, 2, "connect_timeout_s = 3", tessera::Provider::Ot);
    // Party 1's port accepts and then never answers.
    let fake = TcpListener::bind(party_address(&dir, 1)).unwrap();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        fake.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            if let Ok((s, _)) = fake.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        held.len()
    });
    let start = Instant::now();
    let out = finish(spawn_party(&dir, "job.toml", 0), Duration::from_secs(30));
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "gave up early: {err}"
    );
    assert!(
        err.contains("party-1") && err.contains("before the deadline") && err.contains("no answer"),
        "{err}"
    );
    assert!(!err.contains("temporarily unavailable"), "{err}");
    assert!(holder.join().unwrap() >= 1);
}
