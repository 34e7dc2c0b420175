//! `cargo xtask deploy --env <staging|prod>`: ship a release to an environment.
//!
//! A full deploy, each step numbered and timed as it runs:
//!
//! 1. preflight: `terraform` runs; the git commit (prod: the tree must be clean); the AWS
//!    account (`sts:GetCallerIdentity`, which proves the credentials resolve);
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
//! 9. the live-code check: each function's `live` alias must run the release's code;
//! 10. smoke: `GET <api_url>/healthz` answers 200 `{"status":"ok"}`.
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
//! and leave the code-only code live: step 9 finds that (the alias's `CodeSha256` is not the
//! release's) and ships the release's code as `--code-only` does. Terraform reads the
//! function's latest `version` and the alias back on every refresh, so the plan after either
//! case shows no changes.
//!
//! `--dry-run` prints each command and AWS call of the steps above and runs none; what it would
//! learn from AWS or Terraform is shown as a placeholder (`<account-id>`, `<api_url>`).

mod lambda;
mod plan;
mod progress;
mod release;

use std::fmt::Display;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use aws_config::SdkConfig;
use xshell::{Shell, cmd};

use crate::aws;
use crate::environment::{self, Env, Outputs};
use crate::flags::DeployArgs;
use progress::Progress;
use release::{Git, LocalZip, Release};

const PREFLIGHT: &str = "preflight";
const BUILD: &str = "build and zip";
const ZIPS: &str = "read zips";
const STORED: &str = "read release";
const UPLOAD: &str = "upload";
const INIT: &str = "terraform init";
const PLAN: &str = "terraform plan";
const SUMMARY: &str = "plan summary";
const CONFIRM: &str = "confirm";
const APPLY: &str = "terraform apply";
const CHECK_CODE: &str = "check live code";
const OUTPUTS: &str = "terraform output";
const SHIP: &str = "ship code";
const SMOKE: &str = "smoke";

/// `GET /healthz` tries after a deploy, and the pause between them: API Gateway and a moved
/// alias answer within seconds, a cold start included.
const SMOKE_TRIES: u32 = 8;
const SMOKE_PAUSE: Duration = Duration::from_secs(2);

pub fn run(sh: &Shell, args: DeployArgs) -> crate::Result<()> {
    if let Some(id) = &args.artifact {
        release::check_id(id)?;
    }
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
        progress: Progress::new(steps(&args), !args.dry_run),
        args: &args,
        rt,
        clients,
    };
    let what = if args.code_only { "code to" } else { "to" };
    if deploy.dry {
        println!(
            "deploy {what} {} (dry run: prints each command and AWS call; runs none)",
            args.env
        );
    } else {
        println!("deploy {what} {}", args.env);
    }
    let outcome = if args.code_only {
        deploy.code_only()
    } else {
        deploy.full()
    };
    match outcome {
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

/// The steps this invocation will go through, in order.
fn steps(args: &DeployArgs) -> Vec<&'static str> {
    let mut steps = vec![PREFLIGHT];
    match (&args.artifact, &args.zips) {
        (Some(_), _) => steps.push(STORED),
        (None, Some(_)) => steps.extend([ZIPS, UPLOAD]),
        (None, None) => steps.extend([BUILD, UPLOAD]),
    }
    steps.push(INIT);
    let confirm = args.env == Env::Prod && !args.auto_approve;
    if args.code_only {
        steps.push(OUTPUTS);
        if confirm {
            steps.push(CONFIRM);
        }
        steps.extend([SHIP, SMOKE]);
    } else {
        steps.extend([PLAN, SUMMARY]);
        if !args.plan_only {
            if confirm {
                steps.push(CONFIRM);
            }
            steps.extend([APPLY, CHECK_CODE, SMOKE]);
        }
    }
    steps
}

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

/// What the preflight learnt.
struct Preflight {
    account: String,
    git: Git,
}

impl Deploy<'_> {
    fn full(&mut self) -> crate::Result<()> {
        let (release, bucket) = self.prepare()?;

        self.progress.start(PLAN);
        let plan_file = format!("deploy-{}.tfplan", release.short_id());
        self.terraform(&self.plan_args(&release, &bucket, &plan_file)?)?;

        self.progress.start(SUMMARY);
        let show = self.tf_args(&["show", "-json", &plan_file]);
        let changes = if self.dry {
            self.say(format!("$ terraform {}", show.join(" ")));
            self.say("-> counts what is added, changed and destroyed; lists every destroy");
            true
        } else {
            let summary = plan::Summary::parse(&self.terraform_read(&show)?)?;
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            for line in summary.lines(color) {
                self.say(line);
            }
            !summary.is_empty()
        };
        let saved = format!("{}/{plan_file}", self.env.dir().display());
        if self.args.plan_only && self.dry {
            self.say(format!(
                "plan only: stops here; nothing is applied (the plan is kept in {saved})"
            ));
            return Ok(());
        }
        if self.args.plan_only {
            self.say(format!(
                "plan only: nothing applied; the plan is saved in {saved} \
                 (apply it with `terraform {} apply {plan_file}`)",
                environment::chdir(self.env)
            ));
            return Ok(());
        }

        if self.must_confirm() {
            self.progress.start(CONFIRM);
            if changes {
                if let Err(e) = self.confirm() {
                    self.remove_plan(&plan_file);
                    return Err(e);
                }
            } else {
                self.say("nothing to confirm: the plan has no changes");
            }
        }

        self.progress.start(APPLY);
        if changes {
            let applied = self.terraform(&self.tf_args(&["apply", "-input=false", &plan_file]));
            self.remove_plan(&plan_file);
            applied?;
        } else {
            self.say("skipped: the plan has no changes");
            self.remove_plan(&plan_file);
        }

        self.progress.start(CHECK_CODE);
        let outputs = self.outputs()?;
        for (bin, function) in functions(&outputs) {
            self.ship(bin, function, &release, &bucket, lambda::Mode::Check)?;
        }

        self.progress.start(SMOKE);
        self.smoke(&outputs)?;
        if !self.dry {
            self.say(format!(
                "deployed release {} to {} ({})",
                release.id, self.env, outputs.api_url
            ));
        }
        Ok(())
    }

    fn code_only(&mut self) -> crate::Result<()> {
        let (release, bucket) = self.prepare()?;

        self.progress.start(OUTPUTS);
        let outputs = self.outputs()?;
        if !self.dry {
            self.say(format!(
                "-> functions {} and {}",
                outputs.api_function_name, outputs.worker_function_name
            ));
        }

        if self.must_confirm() {
            self.progress.start(CONFIRM);
            self.confirm()?;
        }

        self.progress.start(SHIP);
        let mut rollback = Vec::new();
        for (bin, function) in functions(&outputs) {
            if let lambda::Shipped::Moved { from, .. } =
                self.ship(bin, function, &release, &bucket, lambda::Mode::CodeOnly)?
            {
                rollback.push(format!(
                    "aws lambda update-alias --function-name {function} --name live --function-version {from}"
                ));
            }
        }
        if !rollback.is_empty() {
            self.say("roll back with:");
            for line in rollback {
                self.say(format!("  {line}"));
            }
        }

        self.progress.start(SMOKE);
        self.smoke(&outputs)?;
        if !self.dry {
            self.say(format!(
                "shipped the code of release {} to {} ({}); the next full deploy reconciles Terraform",
                release.id, self.env, outputs.api_url
            ));
        }
        Ok(())
    }

    // --- steps ---------------------------------------------------------------------------

    /// The steps both kinds of deploy begin with: preflight, the release (in the artifact
    /// bucket, which it returns too), `terraform init`.
    fn prepare(&mut self) -> crate::Result<(Release, String)> {
        let pre = self.preflight()?;
        let bucket = environment::artifact_bucket(&pre.account);
        let release = self.release(&pre, &bucket)?;

        self.progress.start(INIT);
        let state_bucket = environment::state_bucket(&pre.account);
        self.terraform(&environment::init_args(self.env, &state_bucket))?;
        Ok((release, bucket))
    }

    fn preflight(&mut self) -> crate::Result<Preflight> {
        self.progress.start(PREFLIGHT);
        self.say("$ terraform version");
        if !self.dry {
            let program = environment::terraform_program();
            let version = cmd!(self.sh, "{program} version")
                .quiet()
                .ignore_stderr()
                .read()
                .map_err(|_| {
                    format!(
                        "cannot run `{program} version`: install Terraform >= 1.10 and put it \
                         on PATH (or point IMAGEGEN_TERRAFORM at it)"
                    )
                })?;
            self.say(format!(
                "-> {}",
                version.lines().next().unwrap_or("terraform")
            ));
        }
        let git = self.git()?;
        self.say("aws sts:GetCallerIdentity");
        let account = if self.dry {
            "<account-id>".to_owned()
        } else {
            let account = self.rt.block_on(aws::account_id(&self.aws()?.sdk))?;
            self.say(format!("-> account {account}"));
            account
        };
        Ok(Preflight { account, git })
    }

    /// The commit the release records; prod refuses a tree with uncommitted changes.
    fn git(&self) -> crate::Result<Git> {
        self.say("$ git rev-parse HEAD");
        self.say("$ git status --porcelain");
        let prod = self.env == Env::Prod;
        if self.dry {
            if prod {
                self.say("-> prod stops here when the tree has uncommitted changes");
            }
            return Ok(Git {
                commit: "<git-commit>".into(),
                dirty: false,
            });
        }
        let commit = cmd!(self.sh, "git rev-parse HEAD")
            .quiet()
            .ignore_stderr()
            .read();
        let status = cmd!(self.sh, "git status --porcelain")
            .quiet()
            .ignore_stderr()
            .read();
        let (commit, status) = match (commit, status) {
            (Ok(commit), Ok(status)) => (commit, status),
            _ if prod => {
                return Err(
                    "prod deploys only from a clean git checkout, and `git status` fails here"
                        .into(),
                );
            }
            _ => {
                self.say("-> not a git checkout: the release records commit `unknown`");
                return Ok(Git {
                    commit: "unknown".into(),
                    dirty: true,
                });
            }
        };
        let changed: Vec<&str> = status.lines().map(str::trim).collect();
        let dirty = !changed.is_empty();
        if dirty && prod {
            let more = match changed.len() {
                1..=3 => String::new(),
                n => format!(" and {} more", n - 3),
            };
            return Err(format!(
                "prod deploys only from a clean tree; commit or stash first: {}{more}",
                changed
                    .iter()
                    .take(3)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into());
        }
        self.say(format!(
            "-> commit {commit}{}",
            if dirty {
                " with uncommitted changes"
            } else {
                ""
            }
        ));
        Ok(Git { commit, dirty })
    }

    /// The release to deploy: built, read from `--zips`, or an earlier one (`--artifact`).
    /// New zips are uploaded here.
    fn release(&mut self, pre: &Preflight, bucket: &str) -> crate::Result<Release> {
        if let Some(id) = &self.args.artifact {
            self.progress.start(STORED);
            let release = self.stored_release(id, bucket)?;
            self.github_output(&release);
            return Ok(release);
        }
        let arch = self.args.arch.unwrap_or_default();
        let zips = match &self.args.zips {
            Some(dir) => {
                self.progress.start(ZIPS);
                let zips = release::read_zips(dir, arch)?;
                for zip in &zips {
                    self.say(format!(
                        "-> {} ({:.2} MB, sha256 {})",
                        zip.path.display(),
                        zip.data.len() as f64 / 1e6,
                        crate::zip::sha256_hex(&zip.data)
                    ));
                }
                zips
            }
            None => {
                self.progress.start(BUILD);
                self.say(format!("$ cargo xtask zip --arch {}", arch.lambda_name()));
                if self.dry {
                    Vec::new()
                } else {
                    crate::zip::run(self.sh, arch)?
                        .into_iter()
                        .map(|artifact| {
                            let data = std::fs::read(&artifact.zip).map_err(|e| {
                                format!("cannot read {}: {e}", artifact.zip.display())
                            })?;
                            Ok(LocalZip {
                                bin: artifact.bin,
                                path: artifact.zip,
                                data,
                            })
                        })
                        .collect::<crate::Result<_>>()?
                }
            }
        };
        let release = if self.dry {
            Release::placeholder("<release-id>", Some(arch))
        } else {
            Release::new(arch, &pre.git, &zips)?
        };

        self.progress.start(UPLOAD);
        for bin in crate::LAMBDA_BINS {
            let data = zips
                .iter()
                .find(|z| z.bin == bin)
                .map(|z| z.data.as_slice());
            self.put_once(bucket, &release.zip(bin)?.key, data, "application/zip")?;
        }
        self.put_once(
            bucket,
            &release::manifest_key(&release.id),
            Some(&release.bytes),
            "application/json",
        )?;
        if !self.dry {
            self.say(format!("-> release {}", release.id));
        }
        self.github_output(&release);
        Ok(release)
    }

    /// Uploads `data` to `key` unless an object is already there (keys are content addresses).
    fn put_once(
        &self,
        bucket: &str,
        key: &str,
        data: Option<&[u8]>,
        content_type: &str,
    ) -> crate::Result<()> {
        let target = format!("s3://{bucket}/{key}");
        self.say(format!("aws s3:HeadObject {target}"));
        if self.dry {
            self.say(format!(
                "aws s3:PutObject {target}  (only when HeadObject finds none)"
            ));
            return Ok(());
        }
        let data = data.ok_or_else(|| format!("internal: nothing to upload to {target}"))?;
        let s3 = &self.aws()?.s3;
        let head = self
            .rt
            .block_on(s3.head_object().bucket(bucket).key(key).send());
        match head {
            Ok(head) => {
                let stored = head.content_length().unwrap_or_default();
                if stored != data.len() as i64 {
                    return Err(format!(
                        "{target} holds {stored} bytes, not the {} of the content it is named \
                         after: delete it and deploy again",
                        data.len()
                    )
                    .into());
                }
                self.say("-> already there: not uploaded again");
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                self.say(format!("aws s3:PutObject {target}"));
                self.rt
                    .block_on(
                        s3.put_object()
                            .bucket(bucket)
                            .key(key)
                            .content_type(content_type)
                            .body(data.to_vec().into())
                            .send(),
                    )
                    .map_err(|e| aws::error(&format!("s3:PutObject {target}"), e))?;
                self.say(format!("-> uploaded {} bytes", data.len()));
                Ok(())
            }
            Err(e) => Err(aws::error(&format!("s3:HeadObject {target}"), e).into()),
        }
    }

    /// An earlier release: its manifest, checked against its ID, and its zips still there.
    fn stored_release(&self, id: &str, bucket: &str) -> crate::Result<Release> {
        let key = release::manifest_key(id);
        let target = format!("s3://{bucket}/{key}");
        self.say(format!("aws s3:GetObject {target}"));
        let release = if self.dry {
            Release::placeholder(id, self.args.arch)
        } else {
            let s3 = &self.aws()?.s3;
            let object = self
                .rt
                .block_on(s3.get_object().bucket(bucket).key(&key).send())
                .map_err(|e| {
                    if e.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                        format!(
                            "no release {id}: {target} does not exist (each deploy prints its \
                             release ID; `aws s3 ls s3://{bucket}/releases/` lists them)"
                        )
                    } else {
                        aws::error(&format!("s3:GetObject {target}"), e)
                    }
                })?;
            let bytes = self
                .rt
                .block_on(object.body.collect())
                .map_err(|e| format!("reading {target} failed: {e}"))?
                .into_bytes()
                .to_vec();
            Release::from_stored(id, bytes)?
        };
        for bin in crate::LAMBDA_BINS {
            let zip_key = &release.zip(bin)?.key;
            let zip_target = format!("s3://{bucket}/{zip_key}");
            self.say(format!("aws s3:HeadObject {zip_target}"));
            if !self.dry {
                self.rt
                    .block_on(
                        self.aws()?
                            .s3
                            .head_object()
                            .bucket(bucket)
                            .key(zip_key)
                            .send(),
                    )
                    .map_err(|e| {
                        if e.as_service_error().is_some_and(|e| e.is_not_found()) {
                            format!("release {id} names {zip_target}, which is missing")
                        } else {
                            aws::error(&format!("s3:HeadObject {zip_target}"), e)
                        }
                    })?;
            }
        }
        if self.dry {
            return Ok(release);
        }
        let manifest = &release.manifest;
        if let Some(arch) = self.args.arch
            && arch.lambda_name() != manifest.arch
        {
            return Err(format!(
                "release {id} is built for {}, not {}: leave out --arch",
                manifest.arch,
                arch.lambda_name()
            )
            .into());
        }
        self.say(format!(
            "-> release {}: commit {}{}, {}",
            release.short_id(),
            manifest.git_commit,
            if manifest.git_dirty {
                " with uncommitted changes"
            } else {
                ""
            },
            manifest.arch
        ));
        Ok(release)
    }

    fn plan_args(
        &self,
        release: &Release,
        bucket: &str,
        plan_file: &str,
    ) -> crate::Result<Vec<String>> {
        let mut args = self.tf_args(&["plan", "-input=false", &format!("-out={plan_file}")]);
        args.push(format!("-var=artifact_bucket={bucket}"));
        for bin in crate::LAMBDA_BINS {
            let zip = release.zip(bin)?;
            args.push(format!("-var={bin}_artifact_key={}", zip.key));
            args.push(format!(
                "-var={bin}_artifact_sha256={}",
                zip.filebase64sha256
            ));
        }
        args.push(format!(
            "-var=lambda_architecture={}",
            release.manifest.arch
        ));
        Ok(args)
    }

    fn must_confirm(&self) -> bool {
        self.env == Env::Prod && !self.args.auto_approve
    }

    /// Reads one line from stdin (a terminal or not); anything but the environment's name
    /// stops the deploy.
    fn confirm(&self) -> crate::Result<()> {
        let env = self.env.name();
        if self.dry {
            self.say(format!(
                "-> asks to type `{env}`; anything else stops the deploy (--auto-approve skips this)"
            ));
            return Ok(());
        }
        print!("      Type `{env}` to apply this to {env}: ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        let stdin = std::io::stdin();
        stdin.lock().read_line(&mut answer)?;
        if !stdin.is_terminal() {
            // A terminal echoed the answer and its newline; a pipe did not.
            println!();
        }
        let answer = answer.trim();
        if answer == env {
            Ok(())
        } else {
            Err(format!(
                "not confirmed (the answer was `{answer}`, not `{env}`): nothing was applied"
            )
            .into())
        }
    }

    fn outputs(&self) -> crate::Result<Outputs> {
        self.say(format!(
            "$ terraform {} output -json",
            environment::chdir(self.env)
        ));
        if self.dry {
            return Ok(Outputs {
                api_url: "<api_url>".into(),
                rest_api_id: "<rest_api_id>".into(),
                usage_plan_ids: Default::default(),
                api_function_name: "<api_function_name>".into(),
                worker_function_name: "<worker_function_name>".into(),
                bucket_name: "<bucket_name>".into(),
                table_names: Default::default(),
                queue_url: "<queue_url>".into(),
                gemini_secret_arn: "<gemini_secret_arn>".into(),
            });
        }
        Outputs::read(self.sh, self.env)
    }

    fn smoke(&self, outputs: &Outputs) -> crate::Result<()> {
        let url = format!("{}/healthz", outputs.api_url.trim_end_matches('/'));
        self.say(format!(
            "GET {url}  (expects 200 {{\"status\":\"ok\"}}; up to {SMOKE_TRIES} tries, {} s apart)",
            SMOKE_PAUSE.as_secs()
        ));
        if self.dry {
            return Ok(());
        }
        let client = imagegen::tls::reqwest_builder()?
            .timeout(Duration::from_secs(10))
            .build()?;
        let mut last = String::new();
        for attempt in 1..=SMOKE_TRIES {
            match self.rt.block_on(healthz(&client, &url)) {
                Ok(version) => {
                    self.say(format!("-> 200 ok, version {version}"));
                    return Ok(());
                }
                Err(why) => {
                    self.say(format!("-> try {attempt}: {why}"));
                    last = why;
                }
            }
            if attempt < SMOKE_TRIES {
                std::thread::sleep(SMOKE_PAUSE);
            }
        }
        Err(format!(
            "smoke check failed: GET {url} did not answer 200 {{\"status\":\"ok\"}} in \
             {SMOKE_TRIES} tries (last: {last}); what was applied stays: roll back with \
             `cargo xtask deploy --env {} --artifact <previous release id>`",
            self.env
        )
        .into())
    }

    // --- helpers -------------------------------------------------------------------------

    /// Prints a line of the current step: a command (`$ …`), an AWS call (`aws …`) or a
    /// result (`-> …`).
    fn say(&self, line: impl Display) {
        println!("      {line}");
    }

    fn aws(&self) -> crate::Result<&Clients> {
        self.clients
            .as_ref()
            .ok_or_else(|| "internal: an AWS call in a dry run".into())
    }

    /// `-chdir=environments/<env>` and `args`.
    fn tf_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![environment::chdir(self.env)];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    }

    /// Prints and runs a Terraform command, its output going to the terminal.
    fn terraform(&self, args: &[String]) -> crate::Result<()> {
        self.say(format!("$ terraform {}", args.join(" ")));
        if self.dry {
            return Ok(());
        }
        let program = environment::terraform_program();
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .run()
            .map_err(|_| terraform_failed(args).into())
    }

    /// Prints and runs a Terraform command, returning its output.
    fn terraform_read(&self, args: &[String]) -> crate::Result<String> {
        self.say(format!("$ terraform {}", args.join(" ")));
        let program = environment::terraform_program();
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .read()
            .map_err(|_| terraform_failed(args).into())
    }

    /// Removes a plan that was applied or turned down (a plan applies once at most).
    fn remove_plan(&self, plan_file: &str) {
        if self.dry {
            return;
        }
        let path = crate::project_root().join(self.env.dir()).join(plan_file);
        let _ = std::fs::remove_file(path);
    }

    /// On GitHub Actions, the release ID as the step output `release` (deploy.yml hands it
    /// from the staging job to the prod job).
    fn github_output(&self, release: &Release) {
        if self.dry {
            return;
        }
        let Some(path) = std::env::var_os("GITHUB_OUTPUT") else {
            return;
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| writeln!(file, "release={}", release.id));
        if let Err(e) = written {
            self.say(format!(
                "-> cannot write the release ID to $GITHUB_OUTPUT ({}): {e}",
                path.to_string_lossy()
            ));
        }
    }
}

fn terraform_failed(args: &[String]) -> String {
    let subcommand = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map_or("", String::as_str);
    format!("`terraform {subcommand}` failed (its output is above)")
}

/// The functions and the binaries they run.
fn functions(outputs: &Outputs) -> [(&'static str, &str); 2] {
    [
        ("api", outputs.api_function_name.as_str()),
        ("worker", outputs.worker_function_name.as_str()),
    ]
}

/// One `GET /healthz`: the service's version when it answers 200 `{"status":"ok"}`.
async fn healthz(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client.get(url).send().await.map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        message
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| e.to_string())?;
    check_health(status, &body)
}

fn check_health(status: u16, body: &str) -> Result<String, String> {
    let excerpt: String = body.chars().take(120).collect();
    if status != 200 {
        return Err(format!("HTTP {status} {excerpt}"));
    }
    let json: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| format!("HTTP 200 but the body is not JSON: {excerpt}"))?;
    if json["status"] != "ok" {
        return Err(format!("HTTP 200 but the body is {excerpt}"));
    }
    Ok(json["version"].as_str().unwrap_or("unknown").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &str) -> DeployArgs {
        let argv = std::iter::once("xtask").chain(line.split_whitespace());
        match crate::flags::Xtask::try_parse_from(argv).unwrap().command {
            crate::flags::Command::Deploy(args) => args,
            other => panic!("not deploy: {other:?}"),
        }
    }

    #[test]
    fn prod_confirms_before_apply_unless_auto_approved() {
        let prod = steps(&args("deploy --env prod"));
        assert_eq!(
            prod,
            [
                PREFLIGHT, BUILD, UPLOAD, INIT, PLAN, SUMMARY, CONFIRM, APPLY, CHECK_CODE, SMOKE
            ]
        );
        assert!(!steps(&args("deploy --env prod --auto-approve")).contains(&CONFIRM));
        assert!(!steps(&args("deploy --env staging")).contains(&CONFIRM));
    }

    #[test]
    fn an_earlier_release_is_read_not_built_or_uploaded() {
        let id = "a".repeat(64);
        let steps = steps(&args(&format!("deploy --env staging --artifact {id}")));
        assert_eq!(steps[1], STORED);
        assert!(!steps.contains(&BUILD) && !steps.contains(&UPLOAD));
    }

    #[test]
    fn plan_only_stops_after_the_summary_and_code_only_skips_the_plan() {
        let plan_only = steps(&args("deploy --env prod --plan-only"));
        assert_eq!(plan_only.last(), Some(&SUMMARY));
        let code_only = steps(&args("deploy --env prod --code-only --zips target/lambda"));
        assert_eq!(
            code_only,
            [PREFLIGHT, ZIPS, UPLOAD, INIT, OUTPUTS, CONFIRM, SHIP, SMOKE]
        );
    }

    #[test]
    fn contradictory_flags_are_refused() {
        let parse = |line: &str| {
            crate::flags::Xtask::try_parse_from(
                std::iter::once("xtask").chain(line.split_whitespace()),
            )
        };
        assert!(parse("deploy --env prod --code-only --plan-only").is_err());
        assert!(parse("deploy --env prod --artifact x --zips target/lambda").is_err());
    }

    #[test]
    fn healthz_must_answer_200_with_status_ok() {
        assert_eq!(
            check_health(200, r#"{"status":"ok","version":"0.1.0"}"#),
            Ok("0.1.0".to_owned())
        );
        assert!(
            check_health(502, "Bad Gateway")
                .unwrap_err()
                .contains("502")
        );
        assert!(check_health(200, "<html>").is_err());
        assert!(check_health(200, r#"{"status":"starting"}"#).is_err());
    }

    #[test]
    fn a_failed_terraform_command_is_named_by_its_subcommand() {
        let args = ["-chdir=environments/prod".to_owned(), "plan".to_owned()];
        assert_eq!(
            terraform_failed(&args),
            "`terraform plan` failed (its output is above)"
        );
    }
}
