//! `cargo xtask build`: release binaries laid out as target/lambda/<bin>/bootstrap.

use std::path::PathBuf;

use anyhow::{Context, bail, ensure};
use xshell::{Shell, cmd};

use crate::elf::{self, LAMBDA_MAX_GLIBC};
use crate::flags::Arch;

/// Builds every Lambda binary for `arch`; returns the bootstrap paths.
pub fn run(sh: &Shell, arch: Arch) -> crate::Result<Vec<PathBuf>> {
    let triple = arch.triple();
    ensure_target_installed(sh, arch)?;
    let mut bins = Vec::new();
    for bin in crate::LAMBDA_BINS {
        bins.push("--bin");
        bins.push(bin);
    }
    let _linker = linker_env(sh, arch);
    let _paths = sh.push_env("RUSTFLAGS", reproducible_rustflags());
    cmd!(
        sh,
        "cargo build --release --locked --package imagegen --target {triple} {bins...}"
    )
    .run()?;

    let release_dir = crate::project_root()
        .join("target")
        .join(triple)
        .join("release");
    let mut out = Vec::new();
    for bin in crate::LAMBDA_BINS {
        let built = release_dir.join(bin);
        let data =
            std::fs::read(&built).with_context(|| format!("cannot read {}", built.display()))?;
        if let Some(needed) = elf::max_glibc_needed(&data)?
            && needed > LAMBDA_MAX_GLIBC
        {
            bail!(
                "{bin} needs glibc {needed}, but Lambda's provided.al2023 has {LAMBDA_MAX_GLIBC}: \
                 build on an older distribution or with cargo-zigbuild (`--target {triple}.2.34`)"
            );
        }
        let dir = crate::lambda_dir().join(bin);
        sh.create_dir(&dir)?;
        let bootstrap = dir.join("bootstrap");
        sh.copy_file(&built, &bootstrap)?;
        println!(
            "built {bin} ({}, {:.1} MB) -> {}",
            arch.lambda_name(),
            data.len() as f64 / 1e6,
            bootstrap.display()
        );
        out.push(bootstrap);
    }
    Ok(out)
}

/// Maps checkout and cargo-home paths to fixed names, so the same commit builds the same bytes
/// wherever it is cloned and the artifact's hash changes only with the code.
fn reproducible_rustflags() -> String {
    let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
    let root = crate::project_root();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut remaps = vec![(root, "/imagegen")];
    if let Some(home) = cargo_home {
        remaps.push((home, "/cargo"));
    }
    for (from, to) in remaps {
        if !flags.is_empty() {
            flags.push(' ');
        }
        flags.push_str(&format!("--remap-path-prefix={}={to}", from.display()));
    }
    flags
}

fn ensure_target_installed(sh: &Shell, arch: Arch) -> crate::Result<()> {
    let triple = arch.triple();
    let host = cmd!(sh, "rustc -vV").read()?;
    if host.lines().any(|l| l == format!("host: {triple}")) {
        return Ok(());
    }
    let installed = cmd!(sh, "rustc --print sysroot").read().map(|sysroot| {
        PathBuf::from(sysroot.trim())
            .join("lib/rustlib")
            .join(triple)
            .join("lib")
            .is_dir()
    })?;
    ensure!(
        installed,
        "the Rust target {triple} is not installed: run `rustup target add {triple}` (and \
         install a linker for it, e.g. Debian's gcc-aarch64-linux-gnu)"
    );
    Ok(())
}

/// For arm64 on an x86_64 host, point cargo at the cross linker unless the user already did.
fn linker_env(sh: &Shell, arch: Arch) -> Option<xshell::PushEnv<'_>> {
    const VAR: &str = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER";
    if arch != Arch::Arm64 || std::env::var_os(VAR).is_some() {
        return None;
    }
    cmd!(sh, "aarch64-linux-gnu-gcc --version")
        .quiet()
        .ignore_stdout()
        .run()
        .ok()
        .map(|()| sh.push_env(VAR, "aarch64-linux-gnu-gcc"))
}
