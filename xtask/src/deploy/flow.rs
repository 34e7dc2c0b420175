//! The order of a deploy: the steps a full deploy and a `--code-only` deploy go through, and
//! the list of them `Progress` numbers (see `deploy.rs` for what each step does).

use std::io::IsTerminal;

use super::release::Release;
use super::{Deploy, lambda, plan};
use crate::environment::{self, Env, Outputs};
use crate::flags::DeployArgs;

pub const PREFLIGHT: &str = "preflight";
pub const BUILD: &str = "build and zip";
pub const ZIPS: &str = "read zips";
pub const STORED: &str = "read release";
pub const UPLOAD: &str = "upload";
pub const INIT: &str = "terraform init";
pub const PLAN: &str = "terraform plan";
pub const SUMMARY: &str = "plan summary";
pub const CONFIRM: &str = "confirm";
pub const APPLY: &str = "terraform apply";
pub const GO_LIVE: &str = "go live";
pub const CANARY: &str = "canary";
pub const BAKE: &str = "bake";
pub const PROMOTE: &str = "promote";
/// Not in a deploy's step list: only a failed bake takes it.
pub const ROLL_BACK: &str = "roll back";
pub const OUTPUTS: &str = "terraform output";
pub const SHIP: &str = "ship code";
pub const SMOKE: &str = "smoke";
pub const PUBLISH: &str = "publish plan";
pub const FETCH_PLAN: &str = "fetch plan";

/// The steps this invocation will go through, in order.
pub fn steps(args: &DeployArgs) -> Vec<&'static str> {
    let mut steps = vec![PREFLIGHT];
    match (&args.artifact, &args.zips) {
        (Some(_), _) => steps.push(STORED),
        (None, Some(_)) => steps.push(ZIPS),
        (None, None) => steps.push(BUILD),
    }
    // A plan needs only the zips' keys and hashes: plan-only uploads nothing.
    if args.artifact.is_none() && !args.plan_only {
        steps.push(UPLOAD);
    }
    if args.apply_plan.is_some() {
        steps.push(FETCH_PLAN);
    }
    steps.push(INIT);
    let confirm = args.env == Env::Prod && !args.auto_approve;
    if args.apply_plan.is_some() {
        steps.push(SUMMARY);
        if confirm {
            steps.push(CONFIRM);
        }
        steps.extend([APPLY, GO_LIVE]);
        steps.extend(canary_steps(args));
        steps.push(SMOKE);
    } else if args.code_only {
        steps.push(OUTPUTS);
        if confirm {
            steps.push(CONFIRM);
        }
        steps.extend([SHIP, SMOKE]);
    } else {
        steps.extend([PLAN, SUMMARY]);
        if args.publish_plan {
            steps.push(PUBLISH);
        }
        if !args.plan_only {
            if confirm {
                steps.push(CONFIRM);
            }
            steps.extend([APPLY, GO_LIVE]);
            steps.extend(canary_steps(args));
            steps.push(SMOKE);
        }
    }
    steps
}

fn canary_steps(args: &DeployArgs) -> Vec<&'static str> {
    if args.canary.is_some() {
        vec![CANARY, BAKE, PROMOTE]
    } else {
        Vec::new()
    }
}

impl Deploy<'_> {
    pub(super) fn full(&mut self) -> crate::Result<()> {
        if let Some(sha) = self.args.apply_plan.clone() {
            return self.apply_reviewed(&sha);
        }
        let (release, bucket) = self.prepare()?;

        self.progress.start(PLAN);
        let plan_file = format!("deploy-{}.tfplan", release.short_id());
        self.terraform(&self.plan_args(&release, &bucket, &plan_file)?)?;

        self.progress.start(SUMMARY);
        let summary = self.summarize(&plan_file)?;
        let changes = summary.as_ref().is_none_or(|s| !s.is_empty());
        let saved = format!("{}/{plan_file}", self.env.dir().display());
        if self.args.plan_only {
            let published = if self.args.publish_plan {
                self.progress.start(PUBLISH);
                Some(self.publish_plan(&plan_file, &bucket)?)
            } else {
                None
            };
            if let Some(summary) = &summary {
                self.write_plan_summary(summary, &release, &plan_file, published.as_deref())?;
            }
            if self.dry {
                self.say(format!(
                    "plan only: stops here; nothing is uploaded or applied (the plan is kept in {saved})"
                ));
            } else {
                self.say(format!(
                    "plan only: nothing uploaded or applied; the plan is saved in {saved}{}",
                    match &published {
                        Some(sha) => format!(
                            " and stored as plan {sha} (apply it with `cargo xtask deploy --env {} --artifact {} --apply-plan {sha}`)",
                            self.env, release.id
                        ),
                        None => String::new(),
                    }
                ));
            }
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
            let applied = self.apply_saved(&plan_file);
            self.remove_plan(&plan_file);
            applied?;
        } else {
            self.say("skipped: the plan has no changes");
            self.remove_plan(&plan_file);
        }
        self.after_apply(&release, &bucket)
    }

    /// Prints the summary of a saved plan (`terraform show -json`); None in a dry run.
    pub(super) fn summarize(&self, plan_file: &str) -> crate::Result<Option<plan::Summary>> {
        let show = self.tf_args(&["show", "-json", plan_file]);
        if self.dry {
            self.say(format!("$ terraform {}", show.join(" ")));
            self.say("-> counts what is added, changed and destroyed; lists every destroy");
            return Ok(None);
        }
        let summary = plan::Summary::parse(&self.terraform_read(&show)?)?;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        for line in summary.lines(color) {
            self.say(line);
        }
        Ok(Some(summary))
    }

    /// The steps after an apply: the live-code check and the smoke test.
    pub(super) fn after_apply(&mut self, release: &Release, bucket: &str) -> crate::Result<()> {
        self.progress.start(GO_LIVE);
        let outputs = self.outputs()?;
        self.go_live(release, bucket, &outputs)?;

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

    pub(super) fn code_only(&mut self) -> crate::Result<()> {
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

    /// The steps both kinds of deploy begin with: preflight, the release (in the artifact
    /// bucket, which it returns too), `terraform init`.
    fn prepare(&mut self) -> crate::Result<(Release, String)> {
        let pre = self.preflight()?;
        let bucket = environment::artifact_bucket(&pre.account);
        let release = self.release(&pre, &bucket)?;
        self.init(&pre.account)?;
        Ok((release, bucket))
    }

    /// `terraform init` with the account's state bucket.
    pub(super) fn init(&mut self, account: &str) -> crate::Result<()> {
        self.progress.start(INIT);
        let state_bucket = environment::state_bucket(account);
        self.terraform(&environment::init_args(self.env, &state_bucket))
    }
}

/// The functions and the binaries they run.
pub(super) fn functions(outputs: &Outputs) -> [(&'static str, &str); 2] {
    [
        ("api", outputs.api_function_name.as_str()),
        ("worker", outputs.worker_function_name.as_str()),
    ]
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
                PREFLIGHT, BUILD, UPLOAD, INIT, PLAN, SUMMARY, CONFIRM, APPLY, GO_LIVE, SMOKE
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
    fn plan_only_uploads_nothing_and_a_reviewed_plan_is_fetched_not_made() {
        let plan_only = steps(&args(
            "deploy --env staging --plan-only --zips target/lambda",
        ));
        assert_eq!(plan_only, [PREFLIGHT, ZIPS, INIT, PLAN, SUMMARY]);
        let id = "a".repeat(64);
        let published = steps(&args(&format!(
            "deploy --env prod --artifact {id} --plan-only --publish-plan"
        )));
        assert_eq!(published, [PREFLIGHT, STORED, INIT, PLAN, SUMMARY, PUBLISH]);
        let reviewed = steps(&args(&format!(
            "deploy --env prod --artifact {id} --apply-plan {id}"
        )));
        assert_eq!(
            reviewed,
            [
                PREFLIGHT, STORED, FETCH_PLAN, INIT, SUMMARY, CONFIRM, APPLY, GO_LIVE, SMOKE
            ]
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
        // A reviewed plan is applied for the release it was made with, and is not re-planned.
        assert!(parse("deploy --env prod --apply-plan x").is_err());
        assert!(parse("deploy --env prod --artifact x --apply-plan y --plan-only").is_err());
        assert!(parse("deploy --env prod --artifact x --apply-plan y --code-only").is_err());
        assert!(parse("deploy --env prod --publish-plan").is_err());
    }
}
