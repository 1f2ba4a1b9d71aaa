//! Fixed rearrangements of a matrix's entries: the image layers' im2col,
//! windows and layout changes. They only move values (or zeros), so every
//! backend does them locally, on shares as on plain numbers, and the
//! adjoint (scatter-add) carries gradients back.

use crate::{LayerError, Result};

/// Output entry `j` (row-major, `shape`) is the source's entry `index[j]`
/// (row-major, `source`), or zero where `index[j]` is `None` (padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather {
    /// Shape of the source matrix.
    pub source: [usize; 2],
    /// Shape of the output matrix.
    pub shape: [usize; 2],
    /// For each output entry, the source entry it copies.
    pub index: Vec<Option<usize>>,
}

impl Gather {
    /// Checks that the map fits its shapes.
    pub fn new(source: [usize; 2], shape: [usize; 2], index: Vec<Option<usize>>) -> Result<Self> {
        let n = source[0] * source[1];
        if index.len() != shape[0] * shape[1] || index.iter().flatten().any(|&i| i >= n) {
            return Err(LayerError::Usage(format!(
                "a rearrangement of {source:?} into {shape:?} with {} entries out of range",
                index.len()
            )));
        }
        Ok(Self {
            source,
            shape,
            index,
        })
    }

    /// The output entries from a source slice.
    pub fn apply<T: Copy + Default>(&self, src: &[T], what: &'static str) -> Result<Vec<T>> {
        self.check(src.len(), self.source, what)?;
        Ok(self
            .index
            .iter()
            .map(|i| i.map_or(T::default(), |i| src[i]))
            .collect())
    }

    /// The adjoint: each output-shaped entry added into the source entry it
    /// came from (zero where nothing maps).
    pub fn scatter<T: Copy + Default>(
        &self,
        out: &[T],
        add: impl Fn(T, T) -> T,
        what: &'static str,
    ) -> Result<Vec<T>> {
        self.check(out.len(), self.shape, what)?;
        let mut src = vec![T::default(); self.source[0] * self.source[1]];
        for (&v, i) in out.iter().zip(&self.index) {
            if let Some(i) = *i {
                src[i] = add(src[i], v);
            }
        }
        Ok(src)
    }

    fn check(&self, len: usize, shape: [usize; 2], what: &'static str) -> Result<()> {
        if len == shape[0] * shape[1] {
            Ok(())
        } else {
            Err(LayerError::Shape {
                op: what,
                left: vec![len],
                right: shape.to_vec(),
            })
        }
    }
}
