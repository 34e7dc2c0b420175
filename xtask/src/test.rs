//! `cargo xtask test`: the workspace's unit tests.

use xshell::{Shell, cmd};

/// Every package, with the features of the emulator targets too: `cargo xtask integration` and
/// the dev server of `cargo xtask contract` are then built by this step already (features
/// resolve the same way, dev-dependencies included), and nothing is compiled twice.
pub const SELECTION: [&str; 6] = [
    "--workspace",
    "--locked",
    "--features",
    "xtask/integration",
    "--features",
    "imagegen-tests/integration",
];

/// The emulator targets, which `cargo xtask integration` runs against an AWS emulator.
pub const EMULATOR_TARGETS: [&str; 3] = ["imagegen-tests::aws", "xtask::deploy", "xtask::keys"];

pub fn run(sh: &Shell) -> crate::Result<()> {
    if has_nextest(sh) {
        let filter = format!(
            "not ({})",
            EMULATOR_TARGETS
                .map(|id| format!("binary_id({id})"))
                .join(" | ")
        );
        cmd!(
            sh,
            "cargo nextest run {SELECTION...} --no-fail-fast -E {filter}"
        )
        .run()?;
    } else {
        // libtest cannot leave out whole test binaries: the toolkit's features alone.
        println!("cargo-nextest not found; using cargo test");
        cmd!(
            sh,
            "cargo test --workspace --locked --features xtask/aws --no-fail-fast"
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
