//! Job queue port. Adapters: `local` (an in-process channel with SQS-like redelivery, for the
//! dev server) and SQS (deployed).

pub mod local;
pub mod recorded;
#[cfg(feature = "aws")]
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::ids::JobId;

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
