//! Helpers for unit tests: a temporary directory removed on drop.

use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir, removed with its contents on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/llmspell-<tag>-<random>`.
    pub fn new(tag: &str) -> TempDir {
        let name = format!(
            "llmspell-{tag}-{}",
            crate::fsutil::random_hex(8).expect("getrandom")
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
