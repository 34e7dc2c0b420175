//! AWS access for the operations commands: one runtime, one `SdkConfig`, the caller's account.
//!
//! Credentials and region resolve as the AWS CLI resolves them (environment, profile, SSO,
//! credential process, web identity on GitHub Actions); `AWS_ENDPOINT_URL` points every client
//! at an emulator, as the integration tests do.

use aws_config::SdkConfig;

/// The xtask is synchronous (xshell); AWS calls run on a small runtime built per command.
pub fn runtime() -> crate::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The account the credentials belong to (`sts:GetCallerIdentity`), which also proves they
/// resolve: the preflight of every command that touches an environment.
pub async fn account_id(sdk: &SdkConfig) -> crate::Result<String> {
    let identity = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            format!(
                "AWS credentials do not resolve ({}); set AWS_PROFILE or run `aws sso login`",
                aws_sdk_sts::error::DisplayErrorContext(&e)
            )
        })?;
    identity
        .account
        .ok_or_else(|| "sts:GetCallerIdentity returned no account".into())
}

/// An S3 client; path-style addressing when an endpoint is configured (`AWS_ENDPOINT_URL`),
/// since an emulator on 127.0.0.1 has no per-bucket host names.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// One line for a failed AWS call: the operation and the service's own message.
pub fn error<E>(what: &str, error: E) -> String
where
    E: std::error::Error,
{
    format!(
        "{what} failed: {}",
        aws_sdk_sts::error::DisplayErrorContext(&error)
    )
}
