//! A function's versions and its `live` alias: the version a release runs as (the one
//! `terraform apply` published, or the release's code shipped without Terraform:
//! `UpdateFunctionCode` from the artifact bucket, wait for the update, `PublishVersion`), and
//! moving `live` to it, at once or with a share of the traffic (`traffic.rs`).

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

/// A function's versions for a release: `from`, the one `live` runs, and `to`, the published
/// version with the release's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    pub function: String,
    pub from: String,
    pub to: String,
}

impl Deploy<'_> {
    /// `--code-only`: the release's code published as a version, and `live` moved to it.
    pub(super) fn ship(
        &self,
        bin: &str,
        function: &str,
        release: &Release,
        bucket: &str,
        mode: Mode,
    ) -> crate::Result<Shipped> {
        match self.version_to_ship(bin, function, release, bucket, mode)? {
            None => Ok(Shipped::AlreadyLive),
            Some(versions) => {
                self.point_live(&versions.function, &versions.to, None)?;
                if self.dry {
                    return Ok(Shipped::Printed);
                }
                self.say(format!(
                    "-> {bin}: {function} {ALIAS} {} -> {}",
                    versions.from, versions.to
                ));
                Ok(Shipped::Moved {
                    from: versions.from,
                })
            }
        }
    }

    /// The version `live` should run for the release, without moving it: None when it runs
    /// the release's code already. After `terraform apply` (`Mode::Check`) that is the version
    /// the apply just published, when it has the release's code; otherwise (a code-only deploy,
    /// or an apply that changed nothing) the release's code is shipped: `UpdateFunctionCode`
    /// from the artifact bucket, then `PublishVersion`.
    pub(super) fn version_to_ship(
        &self,
        bin: &str,
        function: &str,
        release: &Release,
        bucket: &str,
        mode: Mode,
    ) -> crate::Result<Option<Versions>> {
        let zip = release.zip(bin)?;
        let source = format!("s3://{bucket}/{}", zip.key);
        self.say(format!("aws lambda:GetAlias {function} {ALIAS}"));
        if self.dry {
            self.say(format!(
                "aws lambda:GetFunctionConfiguration {function}:<live-version>"
            ));
            self.say(format!(
                "unless that version's CodeSha256 is already {}:",
                zip.filebase64sha256
            ));
            if mode == Mode::Check {
                self.say(format!(
                    "  aws lambda:ListVersionsByFunction {function}  (the version terraform apply published, if it has that code; else:)"
                ));
            }
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
            return Ok(Some(Versions {
                function: function.to_owned(),
                from: "<live-version>".to_owned(),
                to: "<new-version>".to_owned(),
            }));
        }

        let client = &self.aws()?.lambda;
        let (from, canary) = self.live_alias(client, function)?;
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
        if live.code_sha256() == Some(zip.filebase64sha256.as_str()) && !canary {
            self.say(format!(
                "-> {bin}: {ALIAS} (version {from}) runs the release's code"
            ));
            return Ok(None);
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
            self.say(format!("aws lambda:ListVersionsByFunction {function}"));
            if let Some((version, code)) = self.newest_version(client, function)?
                && code == zip.filebase64sha256
                && version != from
            {
                self.say(format!(
                    "-> {bin}: version {version}, which terraform apply published, has the release's code"
                ));
                return Ok(Some(Versions {
                    function: function.to_owned(),
                    from,
                    to: version,
                }));
            }
            self.say(format!(
                "-> {bin}: no published version has the release's code (a code-only deploy \
                 since Terraform shipped this release): shipping it"
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
        Ok(Some(Versions {
            function: function.to_owned(),
            from,
            to,
        }))
    }

    /// The version `live` runs (during a canary, its stable one) and whether a canary's
    /// weights are on it.
    pub(super) fn live_alias(
        &self,
        client: &aws_sdk_lambda::Client,
        function: &str,
    ) -> crate::Result<(String, bool)> {
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
        let version = alias
            .function_version()
            .with_context(|| format!("the {ALIAS} alias of {function} names no version"))?
            .to_owned();
        let canary = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .is_some_and(|weights| !weights.is_empty());
        Ok((version, canary))
    }

    /// Points `live` at `to`, with no other version weighted; or, for a canary
    /// `Some((from, percent))`, keeps `from` as its version and sends `percent` % to `to`.
    pub(super) fn point_live(
        &self,
        function: &str,
        to: &str,
        canary: Option<(&str, u8)>,
    ) -> crate::Result<()> {
        let (version, routing) = match canary {
            None => {
                self.say(format!("aws lambda:UpdateAlias {function} {ALIAS} -> {to}"));
                (to, std::collections::HashMap::new())
            }
            Some((from, percent)) => {
                self.say(format!(
                    "aws lambda:UpdateAlias {function} {ALIAS} -> {from}, {percent} % to {to}"
                ));
                let weight = f64::from(percent) / 100.0;
                (
                    from,
                    std::collections::HashMap::from([(to.to_owned(), weight)]),
                )
            }
        };
        if self.dry {
            return Ok(());
        }
        let routing = aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(routing))
            .build();
        self.rt
            .block_on(
                self.aws()?
                    .lambda
                    .update_alias()
                    .function_name(function)
                    .name(ALIAS)
                    .function_version(version)
                    .routing_config(routing)
                    .send(),
            )
            .aws_context(|| format!("lambda:UpdateAlias {function} {ALIAS}"))?;
        Ok(())
    }

    /// The newest published version of `function` and its CodeSha256.
    pub(super) fn newest_version(
        &self,
        client: &aws_sdk_lambda::Client,
        function: &str,
    ) -> crate::Result<Option<(String, String)>> {
        Ok(self
            .published_versions(client, function)?
            .into_iter()
            .max_by_key(|(number, _)| *number)
            .map(|(number, code)| (number.to_string(), code)))
    }

    /// Every published version of `function` (not `$LATEST`) with its CodeSha256.
    pub(super) fn published_versions(
        &self,
        client: &aws_sdk_lambda::Client,
        function: &str,
    ) -> crate::Result<Vec<(u64, String)>> {
        let mut versions = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .rt
                .block_on(
                    client
                        .list_versions_by_function()
                        .function_name(function)
                        .set_marker(marker)
                        .send(),
                )
                .aws_context(|| format!("lambda:ListVersionsByFunction {function}"))?;
            for version in page.versions() {
                if let (Some(number), Some(code)) = (
                    version.version().and_then(|v| v.parse::<u64>().ok()),
                    version.code_sha256(),
                ) {
                    versions.push((number, code.to_owned()));
                }
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(versions);
            }
        }
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
