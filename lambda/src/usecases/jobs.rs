//! A tenant's jobs: one job, a page of them, waiting for one to end, the download URLs of what
//! it delivered, canceling it and deleting it. A job is visible only to its tenant.

use std::time::Duration;

use crate::App;
use crate::blobs::{self, BlobError, SignedUrl};
use crate::domain::ids::JobId;
use crate::domain::jobs::{CancelReason, Job, JobStatus};
use crate::store::{JobCursor, JobFilter, StoreError};
use crate::usecases::admission;

/// How often a waiting request looks at the job again.
const POLL_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Only a finished job can be deleted: one still queued or running is canceled first.
    #[error("the job is still {0}")]
    Active(&'static str),
    /// Another writer kept changing the job (a worker finishing it): the client may retry.
    #[error("the job changed while it was being canceled")]
    Contended,
}

/// Conditional writes a cancel tries before it gives up to a job that keeps changing.
const CANCEL_TRIES: usize = 4;

/// A job with a fresh download URL for each delivered image, in order.
#[derive(Debug, Clone)]
pub struct JobDownloads {
    pub job: Job,
    pub downloads: Vec<SignedUrl>,
}

/// Signs a download URL, valid for the configured TTL, for every image the job delivered.
pub async fn with_downloads(app: &App, job: Job) -> Result<JobDownloads, QueryError> {
    let now = app.clock.now();
    let mut downloads = Vec::with_capacity(job.images.len());
    for image in &job.images {
        downloads.push(
            app.blobs
                .signed_get_url(&image.key, app.config.url_ttl, now)
                .await?,
        );
    }
    Ok(JobDownloads { job, downloads })
}

/// `tenant`'s job `job_id`; another tenant's job is as absent as a missing one.
pub async fn get(
    app: &App,
    tenant: &str,
    job_id: &JobId,
) -> Result<Option<JobDownloads>, QueryError> {
    match app.store.get_job(job_id).await? {
        Some(job) if job.tenant == tenant => Ok(Some(with_downloads(app, job).await?)),
        _ => Ok(None),
    }
}

/// A page of `tenant`'s jobs, newest first, and where the next page starts.
pub async fn list(
    app: &App,
    tenant: &str,
    limit: usize,
    filter: &JobFilter,
    cursor: Option<&JobCursor>,
) -> Result<(Vec<JobDownloads>, Option<JobCursor>), QueryError> {
    let (jobs, next) = app.store.list_jobs(tenant, filter, limit, cursor).await?;
    let mut page = Vec::with_capacity(jobs.len());
    for job in jobs {
        page.push(with_downloads(app, job).await?);
    }
    Ok((page, next))
}

/// The job as it is once it has ended, or when `budget` runs out.
pub async fn wait(app: &App, job: Job, budget: Duration) -> Result<Job, StoreError> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut job = job;
    while !job.status.is_final() && tokio::time::Instant::now() + POLL_EVERY <= deadline {
        tokio::time::sleep(POLL_EVERY).await;
        if let Some(current) = app.store.get_job(&job.job_id).await? {
            job = current;
        }
    }
    Ok(job)
}

/// Cancels `tenant`'s job `job_id` (`None`: no such job). A queued job, or one whose worker
/// went silent, ends `canceled` at once, its undelivered images refunded. A job a worker holds
/// is marked: the worker stops before its next image (or abandons the one in flight), keeps
/// what it delivered and ends the job. A finished job is returned as it is.
pub async fn cancel(app: &App, tenant: &str, job_id: &JobId) -> Result<Option<Job>, QueryError> {
    for _ in 0..CANCEL_TRIES {
        let Some(job) = app.store.get_job(job_id).await? else {
            return Ok(None);
        };
        if job.tenant != tenant {
            return Ok(None);
        }
        let held = leased(app, &job);
        // Already asked of a worker that still holds it: the worker is on it.
        if job.status.is_final() || (job.cancel_requested && held) {
            return Ok(Some(job));
        }
        let now = app.clock.now();
        let next = if job.status == JobStatus::Running && held {
            // The lease is not renewed: a worker that died still loses the job at its end.
            Job {
                cancel_requested: true,
                ..job.clone()
            }
        } else {
            job.canceled(job.outcomes_or_pending(), CancelReason::Requested, now)
        };
        match write(app, &next, &job).await {
            Ok(()) => {
                if next.status.is_final() {
                    tracing::info!(job_id = %job.job_id, tenant, "job canceled");
                    settle(app, &next).await;
                } else {
                    tracing::info!(job_id = %job.job_id, tenant, "cancel requested from the worker");
                }
                return Ok(Some(next));
            }
            // A worker claimed, requeued or finished it meanwhile: look again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(QueryError::Contended)
}

/// Writes `next` over `job`, conditional on `job`'s state. The store's client already retries a
/// write that timed out; when its first try had landed, the retry meets its own write as a
/// conflict. Only a conflict with something else is one: what such a write records (the calls
/// and objects a delivery spent, a cancel) is what the refund that follows it goes by.
pub async fn write(app: &App, next: &Job, job: &Job) -> Result<(), StoreError> {
    match app.store.update_job(next, job.expected()).await {
        Err(StoreError::Conflict(c)) => match app.store.get_job(&job.job_id).await {
            Ok(Some(current)) if current == *next => Ok(()),
            _ => Err(StoreError::Conflict(c)),
        },
        other => other,
    }
}

/// The refund of a job that just ended, and its webhook event: its final write won, so this
/// runs once per job.
pub async fn settle(app: &App, done: &Job) {
    if let Err(e) = admission::release_unused(app, done).await {
        tracing::error!(job_id = %done.job_id, error = %e, refund = done.refunded_images, "quota refund failed");
    }
    super::webhooks::notify(app, done).await;
}

/// Whether a worker holds the job within its lease (it may be generating right now).
pub fn leased(app: &App, job: &Job) -> bool {
    let lease =
        time::Duration::try_from(app.config.worker_lease).unwrap_or(time::Duration::MINUTE * 15);
    job.status == JobStatus::Running && job.updated_at + lease > app.clock.now()
}

/// Deletes `tenant`'s finished job `job_id`: every object stored for it (its images, those of
/// attempts that lost, its prepared references) and then its record and idempotency record.
/// Idempotent: a missing job, or another tenant's, is already deleted as far as the caller can
/// tell.
pub async fn delete(app: &App, tenant: &str, job_id: &JobId) -> Result<(), QueryError> {
    let Some(job) = app.store.get_job(job_id).await? else {
        return Ok(());
    };
    if job.tenant != tenant {
        return Ok(());
    }
    if !job.status.is_final() {
        return Err(QueryError::Active(job.status.as_str()));
    }
    // Objects first: if this stops half way, the record is still there to delete again.
    let mut removed = 0;
    for prefix in blobs::job_prefixes(&job.tenant, job.job_id.as_str()) {
        removed += app.blobs.delete_prefix(&prefix).await?;
    }
    // The key may since have been used again (its record lives a day, the job a month): only
    // a record that still points here goes.
    if let Some(pk) = &job.idempotency_pk
        && let Some(record) = app.store.get_idempotency(pk).await?
        && record.job_id == job.job_id
    {
        app.store.delete_idempotency(pk).await?;
    }
    // The attempts before the record: they are found through it.
    app.store.delete_deliveries(&job.job_id).await?;
    app.store.delete_job(&job.job_id).await?;
    tracing::info!(job_id = %job.job_id, tenant, objects = removed, "job deleted");
    Ok(())
}
