//! The command line, as clap derive types.

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
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
    /// The dev server against its own OpenAPI document: schemathesis (pinned, from PyPI), every
    /// check and phase; fails on any failure.
    Contract,
    /// Run the service locally on 127.0.0.1, no cloud needed.
    Dev(DevArgs),
    /// Point git at the repository's hooks in .husky/.
    InstallHooks(InstallHooksArgs),
    /// Regenerate the inputs/outputs tables in the Terraform READMEs.
    Docs(DocsArgs),
    /// Time reference-image preparation against libvips (npm sharp), one thread each.
    Bench(BenchArgs),
    /// Fuzz the parsers of untrusted input (cargo-fuzz on nightly, pinned; installed when
    /// missing); fails on any crash, timeout or out-of-memory. Not part of `ci`.
    Fuzz(FuzzArgs),
    /// Build, upload and ship to an environment: Terraform plan, confirm, apply, smoke.
    #[cfg(feature = "aws")]
    Deploy(DeployArgs),
    /// Manage an environment's API keys (service store and API Gateway usage plan).
    #[cfg(feature = "aws")]
    Keys(KeysArgs),
    /// Set an environment's secrets.
    #[cfg(feature = "aws")]
    Secrets(SecretsArgs),
    /// Point each function's `live` alias back at the version it ran before (and say which).
    #[cfg(feature = "aws")]
    Rollback(RollbackArgs),
    /// Tear an environment down with `terraform destroy`, after typing its name; prod only
    /// with --allow-prod.
    #[cfg(feature = "aws")]
    Destroy(DestroyArgs),
    /// Build, upload and ship to an environment: Terraform plan, confirm, apply, smoke.
    #[cfg(not(feature = "aws"))]
    Deploy(Forwarded),
    /// Manage an environment's API keys (service store and API Gateway usage plan).
    #[cfg(not(feature = "aws"))]
    Keys(Forwarded),
    /// Set an environment's secrets.
    #[cfg(not(feature = "aws"))]
    Secrets(Forwarded),
    /// Point each function's `live` alias back at the version it ran before (and say which).
    #[cfg(not(feature = "aws"))]
    Rollback(Forwarded),
    /// Tear an environment down with `terraform destroy`, after typing its name; prod only
    /// with --allow-prod.
    #[cfg(not(feature = "aws"))]
    Destroy(Forwarded),
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
    /// Timed runs per tool and round, after two warm-up runs.
    #[arg(long, default_value_t = 7)]
    pub iterations: usize,
    /// Rounds, each running ours then sharp: alternating spreads the machine's slow and fast
    /// spells over both tools. Median and minimum are over all rounds' runs.
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
}

#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// One target (default: every one, in turn).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::fuzz::TARGETS.map(|t| t.name)))]
    pub target: Option<String>,
    /// Fuzzing time per target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
}

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
pub use aws::*;

/// In the light toolkit, `deploy`, `keys` and `secrets` take their arguments as they are and
/// hand them to the AWS toolkit (`xtask-aws`), which parses them (`--help` included).
#[cfg(not(feature = "aws"))]
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Forwarded {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<std::ffi::OsString>,
}
