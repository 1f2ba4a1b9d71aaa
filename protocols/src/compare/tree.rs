//! The comparison without tables (OT): a tree of two-input AND gates over
//! the 64 bits, packed densely across elements.

use super::*;

/// The tree comparison, for providers that cannot make tables cheaply
/// ([`crate::prep::Preprocessing::deals_tables`]): XOR shares of the top
/// bit of every element of `x`, packed 64 to a word, and the opened
/// `c = x + r`, from edaBits (`r` additively, `r_bits` XOR-shared). Seven
/// rounds, 252 bits per element.
///
/// The top bit of `x = c - r` is `c_63 ^ r_63 ^ [c_low < r_low]`; the
/// borrow comes from a tree: each node holds (less, equal) of its bit
/// range, and a parent is `(l_hi ^ e_hi & l_lo, e_hi & e_lo)`. The bits of a
/// level are packed densely across elements (64, 32, ... 2 per element), and
/// the two ANDs of a node share the mask of `e_hi`, so level `j` opens
/// `3 * 64 / 2^j` bits per element, the last one 2.
pub(crate) fn tree_top_bits(
    sess: &mut Session,
    x: &AShare,
    r_arith: &RingTensor,
    r_bits: &RingTensor,
) -> Result<(BShare, RingTensor)> {
    let len = x.len();
    let x = x.reshape(&[len])?;
    let masked = x.share().add(r_arith)?;
    let c = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
    Ok((tree_from_opened(sess, &c, r_bits)?, c))
}

/// The top bits of `c - r` for public words `c` and XOR-shared words
/// `r_bits` (one per comparison): the six levels of [`tree_top_bits`]'s
/// tree, packed 64 to a word. (Batches of thresholds take
/// [`crate::shared_tree`], whose trees share subtrees.)
fn tree_from_opened(sess: &mut Session, c: &RingTensor, r_bits: &RingTensor) -> Result<BShare> {
    const LOW: u64 = u64::MAX >> 1;
    let r_bits = BShare::from_share(r_bits.clone());
    let not_c_low = c.map(|v| !v & LOW);
    // Leaves: less = !c & r, equal = !(c ^ r) on bits 0..63; bit 63 is the
    // identity (less 0, equal 1).
    let mut less = r_bits.and_public(&not_c_low)?;
    let mut equal = r_bits
        .map_linear(|v| v & LOW)
        .xor_public(sess, &not_c_low.map(|v| v | !LOW))?;
    for level in 0..6 {
        let (less_hi, less_lo) = (half_stream(&less, true), half_stream(&less, false));
        let (eq_hi, eq_lo) = (half_stream(&equal, true), half_stream(&equal, false));
        if level < 5 {
            let both = and_fanout(sess, &eq_hi, &[&less_lo, &eq_lo])?;
            less = less_hi.xor(&both[0])?;
            equal = both[1].clone();
        } else {
            less = less_hi.xor(&and(sess, &eq_hi, &less_lo)?)?;
        }
    }
    let top = |t: &RingTensor| pack_bits(&t.as_slice().iter().map(|v| v >> 63).collect::<Vec<_>>());
    less.xor(&BShare::from_share(top(r_bits.share())))?
        .xor_public(sess, &top(c))
}

/// The even-indexed bits of a word, gathered into its low 32 bits.
pub(super) fn even_bits(w: u64) -> u64 {
    let mut x = w & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    (x | (x >> 16)) & 0x0000_0000_ffff_ffff
}

/// Every other bit of a packed bit stream (odd positions if `odd`), packed
/// again. Linear, so it applies to XOR shares locally.
pub(super) fn half_stream(x: &BShare, odd: bool) -> BShare {
    let shift = odd as u32;
    let words: Vec<u64> = x
        .share()
        .as_slice()
        .chunks(2)
        .map(|c| {
            let lo = even_bits(c[0] >> shift);
            let hi = c.get(1).map_or(0, |&w| even_bits(w >> shift));
            lo | (hi << 32)
        })
        .collect();
    let len = words.len();
    BShare::from_share(RingTensor::from_vec(&[len], words).expect("1-D"))
}
