//! Window operators of an ONNX graph: convolutions, pooling and zero
//! padding, on NCHW images flattened one per row.

use super::import::{attr, attr_float, attr_int, attr_ints, broadcast, pad_layer, Walker};
use super::proto::NodeProto;
use crate::arch::LayerSpec;
use ndarray::Array2;

impl<'g> Walker<'g> {
    pub(super) fn conv(&mut self, node: &'g NodeProto, shape: Vec<usize>) -> Result<(), String> {
        let input = Self::planes(&shape)?;
        let w = self.constant(node, 1)?;
        let [oc, c, kh, kw] = w.dims[..] else {
            return Err(format!(
                "filters of shape {:?}, not [out, in, height, width]",
                w.dims
            ));
        };
        if attr_int(node, "group", 1) != 1 || c != input[0] {
            return Err("grouped or depthwise convolutions are not supported".into());
        }
        let strides = attr_ints(node, "strides").unwrap_or(vec![1, 1]);
        if attr_ints(node, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
            return Err("dilated convolutions are not supported".into());
        }
        if kh != kw || strides.len() != 2 || strides[0] != strides[1] {
            return Err(format!(
                "a {kh}x{kw} kernel with strides {strides:?}: square kernels with equal strides are supported"
            ));
        }
        let input = self.padded(node, input, [kh, kw], strides[0] as usize)?;
        let (input, padding) = input;
        let k = kh;
        let mut block = Array2::zeros((c * k * k + 1, oc));
        for o in 0..oc {
            for (r, v) in w.data[o * c * k * k..(o + 1) * c * k * k]
                .iter()
                .enumerate()
            {
                block[[r, o]] = *v;
            }
        }
        if let Some(b) = self.optional_constant(node, 2)? {
            let bias = broadcast(&b, oc)?;
            for o in 0..oc {
                block[[c * k * k, o]] = bias[o];
            }
        }
        let spec = LayerSpec::Conv {
            input,
            out_channels: oc,
            kernel: k,
            stride: strides[0] as usize,
            padding,
        };
        let out = spec
            .output_planes()
            .map_err(|e| e.to_string())?
            .expect("an image layer");
        self.layers.push(spec);
        self.blocks.push(block);
        self.set_data(node, out.to_vec(), true)
    }

    /// The padding of a window operator: symmetric padding is the
    /// window's own; any other is a separate zero-padding layer first.
    /// Returns the window's input planes and padding.
    fn padded(
        &mut self,
        node: &NodeProto,
        input: [usize; 3],
        kernel: [usize; 2],
        stride: usize,
    ) -> Result<([usize; 3], usize), String> {
        let pads: Vec<usize> = match attr(node, "auto_pad").map(|a| a.s.as_slice()) {
            None | Some(b"NOTSET") => attr_ints(node, "pads")
                .unwrap_or(vec![0; 4])
                .iter()
                .map(|&p| usize::try_from(p).map_err(|_| format!("padding {p}")))
                .collect::<Result<_, _>>()?,
            Some(b"VALID") => vec![0; 4],
            Some(b"SAME_UPPER") | Some(b"SAME_LOWER") => {
                let lower = attr(node, "auto_pad").is_some_and(|a| a.s == b"SAME_LOWER");
                let mut begin = [0; 2];
                let mut end = [0; 2];
                for (a, n) in [input[1], input[2]].into_iter().enumerate() {
                    let out = n.div_ceil(stride);
                    let total = ((out - 1) * stride + kernel[a]).saturating_sub(n);
                    let small = total / 2;
                    (begin[a], end[a]) = if lower {
                        (total - small, small)
                    } else {
                        (small, total - small)
                    };
                }
                vec![begin[0], begin[1], end[0], end[1]]
            }
            Some(other) => return Err(format!("auto_pad {}", String::from_utf8_lossy(other))),
        };
        let [t, l, b, r] = pads[..] else {
            return Err(format!("pads {pads:?} for a 2-D window"));
        };
        if t == l && l == b && b == r {
            return Ok((input, t));
        }
        let pad = pad_layer(input, [t, l, b, r]);
        self.layers.push(pad.0);
        Ok((pad.1, 0))
    }

    pub(super) fn pad(&mut self, node: &'g NodeProto, shape: Vec<usize>) -> Result<(), String> {
        let input = Self::planes(&shape)?;
        let mode = attr(node, "mode").map_or(b"constant".to_vec(), |a| a.s.clone());
        let (pads, value) = match attr_ints(node, "pads") {
            Some(p) => (p, attr_float(node, "value", 0.0) as f64),
            None => (
                self.constant(node, 1)?.ints(),
                self.optional_constant(node, 2)?
                    .map_or(0.0, |t| t.data.first().copied().unwrap_or(0.0)),
            ),
        };
        if mode != b"constant" || value != 0.0 {
            return Err("only padding with zeros is supported".into());
        }
        let [0, 0, t, l, 0, 0, b, r] = pads[..] else {
            return Err(format!(
                "pads {pads:?}: only the height and width of NCHW rows may be padded"
            ));
        };
        let p = |v: i64| usize::try_from(v).map_err(|_| format!("negative padding {v}"));
        let pad = pad_layer(input, [p(t)?, p(l)?, p(b)?, p(r)?]);
        self.layers.push(pad.0);
        self.set_data(node, pad.1.to_vec(), false)
    }

    pub(super) fn pool(&mut self, node: &'g NodeProto, shape: Vec<usize>) -> Result<(), String> {
        let planes = Self::planes(&shape)?;
        let average = node.op_type != "MaxPool";
        let (kernel, stride) = if node.op_type == "GlobalAveragePool" {
            if planes[1] != planes[2] {
                return Err("global pooling of planes that are not square".into());
            }
            (planes[1], 1)
        } else {
            let k = attr_ints(node, "kernel_shape").ok_or("no kernel_shape")?;
            let s = attr_ints(node, "strides").unwrap_or(vec![1, 1]);
            if k.len() != 2 || k[0] != k[1] || s.len() != 2 || s[0] != s[1] {
                return Err(format!(
                    "a {k:?} window with strides {s:?}: square windows with equal strides are supported"
                ));
            }
            if attr_int(node, "ceil_mode", 0) != 0 {
                return Err("pooling with ceil_mode = 1 is not supported".into());
            }
            if attr_ints(node, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
                return Err("dilated pooling is not supported".into());
            }
            (k[0] as usize, s[0] as usize)
        };
        let pads = attr_ints(node, "pads").unwrap_or_default();
        if pads.iter().any(|&p| p != 0) {
            if !average {
                return Err("max pooling with padding is not supported".into());
            }
            if attr_int(node, "count_include_pad", 0) == 0 {
                return Err(
                    "average pooling over padding that does not count the zeros \
                     (count_include_pad = 0) is not supported"
                        .into(),
                );
            }
        }
        let (input, padding) = self.padded(node, planes, [kernel, kernel], stride)?;
        let spec = LayerSpec::Pool {
            average,
            input,
            kernel,
            stride,
            padding,
        };
        let out = spec
            .output_planes()
            .map_err(|e| e.to_string())?
            .expect("an image layer");
        self.layers.push(spec);
        self.set_data(node, out.to_vec(), false)
    }
}
