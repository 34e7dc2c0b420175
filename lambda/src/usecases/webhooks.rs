//! Webhooks: telling a job's receiver that the job ended. When a job's final write wins,
//! [`notify`] puts its end event on the webhook queue; [`Sender::deliver`] (the worker, fed by
//! that queue) signs and POSTs it, records the attempt, and on failure puts it back with the
//! next delay of [`webhooks::RETRY_DELAYS`], until the last attempt sends it to the
//! dead-letter queue. Tenants make and rotate their signing secret, list a job's attempts and
//! ask for a redelivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use crate::App;
use crate::domain::clock::rfc3339;
use crate::domain::ids::JobId;
use crate::domain::jobs::{ImageState, Job, JobFailure, JobStatus};
use crate::domain::webhooks::{
    self, DeliveryAttempt, DeliveryOutcome, SigningSecrets, WebhookEvent,
};
use crate::queue::{MAX_DELAY, QueueError, WebhookMessage};
use crate::store::StoreError;
use crate::telemetry::Unit;
use crate::webhooks::{SendError, WebhookClient, WebhookRequest};

/// The most attempts a job's delivery list shows (the latest ones).
pub const LISTED_ATTEMPTS: usize = 100;

/// After the write that ended `done` won (or when its event was found still unqueued): its end
/// event goes on the webhook queue, and the job's `webhook_pending` is cleared. If the queue
/// refuses it, the flag stays and the janitor queues it later (`WebhookEnqueueFailed` counts
/// these); if clearing fails, the janitor queues it again: a duplicate with the same
/// `webhook-id`, which receivers drop.
pub async fn notify(app: &App, done: &Job) {
    if !done.webhook_pending {
        return;
    }
    let Some(event) = done.status.event() else {
        return;
    };
    if let Err(e) = app
        .webhooks
        .send(&WebhookMessage::first(&done.job_id, event), Duration::ZERO)
        .await
    {
        tracing::error!(job_id = %done.job_id, event = event.as_str(), error = %e, "webhook event could not be queued; the janitor will");
        app.metrics
            .emit(&[], &[("WebhookEnqueueFailed", 1.0, Unit::Count)]);
        return;
    }
    let queued = Job {
        webhook_pending: false,
        ..done.clone()
    };
    // Conditional on the ended state, which nothing changes but a delete (then nothing is left
    // to mark).
    if let Err(e) = app.store.update_job(&queued, done.expected()).await {
        tracing::warn!(job_id = %done.job_id, error = %e, "webhook event queued, but not marked so: it may be sent twice");
    }
}

/// The body of a job's end event: what ended and how, without download URLs (they expire;
/// `GET` the job's `links.self` for fresh ones). The OpenAPI document's `webhooks` describes
/// it from this type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEvent {
    /// What ended the job.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub event: WebhookEvent,
    /// When this attempt was sent, RFC 3339 (the `webhook-timestamp` header in seconds).
    pub timestamp: String,
    pub data: JobEventData,
}

/// The job as it ended.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEventData {
    pub job_id: String,
    pub status: JobStatus,
    pub created_at: String,
    pub updated_at: String,
    /// The images charged to the quota: the delivered ones.
    pub charged_images: u32,
    /// One per requested image.
    pub outcomes: Vec<JobEventOutcome>,
    pub usage: JobEventUsage,
    /// Why it failed or was canceled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobFailure>,
    pub links: JobEventLinks,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEventLinks {
    /// The job's path: `GET` it for fresh download URLs.
    #[serde(rename = "self")]
    #[schema(rename = "self")]
    pub self_: String,
}

/// What became of one requested image.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEventOutcome {
    pub index: u32,
    pub state: ImageState,
    /// Refused, failed or canceled: why, as a stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// What the job's model calls used.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobEventUsage {
    pub images_delivered: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_cost_microdollars: Option<u64>,
}

impl JobEvent {
    pub fn of(job: &Job, event: WebhookEvent, now: OffsetDateTime) -> Self {
        let outcomes = job
            .outcomes
            .iter()
            .zip(0u32..)
            .map(|(outcome, index)| JobEventOutcome {
                index,
                state: outcome.state,
                code: outcome.code.clone(),
            })
            .collect();
        let data = JobEventData {
            job_id: job.job_id.to_string(),
            status: job.status,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            charged_images: job.delivered_images(),
            outcomes,
            usage: JobEventUsage {
                images_delivered: job.delivered_images(),
                input_tokens: job.usage.input_tokens,
                output_tokens: job.usage.output_tokens,
                estimated_cost_microdollars: job.usage.cost_microdollars,
            },
            error: job.error.clone(),
            links: JobEventLinks {
                self_: format!("/v1/jobs/{}", job.job_id),
            },
        };
        Self {
            event,
            timestamp: rfc3339(now),
            data,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Two rotations at once: one of them won; the other may try again.
    #[error("the signing secret changed meanwhile")]
    Contended,
    #[error("the job has not ended yet")]
    NotEnded,
    #[error("the job has no webhook")]
    NoWebhook,
    #[error("the job's webhook does not take {0} events")]
    NotSubscribed(&'static str),
    /// Its event is being retried: a redelivery now would be a second series of attempts.
    #[error("the job's event is being retried; the next attempt is at {0}")]
    Retrying(String),
}

/// Makes the tenant's signing secret, or rotates it: the previous one keeps signing beside the
/// new one for [`webhooks::SECRET_OVERLAP`]. The returned secrets hold the new one in `current`.
pub async fn rotate_secret(app: &App, tenant: &str) -> Result<SigningSecrets, WebhookError> {
    let now = app.clock.now();
    let (next, expected) = match app.store.get_signing_secrets(tenant).await? {
        None => (SigningSecrets::first(tenant, now), None),
        Some(stored) => (stored.rotated(now), Some(stored.version)),
    };
    match app.store.put_signing_secrets(&next, expected).await {
        Ok(()) => {
            tracing::info!(
                tenant,
                version = next.version,
                "webhook signing secret made"
            );
            Ok(next)
        }
        Err(StoreError::Conflict(_)) => Err(WebhookError::Contended),
        Err(e) => Err(e.into()),
    }
}

/// Makes the tenant's first signing secret if it has none; the new secrets, or `None` when it
/// had one (which stays as it is).
pub async fn ensure_secret(
    app: &App,
    tenant: &str,
) -> Result<Option<SigningSecrets>, WebhookError> {
    if app.store.get_signing_secrets(tenant).await?.is_some() {
        return Ok(None);
    }
    let first = SigningSecrets::first(tenant, app.clock.now());
    match app.store.put_signing_secrets(&first, None).await {
        Ok(()) => Ok(Some(first)),
        // Made meanwhile by another request: that one showed it.
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `tenant`'s job and its latest delivery attempts, oldest first; `None` for a job that is
/// not theirs.
pub async fn deliveries(
    app: &App,
    tenant: &str,
    job_id: &JobId,
) -> Result<Option<(Job, Vec<DeliveryAttempt>)>, StoreError> {
    match app.store.get_job(job_id).await? {
        Some(job) if job.tenant == tenant => {
            let attempts = app.store.list_deliveries(job_id, LISTED_ATTEMPTS).await?;
            Ok(Some((job, attempts)))
        }
        _ => Ok(None),
    }
}

/// Sends `tenant`'s ended job's event again, from the first attempt (same `webhook-id`).
/// `None` for a job that is not theirs.
pub async fn redeliver(
    app: &App,
    tenant: &str,
    job_id: &JobId,
) -> Result<Option<WebhookMessage>, WebhookError> {
    let Some(job) = app.store.get_job(job_id).await? else {
        return Ok(None);
    };
    if job.tenant != tenant {
        return Ok(None);
    }
    let event = job.status.event().ok_or(WebhookError::NotEnded)?;
    let webhook = job.webhook.as_ref().ok_or(WebhookError::NoWebhook)?;
    if !webhook.wants(event) {
        return Err(WebhookError::NotSubscribed(event.as_str()));
    }
    let latest = app.store.list_deliveries(job_id, 1).await?;
    if let Some(retrying) = latest
        .iter()
        .find(|a| a.outcome == DeliveryOutcome::Retrying)
    {
        let next = retrying.next_attempt_at.map(rfc3339).unwrap_or_default();
        return Err(WebhookError::Retrying(next));
    }
    let message = WebhookMessage::first(&job.job_id, event);
    app.webhooks.send(&message, Duration::ZERO).await?;
    tracing::info!(job_id = %job.job_id, tenant, event = event.as_str(), "webhook redelivery queued");
    Ok(Some(message))
}

/// What a delivery did with its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// An attempt was made, with this outcome.
    Attempted(DeliveryOutcome),
    /// Too early: sent on again until its time.
    Postponed,
    /// Its job (or the job's webhook) is gone.
    Dropped,
}

/// The webhook sender: the worker's side of the webhook queue.
pub struct Sender {
    pub app: App,
    pub client: Arc<dyn WebhookClient>,
}

impl Sender {
    pub fn new(app: App, client: Arc<dyn WebhookClient>) -> Self {
        Self { app, client }
    }

    /// One attempt of `message`. An `Err` is the queue's to retry (the store or the queue
    /// failed); a receiver's failure is recorded and scheduled here.
    pub async fn deliver(&self, message: &WebhookMessage) -> Result<Delivered, WebhookError> {
        let app = &self.app;
        let now = app.clock.now();
        if message.not_before > now.unix_timestamp() {
            let wait = Duration::from_secs(
                u64::try_from(message.not_before - now.unix_timestamp()).unwrap_or(0),
            );
            app.webhooks.send(message, wait.min(MAX_DELAY)).await?;
            return Ok(Delivered::Postponed);
        }
        let Some(job) = app.store.get_job(&message.job_id).await? else {
            tracing::info!(job_id = %message.job_id, "webhook for a deleted job; dropped");
            return Ok(Delivered::Dropped);
        };
        let Some(webhook) = job.webhook.clone() else {
            return Ok(Delivered::Dropped);
        };
        let message_id = webhooks::message_id(&job.job_id, message.event);
        let mut attempt = DeliveryAttempt {
            job_id: job.job_id.clone(),
            message_id: message_id.clone(),
            event: message.event,
            attempt: message.attempt,
            attempted_at: now,
            status_code: None,
            error: None,
            latency_ms: 0,
            outcome: DeliveryOutcome::Failed,
            next_attempt_at: None,
        };
        let secrets = app.store.get_signing_secrets(&job.tenant).await?;
        let keys = secrets.map(|s| s.keys(now)).unwrap_or_default();
        let result = match url::Url::parse(&webhook.url) {
            Err(_) => Err(SendError::NotAllowed("not a URL".into())),
            Ok(_) if keys.is_empty() => Err(SendError::NotAllowed(
                "the tenant has no signing secret".into(),
            )),
            Ok(url) => {
                // Strings, numbers and string-keyed maps: serializing cannot fail.
                let event = JobEvent::of(&job, message.event, now);
                let body = serde_json::to_vec(&event).unwrap_or_default();
                let timestamp = now.unix_timestamp();
                let signature = webhooks::signature_header(&keys, &message_id, timestamp, &body);
                let request = WebhookRequest {
                    url,
                    headers: vec![
                        ("content-type", "application/json".into()),
                        ("webhook-id", message_id.clone()),
                        ("webhook-timestamp", timestamp.to_string()),
                        ("webhook-signature", signature),
                    ],
                    body,
                };
                let started = Instant::now();
                let result = self.client.post(request).await;
                attempt.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
                result
            }
        };
        let retry = |attempt: &mut DeliveryAttempt, reason: String| {
            attempt.error = Some(reason);
            match webhooks::retry_delay(message.attempt) {
                Some(delay) => {
                    attempt.outcome = DeliveryOutcome::Retrying;
                    attempt.next_attempt_at = Some(now + delay);
                }
                None => attempt.outcome = DeliveryOutcome::DeadLettered,
            }
        };
        match result {
            Ok(status) if (200..300).contains(&status) => {
                attempt.status_code = Some(status);
                attempt.outcome = DeliveryOutcome::Delivered;
            }
            Ok(status) => {
                attempt.status_code = Some(status);
                retry(&mut attempt, format!("the receiver answered {status}"));
            }
            Err(SendError::NotAllowed(reason)) => {
                attempt.error = Some(format!("not sent: {reason}"));
            }
            Err(e) => retry(&mut attempt, e.to_string()),
        }
        // The next attempt (or the dead letter) first: if recording fails, the delivery goes on.
        match (attempt.outcome, attempt.next_attempt_at) {
            (DeliveryOutcome::Retrying, Some(at)) => {
                let next = WebhookMessage {
                    attempt: message.attempt + 1,
                    not_before: at.unix_timestamp(),
                    ..message.clone()
                };
                let delay = Duration::try_from(at - now).unwrap_or_default();
                app.webhooks.send(&next, delay.min(MAX_DELAY)).await?;
            }
            (DeliveryOutcome::DeadLettered, _) => {
                // As a first attempt: redriven to the webhook queue, it gets every retry again.
                let reason = attempt.error.clone().unwrap_or_default();
                let again = WebhookMessage::first(&message.job_id, message.event);
                app.webhooks.dead_letter(&again, &reason).await?;
            }
            _ => {}
        }
        if let Err(e) = app.store.record_delivery(&attempt, job.expires_at).await {
            tracing::warn!(job_id = %job.job_id, error = %e, "a webhook attempt could not be recorded");
        }
        let outcome = attempt.outcome;
        tracing::info!(
            job_id = %job.job_id,
            tenant = %job.tenant,
            message_id,
            attempt = message.attempt,
            outcome = ?outcome,
            status = attempt.status_code,
            latency_ms = attempt.latency_ms,
            error = attempt.error.as_deref(),
            "webhook attempt"
        );
        let delivered = if outcome == DeliveryOutcome::Delivered {
            1.0
        } else {
            0.0
        };
        app.metrics.emit(
            &[],
            &[
                ("WebhookDelivered", delivered, Unit::Count),
                ("WebhookFailed", 1.0 - delivered, Unit::Count),
                (
                    "WebhookLatency",
                    attempt.latency_ms as f64,
                    Unit::Milliseconds,
                ),
            ],
        );
        Ok(Delivered::Attempted(outcome))
    }
}
