//! The SQS job queue. Retries, visibility and the dead-letter queue are SQS's (configured in
//! Terraform); the worker reports per-message failures.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::{
    DeadLetter, DeadLetters, JobMessage, JobQueue, MessageControl, QueueError, WebhookMessage,
    WebhookQueue,
};

/// SQS's longest visibility timeout.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

fn unavailable<E>(e: aws_sdk_sqs::error::SdkError<E>) -> QueueError
where
    E: std::error::Error + aws_sdk_sqs::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
}

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

/// The worker's hold on the jobs queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsMessageControl {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
}

impl SqsMessageControl {
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        dead_letter_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            dead_letter_url: dead_letter_url.into(),
        }
    }
}

#[async_trait]
impl MessageControl for SqsMessageControl {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let seconds = i32::try_from(delay.min(MAX_VISIBILITY).as_secs()).unwrap_or(i32::MAX);
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        let reason = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| QueueError::Unavailable(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.dead_letter_url)
            .message_body(body)
            .message_attributes("imagegen-reason", reason)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, message: &JobMessage) -> Result<(), QueueError> {
        let body =
            serde_json::to_string(message).map_err(|e| QueueError::Unavailable(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetters for SqsMessageControl {
    async fn receive(&self, max: usize, hide: Duration) -> Result<Vec<DeadLetter>, QueueError> {
        let mut letters = Vec::new();
        // SQS hands out at most 10 per call, and may hand out fewer than are there.
        while letters.len() < max {
            let want = i32::try_from((max - letters.len()).min(10)).unwrap_or(10);
            let out = self
                .client
                .receive_message()
                .queue_url(&self.dead_letter_url)
                .max_number_of_messages(want)
                .visibility_timeout(i32::try_from(hide.min(MAX_VISIBILITY).as_secs()).unwrap_or(0))
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(unavailable)?;
            let batch: Vec<DeadLetter> = out
                .messages()
                .iter()
                .map(|m| DeadLetter {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
                .collect();
            if batch.is_empty() {
                break;
            }
            letters.extend(batch);
        }
        Ok(letters)
    }
}

/// The webhook queue on SQS; the worker's instance also holds the webhook dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsWebhookQueue {
    client: Client,
    queue_url: String,
    /// The queue and its dead-letter queue, where the worker sends a delivery's last failure.
    control: Option<SqsMessageControl>,
}

impl SqsWebhookQueue {
    /// `control`: the queue and its dead-letter queue, for the worker (the api sends only).
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        control: Option<SqsMessageControl>,
    ) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            control,
        }
    }
}

#[async_trait]
impl WebhookQueue for SqsWebhookQueue {
    async fn send(&self, message: &WebhookMessage, delay: Duration) -> Result<(), QueueError> {
        let body =
            serde_json::to_string(message).map_err(|e| QueueError::Unavailable(e.to_string()))?;
        let seconds = i32::try_from(delay.min(super::MAX_DELAY).as_secs()).unwrap_or(0);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn dead_letter(&self, message: &WebhookMessage, reason: &str) -> Result<(), QueueError> {
        let Some(control) = &self.control else {
            return Err(QueueError::Unavailable(
                "no webhook dead-letter queue is configured here".into(),
            ));
        };
        let body =
            serde_json::to_string(message).map_err(|e| QueueError::Unavailable(e.to_string()))?;
        control.dead_letter(&body, reason).await
    }
}
