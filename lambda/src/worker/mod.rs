//! The worker side. `step` runs one job (shared by the `worker` Lambda and the dev server's
//! in-process worker); this file adapts SQS batches to it: each message is decoded and handed
//! to the step concurrently, and only failed messages are reported back for retry
//! (`ReportBatchItemFailures`).

pub mod local;
pub mod step;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

pub use crate::queue::JobMessage;
pub use step::{StepError, StepOutcome, Worker};

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("message has no body")]
    MissingBody,
    #[error("message body is not a job message: {0}")]
    Malformed(#[from] serde_json::Error),
}

pub fn decode(message: &SqsMessage) -> Result<JobMessage, MessageError> {
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

/// Runs `step` for every message concurrently and lists the ones that failed.
pub async fn handle_batch<F, Fut, E>(event: SqsEvent, step: F) -> SqsBatchResponse
where
    F: Fn(JobMessage, u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runs = event.records.iter().map(|message| {
        let id = message.message_id.clone().unwrap_or_default();
        let decoded = decode(message);
        let receives = receive_count(message);
        let step = &step;
        async move {
            let outcome = match decoded {
                Ok(job) => step(job, receives).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => None,
                Err(reason) => {
                    tracing::warn!(message_id = %id, %reason, "job message failed");
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
    use super::*;

    fn event(bodies: &[(&str, Option<&str>)]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = bodies
            .iter()
            .map(|(id, body)| {
                let mut m = SqsMessage::default();
                m.message_id = Some((*id).to_owned());
                m.body = body.map(str::to_owned);
                m
            })
            .collect();
        event
    }

    #[tokio::test]
    async fn only_failed_and_malformed_messages_are_reported_for_retry() {
        let ev = event(&[
            (
                "ok",
                Some(r#"{"job_id":"job_00000000000000000000000000000001"}"#),
            ),
            ("bad-json", Some("not json")),
            ("no-body", None),
            ("bad-id", Some(r#"{"job_id":"j1"}"#)),
            (
                "step-fails",
                Some(r#"{"job_id":"job_00000000000000000000000000000002"}"#),
            ),
        ]);
        let res = handle_batch(ev, |job, receives| async move {
            assert_eq!(receives, 1);
            if job.job_id.as_str().ends_with('2') {
                Err("gemini down")
            } else {
                Ok(())
            }
        })
        .await;
        let ids: Vec<_> = res
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, ["bad-json", "no-body", "bad-id", "step-fails"]);
    }
}
