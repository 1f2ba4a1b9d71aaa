//! Dense packing of values of varying widths into little-endian words: how
//! truncated OT corrections travel.

use super::mask;

/// Packs values of varying widths densely into little-endian words, into
/// a frame sized up front.
pub(super) struct BitWriter {
    out: Vec<u8>,
    at: usize,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    pub(super) fn with_capacity(bytes: usize) -> Self {
        Self {
            out: vec![0; bytes],
            at: 0,
            acc: 0,
            bits: 0,
        }
    }
    #[inline]
    fn emit(&mut self, word: u64) {
        match self.out.get_mut(self.at..self.at + 8) {
            Some(dst) => dst.copy_from_slice(&word.to_le_bytes()),
            None => self.out.extend_from_slice(&word.to_le_bytes()),
        }
        self.at += 8;
    }
    /// Appends the low `w` bits of `v` (`v < 2^w`, `1 <= w <= 64`).
    #[inline]
    pub(super) fn push(&mut self, v: u64, w: u32) {
        self.acc |= v << self.bits;
        let total = self.bits + w;
        if total >= 64 {
            let full = self.acc;
            self.emit(full);
            // The bits of v that did not fit (none if it ended exactly).
            self.acc = if self.bits == 0 {
                0
            } else {
                v >> (64 - self.bits)
            };
            self.bits = total - 64;
        } else {
            self.bits = total;
        }
    }
    pub(super) fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            let last = self.acc;
            self.emit(last);
        }
        self.out.truncate(self.at);
        self.out
    }
}

/// Reads values of varying widths from little-endian words. Frames are
/// length-checked before reading, so a read past the end (which cannot
/// happen then) gives zeros rather than a branch per value.
pub(super) struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            acc: 0,
            bits: 0,
        }
    }
    /// The next `w` bits (`1 <= w <= 64`).
    #[inline]
    pub(super) fn pull(&mut self, w: u32) -> u64 {
        if self.bits >= w {
            let v = self.acc & mask(w);
            self.acc = if w == 64 { 0 } else { self.acc >> w };
            self.bits -= w;
            return v;
        }
        let next = self
            .bytes
            .get(self.pos..self.pos + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        self.pos += 8;
        let v = (self.acc | (next << self.bits)) & mask(w);
        let used = w - self.bits;
        self.acc = if used == 64 { 0 } else { next >> used };
        self.bits = 64 - used;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_pack_and_unpack_at_any_width() {
        let vals: Vec<(u64, u32)> = (1..=64u32)
            .map(|w| (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(w as u64) & mask(w), w))
            .collect();
        let mut wr = BitWriter::with_capacity(0);
        for &(v, w) in &vals {
            wr.push(v, w);
        }
        let words = wr.finish();
        assert_eq!(words.len(), (64 * 65 / 2usize).div_ceil(64) * 8);
        let mut rd = BitReader::new(&words);
        for &(v, w) in &vals {
            assert_eq!(rd.pull(w), v);
        }
        assert_eq!(rd.pull(64), 0, "past the end reads zeros");
    }
}
