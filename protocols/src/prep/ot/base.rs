//! Base oblivious transfer: the "simplest OT" of Chou and Orlandi
//! (LATINCRYPT 2015, eprint 2015/267) over the Ristretto group.
//!
//! The sender draws `a` and publishes `A = aG`. For choice bit `c` the
//! receiver draws `b` and answers `B = bG + cA`; its key is `H(bA)`. The
//! sender's keys are `H(aB)` and `H(a(B - A))`, so the receiver learns exactly
//! the key of its choice and the sender learns nothing of `c` (`B` is
//! uniform either way).
//!
//! **Security:** semi-honest, under the computational Diffie-Hellman
//! assumption in Ristretto (prime order 2^252 + ...), with SHA-256 as a random
//! oracle. Every key hash binds a session id, the OT's index and the
//! transcript `(A, B)`. Points that do not decode, and the identity, are
//! rejected. The choice bit never branches: `B` is selected in constant time.
//! One `A` serves a whole batch (each OT hashes its own index), as in the
//! paper's batched form.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable};
use tessera_tensor::Prg;

/// A 128-bit key out of one base OT.
pub type Key = [u8; 16];

/// Bytes of one encoded group element.
const POINT: usize = 32;

fn random_scalar(prg: &mut Prg) -> Scalar {
    let mut wide = [0u8; 64];
    for chunk in wide.chunks_exact_mut(8) {
        chunk.copy_from_slice(&prg.next_u64().to_le_bytes());
    }
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn decode_point(bytes: &[u8], what: &str) -> Result<RistrettoPoint, String> {
    let compressed = CompressedRistretto::from_slice(bytes)
        .map_err(|_| format!("{what}: a group element must be {POINT} bytes"))?;
    let point = compressed
        .decompress()
        .ok_or_else(|| format!("{what}: not a valid Ristretto point"))?;
    if point == RistrettoPoint::identity() {
        return Err(format!("{what}: the identity point is not allowed"));
    }
    Ok(point)
}

fn key_hash(sid: &[u8], index: usize, a: &[u8], b: &[u8], shared: &RistrettoPoint) -> Key {
    let digest = Sha256::new()
        .chain_update(b"tessera base OT v1")
        .chain_update((sid.len() as u64).to_le_bytes())
        .chain_update(sid)
        .chain_update((index as u64).to_le_bytes())
        .chain_update(a)
        .chain_update(b)
        .chain_update(shared.compress().as_bytes())
        .finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// The sender's side of a batch of base OTs.
pub struct BaseSender {
    a: Scalar,
    big_a: RistrettoPoint,
    sid: Vec<u8>,
}

impl BaseSender {
    /// Draws the sender's secret; returns the first message (`A`).
    pub fn start(prg: &mut Prg, sid: &[u8]) -> (Self, Vec<u8>) {
        let a = random_scalar(prg);
        let big_a = RistrettoPoint::mul_base(&a);
        let msg = big_a.compress().as_bytes().to_vec();
        (
            Self {
                a,
                big_a,
                sid: sid.to_vec(),
            },
            msg,
        )
    }

    /// Both keys of every OT, from the receiver's answer (one `B` per OT).
    pub fn finish(&self, answer: &[u8], count: usize) -> Result<Vec<(Key, Key)>, String> {
        if answer.len() != count * POINT {
            return Err(format!(
                "base OT answer of {} bytes, expected {}",
                answer.len(),
                count * POINT
            ));
        }
        let a_bytes = self.big_a.compress();
        answer
            .chunks_exact(POINT)
            .enumerate()
            .map(|(i, b_bytes)| {
                let b = decode_point(b_bytes, "base OT answer")?;
                let k0 = key_hash(&self.sid, i, a_bytes.as_bytes(), b_bytes, &(self.a * b));
                let k1 = key_hash(
                    &self.sid,
                    i,
                    a_bytes.as_bytes(),
                    b_bytes,
                    &(self.a * (b - self.big_a)),
                );
                Ok((k0, k1))
            })
            .collect()
    }
}

impl Drop for BaseSender {
    fn drop(&mut self) {
        self.a = Scalar::ZERO;
    }
}

/// The receiver's side: answers the sender's `A` for the given choice bits
/// (each 0 or 1). Returns the answer to send and the chosen keys.
pub fn receive(
    prg: &mut Prg,
    sid: &[u8],
    first: &[u8],
    choices: &[u8],
) -> Result<(Vec<u8>, Vec<Key>), String> {
    let big_a = decode_point(first, "base OT first message")?;
    let identity = RistrettoPoint::identity();
    let mut answer = Vec::with_capacity(choices.len() * POINT);
    let mut keys = Vec::with_capacity(choices.len());
    for (i, &c) in choices.iter().enumerate() {
        let b = random_scalar(prg);
        let offset = RistrettoPoint::conditional_select(&identity, &big_a, Choice::from(c & 1));
        let big_b = (RistrettoPoint::mul_base(&b) + offset).compress();
        keys.push(key_hash(sid, i, first, big_b.as_bytes(), &(b * big_a)));
        answer.extend_from_slice(big_b.as_bytes());
    }
    Ok((answer, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_gets_exactly_the_chosen_keys() {
        let mut prg = Prg::from_seed([3; 32]);
        let choices: Vec<u8> = (0..40).map(|i| ((i * 7) % 3 == 0) as u8).collect();
        let (sender, first) = BaseSender::start(&mut prg, b"sid");
        let (answer, keys) = receive(&mut prg, b"sid", &first, &choices).unwrap();
        let pairs = sender.finish(&answer, choices.len()).unwrap();
        for ((k, (k0, k1)), c) in keys.iter().zip(&pairs).zip(&choices) {
            assert_ne!(k0, k1);
            assert_eq!(k, if *c == 1 { k1 } else { k0 });
        }
        // Another session id gives unrelated keys.
        let (_, other) = receive(&mut prg, b"other", &first, &choices).unwrap();
        assert!(other.iter().zip(&keys).all(|(a, b)| a != b));
    }

    #[test]
    fn invalid_points_are_rejected() {
        let mut prg = Prg::from_seed([4; 32]);
        // Not a canonical encoding (all 0xff), the identity (all zeros), wrong length.
        for bad in [vec![0xff; 32], vec![0; 32], vec![1; 31]] {
            assert!(receive(&mut prg, b"s", &bad, &[1]).is_err());
        }
        let (sender, _) = BaseSender::start(&mut prg, b"s");
        assert!(sender.finish(&[0xff; 32], 1).is_err());
        assert!(sender.finish(&[0; 32], 1).is_err());
        assert!(sender.finish(&[0; 64], 1).is_err());
    }
}
