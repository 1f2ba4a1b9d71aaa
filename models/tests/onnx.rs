//! ONNX import: networks exported from PyTorch (fixtures made by
//! `scripts/onnx_fixtures.py`) give PyTorch's outputs in plaintext and,
//! under MPC for 2 and 3 parties, PyTorch's classes.

use std::path::PathBuf;
use tessera_layers::F32Backend;
use tessera_models::*;

const FIXTURES: [&str; 3] = ["mnist_fc", "mnist_cnn", "mnist_bn"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn rows() -> Dataset {
    Dataset::from_csv(fixture("mnist_test100.csv")).unwrap()
}

/// What PyTorch output for the 100 rows.
fn torch_outputs(name: &str) -> Vec<Vec<f64>> {
    std::fs::read_to_string(fixture(&format!("{name}.outputs.csv")))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

/// The gap between the two largest outputs.
fn margin(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    s[0] - s[1]
}

#[test]
fn imported_networks_reproduce_pytorch_in_plaintext() {
    let data = rows();
    for name in FIXTURES {
        let model = OnnxModel::load(fixture(&format!("{name}.onnx"))).unwrap();
        assert_eq!(model.input_shape, vec![1, 28, 28], "{name}");
        let spec = model
            .infer_spec(2, 0, 1, InferOutput::Scores, data.rows())
            .unwrap();
        let got = infer_plain(&mut F32Backend, &spec, &model, &data).unwrap();
        let want = torch_outputs(name);
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), 10);
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 2e-3, "{name} row {r}: {g:?} against {w:?}");
            }
        }
    }
}

#[test]
fn batch_norm_is_folded_and_the_bn_model_has_no_extra_layers() {
    let model = OnnxModel::load(fixture("mnist_bn.onnx")).unwrap();
    let layers: Vec<String> = model
        .arch
        .layers
        .iter()
        .map(|l| {
            format!("{l:?}")
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    // conv, relu, avg pool, pad, conv, tanh, dense, sigmoid, dense: the
    // three batch normalisations are inside the blocks.
    assert_eq!(
        layers,
        [
            "Conv",
            "Activation",
            "Pool",
            "Pad",
            "Conv",
            "Activation",
            "Dense",
            "Activation",
            "Dense"
        ],
    );
    assert_eq!(model.arch.head, Head::LogSoftmax);
    assert_eq!(model.blocks.len(), 4);
}

#[test]
fn private_inference_of_imported_networks_gives_pytorchs_classes() {
    let data = rows();
    for name in FIXTURES {
        let model = OnnxModel::load(fixture(&format!("{name}.onnx"))).unwrap();
        let want = torch_outputs(name);
        for (parties, owner, querier) in [(2, 0, 1), (3, 2, 0)] {
            let spec = model
                .infer_spec(parties, owner, querier, InferOutput::Class, data.rows())
                .unwrap();
            let report = run_inference_embedded(&spec, &model, &data, Some([3; 32])).unwrap();
            for (r, (got, w)) in report.predictions.iter().zip(&want).enumerate() {
                // Only a near tie may go either way in fixed point.
                assert!(
                    got[0] as usize == argmax(w) || margin(w) < 0.05,
                    "{name}, {parties} parties, row {r}: class {} against PyTorch's {} ({w:?})",
                    got[0],
                    argmax(w)
                );
            }
            // Only the querier learned anything: the classes.
            for (p, openings) in report.openings.iter().enumerate() {
                assert!(openings.iter().all(|o| o.to == Some(querier)), "party {p}");
            }
        }
    }
}

#[test]
fn private_scores_of_an_imported_network_are_pytorchs_outputs() {
    let data = rows();
    let model = OnnxModel::load(fixture("mnist_cnn.onnx")).unwrap();
    let spec = model
        .infer_spec(2, 1, 0, InferOutput::Scores, data.rows())
        .unwrap();
    let report = run_inference_embedded(&spec, &model, &data, None).unwrap();
    let want = torch_outputs("mnist_cnn");
    let worst = report
        .predictions
        .iter()
        .flatten()
        .zip(want.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 0.02, "worst logit error {worst}");
}

/// A one-node graph `op(image, w)` on rows of 4 values.
fn one_node(op: &str, inputs: &[&str]) -> Vec<u8> {
    use prost::Message;
    use tessera_models::onnx::proto::*;
    let info = |name: &str, dims: &[i64]| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: (d > 0).then_some(d),
                            dim_param: (d <= 0).then(|| "batch".into()),
                        })
                        .collect(),
                }),
            }),
        }),
    };
    ModelProto {
        ir_version: 7,
        graph: Some(GraphProto {
            name: "g".into(),
            node: vec![NodeProto {
                input: inputs.iter().map(|s| s.to_string()).collect(),
                output: vec!["y".into()],
                name: "the_node".into(),
                op_type: op.into(),
                ..Default::default()
            }],
            initializer: vec![TensorProto {
                name: "w".into(),
                dims: vec![4, 2],
                data_type: 1,
                float_data: vec![0.5; 8],
                ..Default::default()
            }],
            input: vec![info("image", &[0, 4])],
            output: vec![info("y", &[0, 2])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn unsupported_graphs_are_refused_naming_the_node() {
    let load = |bytes: &[u8]| OnnxModel::from_bytes(bytes, std::path::Path::new("m.onnx"));
    // The supported one-node graph loads, and gives x W.
    let ok = load(&one_node("MatMul", &["image", "w"])).unwrap();
    assert_eq!(
        ok.arch.layers,
        vec![LayerSpec::Dense {
            inputs: 4,
            outputs: 2
        }]
    );
    for (bytes, wanted) in [
        (
            one_node("LSTM", &["image", "w"]),
            "'the_node' (LSTM): operator LSTM is not supported",
        ),
        (one_node("Add", &["image", "image"]), "skip connection"),
        (
            one_node("MatMul", &["w", "image"]),
            "must be the rows computed so far",
        ),
        (
            one_node("MatMul", &["image", "nowhere"]),
            "'nowhere' is not defined",
        ),
        (b"not a protobuf at all".to_vec(), "not an ONNX model"),
    ] {
        let err = load(&bytes)
            .err()
            .unwrap_or_else(|| panic!("accepted: {wanted}"));
        assert!(err.contains(wanted), "{err}");
    }
    // Weights beyond the fixed-point range are refused too.
    let mut big = one_node("MatMul", &["image", "w"]);
    let at = big
        .windows(4)
        .position(|w| w == 0.5f32.to_le_bytes())
        .unwrap();
    big[at..at + 4].copy_from_slice(&1e30f32.to_le_bytes());
    assert!(load(&big).err().unwrap().contains("finite and below"));
}

#[test]
fn an_imported_network_answers_classes_under_active_security() {
    let data = rows().select(&(0..4).collect::<Vec<_>>());
    let model = OnnxModel::load(fixture("mnist_fc.onnx")).unwrap();
    let want = torch_outputs("mnist_fc");
    let mut spec = model
        .infer_spec(2, 0, 1, InferOutput::Class, data.rows())
        .unwrap();
    spec.security = Security::Active;
    let report = run_inference_embedded(&spec, &model, &data, None).unwrap();
    for (got, w) in report.predictions.iter().zip(&want) {
        assert!(got[0] as usize == argmax(w) || margin(w) < 0.05);
    }
}
