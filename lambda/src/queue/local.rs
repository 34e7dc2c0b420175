//! An in-process queue for the dev server, with SQS's contract: at-least-once delivery and a
//! receive count, so the same worker code decides retries and last attempts.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{JobMessage, JobQueue, QueueError, WebhookMessage, WebhookQueue};

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

/// One webhook delivery handed to the in-process sender: the message and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub message: WebhookMessage,
    pub delay: std::time::Duration,
}

/// The dev server's webhook queue: deliveries go to the in-process sender; dead letters are
/// kept for a look (and the tests).
#[derive(Debug, Clone)]
pub struct LocalWebhookQueue {
    tx: mpsc::UnboundedSender<WebhookDelivery>,
    dead: std::sync::Arc<std::sync::Mutex<Vec<(WebhookMessage, String)>>>,
}

impl LocalWebhookQueue {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<WebhookDelivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let dead = std::sync::Arc::default();
        (Self { tx, dead }, rx)
    }

    /// Every dead-lettered delivery and why, in order.
    pub fn dead_letters(&self) -> Vec<(WebhookMessage, String)> {
        self.dead.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl WebhookQueue for LocalWebhookQueue {
    async fn send(
        &self,
        message: &WebhookMessage,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        self.tx
            .send(WebhookDelivery {
                message: message.clone(),
                delay: delay.min(super::MAX_DELAY),
            })
            .map_err(|_| QueueError::Unavailable("the in-process sender has stopped".into()))
    }

    async fn dead_letter(&self, message: &WebhookMessage, reason: &str) -> Result<(), QueueError> {
        if let Ok(mut dead) = self.dead.lock() {
            dead.push((message.clone(), reason.to_owned()));
        }
        Ok(())
    }
}
