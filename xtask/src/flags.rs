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
    /// Build, upload and ship to an environment: Terraform plan, confirm, apply, smoke.
    Deploy(DeployArgs),
    /// Manage an environment's API keys (service store and API Gateway usage plan).
    Keys(KeysArgs),
    /// Set an environment's secrets.
    Secrets(SecretsArgs),
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

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The environment to deploy.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// Stop after the plan and its summary; apply nothing (the plan file is kept).
    #[arg(long, conflicts_with = "code_only")]
    pub plan_only: bool,
    /// Apply without asking (prod asks to type its name otherwise).
    #[arg(long)]
    pub auto_approve: bool,
    /// Print every command and AWS call the deploy would make, and run none.
    #[arg(long)]
    pub dry_run: bool,
    /// Lambda architecture to build for [default: x86_64; with --artifact, the release's].
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Redeploy an earlier release instead of building (rollback): the release ID a deploy
    /// printed, the SHA-256 of its manifest `releases/<ID>.json` in the artifact bucket.
    #[arg(long, value_name = "RELEASE_ID", conflicts_with = "zips")]
    pub artifact: Option<String>,
    /// Deploy the zips `cargo xtask zip` left in DIR (api.zip, worker.zip) instead of building.
    #[arg(long, value_name = "DIR")]
    pub zips: Option<std::path::PathBuf>,
    /// Ship new code without Terraform: upload, UpdateFunctionCode, PublishVersion, move `live`.
    #[arg(long)]
    pub code_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant; its secret is shown once.
    Create(KeysCreateArgs),
    /// Replace a key's secret; the old one keeps working for a grace period.
    Rotate(KeyIdArgs),
    /// Revoke a key at once.
    Revoke(KeyIdArgs),
    /// List an environment's keys (never their secrets).
    List(EnvArgs),
}

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
}

#[derive(Debug, clap::Args)]
pub struct KeysCreateArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// The tenant the key acts for.
    #[arg(long)]
    pub tenant: String,
    /// Scopes, comma-separated (images:write, jobs:read, usage:read, admin).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "images:write,jobs:read,usage:read"
    )]
    pub scopes: Vec<String>,
    /// The API Gateway usage plan to register the key with (default: the only one).
    #[arg(long)]
    pub plan: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct KeyIdArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// The key's ID (the part after `igk_`, before the secret).
    pub key_id: String,
}

#[derive(Debug, clap::Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store the Gemini API key, read from stdin (never from arguments, never echoed).
    SetGeminiKey(EnvArgs),
}
