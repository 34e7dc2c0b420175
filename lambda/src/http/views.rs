//! Response bodies of the v1 contract.

use crate::usecases::jobs::JobDownloads;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::App;
use crate::domain::jobs::{ImageState, Job, JobFailure, JobStatus};
use crate::domain::keys::Scope;
use crate::domain::limits::EffectiveLimits;
use crate::domain::webhooks::{
    self, DeliveryAttempt, DeliveryOutcome, JobWebhook, SigningSecrets, WebhookEvent,
};

use crate::domain::clock::rfc3339;

#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    #[schema(rename = "self")]
    pub self_: String,
}

/// `202 Accepted` for a queued job.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedJob {
    pub job_id: String,
    pub status: JobStatus,
    /// RFC 3339.
    pub created_at: String,
    pub links: Links,
}

impl AcceptedJob {
    pub fn from_job(job: &Job) -> Self {
        Self {
            job_id: job.job_id.to_string(),
            status: job.status,
            created_at: rfc3339(job.created_at),
            links: Links {
                self_: job_link(job),
            },
        }
    }
}

pub fn job_link(job: &Job) -> String {
    format!("/v1/jobs/{}", job.job_id)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageView {
    /// A signed download URL, valid until `expires_at`.
    pub url: String,
    pub expires_at: String,
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// What became of one requested image.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageOutcomeView {
    /// Its position among the requested images, from 0.
    pub index: u32,
    pub state: ImageState,
    /// Refused or failed: why, as a stable code; pending: the last retryable failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Delivered: its position in the job's `images`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<u32>,
}

/// What a job's model calls used, and an estimate of what they cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobUsageView {
    /// Images delivered so far (once the job ended, the ones charged).
    pub images_delivered: u32,
    /// Prompt tokens (text and reference images) the model counted, over every call.
    pub input_tokens: u64,
    /// Output tokens (images) the model counted, over every call, refused ones included.
    pub output_tokens: u64,
    /// Those tokens at the model's list price, in micro-dollars (millionths of a US dollar);
    /// absent when the model has no price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_cost_microdollars: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub status: JobStatus,
    pub created_at: String,
    pub updated_at: String,
    /// The delivered images, in the order requested.
    pub images: Vec<ImageView>,
    /// One per requested image once a worker has taken the job up (empty before): delivered,
    /// refused or failed, or still pending.
    pub outcomes: Vec<ImageOutcomeView>,
    /// Once the job has ended: the images charged to the quota, which are the delivered ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charged_images: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobFailure>,
    /// `true` while a cancel asked of a running job takes effect (it ends `canceled` within
    /// seconds); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_requested: Option<bool>,
    /// From the request's `Cancel-After`: when the job is canceled if it has not ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_at: Option<String>,
    pub usage: JobUsageView,
    /// Where the job's end is sent, if anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookView>,
    pub links: Links,
}

/// A job's webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
    pub events: Vec<WebhookEvent>,
}

impl WebhookView {
    pub fn of(webhook: &JobWebhook) -> Self {
        Self {
            url: webhook.url.clone(),
            events: webhook.events.clone(),
        }
    }
}

impl JobView {
    /// The job with the download URL signed for each image.
    pub fn render(shown: &JobDownloads) -> Self {
        let job = &shown.job;
        let mut images = Vec::with_capacity(job.images.len());
        for (image, signed) in job.images.iter().zip(&shown.downloads) {
            images.push(ImageView {
                url: signed.url.clone(),
                expires_at: rfc3339(signed.expires_at),
                mime_type: image.mime_type.clone(),
                width: image.width,
                height: image.height,
                bytes: image.bytes,
            });
        }
        let mut delivered = 0;
        let outcomes = job
            .outcomes
            .iter()
            .zip(0u32..)
            .map(|(outcome, index)| {
                let image = (outcome.state == ImageState::Delivered).then(|| {
                    delivered += 1;
                    delivered - 1
                });
                ImageOutcomeView {
                    index,
                    state: outcome.state,
                    code: outcome.code.clone(),
                    message: outcome.message.clone(),
                    image,
                }
            })
            .collect();
        Self {
            job_id: job.job_id.to_string(),
            status: job.status,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            images,
            outcomes,
            charged_images: job.status.is_final().then(|| job.delivered_images()),
            error: job.error.clone(),
            cancel_requested: (job.cancel_requested && !job.status.is_final()).then_some(true),
            cancel_at: (job.cancel_at > 0)
                .then(|| OffsetDateTime::from_unix_timestamp(job.cancel_at).ok())
                .flatten()
                .map(rfc3339),
            usage: JobUsageView {
                images_delivered: job.delivered_images().max(delivered),
                input_tokens: job.usage.input_tokens,
                output_tokens: job.usage.output_tokens,
                estimated_cost_microdollars: job.usage.cost_microdollars,
            },
            webhook: job.webhook.as_ref().map(WebhookView::of),
            links: Links {
                self_: job_link(job),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    pub upload_id: String,
    /// `PUT` the image bytes here, with exactly the `headers` below: the signature covers
    /// them, so any other type or length is refused (403).
    pub url: String,
    /// The headers the `PUT` must carry: `content-type` and `content-length` as declared.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
    pub max_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageWindow {
    /// `minute`, `day` or `month`.
    pub window: String,
    /// What the window counts: `requests`; `images` (charged, and reserved for jobs still
    /// running); or `refused` (images the model declined today, not charged, and the images of
    /// jobs still running, each of which may yet be: bounded by the key's `daily_refusal_limit`).
    pub measure: String,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub resets_at: String,
}

/// The estimated cost of the tenant's model calls in one window.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostWindow {
    /// `day` or `month` (UTC).
    pub window: String,
    /// Micro-dollars (millionths of a US dollar), at the model's list price.
    pub estimated_microdollars: u64,
    pub resets_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    pub tenant: String,
    pub key_id: Option<String>,
    pub limits: EffectiveLimits,
    pub windows: Vec<UsageWindow>,
    /// What the tenant's jobs cost this day and this month.
    pub cost: Vec<CostWindow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub key_id: String,
    /// The full key. Shown only in this response: store it now.
    pub key: String,
    pub tenant: String,
    pub scopes: Vec<Scope>,
    pub limits: EffectiveLimits,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// After a rotation: until when the previous secret still works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_key_valid_until: Option<String>,
    /// Where the end of this key's jobs is sent when a request names no `webhook_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookView>,
    /// The tenant's webhook signing secret, when this request made it (a key with a webhook,
    /// for a tenant that had none). Shown only here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_signing_secret: Option<String>,
}

impl KeyView {
    pub fn new(app: &App, key: &crate::domain::keys::ApiKey, plaintext: String) -> Self {
        Self {
            key_id: key.key_id.clone(),
            key: plaintext,
            tenant: key.tenant.clone(),
            scopes: key.scopes.clone(),
            limits: app.config.limits.for_key(&key.limits),
            created_at: rfc3339(key.created_at),
            expires_at: key.expires_at.map(rfc3339),
            previous_key_valid_until: key.previous.as_ref().map(|p| rfc3339(p.valid_until)),
            webhook: key.webhook.as_ref().map(WebhookView::of),
            webhook_signing_secret: None,
        }
    }
}

/// The tenant's new webhook signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningSecretView {
    /// `whsec_` and the base64 of 32 bytes, as Standard Webhooks libraries take it. Shown only
    /// in this response: store it now.
    pub secret: String,
    pub created_at: String,
    /// After a rotation: until when events are signed with the previous secret too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
}

impl SigningSecretView {
    pub fn new(secrets: &SigningSecrets) -> Self {
        Self {
            secret: secrets.current.clone(),
            created_at: rfc3339(secrets.created_at),
            previous_secret_valid_until: secrets.previous_valid_until.map(rfc3339),
        }
    }
}

/// One attempt to deliver a job's event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` sent.
    pub message_id: String,
    pub event: WebhookEvent,
    /// From 1; a redelivery starts again at 1.
    pub attempt: u32,
    pub attempted_at: String,
    /// The receiver's HTTP status; absent when no answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    pub outcome: DeliveryOutcome,
    /// While `retrying`: when the next attempt is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// A job's webhook and its delivery attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub job_id: String,
    /// Absent when the job has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookView>,
    /// Oldest first; the latest 100 at most.
    pub deliveries: Vec<DeliveryView>,
}

impl DeliveryList {
    pub fn new(job: &Job, attempts: &[DeliveryAttempt]) -> Self {
        Self {
            job_id: job.job_id.to_string(),
            webhook: job.webhook.as_ref().map(WebhookView::of),
            deliveries: attempts
                .iter()
                .map(|a| DeliveryView {
                    message_id: a.message_id.clone(),
                    event: a.event,
                    attempt: a.attempt,
                    attempted_at: rfc3339(a.attempted_at),
                    status_code: a.status_code,
                    error: a.error.clone(),
                    latency_ms: a.latency_ms,
                    outcome: a.outcome,
                    next_attempt_at: a.next_attempt_at.map(rfc3339),
                })
                .collect(),
        }
    }
}

/// A redelivery, queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivery {
    /// The `webhook-id` it is sent with: the event's, as before.
    pub message_id: String,
    pub event: WebhookEvent,
}

impl Redelivery {
    pub fn new(job_id: &crate::domain::ids::JobId, event: WebhookEvent) -> Self {
        Self {
            message_id: webhooks::message_id(job_id, event),
            event,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedKey {
    pub key_id: String,
    pub revoked_at: String,
}

pub fn revoked(key_id: &str, at: OffsetDateTime) -> RevokedKey {
    RevokedKey {
        key_id: key_id.to_owned(),
        revoked_at: rfc3339(at),
    }
}

pub fn timestamp(t: OffsetDateTime) -> String {
    rfc3339(t)
}
