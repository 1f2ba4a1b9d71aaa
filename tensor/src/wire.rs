//! Byte encoding of ring tensors for the wire.
//!
//! Layout: one byte holding the number of dimensions, each dimension as a
//! little-endian `u64`, then the elements as little-endian `u64` in row-major
//! order. Decoding never trusts the header: the element count must fit the
//! caller's limit and match the bytes actually present before anything is
//! allocated.

use crate::{RingTensor, TensorError};

/// Most dimensions a tensor on the wire may have.
pub const MAX_DIMS: usize = 8;

/// Appends the encoding of `t` to `out`.
pub fn encode_into(t: &RingTensor, out: &mut Vec<u8>) {
    encode_parts_into(t.shape(), t.as_slice(), out);
}

/// Appends the encoding of a tensor of `shape` with elements `data`.
fn encode_parts_into(shape: &[usize], data: &[u64], out: &mut Vec<u8>) {
    encode_concat_into(shape, &[data], out);
}

/// Appends the encoding of a tensor of `shape` whose elements are the
/// `pieces` one after the other (no intermediate copy of them joined).
fn encode_concat_into(shape: &[usize], pieces: &[&[u64]], out: &mut Vec<u8>) {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    debug_assert_eq!(shape.iter().product::<usize>(), len);
    out.reserve(1 + 8 * shape.len() + 8 * len);
    out.push(shape.len() as u8);
    for &d in shape {
        out.extend_from_slice(&(d as u64).to_le_bytes());
    }
    let mut start = out.len();
    out.resize(start + 8 * len, 0);
    for piece in pieces {
        let end = start + 8 * piece.len();
        for (dst, v) in out[start..end].chunks_exact_mut(8).zip(*piece) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        start = end;
    }
}

/// The encoding of a tensor of `shape` with elements `data` (row-major).
pub fn encode_slice(shape: &[usize], data: &[u64]) -> Vec<u8> {
    encode_concat(shape, &[data])
}

/// The encoding of a tensor of `shape` whose elements are `pieces`
/// concatenated: several tensors opened in one message.
pub fn encode_concat(shape: &[usize], pieces: &[&[u64]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_concat_into(shape, pieces, &mut out);
    out
}

/// Checks that `bytes` encodes exactly a tensor of `shape` and returns its
/// elements' bytes, without copying them out.
pub fn body_of<'a>(bytes: &'a [u8], shape: &[usize]) -> Result<&'a [u8], TensorError> {
    let header = 1 + 8 * shape.len();
    let len: usize = shape.iter().product();
    let matches = bytes.len() == header + 8 * len
        && bytes[0] as usize == shape.len()
        && bytes[1..header]
            .chunks_exact(8)
            .zip(shape)
            .all(|(c, &d)| u64::from_le_bytes(c.try_into().expect("8 bytes")) == d as u64);
    if !matches {
        // Decode for a precise message (the header is untrusted).
        // Decoding allocates only what the bytes hold.
        let got = decode(bytes, bytes.len() / 8)?;
        return Err(TensorError::Wire(format!(
            "expected shape {shape:?}, got {:?}",
            got.shape()
        )));
    }
    Ok(&bytes[header..])
}

/// Bytes [`encode_into`] writes for `t`.
pub fn encoded_len(t: &RingTensor) -> usize {
    1 + 8 * t.shape().len() + 8 * t.len()
}

/// The encoding of `t`.
pub fn encode(t: &RingTensor) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(t, &mut out);
    out
}

/// Decodes one tensor from the front of `bytes`, returning it and the rest.
/// Fails if the header is malformed, the tensor would exceed `max_elems`
/// elements, or the bytes are truncated.
pub fn decode_prefix(bytes: &[u8], max_elems: usize) -> Result<(RingTensor, &[u8]), TensorError> {
    let (&ndim, mut rest) = bytes
        .split_first()
        .ok_or_else(|| TensorError::Wire("empty message".into()))?;
    let ndim = ndim as usize;
    if ndim > MAX_DIMS {
        return Err(TensorError::Wire(format!(
            "{ndim} dimensions, at most {MAX_DIMS} allowed"
        )));
    }
    let mut shape = Vec::with_capacity(ndim);
    let mut count: usize = 1;
    for i in 0..ndim {
        let (d, r) = take_u64(rest)
            .ok_or_else(|| TensorError::Wire(format!("header truncated at dimension {i}")))?;
        rest = r;
        let d = usize::try_from(d).map_err(|_| TensorError::Wire("dimension too large".into()))?;
        count = count
            .checked_mul(d)
            .filter(|&c| c <= max_elems)
            .ok_or_else(|| {
                TensorError::Wire(format!("tensor exceeds the limit of {max_elems} elements"))
            })?;
        shape.push(d);
    }
    let need = count * 8;
    if rest.len() < need {
        return Err(TensorError::Wire(format!(
            "truncated: {count} elements need {need} bytes, {} present",
            rest.len()
        )));
    }
    let (body, rest) = rest.split_at(need);
    // Collected, not zeroed and then overwritten: one pass over the memory.
    let data: Vec<u64> = body
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunk of 8")))
        .collect();
    Ok((RingTensor::from_vec(&shape, data)?, rest))
}

/// Decodes exactly one tensor; trailing bytes are an error.
pub fn decode(bytes: &[u8], max_elems: usize) -> Result<RingTensor, TensorError> {
    let (t, rest) = decode_prefix(bytes, max_elems)?;
    if !rest.is_empty() {
        return Err(TensorError::Wire(format!(
            "{} unexpected trailing bytes",
            rest.len()
        )));
    }
    Ok(t)
}

fn take_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    if b.len() < 8 {
        return None;
    }
    let (head, rest) = b.split_at(8);
    Some((u64::from_le_bytes(head.try_into().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(rows in 0usize..6, cols in 0usize..6, seed in any::<u8>()) {
            let mut prg = crate::Prg::from_seed([seed; 32]);
            let t = prg.uniform(&[rows, cols]);
            let bytes = encode(&t);
            prop_assert_eq!(bytes.len(), 1 + 16 + 8 * rows * cols);
            prop_assert_eq!(decode(&bytes, 1 << 20).unwrap(), t);
        }
    }

    #[test]
    fn a_body_is_checked_against_the_expected_shape() {
        let t = crate::Prg::from_seed([3; 32]).uniform(&[2, 3]);
        let bytes = encode(&t);
        assert_eq!(body_of(&bytes, &[2, 3]).unwrap().len(), 48);
        assert_eq!(encode_slice(&[2, 3], t.as_slice()), bytes);
        assert!(body_of(&bytes, &[3, 2])
            .unwrap_err()
            .to_string()
            .contains("expected shape [3, 2], got [2, 3]"));
        assert!(body_of(&bytes, &[6]).is_err());
        assert!(body_of(&bytes[..bytes.len() - 8], &[2, 3]).is_err());
        assert!(body_of(&[], &[1]).is_err());
    }

    #[test]
    fn hostile_headers_are_rejected_without_allocating() {
        let mut huge = vec![2u8];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge, 1 << 20).is_err());
        let mut big = vec![1u8];
        big.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decode(&big, 1 << 20)
            .unwrap_err()
            .to_string()
            .contains("limit"));
        let t = RingTensor::zeros(&[3]);
        let bytes = encode(&t);
        assert!(decode(&bytes[..bytes.len() - 1], 10)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        assert!(decode(&[], 10).is_err());
        assert!(decode(&[9], 10).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra, 10).is_err());
    }
}
