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
///
/// Eight words at a time: the products of public inputs each term needs
/// are built once per block (each from a smaller one and one more input),
/// then every term is one AND and one XOR over the block, which the
/// compiler vectorises.
pub(super) fn node_outputs(
    less: &[u64],
    groups: usize,
    words: usize,
    (masks, products): (&[u64], &[u64]),
    d: &[u64],
    leader: bool,
) -> (Vec<u64>, Vec<u64>) {
    let terms = node_terms();
    let (mut out_less, mut out_equal) = (
        Vec::with_capacity(groups * words),
        Vec::with_capacity(groups * words),
    );
    let constant = if leader { u64::MAX } else { 0 };
    for g in 0..groups {
        let var = |i: usize| g * NODE_VARS + i;
        for w0 in (0..words).step_by(BLOCK) {
            let n = BLOCK.min(words - w0);
            let load = |v: &[u64], p: usize| {
                let mut out = [0u64; BLOCK];
                out[..n].copy_from_slice(&plane(v, p, words)[w0..w0 + n]);
                out
            };
            // The shares a term may use: the constant, the masks, the products.
            let mut shares = [[0u64; BLOCK]; 1 + NODE_VARS + NODE_PRODUCTS];
            shares[0] = [constant; BLOCK];
            for i in 0..NODE_VARS {
                shares[1 + i] = load(masks, var(i));
            }
            for k in 0..NODE_PRODUCTS {
                shares[1 + NODE_VARS + k] = load(products, g * NODE_PRODUCTS + k);
            }
            let inputs: [[u64; BLOCK]; NODE_VARS] = std::array::from_fn(|i| load(d, var(i)));
            let mut public = [[u64::MAX; BLOCK]; MAX_PUBLICS];
            for (j, &(parent, input)) in terms.publics.iter().enumerate().skip(1) {
                let (p, x) = (public[parent as usize], &inputs[input as usize]);
                public[j] = std::array::from_fn(|l| p[l] & x[l]);
            }
            let eval = |list: &[(u8, u8)], start: [u64; BLOCK]| {
                let mut acc = start;
                for &(p, sh) in list {
                    let (p, sh) = (&public[p as usize], &shares[sh as usize]);
                    for l in 0..BLOCK {
                        acc[l] ^= p[l] & sh[l];
                    }
                }
                acc
            };
            let l = eval(&terms.less, load(less, 4 * g + 3));
            let e = eval(&terms.equal, [0; BLOCK]);
            out_less.extend_from_slice(&l[..n]);
            out_equal.extend_from_slice(&e[..n]);
        }
    }
    (out_less, out_equal)
}

/// Words a block of [`node_outputs`] works on.
const BLOCK: usize = 8;

/// At most this many public products in [`NodeTerms`] (30 are needed).
const MAX_PUBLICS: usize = 32;

/// A node's monomials as terms `(public product, share)`: `publics[j]` is
/// `publics[parent] & d_input` (entry 0 the empty product); a share index
/// is 0 for the constant, `1 + i` for mask `i`, `1 + NODE_VARS + k` for
/// dealt product `k` (in [`node_subsets`] order).
struct NodeTerms {
    publics: Vec<(u8, u8)>,
    less: Vec<(u8, u8)>,
    equal: Vec<(u8, u8)>,
}

fn node_terms() -> &'static NodeTerms {
    static TERMS: OnceLock<NodeTerms> = OnceLock::new();
    TERMS.get_or_init(|| {
        let subsets = node_subsets();
        // Each public product once, keyed by its set of inputs.
        let mut keys: Vec<u8> = vec![0];
        let mut publics: Vec<(u8, u8)> = vec![(0, 0)];
        let mut public_of = |set: u8| -> u8 {
            let mut at = 0usize;
            let mut built = 0u8;
            for i in 0..NODE_VARS as u8 {
                if set >> i & 1 == 0 {
                    continue;
                }
                built |= 1 << i;
                at = match keys.iter().position(|&k| k == built) {
                    Some(j) => j,
                    None => {
                        keys.push(built);
                        publics.push((at as u8, i));
                        keys.len() - 1
                    }
                };
            }
            at as u8
        };
        let mut terms_of = |m: u8| -> Vec<(u8, u8)> {
            let mut out = Vec::new();
            let mut t = m;
            loop {
                let share = match t.count_ones() {
                    0 => 0,
                    1 => 1 + t.trailing_zeros() as usize,
                    _ => 1 + NODE_VARS + subsets.binary_search(&t).expect("a dealt subset"),
                };
                out.push((public_of(m & !t), share as u8));
                if t == 0 {
                    break;
                }
                t = (t - 1) & m;
            }
            out
        };
        let less = MONOMIALS[..3].iter().flat_map(|&m| terms_of(m)).collect();
        let equal = terms_of(MONOMIALS[3]);
        assert!(
            publics.len() <= MAX_PUBLICS,
            "{} public products",
            publics.len()
        );
        NodeTerms {
            publics,
            less,
            equal,
        }
    })
}
