//! Helpers shared by the protocol tests: running parties with a fixed seed,
//! random ring tensors with edge values mixed in, inputs.
#![allow(dead_code)]

use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{arith, AShare, ProtocolError, Session};
use tessera_tensor::{FixedPoint, Prg, RingTensor};

pub const EDGES: [u64; 8] = [
    0,
    1,
    u64::MAX,
    1 << 63,
    (1 << 63) - 1,
    (1 << 63) + 1,
    1 << 62,
    (1u64 << 62).wrapping_neg(),
];

/// Runs `f` on `n` parties with a fixed seed and returns party 0's value,
/// after checking that every party returned the same.
pub fn run<T: Send + PartialEq + std::fmt::Debug>(
    n: usize,
    seed: u8,
    f: impl Fn(&mut Session) -> Result<T, ProtocolError> + Sync,
) -> T {
    let cfg = EmbeddedConfig::new(n).with_seed([seed; 32]);
    let mut outs = run_embedded(&cfg, f).expect("protocol run");
    let first = outs.remove(0).value;
    for o in outs {
        assert_eq!(o.value, first, "parties disagree");
    }
    first
}

/// Random ring tensor with the edge values mixed in.
pub fn data(seed: u64, shape: &[usize]) -> RingTensor {
    let mut prg = Prg::from_seed([(seed % 251) as u8; 32]);
    let mut t = prg.uniform(shape);
    for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
        if i % 3 == 0 {
            *v = EDGES[(i / 3 + seed as usize) % EDGES.len()];
        }
    }
    t
}

/// Shares a public-in-the-test tensor as party `owner`'s input.
pub fn input(sess: &mut Session, owner: usize, t: &RingTensor) -> AShare {
    let v = (sess.id() == owner).then_some(t);
    arith::share_input(sess, owner, v, t.shape()).unwrap()
}

pub fn signed_fixed(seed: u64, shape: &[usize], bound: f64) -> RingTensor {
    let fp = FixedPoint::default();
    let mut prg = Prg::from_seed([(seed % 241) as u8 + 1; 32]);
    let mut t = RingTensor::zeros(shape);
    let edges = [
        0.0,
        fp.ulp(),
        -fp.ulp(),
        bound - fp.ulp(),
        -bound + fp.ulp(),
        1.0,
        -1.0,
    ];
    for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
        let x = if i < edges.len() {
            edges[i]
        } else {
            (prg.next_f64() * 2.0 - 1.0) * bound
        };
        *v = fp.encode(x).unwrap();
    }
    t
}
