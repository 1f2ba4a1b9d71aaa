//! Ring matrix product over Z_2^64.
//!
//! x86-64 before AVX-512 has no 64-bit vector multiply, so a plain `u64`
//! loop runs at scalar speed. [`ring_matmul`] splits every element into
//! 32-bit halves, `a = a_h 2^32 + a_l`, and uses
//! `a b mod 2^64 = a_l b_l + ((a_l b_h + a_h b_l) mod 2^32) 2^32`:
//! the first product is a 32x32->64 multiply (`vpmuludq`, four lanes), the
//! cross terms only need their low 32 bits (`vpmulld`, eight lanes). Both
//! are accumulated over `k` in registers, in a 4 x 8 tile of the output
//! (register blocking), from panels of `a` and `b` packed so the tile's
//! loads are contiguous. The same portable code is compiled twice, once with
//! AVX2 enabled, and the AVX2 copy is chosen at run time when the CPU has
//! it; other CPUs (aarch64 included, where NEON's `umull` plays the same
//! role) run the portable copy. Rows of tiles are spread over threads with
//! `rayon`. [`ring_matmul_reference`] is the textbook triple loop that tests
//! hold the fast kernel to, and [`ring_matmul_ikj`] the plain i-k-j loop the
//! benchmarks compare with.

use rayon::prelude::*;

/// Multiply-adds below which the product runs on one thread.
const PARALLEL_THRESHOLD: usize = 1 << 18;
/// Rows of the output tile.
const MR: usize = 4;
/// Columns of the output tile.
const NR: usize = 8;
/// Depth of a `k` block: one packed panel of `b` (`KC x NR`) stays in L1/L2.
const KC: usize = 256;
/// Output rows per parallel task (a multiple of `MR`).
const ROW_TASK: usize = 32;

/// `b` packed by panels of `NR` columns, split into halves: for panel `p`
/// and depth `t`, entries `(p * k + t) * NR ..` hold the `NR` values.
struct PackedB {
    lo: Vec<u64>,
    lo32: Vec<u32>,
    hi32: Vec<u32>,
    panels: usize,
}

fn pack_b(b: &[u64], k: usize, n: usize) -> PackedB {
    let panels = n.div_ceil(NR);
    let len = panels * k * NR;
    let (mut lo, mut lo32, mut hi32) = (vec![0u64; len], vec![0u32; len], vec![0u32; len]);
    for p in 0..panels {
        for t in 0..k {
            for j in 0..NR.min(n - p * NR) {
                let v = b[t * n + p * NR + j];
                let at = (p * k + t) * NR + j;
                lo[at] = v & 0xFFFF_FFFF;
                lo32[at] = v as u32;
                hi32[at] = (v >> 32) as u32;
            }
        }
    }
    PackedB {
        lo,
        lo32,
        hi32,
        panels,
    }
}

/// `MR` rows of `a` packed by depth: entries `t * MR ..` hold the rows' values.
struct PackedA {
    lo: Vec<u64>,
    lo32: Vec<u32>,
    hi32: Vec<u32>,
}

fn pack_a(a: &[u64], row0: usize, rows: usize, k: usize) -> PackedA {
    let len = k * MR;
    let (mut lo, mut lo32, mut hi32) = (vec![0u64; len], vec![0u32; len], vec![0u32; len]);
    for r in 0..rows {
        for t in 0..k {
            let v = a[(row0 + r) * k + t];
            lo[t * MR + r] = v & 0xFFFF_FFFF;
            lo32[t * MR + r] = v as u32;
            hi32[t * MR + r] = (v >> 32) as u32;
        }
    }
    PackedA { lo, lo32, hi32 }
}

/// One `MR x NR` tile over depths `t0..t1`, returned in full 64-bit form.
#[inline(always)]
fn tile(
    pa: &PackedA,
    pb: &PackedB,
    panel: usize,
    k: usize,
    t0: usize,
    t1: usize,
) -> [[u64; NR]; MR] {
    let mut lo = [[0u64; NR]; MR];
    let mut cross = [[0u32; NR]; MR];
    let (b0, b1) = ((panel * k + t0) * NR, (panel * k + t1) * NR);
    let (a0, a1) = (t0 * MR, t1 * MR);
    // Exact-size chunks let the compiler drop every bounds check in the loop.
    let b_rows = pb.lo[b0..b1]
        .chunks_exact(NR)
        .zip(pb.lo32[b0..b1].chunks_exact(NR))
        .zip(pb.hi32[b0..b1].chunks_exact(NR));
    let a_cols = pa.lo[a0..a1]
        .chunks_exact(MR)
        .zip(pa.lo32[a0..a1].chunks_exact(MR))
        .zip(pa.hi32[a0..a1].chunks_exact(MR));
    for (((bl, bl32), bh32), ((al, al32), ah32)) in b_rows.zip(a_cols) {
        for r in 0..MR {
            let (al, al32, ah32) = (al[r], al32[r], ah32[r]);
            for j in 0..NR {
                // Both factors are below 2^32: one widening 32x32 multiply.
                lo[r][j] = lo[r][j].wrapping_add((al & 0xFFFF_FFFF) * (bl[j] & 0xFFFF_FFFF));
                cross[r][j] = cross[r][j]
                    .wrapping_add(al32.wrapping_mul(bh32[j]))
                    .wrapping_add(ah32.wrapping_mul(bl32[j]));
            }
        }
    }
    let mut out = [[0u64; NR]; MR];
    for r in 0..MR {
        for j in 0..NR {
            out[r][j] = lo[r][j].wrapping_add(u64::from(cross[r][j]) << 32);
        }
    }
    out
}

/// Computes rows `row0..row0 + rows` of the product into `c_rows`.
#[inline(always)]
fn rows_block(
    a: &[u64],
    pb: &PackedB,
    c_rows: &mut [u64],
    row0: usize,
    rows: usize,
    k: usize,
    n: usize,
) {
    for r0 in (0..rows).step_by(MR) {
        let mr = MR.min(rows - r0);
        let pa = pack_a(a, row0 + r0, mr, k);
        for p in 0..pb.panels {
            let nr = NR.min(n - p * NR);
            for t0 in (0..k).step_by(KC) {
                let t = tile(&pa, pb, p, k, t0, (t0 + KC).min(k));
                for r in 0..mr {
                    let c_row = &mut c_rows[(r0 + r) * n + p * NR..][..nr];
                    for (cv, tv) in c_row.iter_mut().zip(&t[r]) {
                        *cv = cv.wrapping_add(*tv);
                    }
                }
            }
        }
    }
}

/// [`rows_block`] compiled with AVX2 (chosen at run time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rows_block_avx2(
    a: &[u64],
    pb: &PackedB,
    c_rows: &mut [u64],
    row0: usize,
    rows: usize,
    k: usize,
    n: usize,
) {
    rows_block(a, pb, c_rows, row0, rows, k, n)
}

/// Runs the fastest compiled copy of [`rows_block`] this CPU supports.
fn rows_block_dispatch(
    a: &[u64],
    pb: &PackedB,
    c_rows: &mut [u64],
    row0: usize,
    rows: usize,
    k: usize,
    n: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), which is the
            // only requirement of calling a `target_feature(enable = "avx2")`
            // function; the function itself is safe code.
            #[allow(unsafe_code)]
            unsafe {
                return rows_block_avx2(a, pb, c_rows, row0, rows, k, n);
            }
        }
    }
    rows_block(a, pb, c_rows, row0, rows, k, n)
}

/// `c = a * b` for row-major `a: [m, k]`, `b: [k, n]`, with wrapping arithmetic.
pub fn ring_matmul(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    assert_eq!(a.len(), m * k, "ring_matmul: a has wrong length");
    assert_eq!(b.len(), k * n, "ring_matmul: b has wrong length");
    let mut c = vec![0u64; m * n];
    if m == 0 || n == 0 || k == 0 {
        return c;
    }
    let pb = pack_b(b, k, n);
    let work = m.saturating_mul(k).saturating_mul(n);
    if work >= PARALLEL_THRESHOLD && m > ROW_TASK {
        c.par_chunks_mut(ROW_TASK * n)
            .enumerate()
            .for_each(|(task, c_rows)| {
                let rows = c_rows.len() / n;
                rows_block_dispatch(a, &pb, c_rows, task * ROW_TASK, rows, k, n);
            });
    } else {
        rows_block_dispatch(a, &pb, &mut c, 0, m, k, n);
    }
    c
}

/// The plain i-k-j loop (no blocking, no packing), the baseline the fast
/// kernel is benchmarked against.
pub fn ring_matmul_ikj(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    let mut c = vec![0u64; m * n];
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        for t in 0..k {
            let x = a[i * k + t];
            for (cv, &bv) in c_row.iter_mut().zip(&b[t * n..(t + 1) * n]) {
                *cv = cv.wrapping_add(x.wrapping_mul(bv));
            }
        }
    }
    c
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
            (4, 8, 8),
            (33, 257, 9),
            (64, 600, 17),
        ] {
            let a = prg.next_u64_vec(m * k);
            let b = prg.next_u64_vec(k * n);
            let want = ring_matmul_reference(&a, &b, m, k, n);
            assert_eq!(ring_matmul(&a, &b, m, k, n), want, "shape {m}x{k}x{n}");
            assert_eq!(ring_matmul_ikj(&a, &b, m, k, n), want, "shape {m}x{k}x{n}");
            // The portable copy too, whatever this CPU supports.
            let mut c = vec![0u64; m * n];
            rows_block(&a, &pack_b(&b, k, n), &mut c, 0, m, k, n);
            assert_eq!(c, want, "portable kernel, shape {m}x{k}x{n}");
        }
    }

    #[test]
    fn empty_dimensions() {
        assert_eq!(ring_matmul(&[], &[], 0, 3, 0), Vec::<u64>::new());
        assert_eq!(ring_matmul(&[], &[], 2, 0, 2), vec![0; 4]);
    }
}
