//! The graph's public constants: `Constant` nodes, and the shape
//! computations a PyTorch export wraps around reshapes and paddings,
//! evaluated when the model is loaded.

use super::import::{attr, attr_int, attr_ints, Value, Walker};
use super::proto::{attribute_type, NodeProto};
use super::tensor::{Tensor, BATCH};

impl<'g> Walker<'g> {
    pub(super) fn constant_node(&mut self, node: &'g NodeProto) -> Result<(), String> {
        let a = node.attribute.first().ok_or("a Constant with no value")?;
        let t = match (a.name.as_str(), a.r#type) {
            ("value", _) => Tensor::from_proto(a.t.as_ref().ok_or("no tensor")?)?,
            ("value_float", _) | (_, attribute_type::FLOAT) => Tensor {
                dims: vec![],
                data: vec![a.f as f64],
            },
            ("value_int", _) | (_, attribute_type::INT) => Tensor {
                dims: vec![],
                data: vec![a.i as f64],
            },
            ("value_floats", _) => Tensor::vector(a.floats.iter().map(|&v| v as f64).collect()),
            ("value_ints", _) | (_, attribute_type::INTS) => {
                Tensor::vector(a.ints.iter().map(|&v| v as f64).collect())
            }
            (name, t) if t == attribute_type::STRING || t == attribute_type::TENSOR => {
                return Err(format!("a Constant given as '{name}' is not supported"))
            }
            (name, _) => return Err(format!("a Constant given as '{name}' is not supported")),
        };
        self.set_const(node, t);
        Ok(())
    }

    /// Operators on public tensors only, evaluated now.
    pub(super) fn shape_arithmetic(&mut self, node: &'g NodeProto) -> Result<(), String> {
        let op = node.op_type.as_str();
        let t = match op {
            "Shape" => {
                let full = match self.get(node.input.first().ok_or("no input")?)? {
                    Value::Data(shape) => {
                        let mut s = vec![BATCH];
                        s.extend(shape.iter().map(|&d| d as f64));
                        s
                    }
                    Value::Const(t) => t.dims.iter().map(|&d| d as f64).collect(),
                };
                let rank = full.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let start = clamp(attr_int(node, "start", 0));
                let end = clamp(attr_int(node, "end", rank));
                Tensor::vector(full[start..end.max(start)].to_vec())
            }
            "Gather" => {
                if attr_int(node, "axis", 0) != 0 {
                    return Err("Gather of constants along an axis other than 0".into());
                }
                self.constant(node, 0)?.gather(&self.constant(node, 1)?)?
            }
            "Unsqueeze" | "Squeeze" => {
                let t = self.constant(node, 0)?;
                let axes = match attr_ints(node, "axes") {
                    Some(a) => a,
                    None => self
                        .optional_constant(node, 1)?
                        .map(|t| t.ints())
                        .unwrap_or_default(),
                };
                if op == "Unsqueeze" {
                    t.unsqueeze(&axes)?
                } else {
                    t.squeeze(&axes)
                }
            }
            "Concat" => {
                let parts = (0..node.input.len())
                    .map(|i| self.constant(node, i))
                    .collect::<Result<Vec<_>, _>>()?;
                Tensor::concat(&parts.iter().collect::<Vec<_>>())?
            }
            "Cast" | "Identity" => self.constant(node, 0)?,
            "Reshape" => self
                .constant(node, 0)?
                .reshape(&self.constant(node, 1)?.ints())?,
            "Transpose" => self
                .constant(node, 0)?
                .transpose(&attr_ints(node, "perm").unwrap_or_default())?,
            "Slice" => {
                let opt = |i| -> Result<Vec<i64>, String> {
                    Ok(self
                        .optional_constant(node, i)?
                        .map(|t| t.ints())
                        .unwrap_or_default())
                };
                self.constant(node, 0)?
                    .slice(&opt(1)?, &opt(2)?, &opt(3)?, &opt(4)?)?
            }
            "ConstantOfShape" => {
                let dims: Vec<usize> = self
                    .constant(node, 0)?
                    .ints()
                    .into_iter()
                    .map(|d| usize::try_from(d).map_err(|_| format!("dimension {d}")))
                    .collect::<Result<_, _>>()?;
                let len: usize = dims.iter().product();
                if len > 1 << 20 {
                    return Err(format!("a constant of shape {dims:?} is too large"));
                }
                let value = match attr(node, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => Tensor::from_proto(t)?.data.first().copied().unwrap_or(0.0),
                    None => 0.0,
                };
                Tensor {
                    dims,
                    data: vec![value; len],
                }
            }
            "Mul" | "Div" | "Sub" | "Add" => {
                let (a, b) = (self.constant(node, 0)?, self.constant(node, 1)?);
                if a.data.contains(&BATCH) || b.data.contains(&BATCH) {
                    return Err(format!(
                        "{op} on the batch size (only reshapes that keep the batch are supported)"
                    ));
                }
                match op {
                    "Mul" => a.zip(&b, |x, y| x * y)?,
                    "Div" => a.zip(&b, |x, y| {
                        // Integer division on shapes, as ONNX does on int64.
                        let integral = x.fract() == 0.0 && y.fract() == 0.0;
                        if integral {
                            (x / y).trunc()
                        } else {
                            x / y
                        }
                    })?,
                    "Sub" => a.zip(&b, |x, y| x - y)?,
                    _ => a.zip(&b, |x, y| x + y)?,
                }
            }
            other => {
                return Err(format!(
                    "operator {other} on constants only is not supported"
                ))
            }
        };
        self.set_const(node, t);
        Ok(())
    }
}
