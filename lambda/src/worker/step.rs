//! One job, one attempt: claim it, load its reference images, call the generator, store the
//! images, finish it. Every write is conditional on the state it read, so a redelivered or
//! concurrent message does nothing twice: no second image set, no second charge.

use std::sync::Arc;
use std::time::Instant;

use crate::App;
use crate::blobs;
use crate::domain::admission;
use crate::domain::jobs::{Job, JobFailure, JobStatus, StoredImage};
use crate::gemini::{GenerateError, ImageGenerator, ImageRequest, InlineImage};
use crate::queue::JobMessage;
use crate::store::StoreError;
use crate::telemetry::Unit;

/// What a delivery did, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded,
    Failed,
    /// Nothing to do: unknown or already finished job (a redelivery).
    Skipped,
}

/// A delivery that should be retried later (the message stays on the queue).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("job is being processed by another worker")]
    Busy,
    #[error("transient failure ({0}); will retry")]
    Transient(String),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Transient(format!("store: {e}"))
    }
}

pub struct Worker {
    pub app: App,
    pub generator: Arc<dyn ImageGenerator>,
}

impl Worker {
    pub fn new(app: App, generator: Arc<dyn ImageGenerator>) -> Self {
        Self { app, generator }
    }

    /// Processes one delivery; `receive_count` is SQS's ApproximateReceiveCount.
    pub async fn process(
        &self,
        message: &JobMessage,
        receive_count: u32,
    ) -> Result<StepOutcome, StepError> {
        let app = &self.app;
        let Some(job) = app.store.get_job(&message.job_id).await? else {
            tracing::warn!(job_id = %message.job_id, "message for an unknown job; dropping it");
            return Ok(StepOutcome::Skipped);
        };
        if job.status.is_final() {
            tracing::info!(job_id = %job.job_id, status = job.status.as_str(), "job already finished; redelivery ignored");
            return Ok(StepOutcome::Skipped);
        }
        let now = app.clock.now();
        let lease = time::Duration::try_from(app.config.worker_lease)
            .unwrap_or(time::Duration::MINUTE * 15);
        if job.status == JobStatus::Running && job.updated_at + lease > now {
            return Err(StepError::Busy);
        }
        let claimed = job.claimed(now);
        match app.store.update_job(&claimed, job.expected()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(StepError::Busy),
            Err(e) => return Err(e.into()),
        }
        let last_attempt = receive_count >= app.config.max_receive_count;
        tracing::info!(job_id = %claimed.job_id, tenant = %claimed.tenant, attempt = claimed.attempts, receive_count, "job claimed");
        self.run(claimed, last_attempt).await
    }

    async fn run(&self, job: Job, last_attempt: bool) -> Result<StepOutcome, StepError> {
        let app = &self.app;
        let mut references = Vec::with_capacity(job.params.reference_keys.len());
        for key in &job.params.reference_keys {
            match app.blobs.get(key).await {
                Ok(Some(blob)) => references.push(InlineImage {
                    mime_type: blob.content_type,
                    data: blob.data,
                }),
                Ok(None) => {
                    let failure = JobFailure {
                        code: "reference_missing".into(),
                        message: "a reference image expired before the job ran".into(),
                    };
                    return self.fail(job, failure, false).await;
                }
                Err(e) => {
                    return self
                        .retry_or_fail(job, "blob_unavailable", e.to_string(), false, last_attempt)
                        .await;
                }
            }
        }
        let request = ImageRequest {
            prompt: job.params.prompt.clone(),
            reference_images: references,
            aspect_ratio: job.params.aspect_ratio.clone(),
            count: job.params.count,
        };
        let started = Instant::now();
        let result = self.generator.generate(&request).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(generation) if !generation.images.is_empty() => {
                app.metrics.emit(
                    &[("Generator", self.generator.name())],
                    &[
                        ("GeminiRequests", f64::from(generation.calls), Unit::Count),
                        ("GeminiLatency", latency_ms, Unit::Milliseconds),
                    ],
                );
                self.succeed(job, generation.images).await
            }
            Ok(generation) => {
                app.metrics.emit(
                    &[("Generator", self.generator.name())],
                    &[
                        ("GeminiRequests", f64::from(generation.calls), Unit::Count),
                        ("GeminiErrors", 1.0, Unit::Count),
                    ],
                );
                let failure = JobFailure {
                    code: "no_image".into(),
                    message: "the model answered without an image".into(),
                };
                self.fail(job, failure, true).await
            }
            Err(e) => {
                app.metrics.emit(
                    &[("Generator", self.generator.name())],
                    &[
                        ("GeminiRequests", 1.0, Unit::Count),
                        ("GeminiErrors", 1.0, Unit::Count),
                    ],
                );
                tracing::warn!(job_id = %job.job_id, code = e.code(), error = %e, "generation failed");
                self.generation_failed(job, e, last_attempt).await
            }
        }
    }

    async fn generation_failed(
        &self,
        job: Job,
        e: GenerateError,
        last_attempt: bool,
    ) -> Result<StepOutcome, StepError> {
        let message = public_message(&e);
        if e.retryable() && !last_attempt {
            return self
                .retry_or_fail(job, e.code(), message, e.charged(), false)
                .await;
        }
        let failure = JobFailure {
            code: e.code().to_owned(),
            message,
        };
        self.fail(job, failure, e.charged()).await
    }

    /// Puts the job back to `queued` for the next delivery, or fails it on the last attempt.
    async fn retry_or_fail(
        &self,
        job: Job,
        code: &str,
        message: String,
        charged: bool,
        last_attempt: bool,
    ) -> Result<StepOutcome, StepError> {
        if last_attempt {
            let failure = JobFailure {
                code: code.to_owned(),
                message,
            };
            return self.fail(job, failure, charged).await;
        }
        let mut queued = job.clone();
        queued.status = JobStatus::Queued;
        queued.updated_at = self.app.clock.now();
        self.app.store.update_job(&queued, job.expected()).await?;
        Err(StepError::Transient(code.to_owned()))
    }

    async fn succeed(
        &self,
        job: Job,
        images: Vec<crate::gemini::GeneratedImage>,
    ) -> Result<StepOutcome, StepError> {
        let app = &self.app;
        let mut stored = Vec::with_capacity(images.len());
        for (n, image) in images.into_iter().enumerate() {
            let (ext, width, height) = match crate::images::dimensions(&image.data) {
                Some((format, w, h)) => (format.extension(), w, h),
                None => ("bin", 0, 0),
            };
            let key = blobs::generated_key(&job.tenant, job.job_id.as_str(), n, ext);
            let bytes = image.data.len() as u64;
            if let Err(e) = app.blobs.put(&key, &image.mime_type, image.data).await {
                // Gemini already charged: a retry would pay again, so fail rather than retry.
                let failure = JobFailure {
                    code: "storage_failed".into(),
                    message: format!("the images could not be stored: {e}"),
                };
                return self.fail(job, failure, true).await;
            }
            stored.push(StoredImage {
                key,
                mime_type: image.mime_type,
                width,
                height,
                bytes,
            });
        }
        let delivered = u32::try_from(stored.len()).unwrap_or(u32::MAX);
        let unspent = job.reserved_images.saturating_sub(delivered);
        let now = app.clock.now();
        let mut done = job.succeeded(stored, now);
        done.refunded_images = unspent;
        match app.store.update_job(&done, job.expected()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(StepOutcome::Skipped),
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = admission::refund(app, &job, unspent).await {
            tracing::error!(job_id = %job.job_id, error = %e, "refund of unspent images failed");
        }
        let duration_ms = (now - job.created_at).as_seconds_f64() * 1e3;
        app.metrics.emit(
            &[],
            &[
                ("ImagesGenerated", f64::from(delivered), Unit::Count),
                ("JobDuration", duration_ms, Unit::Milliseconds),
            ],
        );
        tracing::info!(job_id = %job.job_id, tenant = %job.tenant, images = delivered, "job succeeded");
        Ok(StepOutcome::Succeeded)
    }

    /// Fails the job for good; what Gemini did not charge goes back to the quota.
    async fn fail(
        &self,
        job: Job,
        failure: JobFailure,
        charged: bool,
    ) -> Result<StepOutcome, StepError> {
        let app = &self.app;
        let refund = if charged { 0 } else { job.reserved_images };
        let failed = job.failed(failure.clone(), refund, app.clock.now());
        match app.store.update_job(&failed, job.expected()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(StepOutcome::Skipped),
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = admission::refund(app, &job, refund).await {
            tracing::error!(job_id = %job.job_id, error = %e, "quota refund failed");
        }
        tracing::info!(job_id = %job.job_id, tenant = %job.tenant, code = %failure.code, refunded = refund, "job failed");
        Ok(StepOutcome::Failed)
    }
}

/// What a client may read about a generation failure (no upstream internals).
fn public_message(e: &GenerateError) -> String {
    match e.code() {
        "content_blocked" => "the request was blocked by the model's safety filters".into(),
        "no_image" => "the model answered without an image".into(),
        "invalid_request" => "the model rejected the request".into(),
        "upstream_rate_limited" => {
            "the model is rate limiting this service; try again later".into()
        }
        "upstream_timeout" => "the model did not answer in time".into(),
        _ => "the image model failed; try again later".into(),
    }
}
