//! A directory of this process's own for the files a bench's servers need (a unix socket, a TLS
//! certificate), removed when dropped.

use std::path::{Path, PathBuf};

/// A fresh directory under the system's temporary directory, named after this process and a tag;
/// removed with everything in it when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    dir: PathBuf,
}

impl ScratchDir {
    /// Creates `variant-benches-<pid>-<tag>` in the temporary directory, emptied if it existed.
    ///
    /// # Panics
    /// If the directory cannot be created.
    pub fn new(tag: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!(
            "variant-benches-{}-{}",
            std::process::id(),
            tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        ScratchDir { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A path for `name` in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
