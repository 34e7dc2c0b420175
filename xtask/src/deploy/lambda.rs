//! Shipping a release's code to a function without Terraform: `UpdateFunctionCode` from the
//! artifact bucket, wait for the update, `PublishVersion`, move the `live` alias.
//!
//! `--code-only` does this for each function; a full deploy does it only for a function whose
//! `live` alias does not run the release's code after `terraform apply` (see `deploy.rs`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use aws_sdk_lambda::types::LastUpdateStatus;

use super::Deploy;
use super::release::Release;
use crate::aws::AwsContext;

/// The alias API Gateway and the SQS event source mapping invoke (modules/lambda_function).
pub const ALIAS: &str = "live";
/// How long an update may stay `InProgress` (Lambda takes seconds; a large zip, a minute).
const UPDATE_TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--code-only`: ship the release's code unless it is already live.
    CodeOnly,
    /// After `terraform apply`: check the alias runs the release, and ship it if not.
    Check,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shipped {
    /// The alias already ran the release's code.
    AlreadyLive,
    /// `live` moved from version `from` to a new one.
    Moved { from: String },
    /// A dry run: the calls were printed.
    Printed,
}

impl Deploy<'_> {
    pub(super) fn ship(
        &self,
        bin: &str,
        function: &str,
        release: &Release,
        bucket: &str,
        mode: Mode,
    ) -> crate::Result<Shipped> {
        let zip = release.zip(bin)?;
        let source = format!("s3://{bucket}/{}", zip.key);
        self.say(format!("aws lambda:GetAlias {function} {ALIAS}"));
        if self.dry {
            self.say(format!(
                "aws lambda:GetFunctionConfiguration {function}:<live-version>"
            ));
            self.say(match mode {
                Mode::CodeOnly => format!(
                    "unless that version's CodeSha256 is already {}:",
                    zip.filebase64sha256
                ),
                Mode::Check => format!(
                    "only when that version's CodeSha256 is not {} (a code-only deploy left other code live):",
                    zip.filebase64sha256
                ),
            });
            self.say(format!(
                "  aws lambda:UpdateFunctionCode {function} {source}"
            ));
            self.say(format!(
                "  aws lambda:GetFunctionConfiguration {function}  (until LastUpdateStatus is Successful)"
            ));
            self.say(format!(
                "  aws lambda:PublishVersion {function} CodeSha256={}",
                zip.filebase64sha256
            ));
            self.say(format!(
                "  aws lambda:UpdateAlias {function} {ALIAS} -> <new-version>"
            ));
            return Ok(Shipped::Printed);
        }

        let client = &self.aws()?.lambda;
        let alias = self
            .rt
            .block_on(
                client
                    .get_alias()
                    .function_name(function)
                    .name(ALIAS)
                    .send(),
            )
            .aws_context(|| {
                format!("lambda:GetAlias {function} {ALIAS} (a full deploy creates the alias)")
            })?;
        let from = alias
            .function_version()
            .with_context(|| format!("the {ALIAS} alias of {function} names no version"))?
            .to_owned();
        self.say(format!(
            "aws lambda:GetFunctionConfiguration {function}:{from}"
        ));
        let live = self
            .rt
            .block_on(
                client
                    .get_function_configuration()
                    .function_name(function)
                    .qualifier(&from)
                    .send(),
            )
            .aws_context(|| format!("lambda:GetFunctionConfiguration {function}"))?;
        if live.code_sha256() == Some(zip.filebase64sha256.as_str()) {
            self.say(format!(
                "-> {bin}: {ALIAS} (version {from}) runs the release's code"
            ));
            return Ok(Shipped::AlreadyLive);
        }
        let runs_on: Vec<&str> = live.architectures().iter().map(|a| a.as_str()).collect();
        ensure!(
            runs_on.is_empty() || runs_on.contains(&release.manifest.arch.as_str()),
            "{function} runs on {}, and release {} is built for {}: change the architecture \
             with a full deploy",
            runs_on.join(","),
            release.short_id(),
            release.manifest.arch
        );
        if mode == Mode::Check {
            self.say(format!(
                "-> {bin}: {ALIAS} runs other code (a code-only deploy since Terraform shipped \
                 this release): shipping the release's code"
            ));
        }

        self.say(format!("aws lambda:UpdateFunctionCode {function} {source}"));
        self.rt
            .block_on(
                client
                    .update_function_code()
                    .function_name(function)
                    .s3_bucket(bucket)
                    .s3_key(&zip.key)
                    .send(),
            )
            .aws_context(|| format!("lambda:UpdateFunctionCode {function}"))?;
        let revision = self.wait_for_update(client, function)?;

        self.say(format!(
            "aws lambda:PublishVersion {function} CodeSha256={}",
            zip.filebase64sha256
        ));
        let published = self
            .rt
            .block_on(
                client
                    .publish_version()
                    .function_name(function)
                    .code_sha256(&zip.filebase64sha256)
                    .set_revision_id(revision)
                    .description(format!("release {}", release.id))
                    .send(),
            )
            .aws_context(|| format!("lambda:PublishVersion {function}"))?;
        let to = published
            .version()
            .with_context(|| format!("lambda:PublishVersion {function} returned no version"))?
            .to_owned();

        self.say(format!("aws lambda:UpdateAlias {function} {ALIAS} -> {to}"));
        self.rt
            .block_on(
                client
                    .update_alias()
                    .function_name(function)
                    .name(ALIAS)
                    .function_version(&to)
                    .send(),
            )
            .aws_context(|| format!("lambda:UpdateAlias {function} {ALIAS}"))?;
        self.say(format!("-> {bin}: {function} {ALIAS} {from} -> {to}"));
        Ok(Shipped::Moved { from })
    }

    /// Polls until the function's last update finished; returns its revision ID (which
    /// `PublishVersion` checks, so a concurrent update is not published by mistake).
    fn wait_for_update(
        &self,
        client: &aws_sdk_lambda::Client,
        function: &str,
    ) -> crate::Result<Option<String>> {
        self.say(format!(
            "aws lambda:GetFunctionConfiguration {function}  (until LastUpdateStatus is Successful)"
        ));
        let started = Instant::now();
        loop {
            let config = self
                .rt
                .block_on(
                    client
                        .get_function_configuration()
                        .function_name(function)
                        .send(),
                )
                .aws_context(|| format!("lambda:GetFunctionConfiguration {function}"))?;
            match config.last_update_status() {
                None | Some(LastUpdateStatus::Successful) => {
                    return Ok(config.revision_id().map(str::to_owned));
                }
                Some(LastUpdateStatus::Failed) => bail!(
                    "the code update of {function} failed: {}",
                    config
                        .last_update_status_reason()
                        .unwrap_or("Lambda gave no reason")
                ),
                Some(status) if started.elapsed() > UPDATE_TIMEOUT => bail!(
                    "the code update of {function} is still {} after {} s",
                    status.as_str(),
                    UPDATE_TIMEOUT.as_secs()
                ),
                Some(_) => std::thread::sleep(POLL),
            }
        }
    }
}
