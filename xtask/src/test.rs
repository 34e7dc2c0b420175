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
    lint_while_building(sh);
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

/// The environment variable through which cargo runs the workspace's own crates (never the
/// dependencies) through another compiler driver.
pub const WORKSPACE_WRAPPER: &str = "RUSTC_WORKSPACE_WRAPPER";

/// Compiles the workspace's crates with clippy-driver from here on: rustc plus clippy's lints
/// (and `cfg(clippy)`, which nothing here uses); what ships is built by rustc alone. `lint` then gets clippy's verdict from the build the tests use
/// instead of `cargo clippy`'s separate check of every dependency (about a fifth of a cold
/// `cargo xtask ci`'s CPU time), and `test`, `contract` and `integration` reuse that build:
/// the wrapper is part of a crate's fingerprint, so every command that builds the test
/// selection sets it the same way. Warnings stay warnings here; `lint` fails on them. Without
/// clippy installed, or with a wrapper of the caller's own, nothing changes.
pub fn lint_while_building(sh: &Shell) {
    if sh.var_os(WORKSPACE_WRAPPER).is_some() {
        return;
    }
    if let Some(driver) = clippy_driver(sh) {
        sh.set_var(WORKSPACE_WRAPPER, driver);
    }
}

/// Whether builds of the workspace's crates run clippy's lints.
pub fn builds_lint(sh: &Shell) -> bool {
    sh.var_os(WORKSPACE_WRAPPER).is_some_and(|wrapper| {
        std::path::Path::new(&wrapper)
            .file_stem()
            .is_some_and(|stem| stem == "clippy-driver")
    })
}

/// The active toolchain's clippy-driver (rust-toolchain.toml and rustup overrides apply).
fn clippy_driver(sh: &Shell) -> Option<std::path::PathBuf> {
    let sysroot = cmd!(sh, "rustc --print sysroot").quiet().read().ok()?;
    let driver = std::path::Path::new(sysroot.trim())
        .join("bin")
        .join(format!("clippy-driver{}", std::env::consts::EXE_SUFFIX));
    driver.is_file().then_some(driver)
}
