//! The MNIST idx files, read for the MNIST benchmark.

use super::*;

/// Reads an MNIST idx pair (gzipped) into a dataset whose label is 1 for
/// the digit 0 and 0 otherwise (binary, as logistic regression needs).
pub fn load_mnist_binary(dir: &Path, rows: Option<usize>) -> Result<Dataset> {
    use std::io::Read;
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, &e))?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut out)
            .map_err(|e| ModelError::io(&path, &e))?;
        Ok(out)
    };
    let images = read("train-images-idx3-ubyte.gz")?;
    let labels = read("train-labels-idx1-ubyte.gz")?;
    let be =
        |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    if images.len() < 16 || be(&images, 0) != 2051 || labels.len() < 8 || be(&labels, 0) != 2049 {
        return Err(ModelError::Mismatch(format!(
            "{} does not hold MNIST idx files (bad magic numbers)",
            dir.display()
        )));
    }
    let (n, h, w) = (be(&images, 4), be(&images, 8), be(&images, 12));
    let n = rows.map_or(n, |r| r.min(n));
    if images.len() < 16 + n * h * w || labels.len() < 8 + n {
        return Err(ModelError::Mismatch(format!(
            "{}: MNIST files are truncated",
            dir.display()
        )));
    }
    let features =
        ndarray::Array2::from_shape_fn((n, h * w), |(i, j)| f64::from(images[16 + i * h * w + j]));
    let labels = ndarray::Array1::from_shape_fn(n, |i| f64::from(u8::from(labels[8 + i] == 0)));
    Ok(Dataset {
        path: dir.join("train-images-idx3-ubyte.gz"),
        feature_names: (0..h * w).map(|j| format!("pixel_{j}")).collect(),
        features,
        labels: Some(labels),
        lines: (1..=n).collect(),
    })
}
