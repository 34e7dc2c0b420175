//! Reviewed plans: prod applies exactly the plan someone read.
//!
//! `--plan-only --publish-plan` stores the saved plan in the artifact bucket under its content
//! address, `plans/<env>/<sha256>.tfplan`, and writes its summary as Markdown next to it and
//! to the GitHub job summary. The plan is not a GitHub artifact: it holds the state, secrets
//! included. `--apply-plan <sha256> --artifact <release>` fetches it, checks its SHA-256 and
//! that it deploys that release, shows its summary again, and applies it; Terraform refuses a
//! plan made before the state last changed, and nothing is applied.

use anyhow::{Context, anyhow, bail, ensure};

use super::Deploy;
use super::flow::{APPLY, CONFIRM, FETCH_PLAN, SUMMARY};
use super::release::Release;
use super::{plan, terraform};
use crate::aws;
use crate::environment::{self, Env};
use crate::zip::sha256_hex;

/// Whether `sha` can name a stored plan: 64 lowercase hex digits.
pub fn check_sha256(sha: &str) -> crate::Result<()> {
    ensure!(
        sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "--apply-plan `{sha}` is not a plan's SHA-256 (64 lowercase hex digits, as printed by \
         `--publish-plan`)"
    );
    Ok(())
}

/// A stored plan's key in the artifact bucket.
pub fn plan_key(env: Env, sha: &str) -> String {
    format!("plans/{env}/{sha}.tfplan")
}

impl Deploy<'_> {
    /// Stores the saved plan under its SHA-256; returns that SHA-256.
    pub(super) fn publish_plan(&self, plan_file: &str, bucket: &str) -> crate::Result<String> {
        if self.dry {
            let target = format!("s3://{bucket}/{}", plan_key(self.env, "<plan-sha256>"));
            self.say(format!("aws s3:PutObject {target}  (If-None-Match: *)"));
            self.say("-> prints the plan's SHA-256 (the step output `plan` on GitHub Actions)");
            return Ok("<plan-sha256>".to_owned());
        }
        let path = crate::project_root().join(self.env.dir()).join(plan_file);
        let data =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let sha = sha256_hex(&data);
        let key = plan_key(self.env, &sha);
        let target = format!("s3://{bucket}/{key}");
        self.say(format!("aws s3:PutObject {target}  (If-None-Match: *)"));
        let put = self.rt.block_on(
            self.aws()?
                .s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .content_type("application/octet-stream")
                .if_none_match("*")
                .body(data.into())
                .send(),
        );
        match put {
            Ok(_) => {}
            // The same bytes, stored before: a plan is named by its content.
            Err(e) if aws::is_precondition_failed(&e) => self.say("-> stored before"),
            Err(e) => return Err(aws::failed(format!("s3:PutObject {target}"), &e)),
        }
        self.say(format!("-> plan {sha}"));
        self.step_output("plan", &sha);
        Ok(sha)
    }

    /// The plan's summary as Markdown: next to the plan (`deploy-<release>.summary.md`) and,
    /// on GitHub Actions, on the job's summary page, where a prod approver reads it.
    pub(super) fn write_plan_summary(
        &self,
        summary: &plan::Summary,
        release: &Release,
        plan_file: &str,
        published: Option<&str>,
    ) -> crate::Result<()> {
        let mut notes = vec![format!(
            "Release `{}` (commit `{}`{}).",
            release.id,
            release.manifest.git_commit,
            if release.manifest.git_dirty {
                ", with uncommitted changes"
            } else {
                ""
            }
        )];
        if let Some(sha) = published {
            notes.push(format!(
                "Saved plan `{sha}`: the approved job applies exactly this plan, or nothing if \
                 the state changed since."
            ));
        }
        let markdown = summary.markdown(&format!("Plan for {}", self.env), &notes);
        let path = crate::project_root()
            .join(self.env.dir())
            .join(plan_file.replace(".tfplan", ".summary.md"));
        std::fs::write(&path, &markdown)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.say(format!("-> summary in {}", path.display()));
        self.step_summary(&markdown);
        Ok(())
    }

    /// `--apply-plan`: the release, the stored plan, `terraform init`, the plan's summary,
    /// prod's confirmation (unless --auto-approve), the apply, the live-code check and smoke.
    pub(super) fn apply_reviewed(&mut self, sha: &str) -> crate::Result<()> {
        let pre = self.preflight()?;
        let bucket = environment::artifact_bucket(&pre.account);
        let release = self.release(&pre, &bucket)?;

        self.progress.start(FETCH_PLAN);
        let plan_file = self.fetch_plan(sha, &bucket)?;
        let outcome = self.apply_fetched(sha, &plan_file, &release, &bucket, &pre.account);
        self.remove_plan(&plan_file);
        outcome?;
        self.after_apply(&release, &bucket)
    }

    fn apply_fetched(
        &mut self,
        sha: &str,
        plan_file: &str,
        release: &Release,
        bucket: &str,
        account: &str,
    ) -> crate::Result<()> {
        self.init(account)?;

        self.progress.start(SUMMARY);
        if self.dry {
            self.summarize(plan_file)?;
            self.say(format!(
                "-> refuses a plan that does not deploy release {}",
                release.id
            ));
        } else {
            let show = self.tf_args(&["show", "-json", plan_file]);
            let json = self.terraform_read(&show)?;
            let planned = plan::release_variable(&json)?;
            let expected: std::collections::BTreeMap<String, String> =
                terraform::release_fields(release, bucket)?
                    .into_iter()
                    .collect();
            ensure!(
                planned == expected,
                "plan {sha} does not deploy release {} (it was made with {planned:?}): nothing \
                 was applied",
                release.id
            );
            for line in plan::Summary::parse(&json)?.lines(false) {
                self.say(line);
            }
        }

        if self.must_confirm() {
            self.progress.start(CONFIRM);
            self.confirm()?;
        }

        self.progress.start(APPLY);
        self.apply_saved(plan_file)
    }

    /// Fetches `plans/<env>/<sha>.tfplan` into the environment's root and checks its SHA-256;
    /// returns the file's name there.
    fn fetch_plan(&self, sha: &str, bucket: &str) -> crate::Result<String> {
        let key = plan_key(self.env, sha);
        let target = format!("s3://{bucket}/{key}");
        let plan_file = format!("reviewed-{}.tfplan", &sha[..12]);
        self.say(format!("aws s3:GetObject {target}"));
        if self.dry {
            self.say(format!(
                "-> checks its SHA-256 is {sha}; saves it as {}/{plan_file}",
                self.env.dir().display()
            ));
            return Ok(plan_file);
        }
        let object = self
            .rt
            .block_on(self.aws()?.s3.get_object().bucket(bucket).key(&key).send())
            .map_err(|e| {
                if e.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    anyhow!(
                        "no plan {sha} for {}: {target} does not exist (`--plan-only \
                         --publish-plan` prints the SHA-256 of the plan it stores)",
                        self.env
                    )
                } else {
                    aws::failed(format!("s3:GetObject {target}"), &e)
                }
            })?;
        let data = self
            .rt
            .block_on(object.body.collect())
            .with_context(|| format!("reading {target} failed"))?
            .into_bytes()
            .to_vec();
        let actual = sha256_hex(&data);
        if actual != sha {
            bail!(
                "{target} is not the reviewed plan: its SHA-256 is {actual}, not {sha}; nothing was \
                 applied"
            );
        }
        let path = crate::project_root().join(self.env.dir()).join(&plan_file);
        std::fs::write(&path, &data).with_context(|| format!("cannot write {}", path.display()))?;
        self.say(format!(
            "-> plan {sha}: {} bytes, SHA-256 checked",
            data.len()
        ));
        Ok(plan_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_named_by_its_sha256_under_its_environment() {
        let sha = "ab".repeat(32);
        assert_eq!(
            plan_key(Env::Prod, &sha),
            format!("plans/prod/{sha}.tfplan")
        );
        assert!(check_sha256(&sha).is_ok());
        for not_one in ["ab", &"AB".repeat(32), &format!("{}g", "a".repeat(63))] {
            assert!(check_sha256(not_one).is_err(), "{not_one}");
        }
    }
}
