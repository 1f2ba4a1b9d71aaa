use std::path::PathBuf;
use tessera_layers::LayerError;
use tessera_protocols::ProtocolError;
use thiserror::Error;

/// Errors of data loading, jobs and model files.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A data file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A value in a data file is malformed or unusable.
    #[error("{path}, line {line}, column {column} ('{name}'): {reason}")]
    Value {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// Column name from the header.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A row or file has the wrong shape.
    #[error("{path}, line {line}: {reason}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The parties' data or settings do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// A job or model setting is invalid.
    #[error("{0}")]
    Config(String),
    /// One job setting is invalid: `field` is its name in a job file and in
    /// [`crate::TrainConfig`]/[`crate::JobSpec`]; a command line shows its flag instead
    /// ([`ModelError::setting_named`]).
    #[error("{field} {detail}")]
    Setting {
        /// The setting, as a job file spells it (`learning_rate`).
        field: &'static str,
        /// What is wrong with it ("must be in (0, 100), got 150").
        detail: String,
    },
    /// Training diverged.
    #[error("training diverged: {what}; lower the learning rate (it was {learning_rate}; try {})", .learning_rate / 10.0)]
    Diverged {
        /// What was seen.
        what: String,
        /// The learning rate used.
        learning_rate: f64,
    },
    /// A layer or backend failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
}

impl ModelError {
    /// The same error with a [`ModelError::Setting`]'s field renamed by
    /// `name` (for example to its command-line flag); other errors unchanged.
    pub fn setting_named(self, name: impl Fn(&'static str) -> String) -> Self {
        match self {
            ModelError::Setting { field, detail } => {
                ModelError::Config(format!("{} {detail}", name(field)))
            }
            other => other,
        }
    }

    /// A file error worded for people: what went wrong with `path` and what to check.
    pub fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file; check the path".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied; check the file's owner and mode".to_string()
            }
            std::io::ErrorKind::IsADirectory => "this is a directory, not a file".to_string(),
            _ => e.to_string(),
        };
        ModelError::Io {
            path: path.to_path_buf(),
            reason,
        }
    }
}

impl From<ProtocolError> for ModelError {
    fn from(e: ProtocolError) -> Self {
        ModelError::Layer(LayerError::Protocol(e))
    }
}

/// Result of model operations.
pub type Result<T> = std::result::Result<T, ModelError>;
