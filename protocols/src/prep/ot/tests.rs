//! Tests of the OT provider: OT and correlation correctness, uniform shares,
//! a peer dropping out.

use super::iknp::{Op, Width};
use super::*;
use crate::channel::MemChannel;
use crate::prep::Sharing;

/// Runs `f` on `n` connected providers (threads, in-memory links).
fn run<T: Send>(n: usize, f: impl Fn(&mut OtProvider) -> T + Sync) -> Vec<T> {
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = MemChannel::pair(Duration::from_secs(20));
            links[i][j] = Some(Box::new(a));
            links[j][i] = Some(Box::new(b));
        }
    }
    let f = &f;
    std::thread::scope(|s| {
        let hs: Vec<_> = links
            .into_iter()
            .enumerate()
            .map(|(id, chans)| {
                s.spawn(move || {
                    let prg = Prg::from_seed([id as u8 + 1; 32]);
                    let mut p = OtProvider::connect(id, chans, prg).unwrap();
                    f(&mut p)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn combine(parts: &[&RingTensor], sharing: Sharing) -> RingTensor {
    let mut acc = parts[0].clone();
    for p in &parts[1..] {
        match sharing {
            Sharing::Arithmetic => acc.add_assign(p).unwrap(),
            Sharing::Binary => acc.xor_assign(p).unwrap(),
            Sharing::Wide => acc = crate::prep::auth::wide_add(&acc, p, false).unwrap(),
        }
    }
    acc
}

#[test]
fn receiver_gets_exactly_the_chosen_messages() {
    // Party 1 chooses; party 0's correlation c_j; y_j = x_j ^ r_j c_j.
    let n_ots = 1000;
    let widths: Vec<u32> = (1..=64).collect();
    let outs = run(2, |p| {
        let shape = CotShape {
            n: n_ots,
            v: 3,
            op: Op::Xor,
            width: Width::Cycle {
                table: &widths,
                offset: 0,
            },
        };
        let res = std::cell::RefCell::new(vec![vec![0u64; 3]; n_ots]);
        let (recv, send): (Vec<usize>, Vec<usize>) = if p.id == 1 {
            (vec![0], vec![])
        } else {
            (vec![], vec![1])
        };
        p.cot(
            &shape,
            &recv,
            &send,
            |j| (j as u64 * 7 / 3) & 1,
            |j: usize, c: &mut [u64]| {
                for (k, c) in c.iter_mut().enumerate() {
                    *c = (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 + k as u64);
                }
            },
            &mut |_: usize, j: usize, y: &[u64]| res.borrow_mut()[j].copy_from_slice(y),
            &mut |_: usize, j: usize, x: &[u64]| res.borrow_mut()[j].copy_from_slice(x),
        )
        .unwrap();
        res.into_inner()
    });
    for j in 0..n_ots {
        let w = 1 + (j % 64) as u32;
        let m = mask(w);
        let r = (j as u64 * 7 / 3) & 1;
        for k in 0..3 {
            let c = (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 + k as u64) & m;
            assert_eq!(outs[1][j][k], outs[0][j][k] ^ (c * r), "OT {j} word {k}");
            assert_eq!(outs[0][j][k] & !m, 0);
        }
    }
}

fn mask(w: u32) -> u64 {
    if w >= 64 {
        u64::MAX
    } else {
        (1 << w) - 1
    }
}

#[test]
fn every_correlation_holds_for_2_3_and_5_parties() {
    let items = vec![
        Material::Triple(vec![3, 5]),
        Material::Square(vec![7]),
        Material::MatTriple(3, 4, 5),
        Material::MatTriple(6, 2, 3),
        Material::Trunc(vec![9], 16),
        Material::BitTriple(vec![4], 3),
        Material::EdaBits(vec![5]),
        Material::WordBits(vec![2], 10),
        Material::EdaSelect(70),
        Material::RowTriple {
            mask: 1,
            rows: vec![4, 1, 1],
            cols: 3,
            out: 2,
            transposed: false,
        },
        Material::RowTriple {
            mask: 1,
            rows: vec![0, 2],
            cols: 3,
            out: 4,
            transposed: true,
        },
    ];
    for n in [2, 3, 5] {
        let outs = run(n, |p| {
            let mut shares: Vec<Vec<RingTensor>> =
                items.iter().map(|m| p.take(m).unwrap()).collect();
            // The rows of the mask as drawn for the row triples.
            shares.push(
                p.take(&Material::Mask {
                    id: 1,
                    start: 0,
                    rows: 5,
                    cols: 3,
                })
                .unwrap(),
            );
            shares
        });
        let secret = |i: usize, c: usize, sharing| {
            combine(&outs.iter().map(|o| &o[i][c]).collect::<Vec<_>>(), sharing)
        };
        use Sharing::*;
        for (i, item) in items.iter().enumerate() {
            let (random, determined) = item.layout();
            let secrets: Vec<RingTensor> = random
                .iter()
                .map(|c| c.1)
                .enumerate()
                .map(|(c, sh)| secret(i, c, sh))
                .collect();
            let expect = item.determine(&secrets, Default::default()).unwrap();
            for (c, (_, sh)) in determined.iter().enumerate() {
                let got = secret(i, random.len() + c, *sh);
                assert_eq!(got, expect[c], "{item:?} component {c}, n = {n}");
            }
        }
        // Row triples use the rows of the persistent mask.
        let mask = secret(items.len(), 0, Arithmetic);
        let first_rows = items
            .iter()
            .position(|m| matches!(m, Material::RowTriple { .. }))
            .unwrap();
        let a = secret(first_rows, 0, Arithmetic);
        assert_eq!(a, mask.select_rows(&[4, 1, 1]).unwrap());
    }
}

#[test]
fn shares_are_uniform() {
    // Each party's share of c in a Beaver triple: every bit is 1 about
    // half the time (4096 samples per bit: 6 sigma is 0.047).
    let outs = run(2, |p| p.take(&Material::Triple(vec![4096])).unwrap());
    for party in &outs {
        let c = party[2].as_slice();
        for bit in 0..64 {
            let ones = c.iter().filter(|&&w| (w >> bit) & 1 == 1).count() as f64;
            let frac = ones / c.len() as f64;
            assert!((frac - 0.5).abs() < 0.047, "bit {bit}: {frac}");
        }
    }
}

#[test]
fn a_peer_that_drops_out_is_named() {
    let outs = run(2, |p| {
        if p.id == 1 {
            p.peers[0] = None; // drops the link to party 0
            return String::new();
        }
        p.take(&Material::Triple(vec![8])).unwrap_err().to_string()
    });
    assert!(
        outs[0].contains("party 1 (OT preprocessing)"),
        "{}",
        outs[0]
    );
}

#[test]
fn random_ots_give_the_receiver_exactly_its_chosen_message() {
    let choice = |j: usize| ((j * 5) % 7 % 2) as u64;
    let outs = run(2, |p| p.random_ots(1000, choice).unwrap());
    // Party 1 received from party 0 what party 0 sent as its pair.
    let (_, got, _, _) = &outs[1][0];
    let (_, _, m0, m1) = &outs[0][0];
    for j in 0..1000 {
        assert_ne!(m0[j], m1[j]);
        assert_eq!(got[j], if choice(j) == 1 { m1[j] } else { m0[j] }, "OT {j}");
    }
}
