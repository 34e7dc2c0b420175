//! `cargo xtask install-hooks`: use the repository's hooks in .husky/ (idempotent).

use anyhow::ensure;
use xshell::{Shell, cmd};

const HOOKS_DIR: &str = ".husky";

pub fn run(sh: &Shell, uninstall: bool) -> crate::Result<()> {
    let current = cmd!(sh, "git config --local --get core.hooksPath")
        .quiet()
        .ignore_status()
        .read()?;
    if uninstall {
        if current.is_empty() {
            println!("git hooks were not installed; nothing to do");
        } else {
            cmd!(sh, "git config --local --unset core.hooksPath").run()?;
            println!("git hooks uninstalled (core.hooksPath unset)");
        }
        return Ok(());
    }
    for hook in ["pre-commit", "pre-push"] {
        let path = crate::project_root().join(HOOKS_DIR).join(hook);
        ensure!(path.is_file(), "{} is missing", path.display());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    if current == HOOKS_DIR {
        println!("git hooks already installed (core.hooksPath = {HOOKS_DIR})");
    } else {
        cmd!(sh, "git config --local core.hooksPath {HOOKS_DIR}").run()?;
        println!("git hooks installed: pre-commit (format checks), pre-push (lint + tests)");
    }
    Ok(())
}
