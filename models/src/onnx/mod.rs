//! ONNX models for private inference: a network exported from PyTorch or
//! another framework is read into an [`Architecture`] (public, sent to the
//! other parties) and its weights (secret, input by the owner). See
//! [`OnnxModel::load`] for what is supported; [`export`] writes tessera's
//! own models as ONNX.

mod export;
mod import;
pub mod proto;
mod shapes;
mod tensor;
mod windows;

use crate::arch::Architecture;
use crate::error::{ModelError, Result};
use crate::infer::{InferModel, InferOutput, InferSpec};
use ndarray::ArrayD;
use prost::Message;
use std::path::{Path, PathBuf};
use tessera_protocols::PartyId;
use tessera_tensor::{readable, FixedPoint};

pub use export::{export, to_onnx_bytes};

/// The largest ONNX file read (the weights are held in memory as `f64`).
pub const MAX_ONNX_BYTES: u64 = 1 << 30;

/// An imported ONNX network.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// Where it was read from.
    pub path: PathBuf,
    /// The exporting tool, as the file names it.
    pub producer: String,
    /// The ONNX operator set it was exported with.
    pub opset: i64,
    /// The graph's input name.
    pub input_name: String,
    /// The shape of one input row, batch axis left out (`[1, 28, 28]`).
    pub input_shape: Vec<usize>,
    /// The public architecture.
    pub arch: Architecture,
    /// The secret parameter blocks (batch norm and biases folded in).
    pub blocks: Vec<ArrayD<f64>>,
}

impl OnnxModel {
    /// Reads and imports an `.onnx` file. The graph must be a chain of
    /// supported operators from one input to one output (see the module
    /// `import`); anything else is refused, naming the node, and every
    /// weight must be finite and small enough for fixed-point products.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |reason: String| ModelError::Io {
            path: path.to_path_buf(),
            reason,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| ModelError::io(path, &e))?
            .len();
        if len > MAX_ONNX_BYTES {
            return Err(io(format!(
                "{len} bytes; at most {MAX_ONNX_BYTES} are read"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, &e))?;
        Self::from_bytes(&bytes, path).map_err(io)
    }

    /// Imports a model from its bytes; `path` names it in messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> std::result::Result<Self, String> {
        let model = proto::ModelProto::decode(bytes)
            .map_err(|e| format!("not an ONNX model (protobuf: {e})"))?;
        let graph = model.graph.as_ref().ok_or("an ONNX model with no graph")?;
        let opset = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map_or(1, |o| o.version);
        let imported = import::import(graph, opset)?;
        let m = Self {
            path: path.to_path_buf(),
            producer: format!("{} {}", model.producer_name, model.producer_version)
                .trim()
                .to_string(),
            opset,
            input_name: imported.input_name,
            input_shape: imported.input_shape,
            arch: imported.arch,
            blocks: imported.blocks,
        };
        m.check_weights(FixedPoint::default())?;
        Ok(m)
    }

    /// Every weight must be finite and below the product limit of `fixed`.
    fn check_weights(&self, fixed: FixedPoint) -> std::result::Result<(), String> {
        let limit = fixed.product_limit();
        for (i, block) in self.blocks.iter().enumerate() {
            if let Some(v) = block.iter().find(|v| !(v.is_finite() && v.abs() < limit)) {
                return Err(format!(
                    "parameter block {i} has a weight of {}: weights must be finite and below {} \
                     in magnitude for fixed-point products",
                    readable(*v),
                    readable(limit)
                ));
            }
        }
        Ok(())
    }

    /// Number of parameters (weights and biases, after folding).
    pub fn parameters(&self) -> usize {
        self.blocks.iter().map(|b| b.len()).sum()
    }
}

impl InferModel for OnnxModel {
    fn infer_spec(
        &self,
        parties: usize,
        owner: PartyId,
        querier: PartyId,
        output: InferOutput,
        rows: usize,
    ) -> Result<InferSpec> {
        InferSpec::for_graph(self.arch.clone(), parties, owner, querier, output, rows)
    }

    fn blocks(&self) -> Result<Vec<ArrayD<f64>>> {
        Ok(self.blocks.clone())
    }
}

/// Whether `path` names an ONNX file (by its extension).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}
