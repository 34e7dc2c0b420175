//! The API gateway port: the gateway half of an API key. Behind API Gateway a request reaches
//! the service only with a key the gateway knows, so every service key also lives there as a
//! gateway API key (its value the whole `igk_<key_id>_<secret>`) on a usage plan.
//! `usecases::keys` keeps the two in step; a deployment without a gateway (the dev server)
//! has none.
//!
//! Adapters: `api_gateway` (AWS API Gateway) and `memory` (tests).

#[cfg(feature = "aws")]
pub mod api_gateway;
pub mod memory;

use crate::secrets::ExposeSecret;
use async_trait::async_trait;

use crate::domain::keys::{ApiKey, parse_presented};
use crate::secrets::SecretString;

#[derive(Debug, thiserror::Error)]
#[error("API Gateway: {0}")]
pub struct GatewayError(pub String);

/// A usage plan of this deployment: its short name (the `usage_plans` key in tfvars) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsagePlan {
    pub name: String,
    pub id: String,
}

/// One gateway key carrying a service key of this deployment.
#[derive(Debug, Clone)]
pub struct GatewayKey {
    /// The gateway's id of the key (not the service key id).
    pub id: String,
    pub key_id: String,
    /// The whole service key; `SecretString` keeps it out of `Debug` and logs.
    pub value: SecretString,
    pub enabled: bool,
    /// The ids of this deployment's usage plans it is attached to.
    pub plans: Vec<String>,
}

impl GatewayKey {
    /// The secret part of the value (what the store keeps a digest of).
    pub fn secret(&self) -> &str {
        parse_presented(self.value.expose_secret()).map_or("", |(_, secret)| secret)
    }
}

#[async_trait]
pub trait KeyGateway: Send + Sync {
    /// The usage plans keys may be registered on.
    async fn plans(&self) -> Result<Vec<UsagePlan>, GatewayError>;
    /// Every gateway key of this deployment's service keys, with the plans (of `plans`) each
    /// is attached to.
    async fn keys(&self, plans: &[UsagePlan]) -> Result<Vec<GatewayKey>, GatewayError>;
    /// Creates a gateway key holding `plaintext` and attaches it to `plan`; returns its id.
    /// Leaves nothing behind when it fails, or says what it left.
    async fn register(
        &self,
        plan: &UsagePlan,
        key: &ApiKey,
        plaintext: &str,
    ) -> Result<String, GatewayError>;
    /// Deletes a gateway key (which detaches it from its plans); one already gone is fine.
    async fn delete(&self, id: &str) -> Result<(), GatewayError>;
    /// What the gateway calls the keys of service key `key_id` (for messages).
    fn key_name(&self, key_id: &str) -> String;
}
