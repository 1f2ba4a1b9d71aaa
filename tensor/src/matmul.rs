//! Ring matrix product over Z_2^64.
//!
//! Multiplication modulo 2^64 is plain wrapping `u64` arithmetic, so the
//! kernel is an ordinary matrix product whose inner loop the compiler can
//! vectorise. [`ring_matmul`] blocks over `k` to keep a panel of `b` in cache
//! and splits rows across threads with `rayon` once the product is large
//! enough to pay for it. [`ring_matmul_reference`] is the textbook triple loop
//! that tests hold the fast kernel to.

use rayon::prelude::*;

/// Multiply-adds below which the product runs on one thread.
const PARALLEL_THRESHOLD: usize = 1 << 18;
/// Depth of a `k` block: a `K_BLOCK x n` panel of `b` is reused by all rows.
const K_BLOCK: usize = 256;
/// Rows of the output computed per task.
const ROW_CHUNK: usize = 16;

/// `c = a * b` for row-major `a: [m, k]`, `b: [k, n]`, with wrapping arithmetic.
pub fn ring_matmul(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    assert_eq!(a.len(), m * k, "ring_matmul: a has wrong length");
    assert_eq!(b.len(), k * n, "ring_matmul: b has wrong length");
    let mut c = vec![0u64; m * n];
    if m == 0 || n == 0 || k == 0 {
        return c;
    }
    let work = m.saturating_mul(k).saturating_mul(n);
    if work >= PARALLEL_THRESHOLD && m > ROW_CHUNK {
        c.par_chunks_mut(ROW_CHUNK * n)
            .enumerate()
            .for_each(|(chunk, c_rows)| {
                let row0 = chunk * ROW_CHUNK;
                let rows = c_rows.len() / n;
                kernel(&a[row0 * k..(row0 + rows) * k], b, c_rows, rows, k, n);
            });
    } else {
        kernel(a, b, &mut c, m, k, n);
    }
    c
}

/// Accumulates `a[rows, k] * b[k, n]` into `c[rows, n]`, blocked over `k`.
fn kernel(a: &[u64], b: &[u64], c: &mut [u64], rows: usize, k: usize, n: usize) {
    for k0 in (0..k).step_by(K_BLOCK) {
        let k1 = (k0 + K_BLOCK).min(k);
        for i in 0..rows {
            let c_row = &mut c[i * n..(i + 1) * n];
            let a_row = &a[i * k..(i + 1) * k];
            for kk in k0..k1 {
                let aik = a_row[kk];
                if aik == 0 {
                    continue;
                }
                let b_row = &b[kk * n..(kk + 1) * n];
                for (cv, &bv) in c_row.iter_mut().zip(b_row) {
                    *cv = cv.wrapping_add(aik.wrapping_mul(bv));
                }
            }
        }
    }
}

/// The straightforward triple loop, kept as the reference for tests.
pub fn ring_matmul_reference(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    let mut c = vec![0u64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0u64;
            for t in 0..k {
                acc = acc.wrapping_add(a[i * k + t].wrapping_mul(b[t * n + j]));
            }
            c[i * n + j] = acc;
        }
    }
    c
}

/// `f32` matrix product with the same loop structure, the plaintext twin in benchmarks.
pub fn f32_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0f32; m * n];
    let body = |(i, c_row): (usize, &mut [f32])| {
        let a_row = &a[i * k..(i + 1) * k];
        for (kk, &aik) in a_row.iter().enumerate() {
            let b_row = &b[kk * n..(kk + 1) * n];
            for (cv, &bv) in c_row.iter_mut().zip(b_row) {
                *cv += aik * bv;
            }
        }
    };
    if m.saturating_mul(k).saturating_mul(n) >= PARALLEL_THRESHOLD {
        c.par_chunks_mut(n.max(1)).enumerate().for_each(body);
    } else {
        c.chunks_mut(n.max(1)).enumerate().for_each(body);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Prg;

    #[test]
    fn fast_kernel_matches_reference_on_odd_shapes() {
        let mut prg = Prg::from_seed([7; 32]);
        for &(m, k, n) in &[
            (1, 1, 1),
            (1, 17, 1),
            (5, 1, 9),
            (3, 300, 2),
            (17, 513, 33),
            (70, 70, 70),
            (1, 1000, 64),
            (130, 40, 1),
        ] {
            let a = prg.next_u64_vec(m * k);
            let b = prg.next_u64_vec(k * n);
            assert_eq!(
                ring_matmul(&a, &b, m, k, n),
                ring_matmul_reference(&a, &b, m, k, n),
                "shape {m}x{k}x{n}"
            );
        }
    }

    #[test]
    fn empty_dimensions() {
        assert_eq!(ring_matmul(&[], &[], 0, 3, 0), Vec::<u64>::new());
        assert_eq!(ring_matmul(&[], &[], 2, 0, 2), vec![0; 4]);
    }
}
