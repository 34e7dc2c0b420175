//! The flags of the commands that talk to AWS (`deploy`, `keys`, `secrets`): built into the
//! AWS toolkit (`xtask-aws`, the `aws` feature) only.

use clap::Subcommand;

use super::Arch;

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The environment to deploy.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// Stop after the plan and its summary; upload and apply nothing, take no state lock (the
    /// read-only plan role can run it). The plan file is kept; its summary is also written
    /// next to it as Markdown (and to the GitHub job summary on GitHub Actions).
    #[arg(long, conflicts_with_all = ["code_only", "apply_plan"])]
    pub plan_only: bool,
    /// With --plan-only: store the saved plan in the artifact bucket as
    /// `plans/<env>/<sha256>.tfplan` for --apply-plan, and print its SHA-256 (on GitHub
    /// Actions also the step output `plan`).
    #[arg(long, requires = "plan_only")]
    pub publish_plan: bool,
    /// Apply exactly the plan --publish-plan stored under this SHA-256, which must deploy the
    /// release of --artifact: fetched, checked against its SHA-256, its summary shown, applied.
    /// If the state changed since the plan was made, Terraform refuses it and nothing changes.
    #[arg(
        long,
        value_name = "PLAN_SHA256",
        requires = "artifact",
        conflicts_with_all = ["code_only", "zips"]
    )]
    pub apply_plan: Option<String>,
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
    /// Move this share of the traffic (1-50 %) to the new version first, through the `live`
    /// alias's weighted routing; then watch the environment's error, throttle and 5xx alarms
    /// for --bake, and promote it (all traffic) or roll back (none) by itself.
    #[arg(
        long,
        value_name = "PERCENT",
        value_parser = clap::value_parser!(u8).range(1..=50),
        requires = "bake",
        conflicts_with_all = ["plan_only", "code_only"]
    )]
    pub canary: Option<u8>,
    /// How long the canary bakes before promotion: `90s`, `10m`, `1h`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "canary")]
    pub bake: Option<std::time::Duration>,
}

/// `30s`, `10m`, `1h` (a whole number and a unit), at most a day.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit: write e.g. 90s, 10m or 1h"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return Err(format!("`{text}`: the unit must be s, m or h")),
    };
    if seconds == 0 || seconds > 86_400 {
        return Err(format!("`{text}` must be between 1s and 24h"));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// Print the calls and make none.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// Required to destroy prod (its data is protected from deletion as well).
    #[arg(long)]
    pub allow_prod: bool,
    /// Print the commands and run none.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a tenant in the service's store and register the same value with
    /// the environment's API Gateway usage plan. The key is printed once, to stdout: alone when
    /// stdout is a pipe or a file (`KEY=$(cargo xtask keys create …)`), with a ready-to-paste
    /// curl on a terminal. Progress goes to stderr.
    Create(KeysCreateArgs),
    /// Replace a key's secret; the old one keeps working, at the service and at the gateway,
    /// for the rotation grace (the API function's IMAGEGEN_KEY_ROTATION_GRACE_SECONDS unless
    /// --grace says otherwise). API Gateway cannot expire a key by itself: every `keys` command
    /// deletes the gateway keys the service no longer accepts, so run one (e.g. `keys prune`)
    /// after the grace ends. The new key is printed once, as with `create`.
    Rotate(KeysRotateArgs),
    /// Revoke a key at once in the store and delete its API Gateway keys (also repairs a
    /// revoked key whose gateway keys are left over).
    Revoke(KeyIdArgs),
    /// List an environment's keys with their status and API Gateway registration
    /// (registered, missing, stale); never their secrets. Prunes first, like every `keys` command.
    List(EnvArgs),
    /// Delete the API Gateway keys the service no longer accepts (revoked, expired, rotated
    /// out after their grace, or unknown to the store), and nothing else.
    Prune(EnvArgs),
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
    /// The tenant the key acts for (1..=64 of a-z, 0-9, `-`, `_`).
    #[arg(long)]
    pub tenant: String,
    /// Scopes, comma-separated (images:write, jobs:read, usage:read, admin).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "images:write,jobs:read,usage:read",
        value_parser = parse_scope
    )]
    pub scopes: Vec<imagegen::domain::keys::Scope>,
    /// The API Gateway usage plan to register the key with (default: the only one).
    #[arg(long)]
    pub plan: Option<String>,
    /// The key's own requests per minute (default: the service's IMAGEGEN_DEFAULT_RATE_PER_MINUTE).
    #[arg(long)]
    pub rate_per_minute: Option<u32>,
    /// The key's own burst (default: IMAGEGEN_DEFAULT_BURST).
    #[arg(long)]
    pub burst: Option<u32>,
    /// The tenant's images per day under this key (default: IMAGEGEN_DEFAULT_DAILY_QUOTA).
    #[arg(long)]
    pub daily_quota: Option<u32>,
    /// The tenant's images per month under this key (default: IMAGEGEN_DEFAULT_MONTHLY_QUOTA).
    #[arg(long)]
    pub monthly_quota: Option<u32>,
    /// Images the model may refuse per day under this key before new jobs get 429 (default:
    /// the key's daily quota).
    #[arg(long)]
    pub daily_refusal_limit: Option<u32>,
    /// When the key stops working, RFC 3339 (e.g. 2027-01-31T00:00:00Z).
    #[arg(long, value_parser = parse_rfc3339)]
    pub expires_at: Option<time::OffsetDateTime>,
}

#[derive(Debug, clap::Args)]
pub struct KeysRotateArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// The key's ID (the part after `igk_`, before the secret).
    pub key_id: String,
    /// How long the old secret keeps working: 0, 90s, 15m, 24h, 7d (at most 30d). Default:
    /// what the deployed API function is configured with.
    #[arg(long, value_parser = parse_grace)]
    pub grace: Option<std::time::Duration>,
    /// The usage plan for the new secret (default: the plan the current one is on).
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
    /// Store the Gemini API key in the environment's Secrets Manager secret. The key is read
    /// from stdin: typed at a hidden prompt on a terminal, or one line from a pipe
    /// (`pass gemini | cargo xtask secrets set-gemini-key --env staging`). Never from an
    /// argument, never echoed; prints the new secret version and a short SHA-256 fingerprint.
    SetGeminiKey(SetGeminiKeyArgs),
}

#[derive(Debug, clap::Args)]
pub struct SetGeminiKeyArgs {
    /// The environment.
    #[arg(long, value_enum)]
    pub env: crate::environment::Env,
    /// Caught only to refuse it without echoing it: a key given as an argument would sit in
    /// shell history and the process list.
    #[arg(hide = true, num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub stray: Vec<std::ffi::OsString>,
}

fn parse_scope(s: &str) -> Result<imagegen::domain::keys::Scope, String> {
    s.trim()
        .parse()
        .map_err(|e: imagegen::domain::keys::UnknownScope| e.to_string())
}

fn parse_rfc3339(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected RFC 3339, e.g. 2027-01-31T00:00:00Z ({e})"))
}

/// The longest grace the service itself accepts (IMAGEGEN_KEY_ROTATION_GRACE_SECONDS).
pub const MAX_GRACE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// `0`, `90`, `90s`, `15m`, `24h`, `7d`.
pub fn parse_grace(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{s}`: expected a number with s, m, h or d, e.g. 24h"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        other => return Err(format!("`{s}`: unknown unit `{other}`; use s, m, h or d")),
    };
    let grace = number
        .checked_mul(unit_secs)
        .map(std::time::Duration::from_secs)
        .filter(|g| *g <= MAX_GRACE)
        .ok_or_else(|| format!("`{s}`: at most 30d"))?;
    Ok(grace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{Command, Xtask};
    use clap::Parser;
    use std::time::Duration;

    /// A command line as typed after `cargo xtask` (no quoted spaces).
    fn parse(line: &str) -> Result<Command, clap::Error> {
        Xtask::try_parse_from(std::iter::once("cargo xtask").chain(line.split_whitespace()))
            .map(|flags| flags.command)
    }

    #[test]
    fn grace_periods_read_as_people_write_them() {
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_grace("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_grace("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_grace("30d"), Ok(MAX_GRACE));
        for bad in ["31d", "h", "1w", "-1s", "1.5h", ""] {
            assert!(parse_grace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_gemini_key_given_as_an_argument_is_caught_not_parsed_as_an_error() {
        let command = parse("secrets set-gemini-key --env staging AIza-not-here").unwrap();
        let Command::Secrets(SecretsArgs {
            command: SecretsCommand::SetGeminiKey(args),
        }) = command
        else {
            panic!("parsed as {command:?}");
        };
        assert_eq!(args.stray.len(), 1);
    }

    #[test]
    fn key_flags_parse_scopes_and_expiry_through_the_domain() {
        let command = parse(
            "keys create --env prod --tenant acme --scopes jobs:read,admin \
             --expires-at 2027-01-31T00:00:00Z",
        )
        .unwrap();
        let Command::Keys(KeysArgs {
            command: KeysCommand::Create(args),
        }) = command
        else {
            panic!("parsed as {command:?}");
        };
        use imagegen::domain::keys::Scope;
        assert_eq!(args.scopes, [Scope::JobsRead, Scope::Admin]);
        assert!(args.expires_at.is_some());
        let err = parse("keys create --env prod --tenant acme --scopes root").unwrap_err();
        assert!(err.to_string().contains("unknown scope `root`"), "{err}");
    }
}
