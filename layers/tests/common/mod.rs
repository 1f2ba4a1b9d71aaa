//! Helpers shared by the layer tests.

use ndarray::{Array2, ArrayD};
use tessera_layers::{Backend, LayerError, Sequential, Sgd};
use tessera_tensor::Prg;

/// A `rows x cols` matrix uniform in `[-scale, scale)`, from `seed`.
pub fn random(rows: usize, cols: usize, seed: u8, scale: f64) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 32]);
    Array2::from_shape_simple_fn((rows, cols), || (prg.next_f64() * 2.0 - 1.0) * scale).into_dyn()
}

/// The largest absolute difference of two arrays of one shape.
pub fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// One SGD step of `net` on input `xs` and a public loss gradient `grad`:
/// the output, then every layer's updated weights and bias; and the rounds
/// of the forward pass and of the backward pass with the update (`rounds`
/// reads the backend's counter).
pub fn train_step<'a, B: Backend + 'a>(
    b: &mut B,
    net: &mut Sequential<'a, B>,
    xs: &B::Tensor,
    grad: &ArrayD<f64>,
    rounds: impl Fn(&mut B) -> u64,
) -> Result<(Vec<ArrayD<f64>>, [u64; 2]), LayerError> {
    step_with(b, net, |b, net| net.forward(b, xs), grad, rounds)
}

/// [`train_step`] with the forward pass `forward` (on rows of prepared
/// data, say).
pub fn step_with<'a, B: Backend + 'a>(
    b: &mut B,
    net: &mut Sequential<'a, B>,
    forward: impl FnOnce(&mut B, &mut Sequential<'a, B>) -> Result<B::Tensor, LayerError>,
    grad: &ArrayD<f64>,
    rounds: impl Fn(&mut B) -> u64,
) -> Result<(Vec<ArrayD<f64>>, [u64; 2]), LayerError> {
    let before = rounds(b);
    let y = forward(b, net)?;
    let forward_rounds = rounds(b) - before;
    let g = b.public(grad)?;
    let before = rounds(b);
    net.backward(b, &g)?;
    net.step(b, &Sgd::new(0.25))?;
    let backward_rounds = rounds(b) - before;
    let mut out = vec![b.reveal(&y, "y")?];
    for (w, bias) in net.parameters() {
        let (w, bias) = (w.clone(), bias.clone());
        out.push(b.reveal(&w, "w")?);
        out.push(b.reveal(&bias, "b")?);
    }
    Ok((out, [forward_rounds, backward_rounds]))
}
