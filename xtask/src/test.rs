//! `cargo xtask test`: the workspace's unit tests.

use xshell::{Shell, cmd};

pub fn run(sh: &Shell) -> crate::Result<()> {
    // With the AWS toolkit's own tests (deploy dry runs, key listing, flags).
    if has_nextest(sh) {
        cmd!(
            sh,
            "cargo nextest run --workspace --locked --no-fail-fast --features xtask/aws"
        )
        .run()?;
    } else {
        println!("cargo-nextest not found; using cargo test");
        cmd!(
            sh,
            "cargo test --workspace --locked --no-fail-fast --features xtask/aws"
        )
        .run()?;
    }
    Ok(())
}

pub fn has_nextest(sh: &Shell) -> bool {
    cmd!(sh, "cargo nextest --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
}
