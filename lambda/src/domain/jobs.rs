//! Jobs and their state machine: queued -> running -> succeeded | failed. Every transition is
//! a conditional write on (status, attempts), so a redelivered or concurrent message can never
//! produce a second set of images or a second charge.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ids::JobId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
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

/// Why a job failed, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobFailure {
    pub code: String,
    pub message: String,
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
    pub images: Vec<StoredImage>,
    pub error: Option<JobFailure>,
    /// Quota counters this job's images were reserved on, so a refund hits the same windows.
    pub quota_counters: Vec<String>,
    pub reserved_images: u32,
    pub refunded_images: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Epoch seconds after which the record may be deleted (DynamoDB TTL).
    pub expires_at: i64,
}

impl Job {
    /// Sort key of the by-tenant index: newest first when read backwards, ties broken by id.
    pub fn created_sort(&self) -> String {
        created_sort(self.created_at, &self.job_id)
    }
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
}

impl Job {
    pub fn expected(&self) -> Expected {
        Expected {
            status: self.status,
            attempts: self.attempts,
        }
    }

    /// Claims a queued job (or a running one whose worker went silent) for one attempt.
    pub fn claimed(&self, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.status = JobStatus::Running;
        next.attempts += 1;
        next.updated_at = now;
        next
    }

    pub fn succeeded(&self, images: Vec<StoredImage>, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.status = JobStatus::Succeeded;
        next.images = images;
        next.error = None;
        next.updated_at = now;
        next
    }

    pub fn failed(&self, failure: JobFailure, refunded: u32, now: OffsetDateTime) -> Job {
        let mut next = self.clone();
        next.status = JobStatus::Failed;
        next.error = Some(failure);
        next.refunded_images = refunded;
        next.updated_at = now;
        next
    }
}
