//! The worker side: it drives `usecases::generation` (one delivery of one job, shared by the
//! `worker` Lambda and the dev server's in-process worker), `usecases::webhooks`' sender and
//! `usecases::janitor`. This file adapts SQS batches from either queue to them: each message is
//! decoded and handed on concurrently, and only failed messages are reported back for retry
//! (`ReportBatchItemFailures`).

pub mod local;

use std::panic::AssertUnwindSafe;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::FutureExt as _;

use crate::domain::ids::JobId;
use crate::queue::MessageControl;

pub use crate::queue::{JobMessage, WebhookMessage};
use crate::usecases::generation::StepError;
use crate::usecases::webhooks::WebhookError;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("message has no body")]
    MissingBody,
    #[error("message body is not a message of this queue: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// A message of one of the worker's queues; logs name it by its job.
pub trait QueueMessage: serde::de::DeserializeOwned {
    fn job_id(&self) -> &JobId;
}

impl QueueMessage for JobMessage {
    fn job_id(&self) -> &JobId {
        &self.job_id
    }
}

impl QueueMessage for WebhookMessage {
    fn job_id(&self) -> &JobId {
        &self.job_id
    }
}

/// A failure that leaves the message on its queue for another delivery.
pub trait Retryable: std::fmt::Display {
    /// How soon the message should come back, when sooner than the visibility timeout.
    fn retry_delay(&self) -> Option<std::time::Duration> {
        None
    }
}

impl Retryable for StepError {
    fn retry_delay(&self) -> Option<std::time::Duration> {
        StepError::retry_delay(self)
    }
}

/// The store or the queue failed mid-delivery: try the message again soon, not after the
/// queue's whole visibility timeout (six worker timeouts).
impl Retryable for WebhookError {
    fn retry_delay(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(30))
    }
}

/// What invokes the worker function: a batch from the jobs queue or from the webhook queue
/// (told apart by the queue the records come from), or the janitor's schedule (an EventBridge
/// rule whose input is `{"imagegen":"janitor"}`).
#[derive(Debug)]
pub enum Invocation {
    Jobs(SqsEvent),
    Webhooks(SqsEvent),
    Janitor,
}

impl Invocation {
    /// `webhook_queue`: the webhook queue's name (the last part of its URL and of its ARN).
    pub fn parse(event: serde_json::Value, webhook_queue: &str) -> Result<Self, serde_json::Error> {
        if event.get("imagegen").and_then(serde_json::Value::as_str) == Some("janitor") {
            return Ok(Self::Janitor);
        }
        let batch: SqsEvent = serde_json::from_value(event)?;
        // One event source mapping per queue: a batch holds one queue's records.
        let from_webhooks = !batch.records.is_empty()
            && batch.records.iter().all(|r| {
                r.event_source_arn
                    .as_deref()
                    .and_then(|arn| arn.rsplit(':').next())
                    == Some(webhook_queue)
            });
        Ok(if from_webhooks {
            Self::Webhooks(batch)
        } else {
            Self::Jobs(batch)
        })
    }
}

pub fn decode<M: QueueMessage>(message: &SqsMessage) -> Result<M, MessageError> {
    let body = message.body.as_deref().ok_or(MessageError::MissingBody)?;
    Ok(serde_json::from_str(body)?)
}

/// SQS's ApproximateReceiveCount: 1 on the first delivery.
pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Runs `step` for every message concurrently and lists the ones to retry. Each record is on
/// its own: a body that is not a message of its queue goes straight to the dead-letter queue
/// (retrying cannot fix it); a panic fails only its record, logged with its job id; a step
/// that asks to come back sooner gets its message's visibility shortened to that.
pub async fn handle_batch<M, F, Fut, T, E>(
    event: SqsEvent,
    control: &dyn MessageControl,
    step: F,
) -> SqsBatchResponse
where
    M: QueueMessage,
    F: Fn(M, u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Retryable,
{
    let runs = event.records.iter().map(|message| {
        let id = message.message_id.clone().unwrap_or_default();
        let decoded = decode(message);
        let receives = receive_count(message);
        let step = &step;
        async move {
            let message_in: M = match decoded {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "not a message of this queue; dead-lettering it");
                    let body = message.body.as_deref().unwrap_or_default();
                    return match control.dead_letter(body, &e.to_string()).await {
                        Ok(()) => None,
                        Err(send) => {
                            tracing::error!(message_id = %id, error = %send, "dead-lettering failed; the queue's redrive will");
                            Some(id)
                        }
                    };
                }
            };
            let job_id = message_in.job_id().clone();
            let outcome = AssertUnwindSafe(step(message_in, receives)).catch_unwind().await;
            match outcome {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => {
                    tracing::warn!(message_id = %id, %job_id, reason = %e, "job message will be retried");
                    if let (Some(delay), Some(receipt)) =
                        (e.retry_delay(), message.receipt_handle.as_deref())
                        && let Err(change) = control.retry_after(receipt, delay).await
                    {
                        tracing::warn!(message_id = %id, %job_id, error = %change, "could not shorten the retry delay");
                    }
                    Some(id)
                }
                Err(panic) => {
                    let text = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a non-string panic".into());
                    tracing::error!(message_id = %id, %job_id, panic = %text, "processing a job message panicked");
                    Some(id)
                }
            }
        }
    });
    let failed = futures_util::future::join_all(runs).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .flatten()
        .map(|item_identifier| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = item_identifier;
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::queue::recorded::RecordedControl;
    use crate::usecases::generation::StepOutcome;

    fn event(bodies: &[(&str, Option<&str>)]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = bodies
            .iter()
            .map(|(id, body)| {
                let mut m = SqsMessage::default();
                m.message_id = Some((*id).to_owned());
                m.receipt_handle = Some(format!("receipt-{id}"));
                m.body = body.map(str::to_owned);
                m
            })
            .collect();
        event
    }

    fn job(n: u32) -> String {
        format!(r#"{{"job_id":"job_{n:032}"}}"#)
    }

    #[test]
    fn a_batch_from_the_webhook_queue_goes_to_the_sender() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/imagegen-prod-jobs-webhooks";
        let name = crate::queue::queue_name(url);
        assert_eq!(name, "imagegen-prod-jobs-webhooks");
        let batch = |queue: &str| {
            serde_json::json!({"Records": [{
                "messageId": "m1", "body": "{}",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:eu-west-1:123456789012:{queue}"),
            }]})
        };
        assert!(matches!(
            Invocation::parse(batch("imagegen-prod-jobs-webhooks"), name),
            Ok(Invocation::Webhooks(_))
        ));
        // The jobs queue's name is a prefix of the webhook queue's: the whole name decides.
        assert!(matches!(
            Invocation::parse(batch("imagegen-prod-jobs"), name),
            Ok(Invocation::Jobs(_))
        ));
        assert!(matches!(
            Invocation::parse(serde_json::json!({"imagegen": "janitor"}), name),
            Ok(Invocation::Janitor)
        ));
    }

    #[tokio::test]
    async fn each_record_stands_alone_in_a_batch() {
        let bodies = [job(1), job(2), job(3), job(4)];
        let ev = event(&[
            ("ok", Some(&bodies[0])),
            ("bad-json", Some("not json")),
            ("no-body", None),
            ("bad-id", Some(r#"{"job_id":"j1"}"#)),
            ("step-fails", Some(&bodies[1])),
            ("panics", Some(&bodies[2])),
            ("deferred", Some(&bodies[3])),
        ]);
        let control = RecordedControl::default();
        let res = handle_batch(ev, &control, |job: JobMessage, receives| async move {
            assert_eq!(receives, 1);
            match job.job_id.as_str().chars().last() {
                Some('2') => Err(StepError::Transient("gemini down".into())),
                Some('3') => panic!("a bug in one job"),
                Some('4') => Err(StepError::Deferred {
                    reason: "upstream_rate_limited".into(),
                    hint: Some(Duration::from_secs(60)),
                }),
                _ => Ok(StepOutcome::Succeeded),
            }
        })
        .await;
        let ids: Vec<_> = res
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        // Unreadable messages are dead-lettered at once, not retried.
        assert_eq!(ids, ["step-fails", "panics", "deferred"]);
        let bodies: Vec<_> = control.dead_letters().into_iter().map(|(b, _)| b).collect();
        assert_eq!(bodies, ["not json", "", r#"{"job_id":"j1"}"#]);
        assert_eq!(
            control.delays(),
            [("receipt-deferred".to_owned(), Duration::from_secs(60))]
        );
    }
}
