//! The command line, as clap derive types.

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, check, package, test and ship imagegen",
    arg_required_else_help = true
)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Release-build the Lambda binaries into target/lambda/<bin>/bootstrap.
    Build(ArchArgs),
    /// Package each bootstrap into a byte-reproducible target/lambda/<bin>.zip.
    Zip(ArchArgs),
    /// Run the zipped bootstraps under a local Lambda Runtime API and check their answers.
    Smoke(SmokeArgs),
    /// rustfmt, clippy, terraform fmt, checkov and the module docs check.
    Lint,
    /// The workspace's unit tests (cargo-nextest when installed).
    Test,
    /// The AWS adapters and the whole job flow against an AWS emulator: LocalStack through
    /// testcontainers where a Docker daemon answers, else moto_server (pinned, from PyPI).
    Integration,
    /// Everything CI runs, in order, stopping at the first failure.
    Ci,
    /// Run the service locally on 127.0.0.1, no cloud needed.
    Dev(DevArgs),
    /// Point git at the repository's hooks in .husky/.
    InstallHooks(InstallHooksArgs),
    /// Regenerate the inputs/outputs tables in the Terraform READMEs.
    Docs(DocsArgs),
    /// Time reference-image preparation against libvips (npm sharp), one thread each.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Arch {
    #[default]
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
}

impl Arch {
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The name Lambda uses in `architectures`.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ArchArgs {
    /// Lambda architecture to build for.
    #[arg(long, value_enum, default_value_t)]
    pub arch: Arch,
}

#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    /// Cold starts to time per function (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Where generated images and uploads are kept.
    #[arg(long, default_value = ".imagegen/dev")]
    pub data_dir: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct InstallHooksArgs {
    /// Restore git's default hooks path instead.
    #[arg(long)]
    pub uninstall: bool,
}

#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// Change nothing; fail if a README is out of date.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Timed runs per tool, after two warm-up runs (the median and minimum are reported).
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
}
