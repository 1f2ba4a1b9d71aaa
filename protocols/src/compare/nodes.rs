//! One level of four-input nodes: open the masked inputs, then each
//! node's (less, equal) from the dealt mask products.

use super::*;

/// One level of `groups` nodes (one round): child `j` of group `g` is plane
/// `4 g + j` of `less` and `equal` (child 3 the most significant). Returns
/// each group's (less, equal) planes.
pub(super) fn combine(
    sess: &mut Session,
    children: (&[u64], &[u64]),
    groups: usize,
    words: usize,
    dealt: (&[u64], &[u64]),
) -> Result<(Vec<u64>, Vec<u64>)> {
    let masked = node_inputs(children, groups, words, dealt.0);
    let masked = RingTensor::from_vec(&[masked.len()], masked)?;
    let opened = arith::open_combined(sess, &[&masked], Sharing::Binary)?.remove(0);
    let leader = sess.is_leader();
    Ok(node_outputs(
        children.0,
        groups,
        words,
        dealt,
        opened.as_slice(),
        leader,
    ))
}

/// The plane of `v` at `p`.
pub(super) fn plane(v: &[u64], p: usize, words: usize) -> &[u64] {
    &v[p * words..(p + 1) * words]
}

/// Each group's inputs `e3 e2 e1 e0 l2 l1 l0`, masked: what a level opens.
pub(super) fn node_inputs(
    (less, equal): (&[u64], &[u64]),
    groups: usize,
    words: usize,
    masks: &[u64],
) -> Vec<u64> {
    let mut out = Vec::with_capacity(groups * NODE_VARS * words);
    for g in 0..groups {
        let c = 4 * g;
        let inputs = [
            plane(equal, c + 3, words),
            plane(equal, c + 2, words),
            plane(equal, c + 1, words),
            plane(equal, c, words),
            plane(less, c + 2, words),
            plane(less, c + 1, words),
            plane(less, c, words),
        ];
        // Plane by plane, so each XOR runs over two slices (vectorised).
        for input in inputs {
            let at = out.len();
            let mask = &masks[at..at + words];
            out.extend(input.iter().zip(mask).map(|(v, a)| v ^ a));
        }
    }
    out
}

/// Each group's (less, equal) from the opened masked inputs `d`: a
/// monomial `prod_{i in m} (d_i ^ a_i)` is the XOR over subsets `t` of `m`
/// of `(prod_{i in m \ t} d_i) & A_t`, with `A_{}` = 1 on the leader,
/// `A_{i}` the mask and larger `A_t` the dealt products.
pub(super) fn node_outputs(
    less: &[u64],
    groups: usize,
    words: usize,
    (masks, products): (&[u64], &[u64]),
    d: &[u64],
    leader: bool,
) -> (Vec<u64>, Vec<u64>) {
    let subsets = node_subsets();
    let (mut out_less, mut out_equal) = (Vec::new(), Vec::new());
    for g in 0..groups {
        let var = |i: usize| g * NODE_VARS + i;
        let monomial = |m: u8| {
            let mut acc = vec![0u64; words];
            let mut t = m;
            loop {
                let public: Vec<usize> = (0..NODE_VARS)
                    .filter(|i| (m & !t) >> i & 1 == 1)
                    .map(|i| var(i) * words)
                    .collect();
                let share = match t.count_ones() {
                    0 => None,
                    1 => Some(plane(masks, var(t.trailing_zeros() as usize), words)),
                    _ => {
                        let at = subsets.binary_search(&t).expect("a dealt subset");
                        Some(plane(products, g * NODE_PRODUCTS + at, words))
                    }
                };
                if t != 0 || leader {
                    for (w, a) in acc.iter_mut().enumerate() {
                        let p = public.iter().fold(u64::MAX, |p, &o| p & d[o + w]);
                        *a ^= p & share.map_or(u64::MAX, |s| s[w]);
                    }
                }
                if t == 0 {
                    break;
                }
                t = (t - 1) & m;
            }
            acc
        };
        let mut l = plane(less, 4 * g + 3, words).to_vec();
        for &m in &MONOMIALS[..3] {
            for (a, b) in l.iter_mut().zip(monomial(m)) {
                *a ^= b;
            }
        }
        out_less.extend(l);
        out_equal.extend(monomial(MONOMIALS[3]));
    }
    (out_less, out_equal)
}
