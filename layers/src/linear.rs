use crate::{Backend, LayerError, Result};
use ndarray::{Array2, ArrayD};
use tessera_tensor::Prg;

/// How a layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// All zeros (convex models: linear and logistic regression).
    Zeros,
    /// Uniform in `±1/sqrt(in_features)`, drawn from a PRG keyed by `seed`,
    /// so every backend starts from the same weights.
    Uniform {
        /// Public seed of the initial weights.
        seed: u64,
    },
}

impl Init {
    pub(crate) fn weights(&self, rows: usize, cols: usize) -> ArrayD<f64> {
        match *self {
            Init::Zeros => Array2::zeros((rows, cols)).into_dyn(),
            Init::Uniform { seed } => {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&seed.to_le_bytes());
                let mut prg = Prg::from_seed(key);
                let bound = 1.0 / (rows.max(1) as f64).sqrt();
                Array2::from_shape_simple_fn((rows, cols), || (prg.next_f64() * 2.0 - 1.0) * bound)
                    .into_dyn()
            }
        }
    }
}

/// What a layer's backward pass needs of its input.
enum Input<B: Backend> {
    Tensor(B::Tensor),
    /// Rows of prepared data (see [`Backend::data`]).
    Rows(B::Data, Vec<usize>),
}

/// Fully connected layer `y = x W + b` with `W: [in, out]`, `b: [1, out]`.
pub struct Linear<B: Backend> {
    /// Weights `[in, out]`.
    pub weight: B::Tensor,
    /// Bias row `[1, out]`.
    pub bias: B::Tensor,
    input: Option<Input<B>>,
    grad_weight: Option<B::Tensor>,
    grad_bias: Option<B::Tensor>,
    velocity_weight: Option<B::Tensor>,
    velocity_bias: Option<B::Tensor>,
}

impl<B: Backend> Linear<B> {
    /// A layer with `inputs` features in and `outputs` out; weights as `init`
    /// says, bias zero. Initial weights are public.
    pub fn new(b: &mut B, inputs: usize, outputs: usize, init: Init) -> Result<Self> {
        let weight = b.public(&init.weights(inputs, outputs))?;
        let bias = b.public(&Array2::<f64>::zeros((1, outputs)).into_dyn())?;
        Ok(Self::from_parts(weight, bias))
    }

    /// A layer from given weights `[in, out]` and bias `[1, out]` (for example
    /// a model owner's secret weights in private inference).
    pub fn from_parts(weight: B::Tensor, bias: B::Tensor) -> Self {
        Self {
            weight,
            bias,
            input: None,
            grad_weight: None,
            grad_bias: None,
            velocity_weight: None,
            velocity_bias: None,
        }
    }

    /// Forward pass on a batch `x: [batch, in]`; remembers `x` for backward.
    pub fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let y = b.matmul(x, &self.weight)?;
        let y = b.add(&y, &self.bias)?;
        self.input = Some(Input::Tensor(x.clone()));
        Ok(y)
    }

    /// Forward pass on rows `rows` of prepared data (a first layer in
    /// training): under MPC the data was masked once, so only the weights'
    /// masked difference is opened, here and in backward.
    pub fn forward_rows(&mut self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let y = b.matmul_rows(data, rows, &self.weight, false)?;
        let y = b.add(&y, &self.bias)?;
        self.input = Some(Input::Rows(data.clone(), rows.to_vec()));
        Ok(y)
    }

    /// Backward pass: takes `dL/dy`, stores the parameter gradients and
    /// returns `dL/dx` if `input_grad` is set (skip it for a first layer).
    pub fn backward(
        &mut self,
        b: &mut B,
        grad_out: &B::Tensor,
        input_grad: bool,
    ) -> Result<Option<B::Tensor>> {
        let x = self
            .input
            .take()
            .ok_or_else(|| LayerError::Usage("Linear::backward called before forward".into()))?;
        self.grad_bias = Some(b.sum_rows(grad_out)?);
        let wt = if input_grad {
            Some(b.transpose(&self.weight)?)
        } else {
            None
        };
        let (grad_weight, grad_input) = match (&x, &wt) {
            // Both products of the gradient at once (under MPC, in the
            // rounds of one).
            (Input::Tensor(x), Some(wt)) => {
                let xt = b.transpose(x)?;
                let mut both = b
                    .matmul_each(&[(&xt, grad_out), (grad_out, wt)])?
                    .into_iter();
                (both.next(), both.next())
            }
            (Input::Tensor(x), None) => {
                let xt = b.transpose(x)?;
                (Some(b.matmul(&xt, grad_out)?), None)
            }
            (Input::Rows(data, rows), wt) => {
                let gw = b.matmul_rows(data, rows, grad_out, true)?;
                let gi = wt.as_ref().map(|wt| b.matmul(grad_out, wt)).transpose()?;
                (Some(gw), gi)
            }
        };
        self.grad_weight = grad_weight;
        Ok(grad_input)
    }

    /// Each parameter with its gradient from the last backward pass and its
    /// momentum buffer (empty until the optimiser first fills it).
    #[allow(clippy::type_complexity)]
    pub fn params_and_grads(
        &mut self,
    ) -> Result<Vec<(&mut B::Tensor, B::Tensor, &mut Option<B::Tensor>)>> {
        let gw = self
            .grad_weight
            .take()
            .ok_or_else(|| LayerError::Usage("no gradient: call backward first".into()))?;
        let gb = self
            .grad_bias
            .take()
            .ok_or_else(|| LayerError::Usage("no gradient: call backward first".into()))?;
        Ok(vec![
            (&mut self.weight, gw, &mut self.velocity_weight),
            (&mut self.bias, gb, &mut self.velocity_bias),
        ])
    }
}

impl<B: Backend> crate::Module<B> for Linear<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        Linear::forward(self, b, x)
    }

    fn predict(&self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let y = b.matmul(x, &self.weight)?;
        b.add(&y, &self.bias)
    }

    fn forward_rows(&mut self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        Linear::forward_rows(self, b, data, rows)
    }

    fn predict_rows(&self, b: &mut B, data: &B::Data, rows: &[usize]) -> Result<B::Tensor> {
        let y = b.matmul_rows(data, rows, &self.weight, false)?;
        b.add(&y, &self.bias)
    }

    fn predict_relu(&self, b: &mut B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        let p = b.matmul_wide(x, &self.weight)?;
        Ok(Some(b.relu_wide(&p, &self.bias)?.0))
    }

    fn predict_rows_relu(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<B::Tensor>> {
        let p = b.matmul_rows_wide(data, rows, &self.weight)?;
        Ok(Some(b.relu_wide(&p, &self.bias)?.0))
    }

    fn predict_wide(&self, b: &mut B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        let p = b.matmul_wide(x, &self.weight)?;
        Ok(Some(b.add_bias_wide(&p, &self.bias)?))
    }

    fn predict_rows_wide(
        &self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<B::Tensor>> {
        let p = b.matmul_rows_wide(data, rows, &self.weight)?;
        Ok(Some(b.add_bias_wide(&p, &self.bias)?))
    }

    fn forward_relu(&mut self, b: &mut B, x: &B::Tensor) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let p = b.matmul_wide(x, &self.weight)?;
        let out = b.relu_wide(&p, &self.bias)?;
        self.input = Some(Input::Tensor(x.clone()));
        Ok(Some(out))
    }

    fn forward_rows_relu(
        &mut self,
        b: &mut B,
        data: &B::Data,
        rows: &[usize],
    ) -> Result<Option<(B::Tensor, B::Tensor)>> {
        let p = b.matmul_rows_wide(data, rows, &self.weight)?;
        let out = b.relu_wide(&p, &self.bias)?;
        self.input = Some(Input::Rows(data.clone(), rows.to_vec()));
        Ok(Some(out))
    }

    fn backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        want_input: bool,
    ) -> Result<Option<B::Tensor>> {
        Linear::backward(self, b, grad, want_input)
    }

    #[allow(clippy::type_complexity)]
    fn params_and_grads(
        &mut self,
    ) -> Result<Vec<(&mut B::Tensor, B::Tensor, &mut Option<B::Tensor>)>> {
        Linear::params_and_grads(self)
    }

    fn entries_per_row(&self, b: &B) -> usize {
        b.shape(&self.weight).get(1).copied().unwrap_or(1)
    }

    fn parameters(&self) -> Option<(&B::Tensor, &B::Tensor)> {
        Some((&self.weight, &self.bias))
    }
}
