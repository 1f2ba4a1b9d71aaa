//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `tessera` binary built for these tests.
#[allow(dead_code)]
pub fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

/// A path inside the repository.
#[allow(dead_code)]
pub fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A directory of one test's own under the system's temp dir, removed when
/// the test ends, pass or fail, so repeated runs leave nothing behind.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, empty directory named after the test file and the test.
    pub fn new(file: &str, test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tessera-{file}-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
