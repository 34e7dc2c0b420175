//! Job queue port. Adapters: `local` (an in-process channel with SQS-like redelivery, for the
//! dev server) and SQS (deployed).

pub mod local;
pub mod recorded;
#[cfg(feature = "aws")]
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::ids::JobId;
use crate::domain::webhooks::WebhookEvent;

/// What the API enqueues for one job: only its id; the job record holds the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub job_id: JobId,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, message: &JobMessage) -> Result<(), QueueError>;
}

/// One delivery of a job's end event to its webhook: which attempt it is, and not before when
/// (SQS delays a message by 15 minutes at most: a longer wait is sent on again until then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookMessage {
    pub job_id: JobId,
    pub event: WebhookEvent,
    /// From 1.
    pub attempt: u32,
    /// Epoch seconds; 0: at once.
    #[serde(default)]
    pub not_before: i64,
}

impl WebhookMessage {
    /// The first attempt of a job's end event, at once.
    pub fn first(job_id: &JobId, event: WebhookEvent) -> Self {
        Self {
            job_id: job_id.clone(),
            event,
            attempt: 1,
            not_before: 0,
        }
    }
}

/// The longest SQS holds a message back (`DelaySeconds`).
pub const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The webhook queue: the api puts a job's end event (and redeliveries) on it, the sender puts
/// failed attempts back with their delay.
#[async_trait]
pub trait WebhookQueue: Send + Sync {
    /// Sends `message`, delivered after `delay` (at most [`MAX_DELAY`]).
    async fn send(
        &self,
        message: &WebhookMessage,
        delay: std::time::Duration,
    ) -> Result<(), QueueError>;
    /// Moves a delivery whose last attempt failed to the webhook dead-letter queue.
    async fn dead_letter(&self, message: &WebhookMessage, reason: &str) -> Result<(), QueueError>;
}

/// The name of the queue at `queue_url` (`https://sqs.<region>.amazonaws.com/<account>/<name>`),
/// which is also the last part of its ARN.
pub fn queue_name(queue_url: &str) -> &str {
    queue_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// A message in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
}

/// The dead-letter queue, as the janitor reads it.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Up to `max` messages not looked at within `hide`: they stay in the queue (for people to
    /// inspect, and for its alarm) but are hidden from the next reads for `hide`.
    async fn receive(
        &self,
        max: usize,
        hide: std::time::Duration,
    ) -> Result<Vec<DeadLetter>, QueueError>;
}

/// What the worker does with a delivered SQS message besides reporting it failed: the SQS
/// adapter implements it; the in-process queue of the dev server redelivers by itself.
#[async_trait]
pub trait MessageControl: Send + Sync {
    /// Makes the message visible again after `delay` instead of after the visibility timeout.
    async fn retry_after(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> Result<(), QueueError>;
    /// Sends a message nobody can process straight to the dead-letter queue (the caller then
    /// reports it done, so it is not retried).
    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError>;
}
