//! Job queries: a tenant's job, a page of its jobs, waiting for a job to end, and the download
//! URLs of what it delivered. A job is visible only to its tenant.

use std::time::Duration;

use crate::App;
use crate::blobs::{BlobError, SignedUrl};
use crate::domain::ids::JobId;
use crate::domain::jobs::Job;
use crate::store::{JobCursor, StoreError};

/// How often a waiting request looks at the job again.
const POLL_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

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
    cursor: Option<&JobCursor>,
) -> Result<(Vec<JobDownloads>, Option<JobCursor>), QueryError> {
    let (jobs, next) = app.store.list_jobs(tenant, limit, cursor).await?;
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
