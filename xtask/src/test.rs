//! `cargo xtask test`: the workspace's unit tests.

use xshell::{Shell, cmd};

/// Every package, with the AWS toolkit's own tests (deploy dry runs, key listing, flags).
/// `cargo xtask contract` builds the dev server through the same selection: features then
/// resolve the same way (dev-dependencies included) and it reuses what this step built.
pub const SELECTION: [&str; 4] = ["--workspace", "--locked", "--features", "xtask/aws"];

pub fn run(sh: &Shell) -> crate::Result<()> {
    if has_nextest(sh) {
        cmd!(sh, "cargo nextest run {SELECTION...} --no-fail-fast").run()?;
    } else {
        println!("cargo-nextest not found; using cargo test");
        cmd!(sh, "cargo test {SELECTION...} --no-fail-fast").run()?;
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
