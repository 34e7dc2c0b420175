//! The Gemini key from AWS Secrets Manager, read by ARN. Wrap it in `CachedSecret`: the value
//! is fetched once per TTL and again after Gemini rejects it.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use super::{SecretSource, SecretString, SecretsError};

#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn fetch(&self) -> Result<SecretString, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            // The SDK's error names the secret and the failure, never the value.
            .map_err(|e| {
                SecretsError::unavailable(
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                )
            })?;
        let value = out.secret_string().map(str::trim).unwrap_or_default();
        if value.is_empty() {
            return Err(SecretsError::Empty);
        }
        Ok(SecretString::from(value))
    }
}
