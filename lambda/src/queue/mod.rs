//! Job queue port. Adapters: `local` (an in-process channel with SQS-like redelivery, for the
//! dev server) and SQS (deployed).

pub mod local;
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::ids::JobId;

pub use local::LocalQueue;

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
