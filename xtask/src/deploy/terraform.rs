//! Terraform as a deploy runs it (steps 4, 5, 8 and `terraform output`): in the environment's
//! root, each command printed first, its output on the terminal, a failure named by its
//! subcommand.

use anyhow::Context;
use xshell::cmd;

use super::Deploy;
use super::release::Release;
use crate::environment::{self, Outputs};

impl Deploy<'_> {
    /// `-chdir=environments/<env>` and `args`.
    pub(super) fn tf_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![environment::chdir(self.env)];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    }

    /// Prints and runs a Terraform command, its output going to the terminal.
    pub(super) fn terraform(&self, args: &[String]) -> crate::Result<()> {
        self.say(format!("$ terraform {}", args.join(" ")));
        if self.dry {
            return Ok(());
        }
        let program = environment::terraform_program();
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .run()
            .ok()
            .with_context(|| terraform_failed(args))
    }

    /// Prints and runs a Terraform command, returning its output.
    pub(super) fn terraform_read(&self, args: &[String]) -> crate::Result<String> {
        self.say(format!("$ terraform {}", args.join(" ")));
        let program = environment::terraform_program();
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .read()
            .ok()
            .with_context(|| terraform_failed(args))
    }

    /// `terraform plan -out` with the release's keys, hashes and architecture.
    pub(super) fn plan_args(
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

    /// Removes a plan that was applied or turned down (a plan applies once at most).
    pub(super) fn remove_plan(&self, plan_file: &str) {
        if self.dry {
            return;
        }
        let path = crate::project_root().join(self.env.dir()).join(plan_file);
        let _ = std::fs::remove_file(path);
    }

    /// The environment's outputs; placeholders in a dry run.
    pub(super) fn outputs(&self) -> crate::Result<Outputs> {
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
}

fn terraform_failed(args: &[String]) -> String {
    let subcommand = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map_or("", String::as_str);
    format!("`terraform {subcommand}` failed (its output is above)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_terraform_command_is_named_by_its_subcommand() {
        let args = ["-chdir=environments/prod".to_owned(), "plan".to_owned()];
        assert_eq!(
            terraform_failed(&args),
            "`terraform plan` failed (its output is above)"
        );
    }
}
