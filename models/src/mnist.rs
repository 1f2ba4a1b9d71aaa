//! The MNIST idx files (LeCun et al.), read directly: a directory holding
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
//! and `t10k-labels-idx1-ubyte`, each gzipped (`.gz`) or not.

use crate::data::Dataset;
use crate::error::{ModelError, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Which half of MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistSet {
    /// The 60000 training images.
    Train,
    /// The 10000 test images.
    Test,
}

/// How pixels are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// `value / 255`, in `[0, 1]` (the convention of the common loaders).
    Unit,
    /// The raw bytes, `0..=255`.
    Raw,
}

/// Most images read from one file (MNIST has 60000; this bounds what a
/// damaged header can make us allocate).
const MAX_IMAGES: usize = 1 << 20;
/// Largest image side.
const MAX_SIDE: usize = 1024;

/// Reads one half of MNIST from `dir`: a row per image (`rows` of them at
/// most, from the start), one column per pixel in row-major order
/// (`pixel_0` ...), and the digit as the label.
pub fn load_mnist(
    dir: &Path,
    set: MnistSet,
    pixels: Pixels,
    rows: Option<usize>,
) -> Result<Dataset> {
    let prefix = match set {
        MnistSet::Train => "train",
        MnistSet::Test => "t10k",
    };
    let (images_path, images) = read_idx(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let (labels_path, labels) = read_idx(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let bad = |path: &Path, what: String| ModelError::Io {
        path: path.to_path_buf(),
        reason: what,
    };
    let be =
        |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    if images.len() < 16 || be(&images, 0) != 2051 {
        return Err(bad(
            &images_path,
            "not an idx image file (magic number 2051 expected)".into(),
        ));
    }
    if labels.len() < 8 || be(&labels, 0) != 2049 {
        return Err(bad(
            &labels_path,
            "not an idx label file (magic number 2049 expected)".into(),
        ));
    }
    let (n, h, w) = (be(&images, 4), be(&images, 8), be(&images, 12));
    if n > MAX_IMAGES || h > MAX_SIDE || w > MAX_SIDE || be(&labels, 4) != n {
        return Err(bad(
            &images_path,
            format!(
                "{n} images of {h}x{w} with {} labels: not an MNIST pair (at most {MAX_IMAGES} images of {MAX_SIDE}x{MAX_SIDE})",
                be(&labels, 4)
            ),
        ));
    }
    if images.len() != 16 + n * h * w || labels.len() != 8 + n {
        return Err(bad(
            &images_path,
            format!("truncated: {n} images of {h}x{w} announced"),
        ));
    }
    let n = rows.map_or(n, |r| r.min(n));
    let scale = match pixels {
        Pixels::Unit => 1.0 / 255.0,
        Pixels::Raw => 1.0,
    };
    let features = ndarray::Array2::from_shape_fn((n, h * w), |(i, j)| {
        f64::from(images[16 + i * h * w + j]) * scale
    });
    if let Some(i) = (0..n).find(|&i| labels[8 + i] > 9) {
        return Err(bad(
            &labels_path,
            format!("label {} of image {i} is not a digit", labels[8 + i]),
        ));
    }
    let labels = ndarray::Array1::from_shape_fn(n, |i| f64::from(labels[8 + i]));
    Ok(Dataset {
        path: images_path,
        feature_names: (0..h * w).map(|j| format!("pixel_{j}")).collect(),
        features,
        labels: Some(labels),
        lines: (1..=n).collect(),
    })
}

/// The bytes of `dir/name`, or of `dir/name.gz` decompressed.
fn read_idx(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    let (path, zipped) = match (plain.exists(), gz.exists()) {
        (true, _) => (plain, false),
        (false, true) => (gz, true),
        (false, false) => {
            return Err(ModelError::Io {
                path: gz,
                reason: format!("no such file (nor {name} uncompressed); pass the directory holding the four MNIST idx files"),
            })
        }
    };
    let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, &e))?;
    let mut out = Vec::new();
    let read = if zipped {
        flate2::read::GzDecoder::new(file).read_to_end(&mut out)
    } else {
        std::io::BufReader::new(file).read_to_end(&mut out)
    };
    read.map_err(|e| ModelError::io(&path, &e))?;
    Ok((path, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, n: u32, labels: &[u8], gz: bool) {
        let mut images = vec![0, 0, 8, 3];
        for v in [n, 2, 2] {
            images.extend_from_slice(&v.to_be_bytes());
        }
        images.extend((0..n * 4).map(|i| (i * 17 % 256) as u8));
        let mut lab = vec![0, 0, 8, 1];
        lab.extend_from_slice(&n.to_be_bytes());
        lab.extend_from_slice(labels);
        for (name, bytes) in [
            ("t10k-images-idx3-ubyte", images),
            ("t10k-labels-idx1-ubyte", lab),
        ] {
            if gz {
                let f = std::fs::File::create(dir.join(format!("{name}.gz"))).unwrap();
                let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
                std::io::Write::write_all(&mut enc, &bytes).unwrap();
                enc.finish().unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    #[test]
    fn reads_plain_and_gzipped_idx_files_and_refuses_damaged_ones() {
        for gz in [false, true] {
            let dir =
                std::env::temp_dir().join(format!("tessera-mnist-{}-{gz}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            write_pair(&dir, 3, &[7, 0, 9], gz);
            let d = load_mnist(&dir, MnistSet::Test, Pixels::Unit, None).unwrap();
            assert_eq!(d.features.dim(), (3, 4));
            assert_eq!(d.labels.as_ref().unwrap().to_vec(), vec![7.0, 0.0, 9.0]);
            assert_eq!(d.features[[1, 0]], 68.0 / 255.0);
            let raw = load_mnist(&dir, MnistSet::Test, Pixels::Raw, Some(2)).unwrap();
            assert_eq!((raw.rows(), raw.features[[0, 1]]), (2, 17.0));
            // A label that is not a digit, and a count that does not match.
            write_pair(&dir, 3, &[7, 10, 9], gz);
            let e = load_mnist(&dir, MnistSet::Test, Pixels::Unit, None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("label 10 of image 1"), "{e}");
            write_pair(&dir, 3, &[7, 1], gz);
            assert!(load_mnist(&dir, MnistSet::Test, Pixels::Unit, None).is_err());
            let e = load_mnist(&dir, MnistSet::Train, Pixels::Unit, None)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("train-images-idx3-ubyte.gz") && e.contains("no such file"),
                "{e}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
