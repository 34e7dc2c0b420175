//! Shared helpers for the workspace-level tests; [`aws`] is the AWS emulator harness of
//! `tests/tests/aws.rs`.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn project_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// A saved event or fixture from `tests/data/`.
pub fn data(name: &str) -> std::io::Result<String> {
    std::fs::read_to_string(project_root().join("tests").join("data").join(name))
}

pub mod aws;
