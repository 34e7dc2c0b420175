//! Jobs and their state machine: queued -> running -> succeeded | failed | canceled. Every
//! transition is a conditional write on (status, attempts, cancel requested), so a redelivered
//! or concurrent message can never produce a second set of images or a second charge, and a
//! cancel is never overwritten by a worker that did not see it.
//!
//! Each requested image has its own outcome: pending until it ends delivered, refused (the model
//! declined: not charged, counted as a refusal) or failed (not charged). A job ends when no image
//! is pending: `succeeded` with at least one delivered, else `failed`. The client pays for
//! delivered images only; the rest of the reservation is refunded once, with that final write.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ids::JobId;
use super::pricing::JobUsage;
use super::webhooks::{JobWebhook, WebhookEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Canceled by the client (`POST /v1/jobs/{id}/cancel`) or by its `Cancel-After`: the
    /// images delivered before are kept and charged, the rest refunded.
    Canceled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Canceled
        )
    }

    /// The webhook event a job that ended in this status sends; none while it runs.
    pub fn event(self) -> Option<WebhookEvent> {
        match self {
            JobStatus::Succeeded => Some(WebhookEvent::Succeeded),
            JobStatus::Failed => Some(WebhookEvent::Failed),
            JobStatus::Canceled => Some(WebhookEvent::Canceled),
            JobStatus::Queued | JobStatus::Running => None,
        }
    }
}

/// What the client asked for, after validation. Reference images are already prepared and
/// stored; the job keeps their blob keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParams {
    pub prompt: String,
    pub aspect_ratio: Option<String>,
    pub count: u8,
    pub reference_keys: Vec<String>,
    /// `png`, `jpeg` or `webp`: what the delivered images are re-encoded to; `None` keeps the
    /// model's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// JPEG quality, with `output_format` `jpeg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// `1K`, `2K` or `4K`, passed to the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<String>,
}

/// One generated image in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    pub key: String,
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// The longest a job's message is held back for an upstream retry hint. Longer hints (a daily
/// quota) are cut to this; each return costs a delivery, so the image fails after
/// maxReceiveCount of them.
pub const MAX_DEFER: Duration = Duration::from_secs(15 * 60);

/// Where one requested image stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageState {
    /// Not finished yet (the job is queued or running).
    Pending,
    /// Stored and downloadable; charged.
    Delivered,
    /// The model declined to make it (safety or policy refusal, blocked prompt, no image in
    /// the answer); not charged, counted against the daily refusal limit.
    Refused,
    /// It could not be made (upstream outage, attempts or deliveries exhausted, a bad
    /// request); not charged.
    Failed,
    /// Not made: the job was canceled first; not charged.
    Canceled,
}

/// Every code a refused or failed image (and a failed job) may carry: the model's refusals,
/// upstream failures, and the pipeline's own.
pub const OUTCOME_CODES: &[&str] = &[
    // refused
    "content_blocked",
    "no_image",
    // failed: the model or its API
    "invalid_request",
    "upstream_auth",
    "upstream_rate_limited",
    "upstream_error",
    "upstream_timeout",
    "upstream_malformed",
    "upstream_unavailable",
    "secret_unavailable",
    "internal",
    // failed: the pipeline
    "reference_missing",
    "blob_unavailable",
    "storage_failed",
    "not_queued",
    "delivery_exhausted",
    "output_format_failed",
    "deadline_exceeded",
    // canceled
    "canceled",
    "cancel_after_elapsed",
];

/// One requested image's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageOutcome {
    pub state: ImageState,
    /// Model calls this image has cost, over every delivery of the job's message; bounded by
    /// `IMAGEGEN_GEMINI_MAX_ATTEMPTS`.
    #[serde(default)]
    pub calls: u32,
    /// Refused or failed: why, as a stable code; pending: the last retryable failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Delivered: the stored object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<StoredImage>,
}

impl ImageOutcome {
    pub fn pending() -> Self {
        Self {
            state: ImageState::Pending,
            calls: 0,
            code: None,
            message: None,
            image: None,
        }
    }

    /// Ends a pending image as refused or failed, keeping its calls.
    pub fn end(&mut self, state: ImageState, code: &str, message: String) {
        self.state = state;
        self.code = Some(code.to_owned());
        self.message = Some(message);
    }

    /// On the job's last delivery: a still pending image fails with its last failure, or
    /// `delivery_exhausted` when it had none.
    pub fn give_up(&mut self) {
        if self.state != ImageState::Pending {
            return;
        }
        let last = JobFailure::delivery_exhausted();
        let code = self.code.take().unwrap_or(last.code);
        let message = self.message.take().unwrap_or(last.message);
        self.end(ImageState::Failed, &code, message);
    }
}

/// Why a job failed, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobFailure {
    pub code: String,
    pub message: String,
}

impl JobFailure {
    /// The queue gave up on the job's message (maxReceiveCount deliveries, or the DLQ).
    pub fn delivery_exhausted() -> Self {
        Self {
            code: "delivery_exhausted".into(),
            message: "the job could not be processed after repeated attempts".into(),
        }
    }

    /// Still queued or running past its deadline (`Config::job_deadline`).
    pub fn deadline_exceeded() -> Self {
        Self {
            code: "deadline_exceeded".into(),
            message: "the job did not finish in time".into(),
        }
    }
}

/// Why a job is being canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// `POST /v1/jobs/{id}/cancel`.
    Requested,
    /// The job's `Cancel-After` passed before it finished.
    CancelAfterElapsed,
}

impl CancelReason {
    pub fn code(self) -> &'static str {
        match self {
            CancelReason::Requested => "canceled",
            CancelReason::CancelAfterElapsed => "cancel_after_elapsed",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            CancelReason::Requested => "the job was canceled before this image was made",
            CancelReason::CancelAfterElapsed => {
                "the job's Cancel-After passed before this image was made"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: JobId,
    pub tenant: String,
    /// The key that created it (`None` for the bootstrap admin credential).
    pub key_id: Option<String>,
    pub status: JobStatus,
    pub prompt_sha256: String,
    pub params: JobParams,
    pub attempts: u32,
    /// Delivered images, in the order requested (the objects this job owns).
    pub images: Vec<StoredImage>,
    /// One per requested image, once a worker has claimed the job (records written before
    /// per-image outcomes have none).
    #[serde(default)]
    pub outcomes: Vec<ImageOutcome>,
    pub error: Option<JobFailure>,
    /// Quota counters this job's images were reserved on, so a refund hits the same windows.
    pub quota_counters: Vec<String>,
    /// The tenant's refusal allowance this job reserved its images on (none on records older
    /// than refusal limits).
    #[serde(default)]
    pub refusal_counter: Option<String>,
    pub reserved_images: u32,
    pub refunded_images: u32,
    /// Images the model refused, counted on the tenant's daily refusal counter when the job
    /// ended.
    #[serde(default)]
    pub refused_images: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Epoch seconds after which the record may be deleted (DynamoDB TTL).
    pub expires_at: i64,
    /// Epoch seconds after which a job still queued or running is ended by the janitor
    /// (`Config::job_deadline` after its creation, or its `Cancel-After` if sooner); 0 on
    /// records older than deadlines.
    #[serde(default)]
    pub deadline_at: i64,
    /// Epoch seconds of the client's `Cancel-After`: a job not finished by then is canceled,
    /// keeping (and charging) only what was delivered. 0: none.
    #[serde(default)]
    pub cancel_at: i64,
    /// A cancel asked while a worker held the job: the worker stops, keeps what it delivered
    /// and ends the job `canceled`.
    #[serde(default)]
    pub cancel_requested: bool,
    /// The idempotency record that points here (`<tenant>#<Idempotency-Key>`), removed with
    /// the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_pk: Option<String>,
    /// Tokens its model calls used and what they cost, over every delivery.
    #[serde(default)]
    pub usage: JobUsage,
    /// Where its end is sent, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<JobWebhook>,
    /// Its end event is for its webhook and not yet on the webhook queue: set by the write that
    /// ends the job, cleared once the event is queued. Until then the job stays in the
    /// janitor's index, which queues it if the one who ended the job could not.
    #[serde(default)]
    pub webhook_pending: bool,
}

/// How long after a job ended with its event still unqueued the janitor queues it: the one who
/// ended it queues it at once, unless it failed or died first.
pub const WEBHOOK_GRACE_SECS: i64 = 5 * 60;

impl Job {
    /// Sort key of the by-tenant index: newest first when read backwards, ties broken by id.
    pub fn created_sort(&self) -> String {
        created_sort(self.created_at, &self.job_id)
    }

    /// Its place in the janitor's index: an open job by its deadline, an ended one whose
    /// webhook event is not queued yet [`WEBHOOK_GRACE_SECS`] after it ended; `None` otherwise,
    /// so the index holds only the jobs the janitor may have to act on.
    pub fn open_deadline_sort(&self) -> Option<String> {
        if self.webhook_pending {
            let due = self.updated_at.unix_timestamp() + WEBHOOK_GRACE_SECS;
            return Some(deadline_sort(due, &self.job_id));
        }
        (!self.status.is_final() && self.deadline_at > 0)
            .then(|| deadline_sort(self.deadline_at, &self.job_id))
    }
}

/// Sort key of the index of open jobs by deadline: deadline first, ties broken by id.
pub fn deadline_sort(deadline_at: i64, job_id: &JobId) -> String {
    format!("{deadline_at:020}#{job_id}")
}

/// The bound below which [`deadline_sort`] keys are overdue at `now`.
pub fn overdue_before(now: OffsetDateTime) -> String {
    format!("{:020}", now.unix_timestamp())
}

pub fn created_sort(created_at: OffsetDateTime, job_id: &JobId) -> String {
    let micros = created_at.unix_timestamp_nanos() / 1_000;
    format!("{micros:020}#{job_id}")
}

/// The state a conditional job write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub status: JobStatus,
    pub attempts: u32,
    pub cancel_requested: bool,
}

impl Job {
    pub fn expected(&self) -> Expected {
        Expected {
            status: self.status,
            attempts: self.attempts,
            cancel_requested: self.cancel_requested,
        }
    }

    /// Why the job should stop now, if it should: a cancel was asked, or its `Cancel-After`
    /// passed.
    pub fn cancel_reason(&self, now: OffsetDateTime) -> Option<CancelReason> {
        if self.cancel_requested {
            Some(CancelReason::Requested)
        } else if self.cancel_at > 0 && now.unix_timestamp() >= self.cancel_at {
            Some(CancelReason::CancelAfterElapsed)
        } else {
            None
        }
    }

    /// The job canceled with the outcomes so far: every image still pending is canceled, the
    /// delivered ones are kept and charged, the rest of the reservation is refunded.
    pub fn canceled(
        &self,
        outcomes: Vec<ImageOutcome>,
        reason: CancelReason,
        now: OffsetDateTime,
    ) -> Job {
        let mut outcomes = outcomes;
        for outcome in outcomes
            .iter_mut()
            .filter(|o| o.state == ImageState::Pending)
        {
            outcome.end(ImageState::Canceled, reason.code(), reason.message().into());
        }
        let mut next = self.finished(outcomes, now);
        next.status = JobStatus::Canceled;
        next.webhook_pending = next.end_event_wanted();
        next.error = Some(JobFailure {
            code: reason.code().into(),
            message: match reason {
                CancelReason::Requested => "the job was canceled".into(),
                CancelReason::CancelAfterElapsed => {
                    "the job did not finish before its Cancel-After".into()
                }
            },
        });
        next
    }

    /// Claims a queued job (or a running one whose worker went silent) for one attempt; its
    /// images get their outcomes on the first claim.
    pub fn claimed(&self, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.status = JobStatus::Running;
        next.attempts += 1;
        next.updated_at = now;
        next.outcomes = self.outcomes_or_pending();
        next
    }

    /// The images' outcomes so far: all pending before the first claim.
    pub fn outcomes_or_pending(&self) -> Vec<ImageOutcome> {
        if self.outcomes.is_empty() {
            (0..self.params.count)
                .map(|_| ImageOutcome::pending())
                .collect()
        } else {
            self.outcomes.clone()
        }
    }

    /// Back to the queue with the outcomes so far, for the next delivery.
    pub fn requeued(&self, outcomes: Vec<ImageOutcome>, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.status = JobStatus::Queued;
        next.outcomes = outcomes;
        next.updated_at = now;
        next
    }

    /// The job once every image has an outcome: succeeded with at least one delivered image,
    /// else failed with the first image's reason; the reservation beyond the delivered images
    /// is refunded.
    pub fn finished(&self, outcomes: Vec<ImageOutcome>, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.images = outcomes.iter().filter_map(|o| o.image.clone()).collect();
        let delivered = u32::try_from(next.images.len()).unwrap_or(u32::MAX);
        next.refused_images = count(&outcomes, ImageState::Refused);
        next.refunded_images = self.reserved_images.saturating_sub(delivered);
        next.error = if delivered > 0 {
            None
        } else {
            Some(
                outcomes
                    .iter()
                    .find(|o| o.state != ImageState::Delivered)
                    .map(|o| JobFailure {
                        code: o.code.clone().unwrap_or_else(|| "internal".into()),
                        message: o.message.clone().unwrap_or_default(),
                    })
                    .unwrap_or_else(|| JobFailure {
                        code: "internal".into(),
                        message: "the job produced no image".into(),
                    }),
            )
        };
        next.status = if delivered > 0 {
            JobStatus::Succeeded
        } else {
            JobStatus::Failed
        };
        next.outcomes = outcomes;
        next.updated_at = now;
        next.webhook_pending = next.end_event_wanted();
        next
    }

    /// Whether the job has ended and its webhook takes that end's event.
    pub fn end_event_wanted(&self) -> bool {
        match (self.status.event(), &self.webhook) {
            (Some(event), Some(webhook)) => webhook.wants(event),
            _ => false,
        }
    }

    /// Ends the job without images (it could not run at all): every image failed with
    /// `failure`'s code, everything refunded.
    pub fn failed(&self, failure: JobFailure, now: OffsetDateTime) -> Job {
        let mut outcomes = self.outcomes_or_pending();
        for outcome in outcomes
            .iter_mut()
            .filter(|o| o.state == ImageState::Pending)
        {
            outcome.end(ImageState::Failed, &failure.code, failure.message.clone());
        }
        let mut next = self.finished(outcomes, now);
        if next.status == JobStatus::Failed {
            next.error = Some(failure);
        }
        next
    }

    pub fn delivered_images(&self) -> u32 {
        u32::try_from(self.images.len()).unwrap_or(u32::MAX)
    }
}

fn count(outcomes: &[ImageOutcome], state: ImageState) -> u32 {
    u32::try_from(outcomes.iter().filter(|o| o.state == state).count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_final_status_sends_its_event_and_no_other_does() {
        let events: Vec<_> = JobStatus::ALL.into_iter().map(JobStatus::event).collect();
        assert_eq!(
            events,
            [
                None,
                None,
                Some(WebhookEvent::Succeeded),
                Some(WebhookEvent::Failed),
                Some(WebhookEvent::Canceled),
            ]
        );
    }
}
