//! Step 1, preflight: `terraform` runs, the git commit the release records (prod: the tree
//! must be clean), and the AWS account the credentials belong to.

use anyhow::{Context, bail};
use xshell::cmd;

use super::Deploy;
use super::checks::{self, Concurrency, Finding, Observed, Secret, Zone};
use super::flow::PREFLIGHT;
use super::release::Git;
use crate::aws::{self, AwsContext};
use crate::environment::{self, Env, Settings};

/// What the preflight learnt.
pub struct Preflight {
    pub account: String,
    pub git: Git,
}

impl Deploy<'_> {
    pub(super) fn preflight(&mut self) -> crate::Result<Preflight> {
        self.progress.start(PREFLIGHT);
        self.say("$ terraform version");
        if !self.dry {
            let program = environment::terraform_program();
            let version = cmd!(self.sh, "{program} version")
                .quiet()
                .ignore_stderr()
                .read()
                .ok()
                .with_context(|| {
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
        self.environment_checks(&account)?;
        Ok(Preflight { account, git })
    }

    /// The account the credentials belong to, as its own step: the only check of the commands
    /// that skip a deploy's preflight (rollback, destroy).
    pub(super) fn account(&mut self) -> crate::Result<String> {
        self.progress.start(super::ACCOUNT);
        self.say("aws sts:GetCallerIdentity");
        if self.dry {
            return Ok("<account-id>".to_owned());
        }
        let account = self.rt.block_on(aws::account_id(&self.aws()?.sdk))?;
        self.say(format!("-> account {account}"));
        Ok(account)
    }

    /// The environment's settings against its account (`checks.rs`): every finding printed,
    /// then every refusal in the error, one line each.
    fn environment_checks(&self, account: &str) -> crate::Result<()> {
        let settings = Settings::read(self.env)?;
        let functions = checks::function_names(self.env);
        let secret = checks::gemini_secret_name(self.env);
        self.say(format!(
            "-> settings: region {}, account {}, reserves {} (api {}, worker {}), domain {}, alert subscribers {}",
            settings.aws_region,
            settings.aws_account_id.as_deref().unwrap_or("any"),
            settings.reserved_concurrency(),
            show(settings.api_reserved_concurrency),
            show(settings.worker_reserved_concurrency),
            if settings.domain_enabled {
                settings.domain_name.as_deref().unwrap_or("(none)")
            } else {
                "off"
            },
            settings.alert_emails.len()
        ));
        // Nothing reserved, nothing to fit in the account's quota.
        let reserves = settings.reserved_concurrency() > 0;
        if reserves {
            self.say("aws lambda:GetAccountSettings");
            for function in &functions {
                self.say(format!("aws lambda:GetFunctionConcurrency {function}"));
            }
        }
        self.say(format!("aws secretsmanager:DescribeSecret {secret}"));
        let zone_id = settings
            .hosted_zone_id
            .clone()
            .filter(|_| settings.domain_enabled);
        if let Some(zone) = &zone_id {
            self.say(format!("aws route53:GetHostedZone {zone}"));
        }
        if self.dry {
            self.say(
                "-> refuses: another region or account than the settings'; more reserved \
                 concurrency than the account can reserve; a missing or forbidden hosted zone; \
                 placeholders; on prod also a Gemini key without a value and no alert subscriber \
                 (staging warns)",
            );
            // What the settings alone decide, with the account answering as they expect.
            let assumed = Observed {
                region: Some(settings.aws_region.clone()),
                account: settings
                    .aws_account_id
                    .clone()
                    .unwrap_or_else(|| account.to_owned()),
                concurrency: Concurrency {
                    limit: u32::MAX,
                    unreserved: u32::MAX,
                    reserved_by_environment: 0,
                },
                secret: Secret::Current,
                zone: settings.domain_name.clone().map(Zone::Found),
            };
            for finding in checks::findings(self.env, &settings, &assumed) {
                match finding {
                    Finding::Refuse(line) => {
                        self.say(format!(
                            "-> a real run would refuse, from the settings alone: {line}"
                        ));
                    }
                    Finding::Warn(line) => self.say(format!("-> a real run would warn: {line}")),
                    Finding::Ok(_) => {}
                }
            }
            return Ok(());
        }
        let sdk = &self.aws()?.sdk;
        let observed = Observed {
            region: sdk.region().map(|r| r.to_string()),
            account: account.to_owned(),
            concurrency: if reserves {
                self.rt.block_on(self.concurrency(&functions))?
            } else {
                Concurrency::default()
            },
            secret: self.rt.block_on(gemini_secret(sdk, &secret))?,
            zone: match &zone_id {
                Some(id) => Some(self.rt.block_on(hosted_zone(sdk, id))?),
                None => None,
            },
        };
        let findings = checks::findings(self.env, &settings, &observed);
        for finding in &findings {
            self.say(finding);
        }
        let refused: Vec<String> = findings
            .into_iter()
            .filter_map(|f| match f {
                Finding::Refuse(line) => Some(line),
                _ => None,
            })
            .collect();
        if !refused.is_empty() {
            bail!(
                "the preflight refused this deploy; nothing was changed:\n  {}",
                refused.join("\n  ")
            );
        }
        Ok(())
    }

    async fn concurrency(&self, functions: &[String]) -> crate::Result<Concurrency> {
        let lambda = &self.aws()?.lambda;
        let settings = lambda
            .get_account_settings()
            .send()
            .await
            .aws_context(|| "lambda:GetAccountSettings")?;
        let limit = settings.account_limit();
        let count = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let mut reserved_by_environment = 0;
        for function in functions {
            match lambda
                .get_function_concurrency()
                .function_name(function)
                .send()
                .await
            {
                Ok(out) => reserved_by_environment += count(out.reserved_concurrent_executions()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) => {}
                Err(e) => {
                    return Err(aws::failed(
                        format!("lambda:GetFunctionConcurrency {function}"),
                        &e,
                    ));
                }
            }
        }
        Ok(Concurrency {
            limit: count(limit.map(|l| l.concurrent_executions())),
            unreserved: count(limit.and_then(|l| l.unreserved_concurrent_executions())),
            reserved_by_environment,
        })
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
                bail!("prod deploys only from a clean git checkout, and `git status` fails here")
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
            bail!(
                "prod deploys only from a clean tree; commit or stash first: {}{more}",
                changed
                    .iter()
                    .take(3)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
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
}

fn show(reserved: Option<u32>) -> String {
    reserved.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

/// Whether the Gemini key's secret exists and has a current value; never reads the value.
async fn gemini_secret(sdk: &aws_config::SdkConfig, name: &str) -> crate::Result<Secret> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    match client.describe_secret().secret_id(name).send().await {
        Ok(secret) => {
            let current = secret.version_ids_to_stages().is_some_and(|versions| {
                versions
                    .values()
                    .any(|stages| stages.iter().any(|s| s == "AWSCURRENT"))
            });
            Ok(if current {
                Secret::Current
            } else {
                Secret::NoValue
            })
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(Secret::Missing)
        }
        Err(e) => Err(aws::failed(
            format!("secretsmanager:DescribeSecret {name}"),
            &e,
        )),
    }
}

/// The hosted zone's name, or why it cannot be used: it does not exist, or the caller may not
/// read it (the deploy roles may read exactly the zones they may change).
async fn hosted_zone(sdk: &aws_config::SdkConfig, id: &str) -> crate::Result<Zone> {
    let client = aws_sdk_route53::Client::new(sdk);
    match client.get_hosted_zone().id(id).send().await {
        Ok(out) => Ok(Zone::Found(
            out.hosted_zone()
                .map(|z| z.name().to_owned())
                .unwrap_or_default(),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_no_such_hosted_zone()) =>
        {
            Ok(Zone::Missing)
        }
        Err(e)
            if e.as_service_error()
                .and_then(|e| aws_sdk_route53::error::ProvideErrorMetadata::code(e))
                == Some("AccessDenied") =>
        {
            Ok(Zone::Denied)
        }
        Err(e) => Err(aws::failed(format!("route53:GetHostedZone {id}"), &e)),
    }
}
