//! `cargo xtask lint`: formatting and static checks for Rust and Terraform.

use xshell::{Shell, cmd};

pub fn run(sh: &Shell) -> crate::Result<()> {
    cmd!(sh, "cargo fmt --all --check").run()?;
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings"
    )
    .run()?;
    terraform_fmt(sh)?;
    Ok(())
}

/// Terraform formatting, once the repository has Terraform.
fn terraform_fmt(sh: &Shell) -> crate::Result<()> {
    let roots: Vec<&str> = ["modules", "environments"]
        .into_iter()
        .filter(|dir| sh.path_exists(dir))
        .collect();
    if roots.is_empty() {
        return Ok(());
    }
    if cmd!(sh, "terraform version")
        .quiet()
        .ignore_stdout()
        .run()
        .is_err()
    {
        return Err(
            "terraform is not on PATH: install Terraform >= 1.10 to lint the modules".into(),
        );
    }
    for root in roots {
        cmd!(sh, "terraform fmt -check -recursive -diff {root}")
            .run()
            .map_err(|_| format!("terraform files under {root}/ are not formatted: run `terraform fmt -recursive {root}`"))?;
    }
    Ok(())
}
