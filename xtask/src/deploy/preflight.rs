//! Step 1, preflight: `terraform` runs, the git commit the release records (prod: the tree
//! must be clean), and the AWS account the credentials belong to.

use anyhow::{Context, bail};
use xshell::cmd;

use super::Deploy;
use super::flow::PREFLIGHT;
use super::release::Git;
use crate::aws;
use crate::environment::{self, Env};

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
