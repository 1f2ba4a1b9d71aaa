//! Writes a network as an ONNX model (opset 13), so that other tools
//! (onnxruntime, PyTorch, Netron) can load what tessera trained.

use super::proto::{
    attribute_type, data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
use crate::arch::{ActivationSpec, Architecture, Head, LayerSpec};
use crate::error::{ModelError, Result};
use crate::infer::{folded_blocks, InferOutput, InferSpec};
use crate::model::SavedModel;
use ndarray::ArrayD;
use prost::Message;
use std::path::Path;

const OPSET: i64 = 13;
const IR_VERSION: i64 = 7;

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

fn floats(name: &str, dims: &[usize], values: impl Iterator<Item = f64>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        raw_data: values.flat_map(|v| (v as f32).to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    let mut dim = vec![Dimension {
        dim_value: None,
        dim_param: Some("batch".into()),
    }];
    dim.extend(shape.iter().map(|&d| Dimension {
        dim_value: Some(d as i64),
        dim_param: None,
    }));
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

/// The ONNX bytes of `arch` with parameter blocks `blocks` (as
/// [`Architecture::block_shapes`] lists them), on input rows of shape
/// `input_shape` (`[features]` or `[channels, height, width]`).
pub fn to_onnx_bytes(
    arch: &Architecture,
    blocks: &[ArrayD<f64>],
    input_shape: &[usize],
) -> Result<Vec<u8>> {
    let refuse = |m: String| Err(ModelError::Config(format!("cannot export to ONNX: {m}")));
    if arch.block_shapes().len() != blocks.len() {
        return refuse("the blocks do not match the layers".into());
    }
    let mut graph = GraphProto {
        name: "tessera".into(),
        input: vec![value_info("input", input_shape)],
        ..Default::default()
    };
    let mut current = "input".to_string();
    let mut rank = input_shape.len();
    let mut blocks = blocks.iter();
    let push = |graph: &mut GraphProto, op: &str, inputs: Vec<String>, attrs| {
        let out = format!("{}_{}", op.to_lowercase(), graph.node.len());
        graph.node.push(NodeProto {
            input: inputs,
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        out
    };
    for (i, l) in arch.layers.iter().enumerate() {
        current = match *l {
            LayerSpec::Dense { inputs, outputs } => {
                if rank != 1 {
                    current = push(&mut graph, "Flatten", vec![current], vec![int("axis", 1)]);
                    rank = 1;
                }
                let b = blocks.next().expect("counted");
                let (w, bias) = (format!("dense{i}.weight"), format!("dense{i}.bias"));
                graph.initializer.push(floats(
                    &w,
                    &[inputs, outputs],
                    b.iter().take(inputs * outputs).copied(),
                ));
                graph.initializer.push(floats(
                    &bias,
                    &[outputs],
                    b.iter().skip(inputs * outputs).copied(),
                ));
                push(&mut graph, "Gemm", vec![current, w, bias], vec![])
            }
            LayerSpec::Conv {
                input,
                out_channels,
                kernel,
                stride,
                padding,
            } => {
                let b = blocks.next().expect("counted");
                let rows = input[0] * kernel * kernel;
                let (w, bias) = (format!("conv{i}.weight"), format!("conv{i}.bias"));
                // Block rows (c, ky, kx) by output columns, to [out, c, ky, kx].
                let filters = (0..out_channels)
                    .flat_map(|o| (0..rows).map(move |r| (r, o)))
                    .map(|(r, o)| b[[r, o]]);
                graph.initializer.push(floats(
                    &w,
                    &[out_channels, input[0], kernel, kernel],
                    filters,
                ));
                graph.initializer.push(floats(
                    &bias,
                    &[out_channels],
                    (0..out_channels).map(|o| b[[rows, o]]),
                ));
                let attrs = vec![
                    ints("kernel_shape", &[kernel, kernel]),
                    ints("strides", &[stride, stride]),
                    ints("pads", &[padding; 4]),
                ];
                push(&mut graph, "Conv", vec![current, w, bias], attrs)
            }
            LayerSpec::Pool {
                average,
                kernel,
                stride,
                padding,
                ..
            } => {
                let mut attrs = vec![
                    ints("kernel_shape", &[kernel, kernel]),
                    ints("strides", &[stride, stride]),
                    ints("pads", &[padding; 4]),
                ];
                let op = if average {
                    attrs.push(int("count_include_pad", 1));
                    "AveragePool"
                } else {
                    "MaxPool"
                };
                push(&mut graph, op, vec![current], attrs)
            }
            LayerSpec::Pad { pads, .. } => {
                let name = format!("pad{i}.pads");
                let [t, l, b, r] = pads;
                graph.initializer.push(TensorProto {
                    name: name.clone(),
                    dims: vec![8],
                    data_type: data_type::INT64,
                    int64_data: [0, 0, t, l, 0, 0, b, r].map(|v| v as i64).to_vec(),
                    ..Default::default()
                });
                push(&mut graph, "Pad", vec![current, name], vec![])
            }
            LayerSpec::Activation { function } => {
                let op = match function {
                    ActivationSpec::Relu => "Relu",
                    ActivationSpec::Sigmoid => "Sigmoid",
                    ActivationSpec::Tanh => "Tanh",
                    ActivationSpec::ReluPoly2 | ActivationSpec::ReluPoly4 => {
                        return refuse(
                            "a polynomial ReLU has no ONNX operator; train with the exact ReLU"
                                .into(),
                        )
                    }
                };
                push(&mut graph, op, vec![current], vec![])
            }
        };
        if let Some(planes) = l.output_planes()? {
            rank = planes.len();
        }
    }
    let head = match arch.head {
        Head::Identity => None,
        Head::Sigmoid => Some(("Sigmoid", vec![])),
        Head::Softmax => Some(("Softmax", vec![int("axis", -1)])),
        Head::LogSoftmax => Some(("LogSoftmax", vec![int("axis", -1)])),
    };
    if let Some((op, attrs)) = head {
        push(&mut graph, op, vec![current], attrs);
    }
    graph
        .node
        .last_mut()
        .ok_or_else(|| ModelError::Config("cannot export a network with no layers".into()))?
        .output = vec!["output".into()];
    graph.output = vec![value_info("output", &[arch.outputs()?])];
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "tessera".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: String::new(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    };
    Ok(model.encode_to_vec())
}

/// Writes a tessera model as ONNX, with its feature scaling folded into the
/// first layer: the ONNX model takes the raw features (or pixels) in the
/// order of the model file, and outputs what `tessera predict` does
/// (probabilities, or the value for linear regression).
pub fn export(model: &SavedModel, path: impl AsRef<Path>) -> Result<()> {
    let spec = InferSpec::new(model, 2, 0, 1, InferOutput::Scores, 1)?;
    let arch = spec.architecture()?;
    let input: Vec<usize> = match spec.image.filter(|_| !spec.convolutions.is_empty()) {
        Some(image) => image.to_vec(),
        None => vec![arch.inputs],
    };
    let bytes = to_onnx_bytes(&arch, &folded_blocks(model), &input)?;
    let path = path.as_ref();
    std::fs::write(path, bytes).map_err(|e| ModelError::io(path, &e))
}
