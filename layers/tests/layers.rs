//! Layers on the MPC backend against the plaintext backends.

use ndarray::{Array2, ArrayD};
use tessera_layers::Sequential;
use tessera_layers::{
    loss, Backend, F32Backend, FixedBackend, Init, Linear, MpcBackend, Sgd, Sigmoid,
    SIGMOID_MAX_ERROR,
};
use tessera_layers::{Activation, ActivationLayer, LayerError, SigmoidKind};
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};

mod common;
use common::{max_diff, random, train_step};

/// One training step of a linear layer with a sigmoid, returning the
/// output, the updated weights and bias.
fn step<B: Backend>(
    b: &mut B,
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
    owner_x: usize,
    owner_y: usize,
) -> Result<[ArrayD<f64>; 3], LayerError> {
    let xs = b.input(owner_x, Some(x), x.shape())?;
    let ys = b.input(owner_y, Some(y), y.shape())?;
    let mut lin = Linear::new(b, x.shape()[1], y.shape()[1], Init::Uniform { seed: 3 })?;
    let mut sig = ActivationLayer::new(Activation::Sigmoid(SigmoidKind::Polynomial));
    let z = lin.forward(b, &xs)?;
    let p = sig.forward(b, &z)?;
    let g = loss::bce_with_sigmoid_grad(b, &p, &ys)?;
    lin.backward(b, &g, true)?;
    Sgd::new(0.5).step(b, &mut lin)?;
    Ok([
        b.reveal(&p, "p")?,
        b.reveal(&lin.weight, "w")?,
        b.reveal(&lin.bias, "b")?,
    ])
}

#[test]
fn linear_and_sigmoid_step_matches_plaintext_for_2_and_3_parties() {
    let x = random(16, 5, 1, 3.0);
    let y = random(16, 1, 2, 1.0).mapv(|v| (v > 0.0) as u8 as f64);
    let fixed = step(&mut FixedBackend::default(), &x, &y, 0, 0).unwrap();
    let float = step(&mut F32Backend, &x, &y, 0, 0).unwrap();
    for i in 0..3 {
        assert!(
            max_diff(&fixed[i], &float[i]) < 2e-3,
            "fixed vs f32 output {i}"
        );
    }
    for n in [2, 3] {
        let cfg = EmbeddedConfig::new(n).with_seed([n as u8; 32]);
        let outs = run_embedded(&cfg, |s| -> Result<_, LayerError> {
            let me = s.id();
            let mut b = MpcBackend::new(s);
            let (xd, yd) = ((me == 0).then_some(&x), (me == n - 1).then_some(&y));
            let xs = b.input(0, xd, x.shape())?;
            let ys = b.input(n - 1, yd, y.shape())?;
            let mut lin = Linear::new(&mut b, 5, 1, Init::Uniform { seed: 3 })?;
            let mut sig = ActivationLayer::new(Activation::Sigmoid(SigmoidKind::Polynomial));
            let z = lin.forward(&mut b, &xs)?;
            let p = sig.forward(&mut b, &z)?;
            let g = loss::bce_with_sigmoid_grad(&mut b, &p, &ys)?;
            lin.backward(&mut b, &g, true)?;
            Sgd::new(0.5).step(&mut b, &mut lin)?;
            Ok([
                b.reveal(&p, "p")?,
                b.reveal(&lin.weight, "w")?,
                b.reveal(&lin.bias, "b")?,
            ])
        })
        .unwrap();
        for i in 0..3 {
            // A handful of truncations, each at most one ulp (1.5e-5) off.
            let d = max_diff(&outs[0].value[i], &fixed[i]);
            assert!(d < 2e-4, "n={n} output {i} differs from fixed point by {d}");
        }
    }
}

/// An MLP's prediction takes each hidden layer's truncation inside its
/// ReLU under MPC (one round fewer per hidden layer) and still gives the
/// plaintext fixed-point result, up to a unit in the last place per
/// truncation, for 2 and 3 parties; on the OT provider it takes the two
/// steps, with the same result.
#[test]
fn an_mlp_prediction_folds_truncation_into_relu_and_matches_plaintext() {
    use tessera_layers::Sequential;
    let x = random(12, 6, 4, 2.0);
    let dims = [6, 16, 8, 3];
    let mut plain = FixedBackend::default();
    let net = Sequential::mlp(&mut plain, &dims, Activation::Relu, 11).unwrap();
    let xt = plain.public(&x).unwrap();
    let y = net.predict(&mut plain, &xt).unwrap();
    let want = plain.reveal(&y, "y").unwrap();
    for (n, provider) in [
        (2, Provider::Dealer),
        (3, Provider::Dealer),
        (2, Provider::Ot),
    ] {
        let cfg = EmbeddedConfig::new(n)
            .with_seed([5; 32])
            .with_preprocessing(provider);
        let outs = run_embedded(&cfg, |s| -> Result<_, LayerError> {
            let me = s.id();
            let mut b = MpcBackend::new(s);
            let xs = b.input(n - 1, (me == n - 1).then_some(&x), x.shape())?;
            let net = Sequential::mlp(&mut b, &dims, Activation::Relu, 11)?;
            let before = b.session().stats().rounds;
            let y = net.predict(&mut b, &xs)?;
            let rounds = b.session().stats().rounds - before;
            // For a head that compares: the last truncation skipped.
            let before = b.session().stats().rounds;
            let wide = net.predict_for_comparison(&mut b, &xs)?;
            let wide_rounds = b.session().stats().rounds - before;
            Ok((
                b.reveal(&y, "y")?,
                rounds,
                b.reveal(&wide, "wide")?,
                wide_rounds,
            ))
        })
        .unwrap();
        let (got, rounds, wide, wide_rounds) = &outs[0].value;
        // Per hidden layer a product and the fused ReLU (1 + 4 rounds; with
        // OT 1 + 1 + 8), then the last product and its truncation.
        let want_rounds = match provider {
            Provider::Dealer => 2 * 5 + 2,
            Provider::Ot => 2 * 10 + 2,
        };
        assert_eq!(*rounds, want_rounds, "{n} parties, {provider}");
        assert_eq!(*wide_rounds, want_rounds - 1, "{n} parties, {provider}");
        let d = max_diff(got, &want);
        assert!(d < 1e-3, "{n} parties, {provider}: {d} from fixed point");
        // The untruncated outputs are at twice the 16 fractional bits.
        let d = max_diff(&wide.mapv(|v| v / 65536.0), &want);
        assert!(
            d < 1e-3,
            "{n} parties, {provider}: {d} from fixed point, wide"
        );
    }
}

/// Training folds each hidden layer's truncation into its ReLU as
/// prediction does, and the ReLU's backward pass uses the mask from the
/// same comparison: one training step gives the plaintext fixed-point
/// output and updated parameters, for 2 and 3 parties and with OT.
#[test]
fn an_mlp_training_step_folds_truncation_into_relu_and_matches_plaintext() {
    let x = random(12, 6, 4, 2.0);
    let grad = random(12, 3, 6, 0.5);
    let dims = [6, 16, 8, 3];
    let mut plain = FixedBackend::default();
    let xt = plain.public(&x).unwrap();
    let mut net = Sequential::mlp(&mut plain, &dims, Activation::Relu, 11).unwrap();
    let (want, _) = train_step(&mut plain, &mut net, &xt, &grad, |_| 0).unwrap();
    for (n, provider) in [
        (2, Provider::Dealer),
        (3, Provider::Dealer),
        (2, Provider::Ot),
    ] {
        let cfg = EmbeddedConfig::new(n)
            .with_seed([7; 32])
            .with_preprocessing(provider);
        let outs = run_embedded(&cfg, |s| -> Result<_, LayerError> {
            let me = s.id();
            let mut b = MpcBackend::new(s);
            let xs = b.input(0, (me == 0).then_some(&x), x.shape())?;
            let mut net = Sequential::mlp(&mut b, &dims, Activation::Relu, 11)?;
            train_step(&mut b, &mut net, &xs, &grad, |b| b.session().stats().rounds)
        })
        .unwrap();
        let (got, rounds) = &outs[0].value;
        // Forward as in prediction: 1 + 4 rounds per hidden layer (OT: 1 + 1
        // + 8), then the last product and its truncation. Backward: the two
        // products of each of the last two layers' gradients together (a
        // product and a truncation), each ReLU's mask (a product), the first
        // layer's weight gradient; then one truncation for every update.
        let want_forward = match provider {
            Provider::Dealer => 2 * 5 + 2,
            Provider::Ot => 2 * 10 + 2,
        };
        let want_rounds = [want_forward, 2 * (2 + 1) + 2 + 1];
        assert_eq!(
            *rounds, want_rounds,
            "{n} parties, {provider}: rounds forward, backward"
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let d = max_diff(g, w);
            assert!(
                d < 1e-3,
                "{n} parties, {provider}: output {i} is {d} from fixed point"
            );
        }
    }
}

#[test]
fn sigmoid_is_within_its_bound_everywhere_on_every_backend() {
    let mut grid: Vec<f64> = (-4000..=4000).map(|i| i as f64 * 0.005).collect();
    grid.extend([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0, 0.0]);
    let x = Array2::from_shape_vec((grid.len(), 1), grid.clone())
        .unwrap()
        .into_dyn();
    let exact: Vec<f64> = grid.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    let check = |got: &ArrayD<f64>, who: &str| {
        for (i, (&g, &e)) in got.iter().zip(&exact).enumerate() {
            assert!(
                (g - e).abs() <= SIGMOID_MAX_ERROR,
                "{who}: sigmoid({}) = {g}, exact {e}",
                grid[i]
            );
        }
    };
    let mut f = F32Backend;
    let t = f.public(&x).unwrap();
    let r = Sigmoid::apply(&mut f, &t).unwrap();
    check(&f.reveal(&r, "s").unwrap(), "f32");
    let mut fx = FixedBackend::default();
    let t = fx.public(&x).unwrap();
    let r = Sigmoid::apply(&mut fx, &t).unwrap();
    check(&fx.reveal(&r, "s").unwrap(), "fixed");
    for n in [2, 3] {
        let outs = run_embedded(&EmbeddedConfig::new(n), |s| -> Result<_, LayerError> {
            let me = s.id();
            let mut b = MpcBackend::new(s);
            let xs = b.input(1, (me == 1).then_some(&x), x.shape())?;
            let r = Sigmoid::apply(&mut b, &xs)?;
            b.reveal(&r, "s")
        })
        .unwrap();
        check(&outs[0].value, &format!("mpc n={n}"));
    }
}

#[test]
fn shape_errors_are_reported_on_every_backend() {
    let a = random(2, 3, 1, 1.0);
    let c = random(2, 2, 1, 1.0);
    let mut f = F32Backend;
    let (ta, tc) = (f.public(&a).unwrap(), f.public(&c).unwrap());
    assert!(f.matmul(&ta, &tc).is_err());
    assert!(f.add(&ta, &tc).is_err());
    assert!(f.mul(&ta, &tc).is_err());
    let mut fx = FixedBackend::default();
    let (ta, tc) = (fx.public(&a).unwrap(), fx.public(&c).unwrap());
    assert!(fx.matmul(&ta, &tc).is_err());
    assert!(fx.add(&ta, &tc).is_err());
    let err = run_embedded(&EmbeddedConfig::new(2), |s| -> Result<(), LayerError> {
        let mut b = MpcBackend::new(s);
        let (ta, tc) = (b.public(&a)?, b.public(&c)?);
        b.matmul(&ta, &tc).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("matmul"), "{err}");
}
