//! A deployed environment as the operations commands (deploy, keys, secrets) see it: its
//! Terraform root, its backend, and the names of its resources read from `terraform output`.
//!
//! Terraform is the one source of resource names: the commands never guess a table or a
//! function name, they ask the environment's state.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use xshell::{Shell, cmd};

/// The environments an engineer deploys to (the roots under `environments/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Env {
    Staging,
    Prod,
}

impl Env {
    pub fn name(self) -> &'static str {
        match self {
            Env::Staging => "staging",
            Env::Prod => "prod",
        }
    }

    /// The Terraform root, relative to the workspace root (the shell's directory).
    pub fn dir(self) -> PathBuf {
        PathBuf::from("environments").join(self.name())
    }
}

impl std::fmt::Display for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings of an environment the deploy's preflight checks before anything changes,
/// read from the `settings = { … }` object of its terraform.tfvars (modules/stack/variables.tf
/// types and describes them; absent optional settings read as their defaults there).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub environment: String,
    pub aws_region: String,
    /// The account the environment lives in; null: any (staging only).
    pub aws_account_id: Option<String>,
    /// Reserved concurrent executions; null: none reserved.
    pub api_reserved_concurrency: Option<u32>,
    pub worker_reserved_concurrency: Option<u32>,
    pub domain_enabled: bool,
    pub domain_name: Option<String>,
    pub hosted_zone_id: Option<String>,
    pub alert_emails: Vec<String>,
}

impl Settings {
    /// The environment's terraform.tfvars: `environments/<env>/terraform.tfvars`, or
    /// `<env>.tfvars` in `$IMAGEGEN_SETTINGS_DIR` (tests point it at fixtures, as they point
    /// IMAGEGEN_TERRAFORM at a stand-in).
    pub fn path(env: Env) -> PathBuf {
        match std::env::var_os("IMAGEGEN_SETTINGS_DIR") {
            Some(dir) => PathBuf::from(dir).join(format!("{env}.tfvars")),
            None => crate::project_root()
                .join(env.dir())
                .join("terraform.tfvars"),
        }
    }

    pub fn read(env: Env) -> crate::Result<Self> {
        let path = Self::path(env);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("cannot read the settings in {}", path.display()))
    }

    pub fn parse(tfvars: &str) -> crate::Result<Self> {
        #[derive(Deserialize)]
        struct Tfvars {
            settings: Settings,
        }
        let tfvars: Tfvars = hcl::from_str(tfvars)?;
        Ok(tfvars.settings)
    }

    /// Reserved concurrent executions the environment asks for, both functions together.
    pub fn reserved_concurrency(&self) -> u32 {
        self.api_reserved_concurrency.unwrap_or(0) + self.worker_reserved_concurrency.unwrap_or(0)
    }
}

/// Bucket names the bootstrap root creates, derived from the account as it derives them.
pub fn state_bucket(account_id: &str) -> String {
    format!("imagegen-tfstate-{account_id}")
}

pub fn artifact_bucket(account_id: &str) -> String {
    format!("imagegen-artifacts-{account_id}")
}

/// The `terraform` executable: the first one on PATH, or `$IMAGEGEN_TERRAFORM` (tests point it
/// at a recording stand-in).
pub fn terraform_program() -> String {
    std::env::var("IMAGEGEN_TERRAFORM").unwrap_or_else(|_| "terraform".to_owned())
}

/// `terraform init` of the environment's root with its S3 backend in `state_bucket`
/// (`backend.tf` carries a placeholder account ID; the real bucket is passed here), with
/// Terraform's output kept off stdout (which `keys` reserves for the key it prints) and shown
/// on stderr only if it fails.
pub fn init_quietly(sh: &Shell, env: Env, state_bucket: &str) -> crate::Result<()> {
    let out = init_command(sh, env, state_bucket)
        .quiet()
        .ignore_status()
        .output()?;
    if out.status.success() {
        return Ok(());
    }
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    bail!(
        "`terraform init` of environments/{env} failed ({}); see its output above",
        out.status
    )
}

fn init_command<'a>(sh: &'a Shell, env: Env, state_bucket: &str) -> xshell::Cmd<'a> {
    let terraform = terraform_program();
    let args = init_args(env, state_bucket);
    cmd!(sh, "{terraform} {args...}")
}

/// The arguments of [`init_quietly`], for callers that print or run the command themselves.
pub fn init_args(env: Env, state_bucket: &str) -> Vec<String> {
    vec![
        chdir(env),
        "init".into(),
        "-input=false".into(),
        "-reconfigure".into(),
        format!("-backend-config=bucket={state_bucket}"),
    ]
}

/// `-chdir=environments/<env>`: every Terraform command of an environment runs in its root.
pub fn chdir(env: Env) -> String {
    format!("-chdir={}", env.dir().display())
}

/// The outputs of an environment root that the operations commands use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Outputs {
    pub api_url: String,
    pub rest_api_id: String,
    /// Usage plan IDs by plan name (`usage_plans` in the settings of terraform.tfvars).
    pub usage_plan_ids: BTreeMap<String, String>,
    pub api_function_name: String,
    pub worker_function_name: String,
    pub bucket_name: String,
    /// DynamoDB table names by logical name (`jobs`, `api_keys`, `counters`, `idempotency`).
    pub table_names: BTreeMap<String, String>,
    pub queue_url: String,
    pub gemini_secret_arn: String,
}

impl Outputs {
    /// Reads `terraform output -json` of an initialised environment root.
    pub fn read(sh: &Shell, env: Env) -> crate::Result<Self> {
        let terraform = terraform_program();
        let chdir = chdir(env);
        let json = cmd!(sh, "{terraform} {chdir} output -json")
            .quiet()
            .read()?;
        Self::parse(&json).map_err(|e| {
            anyhow!(
                "cannot read the outputs of environments/{env} ({e}); has it been deployed? \
                 Run `cargo xtask deploy --env {env}` first"
            )
        })
    }

    /// Parses `terraform output -json`: `{"name": {"value": …, "type": …, "sensitive": …}}`.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Output {
            value: serde_json::Value,
        }
        let outputs: BTreeMap<String, Output> = serde_json::from_str(json)?;
        let values: serde_json::Map<String, serde_json::Value> =
            outputs.into_iter().map(|(k, o)| (k, o.value)).collect();
        serde_json::from_value(serde_json::Value::Object(values))
    }

    /// A table name by its logical name, with an error naming what is missing.
    pub fn table(&self, logical: &str) -> crate::Result<&str> {
        self.table_names
            .get(logical)
            .map(String::as_str)
            .with_context(|| format!("terraform output table_names has no `{logical}` table"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT_JSON: &str = r#"{
      "api_url": {"sensitive": false, "type": "string", "value": "https://abc.execute-api.eu-west-1.amazonaws.com/v1"},
      "rest_api_id": {"sensitive": false, "type": "string", "value": "abc"},
      "usage_plan_ids": {"sensitive": false, "type": ["map", "string"], "value": {"standard": "up1"}},
      "api_function_name": {"sensitive": false, "type": "string", "value": "imagegen-staging-api"},
      "worker_function_name": {"sensitive": false, "type": "string", "value": "imagegen-staging-worker"},
      "bucket_name": {"sensitive": false, "type": "string", "value": "imagegen-staging-images"},
      "table_names": {"sensitive": false, "type": ["map", "string"], "value": {"jobs": "j", "api_keys": "k", "counters": "c", "idempotency": "i", "webhooks": "w"}},
      "queue_url": {"sensitive": false, "type": "string", "value": "https://sqs/q"},
      "dlq_url": {"sensitive": false, "type": "string", "value": "https://sqs/dlq"},
      "gemini_secret_arn": {"sensitive": false, "type": "string", "value": "arn:aws:secretsmanager:eu-west-1:1:secret:g"}
    }"#;

    #[test]
    fn terraform_output_json_gives_the_resource_names() {
        let outputs = Outputs::parse(OUTPUT_JSON).unwrap();
        assert_eq!(outputs.api_function_name, "imagegen-staging-api");
        assert_eq!(outputs.table("api_keys").unwrap(), "k");
        assert_eq!(outputs.usage_plan_ids["standard"], "up1");
        assert!(outputs.table("users").is_err());
    }

    #[test]
    fn an_environment_without_outputs_is_an_error_not_a_default() {
        assert!(Outputs::parse("{}").is_err());
    }

    #[test]
    fn the_settings_the_preflight_checks_are_read_from_each_environments_tfvars() {
        for env in [Env::Staging, Env::Prod] {
            let text = std::fs::read_to_string(
                crate::project_root()
                    .join(env.dir())
                    .join("terraform.tfvars"),
            )
            .unwrap();
            let settings = Settings::parse(&text).unwrap();
            assert_eq!(settings.environment, env.name());
            assert_eq!(settings.aws_region, "eu-west-1");
        }
        let settings = Settings::parse(
            r#"settings = {
              environment = "prod"
              aws_region = "eu-west-1"
              api_reserved_concurrency = 100
              worker_reserved_concurrency = null
              alert_emails = ["a@imagegen.dev"]
              waf_enabled = true
            }"#,
        )
        .unwrap();
        assert_eq!(settings.reserved_concurrency(), 100);
        assert_eq!(settings.worker_reserved_concurrency, None);
        assert!(!settings.domain_enabled);
        assert_eq!(settings.alert_emails, ["a@imagegen.dev"]);
        assert!(
            Settings::parse("environment = \"prod\"").is_err(),
            "no settings object"
        );
    }

    #[test]
    fn bucket_names_follow_the_bootstrap_convention() {
        assert_eq!(
            state_bucket("123456789012"),
            "imagegen-tfstate-123456789012"
        );
        assert_eq!(
            artifact_bucket("123456789012"),
            "imagegen-artifacts-123456789012"
        );
        assert_eq!(Env::Prod.dir(), PathBuf::from("environments/prod"));
    }
}
