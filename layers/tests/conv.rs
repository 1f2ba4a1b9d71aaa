//! Convolution and pooling: the f32 backend against direct loops in f64,
//! and MPC (2 and 3 parties) against the fixed-point backend.

use ndarray::ArrayD;
use tessera_layers::{Activation, ActivationLayer, Linear, Sequential};
use tessera_layers::{
    Backend, Conv2d, F32Backend, FixedBackend, Init, LayerError, MpcBackend, Pool, Pool2d, Window,
};
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};

mod common;
use common::{max_diff, random, step_with, train_step};

const WIN: Window = Window {
    channels: 2,
    height: 5,
    width: 4,
    kernel: 3,
    stride: 2,
    padding: 1,
};
const OUT_CHANNELS: usize = 3;

/// Input pixel `(n, c, y, x)` of a flattened NCHW batch, zero off the image.
fn pixel(x: &ArrayD<f64>, n: usize, c: usize, y: isize, xx: isize) -> f64 {
    let (h, w) = (WIN.height as isize, WIN.width as isize);
    if y < 0 || xx < 0 || y >= h || xx >= w {
        return 0.0;
    }
    x[[n, c * WIN.height * WIN.width + (y * w + xx) as usize]]
}

/// Direct convolution, and the gradients of `sum(g * y)` with respect to
/// the filters, the bias and the input.
#[allow(clippy::type_complexity)]
fn reference(
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    g: &ArrayD<f64>,
) -> (ArrayD<f64>, ArrayD<f64>, ArrayD<f64>, ArrayD<f64>) {
    let (oh, ow) = WIN.output().unwrap();
    let (n, k, c) = (x.shape()[0], WIN.kernel, WIN.channels);
    let mut y = ArrayD::zeros(vec![n, OUT_CHANNELS * oh * ow]);
    let mut dw = ArrayD::zeros(w.shape().to_vec());
    let mut db = ArrayD::zeros(vec![1, OUT_CHANNELS]);
    let mut dx = ArrayD::zeros(x.shape().to_vec());
    for b in 0..n {
        for o in 0..OUT_CHANNELS {
            for oy in 0..oh {
                for ox in 0..ow {
                    let at = [b, o * oh * ow + oy * ow + ox];
                    db[[0, o]] += g[at];
                    for ci in 0..c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * WIN.stride + ky) as isize - WIN.padding as isize;
                                let ix = (ox * WIN.stride + kx) as isize - WIN.padding as isize;
                                let row = ci * k * k + ky * k + kx;
                                let v = pixel(x, b, ci, iy, ix);
                                y[at] += v * w[[row, o]];
                                dw[[row, o]] += v * g[at];
                                if iy >= 0
                                    && ix >= 0
                                    && iy < WIN.height as isize
                                    && ix < WIN.width as isize
                                {
                                    let i = ci * WIN.height * WIN.width
                                        + iy as usize * WIN.width
                                        + ix as usize;
                                    dx[[b, i]] += w[[row, o]] * g[at];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dw, db, dx)
}

/// A convolution's forward and backward, then 2x2 max and average pooling
/// (stride 2) of a 4-channel 4x4 batch, forward and backward.
fn run<B: Backend>(
    b: &mut B,
    x: &ArrayD<f64>,
    g: &ArrayD<f64>,
    p: &ArrayD<f64>,
    gp: &ArrayD<f64>,
) -> Result<Vec<ArrayD<f64>>, LayerError> {
    let xs = b.input(0, Some(x), x.shape())?;
    let gs = b.input(1, Some(g), g.shape())?;
    let mut conv = Conv2d::new(b, WIN, OUT_CHANNELS, Init::Uniform { seed: 5 })?;
    let y = conv.forward(b, &xs)?;
    let dx = conv.backward(b, &gs, true)?.expect("asked for");
    let (dw, db) = conv.grad.clone().expect("stored");
    let mut out = vec![
        b.reveal(&conv.weight, "w")?,
        b.reveal(&y, "y")?,
        b.reveal(&dw, "dw")?,
        b.reveal(&db, "db")?,
        b.reveal(&dx, "dx")?,
    ];
    let pool_win = Window {
        channels: 4,
        height: 4,
        width: 4,
        kernel: 2,
        stride: 2,
        padding: 0,
    };
    let ps = b.input(0, Some(p), p.shape())?;
    let gps = b.input(0, Some(gp), gp.shape())?;
    for kind in [Pool::Max, Pool::Average] {
        let mut pool = Pool2d::new(kind, pool_win)?;
        let y = pool.forward(b, &ps)?;
        let inferred = pool.predict(b, &ps)?;
        let dx = pool.backward(b, &gps)?;
        out.extend([
            b.reveal(&y, "pool")?,
            b.reveal(&inferred, "pool")?,
            b.reveal(&dx, "dpool")?,
        ]);
    }
    Ok(out)
}

fn inputs() -> [ArrayD<f64>; 4] {
    let (oh, ow) = WIN.output().unwrap();
    [
        random(3, WIN.inputs(), 1, 2.0),
        random(3, OUT_CHANNELS * oh * ow, 2, 1.0),
        random(2, 4 * 16, 3, 3.0),
        random(2, 4 * 4, 4, 1.0),
    ]
}

#[test]
fn convolution_and_pooling_match_direct_loops() {
    let [x, g, p, gp] = inputs();
    let got = run(&mut F32Backend, &x, &g, &p, &gp).unwrap();
    let (y, dw, db, dx) = reference(&x, &got[0], &g);
    for (name, a, b) in [
        ("y", &got[1], &y),
        ("dw", &got[2], &dw),
        ("db", &got[3], &db),
        ("dx", &got[4], &dx),
    ] {
        assert!(max_diff(a, b) < 1e-4, "{name}: {}", max_diff(a, b));
    }
    // Pooling: each output is its window's max (mean); the gradient goes to
    // the window's largest entry (spreads evenly).
    for (k, kind) in [Pool::Max, Pool::Average].into_iter().enumerate() {
        let (y, inferred, dx) = (&got[5 + 3 * k], &got[6 + 3 * k], &got[7 + 3 * k]);
        assert!(max_diff(y, inferred) < 1e-5);
        for n in 0..2 {
            for c in 0..4 {
                for oy in 0..2 {
                    for ox in 0..2 {
                        let idx: Vec<usize> = (0..4)
                            .map(|j| c * 16 + (2 * oy + j / 2) * 4 + 2 * ox + j % 2)
                            .collect();
                        let vals: Vec<f64> = idx.iter().map(|&i| p[[n, i]]).collect();
                        let o = c * 4 + oy * 2 + ox;
                        let want = match kind {
                            Pool::Max => vals.iter().copied().fold(f64::MIN, f64::max),
                            Pool::Average => vals.iter().sum::<f64>() / 4.0,
                        };
                        assert!((y[[n, o]] - want).abs() < 1e-5, "{kind:?}");
                        let best = (0..4).fold(0, |b, j| if vals[j] > vals[b] { j } else { b });
                        for (j, &i) in idx.iter().enumerate() {
                            let want = match kind {
                                Pool::Max if j == best => gp[[n, o]],
                                Pool::Max => 0.0,
                                Pool::Average => gp[[n, o]] / 4.0,
                            };
                            assert!((dx[[n, i]] - want).abs() < 1e-5, "{kind:?} gradient");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn convolution_and_pooling_under_mpc_match_fixed_point() {
    let [x, g, p, gp] = inputs();
    let want = run(&mut FixedBackend::default(), &x, &g, &p, &gp).unwrap();
    for parties in [2, 3] {
        let outs = run_embedded(
            &EmbeddedConfig::new(parties).with_seed([parties as u8; 32]),
            |sess| run(&mut MpcBackend::new(sess), &x, &g, &p, &gp),
        )
        .unwrap();
        for (i, (got, want)) in outs[0].value.iter().zip(&want).enumerate() {
            // One truncation per product: a few units in the last place.
            assert!(
                max_diff(got, want) <= 8.0 / 65536.0,
                "output {i}, {parties} parties: {}",
                max_diff(got, want)
            );
        }
    }
    // A window that does not fit, and max pooling over padding, are refused.
    let bad = Window { kernel: 9, ..WIN };
    assert!(Conv2d::new(&mut F32Backend, bad, 2, Init::Zeros).is_err());
    assert!(Pool2d::<F32Backend>::new(Pool::Max, WIN).is_err());
}

/// The small CNN's input: one 6x6 plane, 3x3 filters, padded by 1.
const CNN_INPUT: Window = Window {
    channels: 1,
    height: 6,
    width: 6,
    kernel: 3,
    stride: 1,
    padding: 1,
};

/// Three SGD steps of a small CNN (convolution, ReLU, max pooling, a
/// linear layer, softmax cross-entropy): returns the final parameters.
fn train_cnn<B: Backend>(
    b: &mut B,
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
) -> Result<Vec<ArrayD<f64>>, LayerError> {
    use tessera_layers::{
        softmax::softmax_cross_entropy, Activation, ActivationLayer, Linear, Sequential, Sgd,
    };
    let pool = Window {
        channels: 2,
        height: 6,
        width: 6,
        kernel: 2,
        stride: 2,
        padding: 0,
    };
    let mut net = Sequential::new()
        .with(Conv2d::new(b, CNN_INPUT, 2, Init::Uniform { seed: 1 })?)
        .with(ActivationLayer::new(Activation::Relu))
        .with(Pool2d::new(Pool::Max, pool)?)
        .with(Linear::new(b, 18, 3, Init::Uniform { seed: 2 })?);
    let xs = b.input(0, Some(x), x.shape())?;
    let ys = b.input(1, Some(y), y.shape())?;
    for _ in 0..3 {
        let z = net.forward(b, &xs)?;
        let (_, grad) = softmax_cross_entropy(b, &z, &ys)?;
        net.backward(b, &grad)?;
        net.step(b, &Sgd::new(0.5))?;
    }
    let mut out = Vec::new();
    for (w, bias) in net.parameters() {
        out.push(b.reveal(w, "w")?);
        out.push(b.reveal(bias, "b")?);
    }
    Ok(out)
}

#[test]
fn a_small_cnn_trains_under_mpc_as_in_fixed_point() {
    let x = random(4, 36, 7, 1.0);
    let mut y = ArrayD::zeros(vec![4, 3]);
    for i in 0..4 {
        y[[i, i % 3]] = 1.0;
    }
    let want = train_cnn(&mut FixedBackend::default(), &x, &y).unwrap();
    let f32 = train_cnn(&mut F32Backend, &x, &y).unwrap();
    for parties in [2, 3] {
        let outs = run_embedded(&EmbeddedConfig::new(parties).with_seed([9; 32]), |sess| {
            train_cnn(&mut MpcBackend::new(sess), &x, &y)
        })
        .unwrap();
        for ((got, want), f) in outs[0].value.iter().zip(&want).zip(&f32) {
            assert!(
                max_diff(got, want) < 2e-3,
                "{parties} parties: {}",
                max_diff(got, want)
            );
            assert!(max_diff(got, f) < 1e-2, "against f32: {}", max_diff(got, f));
        }
    }
    // Training moved the parameters.
    let start = train_cnn_untrained();
    assert!(max_diff(&want[0], &start) > 1e-3);
}

fn train_cnn_untrained() -> ArrayD<f64> {
    let mut b = FixedBackend::default();
    let c = Conv2d::new(&mut b, CNN_INPUT, 2, Init::Uniform { seed: 1 }).unwrap();
    b.reveal(&c.weight, "w").unwrap()
}

#[test]
fn zero_padding_matches_direct_loops_and_passes_gradients_back() {
    use tessera_layers::{Module, Pad2d};
    let (c, h, w) = (2, 3, 4);
    let pad = Pad2d {
        input: [c, h, w],
        pads: [1, 0, 2, 3],
    };
    let [_, oh, ow] = pad.output();
    assert_eq!((oh, ow), (6, 7));
    let x = random(2, c * h * w, 8, 1.0);
    let g = random(2, c * oh * ow, 9, 1.0);
    let mut b = F32Backend;
    let (xt, gt) = (b.public(&x).unwrap(), b.public(&g).unwrap());
    let mut layer = pad;
    let yt = layer.forward(&mut b, &xt).unwrap();
    let y = b.reveal(&yt, "y").unwrap();
    let dx = layer.backward(&mut b, &gt, true).unwrap().unwrap();
    let dx = b.reveal(&dx, "dx").unwrap();
    for n in 0..2 {
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    // Row oy, column ox of the output is input (oy - top, ox - left).
                    let (iy, ix) = (oy as isize - 1, ox as isize);
                    let inside = iy >= 0 && (iy as usize) < h && ix < w as isize;
                    let want = if inside {
                        x[[n, ch * h * w + iy as usize * w + ix as usize]]
                    } else {
                        0.0
                    };
                    let o = ch * oh * ow + oy * ow + ox;
                    assert!((y[[n, o]] - want).abs() < 1e-6, "({n}, {ch}, {oy}, {ox})");
                    if inside {
                        let i = ch * h * w + iy as usize * w + ix as usize;
                        assert!((dx[[n, i]] - g[[n, o]]).abs() < 1e-6);
                    }
                }
            }
        }
    }
    // A row of the wrong width is refused, naming the layer.
    let wrong = b.public(&random(1, 5, 1, 1.0)).unwrap();
    assert!(matches!(
        layer.predict(&mut b, &wrong),
        Err(LayerError::Shape { op: "pad2d", .. })
    ));
}

/// A CNN with two convolutional stages (convolution, ReLU, 2x2 max
/// pooling) and a dense head, on 1x8x8 images.
fn two_stage_cnn<'a, B: Backend + 'a>(b: &mut B) -> Result<Sequential<'a, B>, LayerError> {
    let conv = |channels, side| Window {
        channels,
        height: side,
        width: side,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let pool = |channels, side| Window {
        channels,
        height: side,
        width: side,
        kernel: 2,
        stride: 2,
        padding: 0,
    };
    Ok(Sequential::new()
        .with(Conv2d::new(b, conv(1, 8), 2, Init::Uniform { seed: 3 })?)
        .with(ActivationLayer::new(Activation::Relu))
        .with(Pool2d::new(Pool::Max, pool(2, 8))?)
        .with(Conv2d::new(b, conv(2, 4), 2, Init::Uniform { seed: 4 })?)
        .with(ActivationLayer::new(Activation::Relu))
        .with(Pool2d::new(Pool::Max, pool(2, 4))?)
        .with(Linear::new(b, 8, 3, Init::Uniform { seed: 5 })?))
}

/// A convolution takes the ReLU after it in one step (its truncation shares
/// the comparison's opening), max pooling takes its maximum and winner from
/// one set of comparisons and passes the gradient back by the winner mask
/// exactly, and a convolution's two backward products share their rounds:
/// one training step still gives the plaintext fixed-point output and
/// updated parameters, for 2 and 3 parties and with OT.
#[test]
fn a_cnn_training_step_fuses_its_layers_and_matches_plaintext() {
    use tessera_protocols::prep::Provider;
    let x = random(3, 64, 12, 1.5);
    let grad = random(3, 3, 13, 0.5);
    let mut plain = FixedBackend::default();
    let xt = plain.public(&x).unwrap();
    let mut net = two_stage_cnn(&mut plain).unwrap();
    let (want, _) = train_step(&mut plain, &mut net, &xt, &grad, |_| 0).unwrap();
    for (n, provider) in [
        (2, Provider::Dealer),
        (3, Provider::Dealer),
        (2, Provider::Ot),
    ] {
        let cfg = EmbeddedConfig::new(n)
            .with_seed([8; 32])
            .with_preprocessing(provider);
        let outs = run_embedded(&cfg, |s| -> Result<_, LayerError> {
            let me = s.id();
            let mut b = MpcBackend::new(s);
            let xs = b.input(0, (me == 0).then_some(&x), x.shape())?;
            let mut net = two_stage_cnn(&mut b)?;
            train_step(&mut b, &mut net, &xs, &grad, |b| b.session().stats().rounds)
        })
        .unwrap();
        let (got, rounds) = &outs[0].value;
        // Forward, per stage: with the dealer, the convolution's product (1
        // round) and its ReLU with the truncation folded in (4), then the
        // pooling's maximum and winner from one set of comparisons (5: the
        // six pairs' openings, two node levels, one three-input AND, the
        // winner bits); with OT the product, its truncation and the ReLU (1
        // + 1 + 8), then a tournament of two levels, each a ReLU and the
        // payload's move (2 x 9). Then the head's product and truncation.
        // Backward, with either provider: the head's two products together (a
        // product and a truncation), per stage the winner's and the ReLU's
        // masks (1 each), the second convolution's two products together
        // (2), the first's weight gradient (2), one truncation for every
        // update.
        let backward = 2 + 2 * (1 + 1) + 2 + 2 + 1;
        let want_rounds = match provider {
            Provider::Dealer => [2 * (5 + 5) + 2, backward],
            Provider::Ot => [2 * (10 + 18) + 2, backward],
        };
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
    // Under active security the winners and ReLU masks are authenticated
    // integers too.
    let outs = run_embedded(&EmbeddedConfig::new(2).with_seed([8; 32]), |s| {
        let me = s.id();
        let mut b = tessera_layers::ActiveBackend::new(s)?;
        let xs = b.input(0, (me == 0).then_some(&x), x.shape())?;
        let mut net = two_stage_cnn(&mut b)?;
        train_step(&mut b, &mut net, &xs, &grad, |_| 0)
    })
    .unwrap();
    for (i, (g, w)) in outs[0].value.0.iter().zip(&want).enumerate() {
        let d = max_diff(g, w);
        assert!(d < 1e-3, "active: output {i} is {d} from fixed point");
    }
}

/// A first convolution on training images (rows of prepared data) takes
/// its windows' products from the images' one masked opening, so a step
/// sends less than on the same images as a tensor: the same output and
/// parameters as plaintext fixed point, for 2 and 3 parties and with OT.
#[test]
fn a_first_convolution_on_training_images_never_opens_their_windows() {
    use tessera_protocols::prep::Provider;
    let x = random(5, 64, 14, 1.5);
    let grad = random(3, 3, 15, 0.5);
    let rows = [3, 0, 4];
    let on_rows = |b: &mut FixedBackend| {
        let xt = b.public(&x)?;
        let data = b.data(&xt)?;
        let mut net = two_stage_cnn(b)?;
        step_with(
            b,
            &mut net,
            |b, n| n.forward_rows(b, &data, &rows),
            &grad,
            |_| 0,
        )
    };
    let (want, _) = on_rows(&mut FixedBackend::default()).unwrap();
    for (n, provider) in [
        (2, Provider::Dealer),
        (3, Provider::Dealer),
        (2, Provider::Ot),
    ] {
        let cfg = EmbeddedConfig::new(n)
            .with_seed([9; 32])
            .with_preprocessing(provider);
        let outs = run_embedded(&cfg, |s| -> Result<_, LayerError> {
            let me = s.id();
            let mut b = MpcBackend::new(s);
            let xs = b.input(0, (me == 0).then_some(&x), x.shape())?;
            let data = b.data(&xs)?;
            let sent = |b: &mut MpcBackend| b.session().stats().total_sent();
            let mut net = two_stage_cnn(&mut b)?;
            let before = sent(&mut b);
            let (out, _) = step_with(
                &mut b,
                &mut net,
                |b, net| net.forward_rows(b, &data, &rows),
                &grad,
                |_| 0,
            )?;
            let on_rows = sent(&mut b) - before;
            // The same images as a tensor: their windows are opened.
            let picked = b.data_rows(&data, &rows)?;
            let mut net = two_stage_cnn(&mut b)?;
            let before = sent(&mut b);
            train_step(&mut b, &mut net, &picked, &grad, |_| 0)?;
            Ok((out, on_rows, sent(&mut b) - before))
        })
        .unwrap();
        let (got, on_rows, as_tensor) = &outs[0].value;
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let d = max_diff(g, w);
            assert!(
                d < 1e-3,
                "{n} parties, {provider}: output {i} is {d} from fixed point"
            );
        }
        // Forward and backward each opened the 3 x 64 x 9 window entries of
        // the first convolution (8 bytes each, to each peer) on a tensor.
        let windows = (3 * 64 * 9 * 8 * (n - 1)) as u64;
        assert!(
            on_rows + 2 * windows <= *as_tensor + 1024,
            "{n} parties, {provider}: {on_rows} bytes on rows, {as_tensor} as a tensor"
        );
    }
}
