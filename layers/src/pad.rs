//! Zero padding of flattened NCHW images, as a layer of its own: ONNX's
//! `Pad`, and convolutions whose padding differs between sides. Local on
//! every backend (a [`Gather`]), so it costs nothing under MPC.

use crate::{Backend, Gather, LayerError, Module, Result};

/// Adds `pads = [top, left, bottom, right]` rows and columns of zeros
/// around each of `channels` planes of `height x width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pad2d {
    /// Input planes `[channels, height, width]`.
    pub input: [usize; 3],
    /// Zeros added `[top, left, bottom, right]`.
    pub pads: [usize; 4],
}

impl Pad2d {
    /// Output planes `[channels, height, width]`.
    pub fn output(&self) -> [usize; 3] {
        let [c, h, w] = self.input;
        let [t, l, b, r] = self.pads;
        [c, h + t + b, w + l + r]
    }

    fn gather(&self, batch: usize) -> Result<Gather> {
        let [c, h, w] = self.input;
        let [_, oh, ow] = self.output();
        let [t, l, _, _] = self.pads;
        let mut index = Vec::with_capacity(batch * c * oh * ow);
        for n in 0..batch {
            for ch in 0..c {
                for y in 0..oh {
                    for x in 0..ow {
                        let iy = y.checked_sub(t).filter(|&v| v < h);
                        let ix = x.checked_sub(l).filter(|&v| v < w);
                        index.push(match (iy, ix) {
                            (Some(iy), Some(ix)) => Some(((n * c + ch) * h + iy) * w + ix),
                            _ => None,
                        });
                    }
                }
            }
        }
        Gather::new([batch, c * h * w], [batch, c * oh * ow], index)
    }

    fn batch<B: Backend>(&self, b: &B, x: &B::Tensor) -> Result<usize> {
        let inputs: usize = self.input.iter().product();
        match b.shape(x).as_slice() {
            &[n, d] if d == inputs => Ok(n),
            other => Err(LayerError::Shape {
                op: "pad2d",
                left: other.to_vec(),
                right: vec![0, inputs],
            }),
        }
    }
}

impl<B: Backend> Module<B> for Pad2d {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        self.predict(b, x)
    }

    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let n = self.batch(b, x)?;
        b.gather(x, &self.gather(n)?)
    }

    fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        if !want_input {
            return Ok(None);
        }
        let n = b.shape(grad)[0];
        Ok(Some(b.scatter_add(grad, &self.gather(n)?)?))
    }

    fn entries_per_row(&self, _b: &B) -> usize {
        self.output().iter().product()
    }
}
