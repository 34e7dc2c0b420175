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
    // Off in release builds anyway; said explicitly so that this and `Prebuild` agree whatever
    // the caller's environment says, and neither invalidates the other's work.
    let _incremental = sh.push_env("CARGO_INCREMENTAL", "0");
    let target_dir = target_dir();
    cmd!(
        sh,
        "cargo build --release --locked --package imagegen --target {triple} --target-dir {target_dir} {bins...}"
    )
    // What ships is compiled by rustc alone (`cargo xtask ci` lints through clippy-driver).
    .env_remove(crate::test::WORKSPACE_WRAPPER)
    .run()?;

    let release_dir = target_dir.join(triple).join("release");
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

/// The Lambda binaries' own target directory. A release build there does not wait for the lock
/// on target/ that debug builds and test runs hold, so `cargo xtask ci` can run it beside them
/// (see [`Prebuild`]); the two profiles share no artifacts, so nothing is compiled twice.
pub fn target_dir() -> PathBuf {
    crate::project_root().join("target").join("lambda-build")
}

/// The x86_64 release build of `cargo xtask build`, started ahead of time in the background at
/// the lowest CPU priority (`nice -n 19`): it takes only what the steps running meanwhile
/// leave idle (checkov, the test binaries, schemathesis and moto each keep a core free for
/// a while), so it delays none of them and `build` later finds most of its work done. Its
/// output goes to a log; a failure shows when `build` runs the same command in the foreground.
/// Dropped before it finishes (an earlier step failed), it is stopped; Ctrl-C stops it too.
pub struct Prebuild {
    child: std::process::Child,
    started: std::time::Instant,
    log: PathBuf,
}

impl Prebuild {
    pub fn start() -> crate::Result<Self> {
        let dir = target_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let log = dir.join("prebuild.log");
        let out = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = std::process::Command::new("nice");
        command
            .args(["-n", "19", "cargo", "build", "--release", "--locked"])
            .args(["--package", "imagegen", "--target", Arch::X86_64.triple()])
            .arg("--target-dir")
            .arg(&dir)
            .args(crate::LAMBDA_BINS.iter().flat_map(|bin| ["--bin", *bin]))
            .current_dir(crate::project_root())
            .env("RUSTFLAGS", reproducible_rustflags())
            .env("CARGO_INCREMENTAL", "0")
            .env_remove(crate::test::WORKSPACE_WRAPPER)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        // In the terminal's process group, so Ctrl-C stops it with `ci`.
        let child = command
            .spawn()
            .context("cannot start `nice cargo build --release` in the background")?;
        Ok(Self {
            child,
            started: std::time::Instant::now(),
            log,
        })
    }

    /// Waits for the background build; says how long it ran and whether it passed.
    pub fn finish(mut self) {
        let status = self.child.wait();
        let seconds = self.started.elapsed().as_secs_f64();
        match status {
            Ok(status) if status.success() => println!(
                "the release build ran in the background for {seconds:.1} s, beside the steps before"
            ),
            _ => println!(
                "the background release build failed after {seconds:.1} s (log: {}); building again in the foreground",
                self.log.display()
            ),
        }
    }
}

impl Drop for Prebuild {
    fn drop(&mut self) {
        // A step failed before `build`: stop it (its compilers, then cargo; a compiler already
        // running finishes its crate and exits, holding no lock).
        if let Ok(None) = self.child.try_wait() {
            let _ = std::process::Command::new("pkill")
                .args(["-TERM", "-P", &self.child.id().to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
