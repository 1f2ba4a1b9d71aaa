//! From an ONNX graph to an [`Architecture`] and its parameter blocks.
//!
//! The graph must be a chain: one computed tensor flows from the input to
//! the output through the supported operators, and everything else is a
//! public constant evaluated here. Batch normalisation and a bias `Add` are
//! folded into the convolution or dense layer before them; `Flatten`,
//! `Reshape`, `Identity` and `Dropout` are free on tessera's flattened rows.
//! Any other operator is refused, naming the node, before anything runs.

use super::proto::{AttributeProto, GraphProto, NodeProto};
use super::tensor::{Tensor, BATCH};
use crate::arch::{ActivationSpec, Architecture, Head, LayerSpec};
use ndarray::{Array2, ArrayD};
use std::collections::HashMap;

/// What a name in the graph stands for.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// A public tensor.
    Const(Tensor),
    /// The computed tensor, with its per-row shape (the batch axis left out).
    Data(Vec<usize>),
}

/// The imported network: its architecture and its blocks.
pub struct Imported {
    pub arch: Architecture,
    pub blocks: Vec<ArrayD<f64>>,
    pub input_name: String,
    pub input_shape: Vec<usize>,
}

pub(super) struct Walker<'g> {
    pub(super) values: HashMap<&'g str, Value>,
    /// The name of the computed tensor now, and whether the last layer
    /// produced it directly (so a bias or batch norm may fold into it).
    pub(super) data: String,
    pub(super) foldable: bool,
    pub(super) layers: Vec<LayerSpec>,
    pub(super) blocks: Vec<Array2<f64>>,
    pub(super) head: Option<Head>,
    pub(super) opset: i64,
}

pub(super) fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub(super) fn attr_int(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

pub(super) fn attr_float(node: &NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

pub(super) fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn node_name(node: &NodeProto) -> String {
    if node.name.is_empty() {
        format!("{} -> {}", node.op_type, node.output.join(", "))
    } else {
        format!("'{}' ({})", node.name, node.op_type)
    }
}

/// Walks `graph` (opset `opset`) into a network.
pub fn import(graph: &GraphProto, opset: i64) -> Result<Imported, String> {
    let mut values: HashMap<&str, Value> = HashMap::new();
    for t in &graph.initializer {
        values.insert(t.name.as_str(), Value::Const(Tensor::from_proto(t)?));
    }
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !values.contains_key(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(format!(
            "the graph has {} inputs besides its weights; one (the rows) is supported",
            inputs.len()
        ));
    };
    let dims = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| &s.dim)
        .ok_or_else(|| format!("input '{}' declares no shape", input.name))?;
    let shape: Vec<usize> = dims
        .iter()
        .skip(1)
        .map(|d| match d.dim_value {
            Some(v) if v > 0 => Ok(v as usize),
            _ => Err(format!(
                "input '{}' has a dimension after the batch that is not a fixed size",
                input.name
            )),
        })
        .collect::<Result<_, _>>()?;
    if dims.is_empty() || shape.is_empty() {
        return Err(format!(
            "input '{}' must be [batch, ...], not of rank {}",
            input.name,
            dims.len()
        ));
    }
    values.insert(input.name.as_str(), Value::Data(shape.clone()));
    let mut w = Walker {
        values,
        data: input.name.clone(),
        foldable: false,
        layers: Vec::new(),
        blocks: Vec::new(),
        head: None,
        opset,
    };
    for node in &graph.node {
        w.node(node)
            .map_err(|e| format!("node {}: {e}", node_name(node)))?;
    }
    let [output] = graph.output.as_slice() else {
        return Err(format!(
            "the graph has {} outputs; one is supported",
            graph.output.len()
        ));
    };
    if output.name != w.data {
        return Err(format!(
            "the graph's output '{}' is not the result of its computation ('{}')",
            output.name, w.data
        ));
    }
    let arch = Architecture {
        inputs: shape.iter().product(),
        layers: w.layers,
        head: w.head.unwrap_or(Head::Identity),
    };
    arch.widths().map_err(|e| e.to_string())?;
    Ok(Imported {
        arch,
        blocks: w.blocks.into_iter().map(|b| b.into_dyn()).collect(),
        input_name: input.name.clone(),
        input_shape: shape,
    })
}

impl<'g> Walker<'g> {
    pub(super) fn get(&self, name: &str) -> Result<&Value, String> {
        self.values
            .get(name)
            .ok_or_else(|| format!("input '{name}' is not defined before it"))
    }

    pub(super) fn constant(&self, node: &NodeProto, i: usize) -> Result<Tensor, String> {
        match node.input.get(i).filter(|n| !n.is_empty()) {
            None => Err(format!("input {i} is missing")),
            Some(name) => match self.get(name)? {
                Value::Const(t) => Ok(t.clone()),
                Value::Data(_) => Err(format!(
                    "input {i} ('{name}') must be a constant (a weight), but it is computed from the rows"
                )),
            },
        }
    }

    pub(super) fn optional_constant(
        &self,
        node: &NodeProto,
        i: usize,
    ) -> Result<Option<Tensor>, String> {
        match node.input.get(i).filter(|n| !n.is_empty()) {
            None => Ok(None),
            Some(_) => self.constant(node, i).map(Some),
        }
    }

    /// The per-row shape if input `i` is the computed tensor; `None` if it
    /// is a constant. Any other computed tensor means the graph branches.
    pub(super) fn data_input(
        &self,
        node: &NodeProto,
        i: usize,
    ) -> Result<Option<Vec<usize>>, String> {
        let name = node.input.get(i).ok_or("an input is missing")?;
        match self.get(name)? {
            Value::Const(_) => Ok(None),
            Value::Data(shape) if *name == self.data => Ok(Some(shape.clone())),
            Value::Data(_) => Err(format!(
                "it reads '{name}', an earlier result: only chains of layers are supported, \
                 not branches or skip connections"
            )),
        }
    }

    pub(super) fn set_const(&mut self, node: &'g NodeProto, t: Tensor) {
        if let Some(out) = node.output.first() {
            self.values.insert(out.as_str(), Value::Const(t));
        }
    }

    pub(super) fn set_data(
        &mut self,
        node: &'g NodeProto,
        shape: Vec<usize>,
        foldable: bool,
    ) -> Result<(), String> {
        if self.head.is_some() {
            return Err("an operator after the final Softmax or Sigmoid is not supported".into());
        }
        let out = node.output.first().ok_or("no output")?;
        self.values.insert(out.as_str(), Value::Data(shape));
        self.data = out.clone();
        self.foldable = foldable;
        Ok(())
    }

    pub(super) fn planes(shape: &[usize]) -> Result<[usize; 3], String> {
        match *shape {
            [c, h, w] => Ok([c, h, w]),
            _ => Err(format!(
                "it needs images [channels, height, width], got rows of shape {shape:?}"
            )),
        }
    }

    fn node(&mut self, node: &'g NodeProto) -> Result<(), String> {
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(format!(
                "operators of domain '{}' are not supported",
                node.domain
            ));
        }
        let op = node.op_type.as_str();
        if op == "Constant" {
            return self.constant_node(node);
        }
        let all_constant = node
            .input
            .iter()
            .filter(|n| !n.is_empty())
            .all(|n| matches!(self.values.get(n.as_str()), Some(Value::Const(_))));
        if all_constant || op == "Shape" {
            return self.shape_arithmetic(node);
        }
        if op == "Add" {
            return self.bias(node);
        }
        let Some(data) = self.data_input(node, 0)? else {
            return Err(format!(
                "its first input must be the rows computed so far; {op} with a constant first \
                 is not supported (does the graph multiply in the other order?)"
            ));
        };
        match op {
            "Identity" | "Dropout" => {
                let shape = data;
                let foldable = self.foldable;
                self.set_data(node, shape, foldable)
            }
            "Flatten" => {
                let shape = data;
                if attr_int(node, "axis", 1) != 1 {
                    return Err("only Flatten with axis 1 (keeping the batch) is supported".into());
                }
                let flat = shape.iter().product();
                self.set_data(node, vec![flat], self.foldable)
            }
            "Reshape" => self.reshape(node, data),
            "Gemm" | "MatMul" => self.dense(node, data),
            "Conv" => self.conv(node, data),
            "BatchNormalization" => self.batch_norm(node, data),
            "Relu" | "Sigmoid" | "Tanh" => {
                let shape = data;
                let function = match op {
                    "Relu" => ActivationSpec::Relu,
                    "Sigmoid" => ActivationSpec::Sigmoid,
                    _ => ActivationSpec::Tanh,
                };
                self.layers.push(LayerSpec::Activation { function });
                self.set_data(node, shape, false)
            }
            "Softmax" | "LogSoftmax" => {
                let shape = data;
                let axis = attr_int(node, "axis", if self.opset >= 13 { -1 } else { 1 });
                if shape.len() != 1 || !(axis == -1 || axis == 1) {
                    return Err(format!(
                        "softmax over axis {axis} of rows of shape {shape:?}: only over the outputs of each row"
                    ));
                }
                self.set_data(node, shape, false)?;
                self.head = Some(if op == "Softmax" {
                    Head::Softmax
                } else {
                    Head::LogSoftmax
                });
                Ok(())
            }
            "MaxPool" | "AveragePool" | "GlobalAveragePool" => self.pool(node, data),
            "Pad" => self.pad(node, data),
            other => Err(format!(
                "operator {other} is not supported (supported: Gemm, MatMul, Add, Relu, Sigmoid, \
                 Tanh, Conv, MaxPool, AveragePool, GlobalAveragePool, Pad, Flatten, Reshape, \
                 BatchNormalization, Softmax, LogSoftmax, Identity, Dropout, and constant shape \
                 computations)"
            )),
        }
    }

    fn reshape(&mut self, node: &'g NodeProto, shape: Vec<usize>) -> Result<(), String> {
        let target = self.constant(node, 1)?;
        let per_row: usize = shape.iter().product();
        let mut dims: Vec<i64> = Vec::new();
        for (i, &v) in target.data.iter().enumerate() {
            dims.push(match v {
                v if v == BATCH => -2,
                0.0 if attr_int(node, "allowzero", 0) == 0 => {
                    if i == 0 {
                        -2
                    } else {
                        *shape.get(i - 1).ok_or("a 0 beyond the input's rank")? as i64
                    }
                }
                v => v as i64,
            });
        }
        // The first entry must keep the batch: the batch itself, or -1 with
        // every other size given.
        let rest: Vec<i64> = dims.iter().skip(1).copied().collect();
        let keeps_batch = match dims.first() {
            Some(-2) => true,
            Some(-1) => {
                rest.iter().all(|&d| d > 0) && rest.iter().product::<i64>() == per_row as i64
            }
            _ => false,
        };
        if !keeps_batch || rest.iter().any(|&d| d < -1 || d == -2) {
            return Err(format!(
                "reshaping rows of shape {shape:?} to {:?}: only reshapes that keep the batch \
                 axis first are supported",
                target.data
            ));
        }
        let known: i64 = rest.iter().filter(|&&d| d > 0).product();
        let out: Vec<usize> = rest
            .iter()
            .map(|&d| if d == -1 { per_row as i64 / known.max(1) } else { d } as usize)
            .collect();
        if out.iter().product::<usize>() != per_row {
            return Err(format!(
                "rows of {per_row} values cannot be reshaped to {out:?}"
            ));
        }
        self.set_data(node, out, self.foldable)
    }

    fn dense(&mut self, node: &'g NodeProto, shape: Vec<usize>) -> Result<(), String> {
        let [inputs] = shape[..] else {
            return Err(format!(
                "it needs rows of one axis, got {shape:?} (add a Flatten)"
            ));
        };
        let gemm = node.op_type == "Gemm";
        if gemm && attr_int(node, "transA", 0) != 0 {
            return Err("Gemm with transA = 1 on the rows is not supported".into());
        }
        let b = self.constant(node, 1)?;
        let [r, c] = b.dims[..] else {
            return Err(format!("the weight has shape {:?}, not a matrix", b.dims));
        };
        let trans = gemm && attr_int(node, "transB", 0) != 0;
        let (rows, outputs) = if trans { (c, r) } else { (r, c) };
        if rows != inputs {
            return Err(format!(
                "a weight of shape {:?} on rows of {inputs} values",
                b.dims
            ));
        }
        let alpha = if gemm {
            attr_float(node, "alpha", 1.0) as f64
        } else {
            1.0
        };
        let beta = if gemm {
            attr_float(node, "beta", 1.0) as f64
        } else {
            1.0
        };
        let mut block = Array2::zeros((inputs + 1, outputs));
        for i in 0..inputs {
            for o in 0..outputs {
                let v = if trans {
                    b.data[o * inputs + i]
                } else {
                    b.data[i * outputs + o]
                };
                block[[i, o]] = alpha * v;
            }
        }
        if let Some(cst) = self.optional_constant(node, 2)?.filter(|_| gemm) {
            let bias = broadcast(&cst, outputs)?;
            for o in 0..outputs {
                block[[inputs, o]] = beta * bias[o];
            }
        }
        self.layers.push(LayerSpec::Dense { inputs, outputs });
        self.blocks.push(block);
        self.set_data(node, vec![outputs], true)
    }

    /// The last block, if the computed tensor came straight out of it.
    pub(super) fn last_block(&mut self, what: &str) -> Result<&mut Array2<f64>, String> {
        if !self.foldable {
            return Err(format!(
                "{what} is supported only straight after a convolution or dense layer, where it is folded in"
            ));
        }
        self.blocks
            .last_mut()
            .ok_or_else(|| format!("{what} before any layer"))
    }

    fn bias(&mut self, node: &'g NodeProto) -> Result<(), String> {
        let (shape, c) = match (self.data_input(node, 0)?, self.data_input(node, 1)?) {
            (Some(s), None) => (s, self.constant(node, 1)?),
            (None, Some(s)) => (s, self.constant(node, 0)?),
            _ => {
                return Err(
                    "adding two computed tensors (a skip connection) is not supported".into(),
                )
            }
        };
        let block = self.last_block("adding a constant")?;
        let outputs = block.ncols();
        let bias = broadcast(&c, outputs)
            .map_err(|e| format!("a bias that is not one value per output channel: {e}"))?;
        let last = block.nrows() - 1;
        for o in 0..outputs {
            block[[last, o]] += bias[o];
        }
        self.set_data(node, shape, true)
    }

    fn batch_norm(&mut self, node: &'g NodeProto, shape: Vec<usize>) -> Result<(), String> {
        let [scale, shift, mean, var] = [1, 2, 3, 4].map(|i| self.constant(node, i));
        let (scale, shift, mean, var) = (scale?, shift?, mean?, var?);
        let eps = attr_float(node, "epsilon", 1e-5) as f64;
        let block = self.last_block("batch normalisation")?;
        let outputs = block.ncols();
        let [scale, shift, mean, var] =
            [&scale, &shift, &mean, &var].map(|t| broadcast(t, outputs));
        let (scale, shift, mean, var) = (scale?, shift?, mean?, var?);
        let last = block.nrows() - 1;
        for o in 0..outputs {
            let s = scale[o] / (var[o] + eps).sqrt();
            block
                .column_mut(o)
                .iter_mut()
                .take(last)
                .for_each(|w| *w *= s);
            block[[last, o]] = (block[[last, o]] - mean[o]) * s + shift[o];
        }
        self.set_data(node, shape, true)
    }
}

/// A zero-padding layer and its output planes.
pub(super) fn pad_layer(input: [usize; 3], pads: [usize; 4]) -> (LayerSpec, [usize; 3]) {
    let out = tessera_layers::Pad2d { input, pads }.output();
    (LayerSpec::Pad { input, pads }, out)
}

/// One value per output (or channel) from a constant of `n` values, or of
/// one value for all.
pub(super) fn broadcast(t: &Tensor, n: usize) -> Result<Vec<f64>, String> {
    match t.data.len() {
        len if len == n => Ok(t.data.clone()),
        1 => Ok(vec![t.data[0]; n]),
        len => Err(format!(
            "{len} values of shape {:?} for {n} outputs",
            t.dims
        )),
    }
}
