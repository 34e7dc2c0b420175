//! An in-process queue for the dev server, with SQS's contract: at-least-once delivery and a
//! receive count, so the same worker code decides retries and last attempts.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{JobMessage, JobQueue, QueueError};

/// One delivery of a message; `receive_count` starts at 1 like SQS's ApproximateReceiveCount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message: JobMessage,
    pub receive_count: u32,
}

#[derive(Debug, Clone)]
pub struct LocalQueue {
    tx: mpsc::UnboundedSender<Delivery>,
}

impl LocalQueue {
    /// The queue and the receiving end the in-process worker drains.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Puts a delivery back, as SQS does when a message's visibility timeout runs out.
    pub fn redeliver(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.tx
            .send(Delivery {
                receive_count: delivery.receive_count + 1,
                ..delivery
            })
            .map_err(|_| QueueError::Unavailable("the in-process worker has stopped".into()))
    }
}

#[async_trait]
impl JobQueue for LocalQueue {
    async fn enqueue(&self, message: &JobMessage) -> Result<(), QueueError> {
        self.tx
            .send(Delivery {
                message: message.clone(),
                receive_count: 1,
            })
            .map_err(|_| QueueError::Unavailable("the in-process worker has stopped".into()))
    }
}
