//! The wire form of a [`Material`] request, as party 0 sends it to the
//! dealer: encoding, decoding, and the size checks a peer's request passes
//! before anything is allocated for it.

use super::auth::AuthKind;
use super::{Material, MAX_FANOUT, MAX_THRESHOLDS};
use tessera_tensor::wire;

impl Material {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let rows_item = match self {
            Material::RowTriple {
                mask,
                rows,
                cols,
                out,
                transposed,
            }
            | Material::Auth(AuthKind::RowTriple {
                mask,
                rows,
                cols,
                out,
                transposed,
            }) => Some((mask, rows, cols, *out, *transposed)),
            Material::Auth(AuthKind::MaskRows { mask, rows, cols }) => {
                Some((mask, rows, cols, 0, false))
            }
            _ => None,
        };
        if let Some((mask, rows, cols, out, transposed)) = rows_item {
            // tag, transposed, then mask, cols, out, |I| and the rows as u64.
            let mut enc = vec![self.tag(), transposed as u8];
            for v in [*mask, *cols as u64, out as u64, rows.len() as u64] {
                enc.extend_from_slice(&v.to_le_bytes());
            }
            for &r in rows {
                enc.extend_from_slice(&(r as u64).to_le_bytes());
            }
            return enc;
        }
        if let Material::WindowTriple {
            mask,
            rows,
            window: w,
            out,
            transposed,
        } = self
        {
            // tag, transposed, then mask, out, the window's six numbers,
            // |I| and the rows, as u64.
            let mut enc = vec![self.tag(), *transposed as u8];
            let head = [*mask, *out as u64];
            let geometry = [w.channels, w.height, w.width, w.kernel, w.stride, w.padding];
            let words = head
                .into_iter()
                .chain(geometry.iter().map(|&v| v as u64))
                .chain([rows.len() as u64])
                .chain(rows.iter().map(|&r| r as u64));
            for v in words {
                enc.extend_from_slice(&v.to_le_bytes());
            }
            return enc;
        }
        let (dims, f): (Vec<usize>, u32) = match self {
            Material::MatTriple(m, k, n) => (vec![*m, *k, *n], 0),
            Material::HeldTriple { owner, m, k, n } => (vec![*m, *k, *n], *owner as u32),
            Material::Trunc(s, f) | Material::WordBits(s, f) | Material::BitTriple(s, f) => {
                (s.clone(), *f)
            }
            Material::CompareTables(len, k, nodes) => (vec![*len, *nodes as usize], *k),
            Material::EdaSelect(len) => (vec![*len], 0),
            Material::TruncCompare(len, f) => (vec![*len], *f),
            Material::Mask {
                id,
                start,
                rows,
                cols,
            } => (vec![*id as usize, *start, *rows, *cols], 0),
            Material::RowTriple { .. } | Material::WindowTriple { .. } => {
                unreachable!("encoded above")
            }
            Material::Auth(AuthKind::MatTriple(m, k, n)) => (vec![*m, *k, *n], 0),
            Material::Auth(AuthKind::Trunc(s, f)) => (s.clone(), *f),
            Material::Auth(AuthKind::Input(s, owner)) => (s.clone(), *owner as u32),
            Material::Auth(AuthKind::AndTriples(s, fanout)) => (s.clone(), *fanout),
            Material::Auth(
                AuthKind::Triple(s)
                | AuthKind::Random(s)
                | AuthKind::DaBits(s)
                | AuthKind::Compare(s)
                | AuthKind::CompareChunks(s)
                | AuthKind::CompareSelect(s),
            ) => (s.clone(), 0),
            Material::Triple(s)
            | Material::Square(s)
            | Material::EdaBits(s)
            | Material::AndCube(s) => (s.clone(), 0),
            Material::Auth(AuthKind::RowTriple { .. } | AuthKind::MaskRows { .. }) => {
                unreachable!("encoded above")
            }
        };
        let mut out = vec![self.tag(), f as u8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Option<Material>, String> {
        let [tag, f, nd, rest @ ..] = bytes else {
            return Err("request shorter than its header".into());
        };
        if *tag == 0 {
            return Ok(None);
        }
        if matches!(*tag, 10 | 19 | 20) {
            return Self::decode_row_triple(*tag, *f, bytes).map(Some);
        }
        if *tag == 27 {
            return Self::decode_window_triple(*f, bytes).map(Some);
        }
        let nd = *nd as usize;
        if nd > wire::MAX_DIMS || rest.len() != nd * 8 {
            return Err(format!(
                "request with {nd} dimensions and {} bytes",
                rest.len()
            ));
        }
        let dims: Vec<usize> = rest
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as usize)
            .collect();
        let item = match (*tag, dims.as_slice()) {
            (3, &[m, k, n]) => Material::MatTriple(m, k, n),
            (3, _) => return Err("bad matrix triple request".into()),
            (24, &[m, k, n]) => Material::HeldTriple {
                owner: *f as usize,
                m,
                k,
                n,
            },
            (24, _) => return Err("bad held triple request".into()),
            (1, _) => Material::Triple(dims),
            (26, _) => Material::AndCube(dims),
            (2, _) => Material::Square(dims),
            (4, _) if (1..64).contains(f) => Material::Trunc(dims, *f as u32),
            (5, _) if (1..=MAX_FANOUT).contains(&(*f as u32)) => {
                Material::BitTriple(dims, *f as u32)
            }
            (8, &[len, nodes])
                if (1..=MAX_THRESHOLDS).contains(&(*f as u32))
                    && (*f as usize + 4..=5 * *f as usize).contains(&nodes) =>
            {
                Material::CompareTables(len, *f as u32, nodes as u32)
            }
            (9, &[id, start, rows, cols]) if start.checked_add(rows).is_some() => Material::Mask {
                id: id as u64,
                start,
                rows,
                cols,
            },
            (9, &[_, start, rows, _]) => {
                return Err(format!("mask rows from {start}, {rows} of them, overflow"))
            }
            (6, _) => Material::EdaBits(dims),
            (7, _) if (1..=64).contains(f) => Material::WordBits(dims, *f as u32),
            (11, _) => Material::Auth(AuthKind::Triple(dims)),
            (12, &[m, k, n]) => Material::Auth(AuthKind::MatTriple(m, k, n)),
            (13, _) if (1..=62).contains(f) => Material::Auth(AuthKind::Trunc(dims, *f as u32)),
            (14, _) => Material::Auth(AuthKind::Random(dims)),
            (15, _) => Material::Auth(AuthKind::Input(dims, *f as usize)),
            (16, _) => Material::Auth(AuthKind::DaBits(dims)),
            (17, _) if (1..=MAX_FANOUT).contains(&(*f as u32)) => {
                Material::Auth(AuthKind::AndTriples(dims, *f as u32))
            }
            (18, _) => Material::Auth(AuthKind::Compare(dims)),
            (22, _) => Material::Auth(AuthKind::CompareChunks(dims)),
            (23, _) => Material::Auth(AuthKind::CompareSelect(dims)),
            (21, &[len]) => Material::EdaSelect(len),
            (25, &[len]) if (1..=62).contains(f) => Material::TruncCompare(len, *f as u32),
            _ => return Err(format!("unknown request tag {tag}")),
        };
        item.check_size()?;
        Ok(Some(item))
    }

    /// Refuses an item whose components hold more than
    /// [`crate::channel::MAX_MESSAGE_ELEMS`] elements in all (a peer's
    /// request is sized before anything is allocated for it).
    pub(crate) fn check_size(&self) -> std::result::Result<(), String> {
        let max = crate::channel::MAX_MESSAGE_ELEMS;
        match self.elements() {
            Some(t) if t <= max => Ok(()),
            Some(t) => Err(format!(
                "request for {t} elements, more than the limit of {max}"
            )),
            None => Err("request whose size overflows".into()),
        }
    }

    /// Elements (64-bit words) in all of the item's components; `None` if
    /// the count overflows.
    pub fn elements(&self) -> Option<usize> {
        let (random, determined) = self.layout();
        random
            .iter()
            .chain(&determined)
            .try_fold(0usize, |acc, (s, _)| {
                let n = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
                acc.checked_add(n)
            })
    }

    /// A [`Material::WindowTriple`] request, its window checked to fit.
    fn decode_window_triple(transposed: u8, bytes: &[u8]) -> std::result::Result<Material, String> {
        let words = le_words(&bytes[2..], "window triple")?;
        let [mask, out, c, h, w, k, stride, pad, m, rows @ ..] = words.as_slice() else {
            return Err("window triple request shorter than its header".into());
        };
        if transposed > 1 || rows.len() as u64 != *m {
            return Err("bad window triple request".into());
        }
        let size = |v: &u64| usize::try_from(*v).map_err(|_| "window triple field too large");
        let window = tessera_tensor::SlidingWindow {
            channels: size(c)?,
            height: size(h)?,
            width: size(w)?,
            kernel: size(k)?,
            stride: size(stride)?,
            padding: size(pad)?,
        };
        // The mask rows it draws (images) are bounded as messages are, as
        // well as the im2col matrix (by `check_size` below).
        let drawn = window
            .height
            .checked_mul(window.width)
            .and_then(|p| p.checked_mul(window.channels))
            .and_then(|p| p.checked_mul(rows.len()));
        let drawn_fits = matches!(drawn, Some(d) if d <= crate::channel::MAX_MESSAGE_ELEMS);
        if !drawn_fits || window.shape(rows.len(), false).is_none() {
            return Err(format!(
                "a window triple whose window does not fit or is too large: {window:?}"
            ));
        }
        let item = Material::WindowTriple {
            mask: *mask,
            rows: rows.iter().map(|&r| r as usize).collect(),
            window,
            out: size(out)?,
            transposed: transposed == 1,
        };
        item.check_size()?;
        Ok(item)
    }

    pub(crate) fn decode_row_triple(
        tag: u8,
        transposed: u8,
        bytes: &[u8],
    ) -> std::result::Result<Material, String> {
        let words = le_words(&bytes[2..], "row triple")?;
        let [mask, cols, out, m, rows @ ..] = words.as_slice() else {
            return Err("row triple request shorter than its header".into());
        };
        if transposed > 1 || rows.len() as u64 != *m {
            return Err("bad row triple request".into());
        }
        let (mask, rows) = (*mask, rows.iter().map(|&r| r as usize).collect());
        let (cols, out, transposed) = (*cols as usize, *out as usize, transposed == 1);
        let item = match tag {
            10 => Material::RowTriple {
                mask,
                rows,
                cols,
                out,
                transposed,
            },
            19 => Material::Auth(AuthKind::RowTriple {
                mask,
                rows,
                cols,
                out,
                transposed,
            }),
            _ if out == 0 && !transposed => Material::Auth(AuthKind::MaskRows { mask, rows, cols }),
            _ => return Err("bad mask rows request".into()),
        };
        item.check_size()?;
        Ok(item)
    }
}

/// Little-endian words of a request's body.
fn le_words(bytes: &[u8], what: &str) -> std::result::Result<Vec<u64>, String> {
    bytes
        .chunks(8)
        .map(|c| {
            c.try_into()
                .map(u64::from_le_bytes)
                .map_err(|_| format!("{what} request of odd length"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_garbage_is_rejected() {
        for m in [
            Material::Triple(vec![2, 3]),
            Material::MatTriple(4, 5, 6),
            Material::HeldTriple {
                owner: 2,
                m: 3,
                k: 4,
                n: 5,
            },
            Material::Trunc(vec![7], 16),
            Material::WordBits(vec![3], 64),
            Material::BitTriple(vec![5], 2),
            Material::AndCube(vec![3, 2]),
            Material::CompareTables(130, 1, 5),
            Material::EdaSelect(130),
            Material::TruncCompare(130, 16),
            Material::CompareTables(70, 12, 37),
            Material::Mask {
                id: 2,
                start: 5,
                rows: 7,
                cols: 3,
            },
            Material::RowTriple {
                mask: 4,
                rows: vec![6, 0, 2],
                cols: 3,
                out: 2,
                transposed: true,
            },
            Material::WindowTriple {
                mask: 5,
                rows: vec![3, 1],
                window: tessera_tensor::SlidingWindow {
                    channels: 2,
                    height: 6,
                    width: 5,
                    kernel: 3,
                    stride: 2,
                    padding: 1,
                },
                out: 4,
                transposed: true,
            },
            Material::Auth(AuthKind::AndTriples(vec![9], 2)),
            Material::Auth(AuthKind::Compare(vec![4, 2])),
            Material::Auth(AuthKind::CompareChunks(vec![3, 5])),
            Material::Auth(AuthKind::DaBits(vec![130])),
            Material::Auth(AuthKind::CompareSelect(vec![9])),
            Material::Auth(AuthKind::MaskRows {
                mask: 1 << 63,
                rows: vec![3, 1],
                cols: 5,
            }),
            Material::Auth(AuthKind::RowTriple {
                mask: 1 << 63,
                rows: vec![2, 0],
                cols: 5,
                out: 3,
                transposed: false,
            }),
        ] {
            assert_eq!(Material::decode(&m.encode()).unwrap(), Some(m));
        }
        assert_eq!(Material::decode(&[0, 0, 0]).unwrap(), None);
        let batch = vec![
            (3, Material::Triple(vec![2])),
            (9, Material::WordBits(vec![1], 6)),
        ];
        assert_eq!(
            crate::prep::dealer::decode_batch(&crate::prep::dealer::encode_batch(&batch)).unwrap(),
            batch
        );
        assert!(crate::prep::dealer::decode_batch(&[1, 0, 0, 0, 1]).is_err());
        assert!(crate::prep::dealer::decode_batch(&[]).is_err());
        assert!(Material::decode(&[9, 0, 0]).is_err());
        assert!(Material::decode(&[1, 0, 2, 1]).is_err());
        let mut huge = vec![1, 0, 2];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Material::decode(&huge).is_err());
        // Sizes a peer declares are checked before anything is allocated:
        // a mask range that overflows, and a request whose derived parts
        // (64 bits per word) exceed the limit though its shape does not.
        let mask = Material::Mask {
            id: 1,
            start: usize::MAX - 2,
            rows: 8,
            cols: 1,
        };
        let err = Material::decode(&mask.encode()).unwrap_err();
        assert!(err.contains("overflow"), "{err}");
        let limit = crate::channel::MAX_MESSAGE_ELEMS;
        let wide = Material::WordBits(vec![limit / 8], 64);
        let err = Material::decode(&wide.encode()).unwrap_err();
        assert!(err.contains("more than the limit"), "{err}");
        let ok = Material::WordBits(vec![limit / 128], 64);
        assert_eq!(Material::decode(&ok.encode()).unwrap(), Some(ok));
        let rows = Material::RowTriple {
            mask: 1,
            rows: vec![0; 4],
            cols: limit,
            out: 2,
            transposed: false,
        };
        assert!(Material::decode(&rows.encode()).is_err());
        // A window that does not fit its images, and one whose images are
        // larger than a message though its im2col matrix is small.
        let window = |height, kernel, stride| Material::WindowTriple {
            mask: 1,
            rows: vec![0; 2],
            window: tessera_tensor::SlidingWindow {
                channels: 1,
                height,
                width: height,
                kernel,
                stride,
                padding: 0,
            },
            out: 2,
            transposed: false,
        };
        let err = Material::decode(&window(3, 4, 1).encode()).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        assert!(Material::decode(&window(1 << 20, 1, 1 << 20).encode()).is_err());
        let ok = window(5, 3, 1);
        assert_eq!(Material::decode(&ok.encode()).unwrap(), Some(ok));
    }
}
