//! Webhook sending port: one signed POST to a receiver. Adapter: `http` (reqwest, with the
//! destination guard). The use case (`usecases::webhooks`) signs, records and retries.

pub mod http;

use std::time::Duration;

use async_trait::async_trait;

/// One POST to a receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: url::Url,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` and `content-type`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination may not be called: retrying cannot help.
    #[error("the destination is not allowed: {0}")]
    NotAllowed(String),
    #[error("no complete answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("could not reach the receiver: {0}")]
    Unreachable(String),
}

#[async_trait]
pub trait WebhookClient: Send + Sync {
    /// Sends the request and returns the receiver's HTTP status (redirects are not followed:
    /// a 3xx is the answer).
    async fn post(&self, request: WebhookRequest) -> Result<u16, SendError>;
}
