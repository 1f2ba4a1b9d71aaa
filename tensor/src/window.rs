//! The windows a convolution or a pooling layer slides over a batch of
//! images, as indices into the flattened batch: the one definition of the
//! im2col layout, shared by the layers and by preprocessing that makes
//! material for products with it.

use crate::{RingTensor, TensorError};

/// A 2-D window sliding over `channels` planes of `height x width`:
/// `kernel x kernel` windows, `stride` apart, on a border of `padding`
/// zeros. Images are rows of a `[batch, channels * height * width]` matrix
/// (channel-major). The layers' convolutions and pooling take it as their
/// `Window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    /// Input channels (planes).
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Window side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros around each plane.
    pub padding: usize,
}

impl SlidingWindow {
    /// Output height and width; an error if no window fits.
    pub fn output(&self) -> Result<(usize, usize), TensorError> {
        let fit = |n: usize| {
            n.checked_add(self.padding.checked_mul(2)?)?
                .checked_sub(self.kernel)
                .filter(|_| self.kernel > 0 && self.stride > 0)
                .map(|d| d / self.stride + 1)
        };
        match (fit(self.height), fit(self.width)) {
            (Some(h), Some(w)) if self.channels > 0 => Ok((h, w)),
            _ => Err(TensorError::Window(format!(
                "a {k}x{k} window with stride {s} and padding {p} does not fit {c} planes of {h}x{w}",
                k = self.kernel,
                s = self.stride,
                p = self.padding,
                c = self.channels,
                h = self.height,
                w = self.width
            ))),
        }
    }

    /// Input entries per image.
    pub fn inputs(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The shape of the windows matrix of `batch` images: one row per
    /// (image, output position), or per (image, channel, output position)
    /// when `per_channel`; `channels * kernel^2` columns, or `kernel^2`.
    pub fn shape(&self, batch: usize, per_channel: bool) -> Option<[usize; 2]> {
        let (oh, ow) = self.output().ok()?;
        let k2 = self.kernel.checked_mul(self.kernel)?;
        let (per_row, cols) = match per_channel {
            true => (self.channels, k2),
            false => (1, self.channels.checked_mul(k2)?),
        };
        let rows = batch
            .checked_mul(per_row)?
            .checked_mul(oh)?
            .checked_mul(ow)?;
        Some([rows, cols])
    }

    /// For each entry of the windows matrix ([`SlidingWindow::shape`]), row
    /// by row, the input entry it reads, `None` on the padding.
    pub fn index(&self, batch: usize, per_channel: bool) -> Option<Vec<Option<usize>>> {
        let [rows, cols] = self.shape(batch, per_channel)?;
        let (oh, ow) = self.output().ok()?;
        let (c, h, w, k) = (self.channels, self.height, self.width, self.kernel);
        let planes = if per_channel { 1 } else { c };
        let mut index = Vec::with_capacity(rows * cols);
        for n in 0..batch {
            for ch in 0..if per_channel { c } else { 1 } {
                for y in 0..oh {
                    for x in 0..ow {
                        for p in 0..planes {
                            let plane = if per_channel { ch } else { p };
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (y * self.stride + ky).checked_sub(self.padding);
                                    let ix = (x * self.stride + kx).checked_sub(self.padding);
                                    index.push(match (iy, ix) {
                                        (Some(iy), Some(ix)) if iy < h && ix < w => {
                                            Some(n * c * h * w + plane * h * w + iy * w + ix)
                                        }
                                        _ => None,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        Some(index)
    }

    /// The im2col matrix `[batch * positions, channels * kernel^2]` of a
    /// ring matrix of images `[batch, inputs]` (zeros on the padding).
    pub fn im2col(&self, x: &RingTensor) -> Result<RingTensor, TensorError> {
        let bad = || TensorError::BadShape {
            shape: x.shape().to_vec(),
            len: x.len(),
        };
        let &[batch, inputs] = x.shape() else {
            return Err(bad());
        };
        if inputs != self.inputs() {
            return Err(bad());
        }
        let shape = self.shape(batch, false).ok_or_else(bad)?;
        let index = self.index(batch, false).ok_or_else(bad)?;
        let v = x.as_slice();
        let out = index.iter().map(|i| i.map_or(0, |i| v[i])).collect();
        RingTensor::from_vec(&shape, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn im2col_reads_each_window_and_pads_with_zeros() {
        // One 2-channel 3x3 image, 2x2 windows, stride 1, padding 1: 4x4
        // positions of 8 entries.
        let w = SlidingWindow {
            channels: 2,
            height: 3,
            width: 3,
            kernel: 2,
            stride: 1,
            padding: 1,
        };
        let x = RingTensor::from_vec(&[1, 18], (1..=18).collect()).unwrap();
        let cols = w.im2col(&x).unwrap();
        assert_eq!(cols.shape(), &[16, 8]);
        // Position (0, 0) sees the padding but for pixel (0, 0) of each plane.
        assert_eq!(&cols.as_slice()[..8], &[0, 0, 0, 1, 0, 0, 0, 10]);
        // Position (1, 1): pixels (0..2, 0..2) of each plane.
        assert_eq!(
            &cols.as_slice()[5 * 8..6 * 8],
            &[1, 2, 4, 5, 10, 11, 13, 14]
        );
        assert!(w.im2col(&RingTensor::zeros(&[1, 17])).is_err());
        let none = SlidingWindow { kernel: 6, ..w };
        assert!(none
            .output()
            .unwrap_err()
            .to_string()
            .contains("does not fit"));
        assert!(none.im2col(&x).is_err());
    }
}
