//! `cargo xtask deploy --env <staging|prod>`: ship a release to an environment.
//!
//! A full deploy, each step numbered and timed as it runs:
//!
//! 1. preflight: `terraform` runs; the git commit (prod: the tree must be clean); the AWS
//!    account (`sts:GetCallerIdentity`, which proves the credentials resolve); then the
//!    environment's settings against its account (`deploy/checks.rs`: region and account,
//!    concurrency quota, the Gemini key's value, the hosted zone, alert subscribers), every
//!    refusal one line naming its fix;
//! 2. the release (see `deploy/release.rs`): build and zip (`cargo xtask zip`), or the zips
//!    in `--zips DIR`, or the manifest of an earlier release (`--artifact <release id>`: no
//!    build, no upload);
//! 3. upload: each zip to `lambda/<sha256>.zip`, then the manifest to `releases/<id>.json` in
//!    the artifact bucket, each skipped when `HeadObject` finds it already there;
//! 4. `terraform init` with the environment's state bucket;
//! 5. `terraform plan -out` with the release's keys, hashes and architecture;
//! 6. the plan's summary from `terraform show -json`, destroys marked;
//! 7. prod: type the environment's name to go on (`--auto-approve` skips this);
//! 8. `terraform apply` of the saved plan;
//! 9. go live: each function's `live` alias moves to the version `apply` published with the
//!    release's code (Terraform leaves the alias to the deploy), at once or by canary
//!    (`--canary P --bake D`: P % first, the alarms watched for D, then all or none:
//!    `deploy/traffic.rs`);
//! 10. smoke: `GET <api_url>/healthz` answers 200 `{"status":"ok"}`.
//!
//! One file per concern under `deploy/`: `flow.rs` runs the steps in order; `preflight.rs` (1),
//! `artifacts.rs` (2, 3; the manifest and its checks in `release.rs`), `terraform.rs` (4, 5, 8
//! and `terraform output`), `plan.rs` (6), `confirm.rs` (7), `lambda.rs` (versions and the
//! alias, and the shipping of `--code-only`) and `traffic.rs` (9, the canary, `rollback`),
//! `smoke.rs` (10); `progress.rs` numbers and times them. `cargo xtask rollback` and
//! `cargo xtask destroy` run their steps the same way (below).
//!
//! `--code-only` ships code without Terraform's plan and apply: after the upload it reads the
//! function names from `terraform output`, then for each function `UpdateFunctionCode` from the
//! artifact bucket, waits for the update, `PublishVersion` and moves the `live` alias; it prints
//! the previous versions, which are the rollback.
//!
//! Code-only deploys and Terraform: the AWS provider does not read a function's code back
//! (`source_code_hash` lives only in the state: hashicorp/terraform-provider-aws#41092), so
//! after a code-only deploy Terraform still believes the code it last applied is live. The
//! next full deploy of a new release updates the code as usual (its key and hash differ from
//! the state's). A full deploy of the release Terraform last applied would plan no code change
//! and publish nothing: step 9 then finds no version with the release's code and ships it as
//! `--code-only` does.
//!
//! `--plan-only` stops after the summary (step 6), uploads nothing and takes no state lock, so
//! the read-only plan role can run it; it writes the summary as Markdown next to the plan (and
//! to the GitHub job summary). With `--publish-plan` it stores the saved plan in the artifact
//! bucket under its SHA-256. `--apply-plan <sha256> --artifact <release>` applies exactly that
//! stored plan: fetched, checked against its SHA-256 and the release, its summary shown again;
//! Terraform refuses it if the state changed since (`deploy/reviewed.rs`).
//!
//! `--dry-run` prints each command and AWS call of the steps above and runs none; what it would
//! learn from AWS or Terraform is shown as a placeholder (`<account-id>`, `<api_url>`).

mod artifacts;
mod checks;
mod confirm;
mod flow;
mod lambda;
mod plan;
mod preflight;
mod progress;
mod release;
mod reviewed;
mod smoke;
mod terraform;
mod traffic;

use std::fmt::Display;

use anyhow::Context;
use aws_config::SdkConfig;
use xshell::Shell;

use crate::aws;
use crate::environment::{self, Env};
use crate::flags::{DeployArgs, DestroyArgs, RollbackArgs};
use progress::Progress;

pub fn run(sh: &Shell, args: DeployArgs) -> crate::Result<()> {
    if let Some(id) = &args.artifact {
        release::check_id(id)?;
    }
    if let Some(sha) = &args.apply_plan {
        reviewed::check_sha256(sha)?;
    }
    let what = if args.code_only {
        "deploy code to"
    } else {
        "deploy to"
    };
    operate(sh, &args, flow::steps(&args), what, |deploy| {
        if deploy.args.code_only {
            deploy.code_only()
        } else {
            deploy.full()
        }
    })
}

/// `cargo xtask rollback --env E`: each function's `live` alias back on the version it ran
/// before (`deploy/traffic.rs`), then the smoke check. No git or settings checks: it is for
/// when something is on fire.
pub fn rollback(sh: &Shell, args: RollbackArgs) -> crate::Result<()> {
    let deploy_args = operations_args(args.env, args.dry_run);
    let steps = vec![
        ACCOUNT,
        flow::INIT,
        flow::OUTPUTS,
        ROLL_BACK_STEP,
        flow::SMOKE,
    ];
    operate(sh, &deploy_args, steps, "roll back", |deploy| {
        let account = deploy.account()?;
        deploy.init(&account)?;
        deploy.progress.start(flow::OUTPUTS);
        let outputs = deploy.outputs()?;
        deploy.progress.start(ROLL_BACK_STEP);
        deploy.roll_back(&outputs)?;
        deploy.progress.start(flow::SMOKE);
        deploy.smoke(&outputs)
    })
}

/// `cargo xtask destroy --env E`: `terraform destroy` of the environment after its name is
/// typed; prod only with --allow-prod (its tables and bucket also refuse deletion until
/// deletion_protection_enabled and bucket_force_destroy are lifted).
pub fn destroy(sh: &Shell, args: DestroyArgs) -> crate::Result<()> {
    if args.env == Env::Prod && !args.allow_prod {
        anyhow::bail!(
            "refusing to destroy prod: add --allow-prod if you mean it (its tables and image \
             bucket refuse deletion too until deletion_protection_enabled and \
             bucket_force_destroy say otherwise)"
        );
    }
    let deploy_args = operations_args(args.env, args.dry_run);
    let steps = vec![ACCOUNT, flow::INIT, flow::CONFIRM, DESTROY_STEP];
    operate(sh, &deploy_args, steps, "destroy", |deploy| {
        let account = deploy.account()?;
        deploy.init(&account)?;
        deploy.progress.start(flow::CONFIRM);
        deploy.typed_confirmation("destroy every resource of", "the destroy", "destroyed")?;
        deploy.progress.start(DESTROY_STEP);
        let bucket = environment::artifact_bucket(&account);
        deploy.terraform(&deploy.destroy_args(&bucket)?)?;
        if !deploy.dry {
            deploy.say(format!(
                "destroyed {} (its state, the artifact bucket and the bootstrap's roles stay)",
                deploy.env
            ));
        }
        Ok(())
    })
}

const ACCOUNT: &str = "account";
const ROLL_BACK_STEP: &str = "roll back live";
const DESTROY_STEP: &str = "terraform destroy";

/// The arguments of a deploy that rollback and destroy share its steps with.
fn operations_args(env: Env, dry_run: bool) -> DeployArgs {
    DeployArgs {
        env,
        plan_only: false,
        publish_plan: false,
        apply_plan: None,
        auto_approve: false,
        dry_run,
        arch: None,
        artifact: None,
        zips: None,
        code_only: false,
        canary: None,
        bake: None,
    }
}

/// Runs `body` as a numbered, timed command over `steps`: deploy, rollback and destroy.
fn operate(
    sh: &Shell,
    args: &DeployArgs,
    steps: Vec<&'static str>,
    what: &str,
    body: impl FnOnce(&mut Deploy<'_>) -> crate::Result<()>,
) -> crate::Result<()> {
    let rt = aws::runtime()?;
    let clients = if args.dry_run {
        None
    } else {
        Some(Clients::new(rt.block_on(aws::sdk_config())))
    };
    let mut deploy = Deploy {
        sh,
        env: args.env,
        dry: args.dry_run,
        progress: Progress::new(steps, !args.dry_run),
        args,
        rt,
        clients,
    };
    if deploy.dry {
        println!(
            "{what} {} (dry run: prints each command and AWS call; runs none)",
            args.env
        );
    } else {
        println!("{what} {}", args.env);
    }
    match body(&mut deploy) {
        Ok(()) => {
            deploy.progress.finish();
            Ok(())
        }
        Err(e) => {
            deploy.progress.fail();
            Err(e)
        }
    }
}

/// One deploy as it runs: its steps are methods, one file per concern under `deploy/`.
struct Deploy<'a> {
    sh: &'a Shell,
    env: Env,
    dry: bool,
    progress: Progress,
    args: &'a DeployArgs,
    rt: tokio::runtime::Runtime,
    /// None in a dry run, which makes no AWS call.
    clients: Option<Clients>,
}

/// The AWS clients a deploy uses, built once from one configuration.
struct Clients {
    sdk: SdkConfig,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
}

impl Clients {
    fn new(sdk: SdkConfig) -> Self {
        Self {
            s3: aws::s3_client(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            sdk,
        }
    }
}

impl Deploy<'_> {
    /// Prints a line of the current step: a command (`$ …`), an AWS call (`aws …`) or a
    /// result (`-> …`).
    fn say(&self, line: impl Display) {
        println!("      {line}");
    }

    /// On GitHub Actions, `name=value` as an output of the running step (`$GITHUB_OUTPUT`).
    fn step_output(&self, name: &str, value: &str) {
        self.append_to_github_file("GITHUB_OUTPUT", &format!("{name}={value}\n"));
    }

    /// On GitHub Actions, Markdown for the job's summary page (`$GITHUB_STEP_SUMMARY`).
    fn step_summary(&self, markdown: &str) {
        self.append_to_github_file("GITHUB_STEP_SUMMARY", markdown);
    }

    fn append_to_github_file(&self, variable: &str, text: &str) {
        use std::io::Write;
        if self.dry {
            return;
        }
        let Some(path) = std::env::var_os(variable) else {
            return;
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(e) = written {
            self.say(format!(
                "-> cannot write to ${variable} ({}): {e}",
                path.to_string_lossy()
            ));
        }
    }

    fn aws(&self) -> crate::Result<&Clients> {
        self.clients
            .as_ref()
            .context("internal: an AWS call in a dry run")
    }
}
