//! The MNIST benchmark's task: digit 0 against the rest, from the idx
//! files read by `models::load_mnist`.

use super::*;

/// Reads an MNIST idx pair (gzipped) into a dataset whose label is 1 for
/// the digit 0 and 0 otherwise (binary, as logistic regression needs).
pub fn load_mnist_binary(dir: &Path, rows: Option<usize>) -> Result<Dataset> {
    use crate::models::{load_mnist, MnistSet, Pixels};
    let mut d = load_mnist(dir, MnistSet::Train, Pixels::Raw, rows)?;
    if let Some(l) = d.labels.as_mut() {
        l.mapv_inplace(|digit| f64::from(u8::from(digit == 0.0)));
    }
    Ok(d)
}
