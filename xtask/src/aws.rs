//! AWS access for the operations commands: one runtime, one `SdkConfig`, the caller's account.
//!
//! Credentials and region resolve as the AWS CLI resolves them (environment, profile, SSO,
//! credential process, web identity on GitHub Actions); `AWS_ENDPOINT_URL` points every client
//! at an emulator, as the integration tests do.

use std::fmt::Display;

use anyhow::{Context, anyhow};
use aws_config::SdkConfig;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

/// The xtask is synchronous (xshell); AWS calls run on a small runtime built per command.
pub fn runtime() -> crate::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The SDK clients are built without a default HTTP client (it would link aws-lc): this is the
/// service's own rustls-on-ring client.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(imagegen::aws::http_client())
        .load()
        .await
}

/// The account the credentials belong to (`sts:GetCallerIdentity`), which also proves they
/// resolve: the preflight of every command that touches an environment.
pub async fn account_id(sdk: &SdkConfig) -> crate::Result<String> {
    let identity = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "AWS credentials do not resolve ({}); set AWS_PROFILE or run `aws sso login`",
                describe(&e)
            )
        })?;
    identity
        .account
        .context("sts:GetCallerIdentity returned no account")
}

/// Whether a call failed because its precondition did not hold (HTTP 412), as a conditional
/// write (`If-None-Match: *`) does when the object exists already.
pub fn is_precondition_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "PreconditionFailed")
}

/// An S3 client; path-style addressing when an endpoint is configured (`AWS_ENDPOINT_URL`),
/// since an emulator on 127.0.0.1 has no per-bucket host names.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The context helper for AWS calls: a failed call reads `<what> failed: <code>: <message>`
/// ([`describe`]), not the SDK's nested `service error` chain.
pub trait AwsContext<T> {
    fn aws_context<W: Display>(self, what: impl FnOnce() -> W) -> crate::Result<T>;
}

impl<T, E, R> AwsContext<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn aws_context<W: Display>(self, what: impl FnOnce() -> W) -> crate::Result<T> {
        self.map_err(|e| failed(what(), &e))
    }
}

/// A failed AWS call as [`AwsContext`] words it, for callers that first look at the error.
pub fn failed<E, R>(what: impl Display, e: &SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    anyhow::Error::msg(describe(e)).context(format!("{what} failed"))
}

/// An AWS error in one line: the service's, which its API Gateway adapter uses too.
pub use imagegen::aws_error::describe;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_clients_get_an_http_client() {
        // The SDK crates are built without their default client: a config without one fails
        // every call at run time ("no HTTP client"), which no emulator test would show if the
        // harness configured its own.
        let sdk = runtime().unwrap().block_on(sdk_config());
        assert!(sdk.http_client().is_some());
    }

    #[test]
    fn a_failed_call_reads_what_was_called_then_the_services_code_and_message() {
        use aws_sdk_sts::error::ErrorMetadata;
        use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
        let refused = GetCallerIdentityError::generic(
            ErrorMetadata::builder()
                .code("ExpiredToken")
                .message("the token is expired")
                .build(),
        );
        let e = Err::<(), _>(SdkError::service_error(refused, ()))
            .aws_context(|| "sts:GetCallerIdentity")
            .unwrap_err();
        assert_eq!(
            crate::one_line(&e),
            "sts:GetCallerIdentity failed: ExpiredToken: the token is expired"
        );
    }
}
