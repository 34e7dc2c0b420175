//! One job, one delivery: claim it, load its reference images, ask the generator for every
//! image still pending (each within what is left of its call budget), store what came back,
//! then either finish the job or put it back on the queue with the outcomes so far. Every write
//! is conditional on the state it read, so a redelivered or concurrent message does nothing
//! twice: no second image set, no second charge, no second refund.
//!
//! A cancel (asked by the client, or the job's `Cancel-After` passing) stops a delivery: images
//! in flight are abandoned, the delivered ones kept, and the job ends `canceled`. The worker
//! looks at the job record every [`CANCEL_POLL`] while it generates; a cancel that lands after
//! its last look makes its final write conflict, and it ends the job canceled then.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::App;
use crate::blobs;
use crate::domain::jobs::{
    CancelReason, ImageOutcome, ImageState, Job, JobFailure, JobStatus, MAX_DEFER, StoredImage,
};
use crate::domain::limits::{self, Measure, Subject, Window};
use crate::domain::pricing::ModelPrice;
use crate::gemini::{
    CallBudget, GenerateError, GeneratedImage, ImageAttempt, ImageGenerator, ImageRequest,
    InlineImage, Usage,
};
use crate::images::ImageFormat;
use crate::queue::JobMessage;
use crate::store::StoreError;
use crate::telemetry::Unit;

/// What a delivery did, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded,
    Failed,
    Canceled,
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
    /// Images are still pending and should be tried again soon, not after the whole visibility
    /// timeout: after `hint` when the upstream asked for a wait (capped at [`MAX_DEFER`]).
    #[error("images still pending ({reason}); retrying after {hint:?}")]
    Deferred {
        reason: String,
        hint: Option<Duration>,
    },
}

impl StepError {
    /// How soon the message should come back, when sooner than the visibility timeout.
    pub fn retry_delay(&self) -> Option<Duration> {
        match self {
            StepError::Deferred { hint, .. } => Some(hint.unwrap_or(RETRY_SOON)),
            _ => None,
        }
    }

    /// The wait the upstream asked for, if any.
    pub fn upstream_hint(&self) -> Option<Duration> {
        match self {
            StepError::Deferred { hint, .. } => *hint,
            _ => None,
        }
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Transient(format!("store: {e}"))
    }
}

/// How soon pending images are tried again when no hint says otherwise.
const RETRY_SOON: Duration = Duration::from_secs(10);

/// How often a delivery looks for a cancel while it generates: one read of the job each time.
pub const CANCEL_POLL: Duration = Duration::from_secs(2);

pub struct Worker {
    pub app: App,
    pub generator: Arc<dyn ImageGenerator>,
    /// Model calls one image may cost over every delivery (`IMAGEGEN_GEMINI_MAX_ATTEMPTS`).
    pub image_attempts: u32,
    /// The price of the model's tokens (`config::model_price`); `None`: costs stay unknown.
    pub price: Option<ModelPrice>,
}

impl Worker {
    pub fn new(app: App, generator: Arc<dyn ImageGenerator>, image_attempts: u32) -> Self {
        Self {
            app,
            generator,
            image_attempts: image_attempts.max(1),
            price: None,
        }
    }

    /// Prices the model's tokens at `price`.
    pub fn with_price(mut self, price: Option<ModelPrice>) -> Self {
        self.price = price;
        self
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
            // The worker that ended it may have died before queuing its event.
            super::webhooks::notify(app, &job).await;
            return Ok(StepOutcome::Skipped);
        }
        let now = app.clock.now();
        if self.leased(&job) {
            return Err(StepError::Busy);
        }
        if let Some(reason) = job.cancel_reason(now) {
            let done = job.canceled(job.outcomes_or_pending(), reason, now);
            return self.finish(&job, done).await;
        }
        let claimed = job.claimed(now);
        match app.store.update_job(&claimed, job.expected()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(StepError::Busy),
            Err(e) => return Err(e.into()),
        }
        let last_delivery = receive_count >= app.config.max_receive_count;
        tracing::info!(job_id = %claimed.job_id, tenant = %claimed.tenant, attempt = claimed.attempts, receive_count, "job claimed");
        self.run(claimed, last_delivery).await
    }

    /// A worker claimed the job and may still be at it: no invocation outlives the lease.
    fn leased(&self, job: &Job) -> bool {
        super::jobs::leased(&self.app, job)
    }

    async fn run(&self, job: Job, last_delivery: bool) -> Result<StepOutcome, StepError> {
        let started = Instant::now();
        let mut references = Vec::with_capacity(job.params.reference_keys.len());
        for key in &job.params.reference_keys {
            match self.app.blobs.get(key).await {
                Ok(Some(blob)) => references.push(InlineImage {
                    mime_type: blob.content_type,
                    data: blob.data,
                }),
                Ok(None) => {
                    let failure = JobFailure {
                        code: "reference_missing".into(),
                        message: "a reference image expired before the job ran".into(),
                    };
                    return self.fail(job, failure).await;
                }
                Err(e) => {
                    tracing::warn!(job_id = %job.job_id, error = %e, "reference image unavailable");
                    if last_delivery {
                        let failure = JobFailure {
                            code: "blob_unavailable".into(),
                            message: "the job's reference images could not be read".into(),
                        };
                        return self.fail(job, failure).await;
                    }
                    let requeued = job.requeued(job.outcomes.clone(), self.app.clock.now());
                    match self.write_seeing_cancel(requeued, &job).await? {
                        // A cancel came meanwhile: the job ended canceled instead.
                        written if written.status.is_final() => {
                            return Ok(self.ended(&job, &written).await);
                        }
                        _ => return Err(StepError::Transient("blob_unavailable".into())),
                    }
                }
            }
        }
        let request = ImageRequest {
            prompt: job.params.prompt.clone(),
            reference_images: references,
            aspect_ratio: job.params.aspect_ratio.clone(),
            count: job.params.count,
            image_size: job.params.image_size.clone(),
        };
        let until = started + self.app.config.invocation_budget();

        let mut outcomes = job.outcomes.clone();
        let pending: Vec<usize> = (0..outcomes.len())
            .filter(|&i| outcomes[i].state == ImageState::Pending)
            .collect();
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(None);
        let attempts = futures_util::future::join_all(pending.iter().map(|&i| {
            let calls = self.image_attempts.saturating_sub(outcomes[i].calls);
            let mut canceled = cancel_rx.clone();
            let attempt = self.attempt(&request, i, calls, until);
            async move {
                tokio::select! {
                    attempt = attempt => Some(attempt),
                    // Abandoned in flight: the image stays pending, and is canceled below.
                    _ = canceled.wait_for(Option::is_some) => None,
                }
            }
        }));
        let attempts = {
            let watch = self.watch_cancel(&job, &cancel_tx);
            tokio::pin!(attempts, watch);
            let mut watching = true;
            loop {
                tokio::select! {
                    attempts = &mut attempts => break attempts,
                    () = &mut watch, if watching => watching = false,
                }
            }
        };
        let cancel = *cancel_rx.borrow();

        let mut usage = Usage::default();
        let mut calls = 0;
        // Calls that ended in an image or a refusal: the model did its job on those.
        let mut answered = 0;
        let mut hint: Option<Duration> = None;
        for (&i, attempt) in pending.iter().zip(attempts) {
            let Some(attempt) = attempt else { continue };
            usage += attempt.usage;
            calls += attempt.calls;
            let outcome = &mut outcomes[i];
            outcome.calls += attempt.calls;
            if attempt
                .outcome
                .as_ref()
                .map_or_else(GenerateError::is_refusal, |_| true)
            {
                answered += 1;
            }
            match attempt.outcome {
                Ok(image) => self.store_image(&job, i, image, outcome).await,
                Err(e) if e.is_refusal() => {
                    outcome.end(ImageState::Refused, e.code(), public_message(&e));
                }
                Err(e) if !e.retryable() || outcome.calls >= self.image_attempts => {
                    tracing::warn!(job_id = %job.job_id, image = i, code = e.code(), error = %e, "image failed");
                    outcome.end(ImageState::Failed, e.code(), public_message(&e));
                }
                Err(e) => {
                    tracing::info!(job_id = %job.job_id, image = i, code = e.code(), calls = outcome.calls, "image still pending");
                    outcome.code = Some(e.code().to_owned());
                    outcome.message = Some(public_message(&e));
                    if let Some(after) = e.retry_after() {
                        hint = Some(hint.map_or(after, |h| h.max(after)));
                    }
                }
            }
        }
        // This delivery's tokens go on the job with every write that follows, and on the
        // tenant's cost counters once one of those writes won.
        let (job_usage, cost) =
            job.usage
                .plus(usage.prompt_tokens, usage.output_tokens, self.price);
        self.emit_calls(calls, calls.saturating_sub(answered), &usage, cost, started);
        let job = Job {
            usage: job_usage,
            ..job
        };

        if let Some(reason) = cancel.or_else(|| job.cancel_reason(self.app.clock.now())) {
            let done = job.canceled(outcomes, reason, self.app.clock.now());
            let outcome = self.finish(&job, done).await;
            return self.counted(outcome, &job.tenant, cost).await;
        }
        let still_pending = outcomes.iter().any(|o| o.state == ImageState::Pending);
        if still_pending && !last_delivery {
            let reason = outcomes
                .iter()
                .find_map(|o| o.code.clone())
                .unwrap_or_else(|| "pending".into());
            let requeued = job.requeued(outcomes, self.app.clock.now());
            match self.write_seeing_cancel(requeued, &job).await {
                // A cancel came after the last look: the job ended canceled instead.
                Ok(written) if written.status.is_final() => {
                    let outcome = Ok(self.ended(&job, &written).await);
                    return self.counted(outcome, &job.tenant, cost).await;
                }
                Ok(_) => self.count_cost(&job.tenant, cost).await,
                Err(StoreError::Conflict(_)) => return Ok(StepOutcome::Skipped),
                Err(e) => return Err(e.into()),
            }
            return Err(StepError::Deferred {
                reason,
                hint: hint.map(|h| h.min(MAX_DEFER)),
            });
        }
        // The last delivery: what is still pending will not get another one.
        for outcome in &mut outcomes {
            outcome.give_up();
        }
        let done = job.finished(outcomes, self.app.clock.now());
        let outcome = self.finish(&job, done).await;
        self.counted(outcome, &job.tenant, cost).await
    }

    /// After a write that recorded a delivery's tokens won (`outcome` is not `Skipped`): their
    /// cost goes on the tenant's counters.
    async fn counted(
        &self,
        outcome: Result<StepOutcome, StepError>,
        tenant: &str,
        cost: u64,
    ) -> Result<StepOutcome, StepError> {
        if matches!(outcome, Ok(o) if o != StepOutcome::Skipped) {
            self.count_cost(tenant, cost).await;
        }
        outcome
    }

    /// Adds `cost` micro-dollars to the tenant's day and month cost counters (never capped).
    /// An estimate: a failed add is logged, not retried.
    async fn count_cost(&self, tenant: &str, cost: u64) {
        if cost == 0 {
            return;
        }
        let now = self.app.clock.now();
        let subject = Subject::Tenant(tenant);
        let adds: Vec<_> = [Window::Day, Window::Month]
            .into_iter()
            .map(|window| {
                let (mut add, _) = limits::counter(Measure::Cost, &subject, window, now, cost, 0);
                add.limit = u64::MAX;
                add
            })
            .collect();
        if let Err(e) = self.app.store.reserve(&adds).await {
            tracing::warn!(tenant, cost, error = %e, "the job's cost could not be counted");
        }
    }

    /// One pending image: its remaining calls, or no call when none are left.
    async fn attempt(
        &self,
        request: &ImageRequest,
        index: usize,
        calls: u32,
        until: Instant,
    ) -> ImageAttempt {
        if calls == 0 {
            let error = GenerateError::Unavailable {
                attempts: 0,
                message: "the image's model calls are used up".into(),
            };
            return ImageAttempt::failed(error, 0);
        }
        let index = u8::try_from(index).unwrap_or(u8::MAX);
        self.generator
            .generate_image(request, index, CallBudget { calls, until })
            .await
    }

    /// The image in the format the job asked for (`output_format`, `quality`): re-encoded off
    /// the async threads (a 4K image is about a second of CPU). An image the model sent that
    /// does not decode is its malformed answer.
    async fn in_requested_format(
        &self,
        job: &Job,
        image: GeneratedImage,
    ) -> Result<GeneratedImage, String> {
        let format = match job.params.output_format.as_deref() {
            Some("jpeg") => ImageFormat::Jpeg,
            Some("webp") => ImageFormat::Webp,
            Some("png") => ImageFormat::Png,
            _ => return Ok(image),
        };
        let quality = job.params.quality;
        // Same format and no quality asked of it: the model's bytes as they are.
        if format == image.format && quality.is_none() {
            return Ok(image);
        }
        let converted = tokio::task::spawn_blocking(move || {
            crate::images::transcode(
                &image.data,
                format,
                quality,
                &crate::gemini::generated_image_limits(),
            )
        })
        .await
        .map_err(|e| format!("re-encoding stopped: {e}"))?
        .map_err(|e| e.to_string())?;
        Ok(GeneratedImage {
            format: converted.format,
            width: converted.width,
            height: converted.height,
            data: converted.data,
        })
    }

    /// Stores a generated image under this attempt's key, in the format the job asked for; a
    /// storage failure leaves the image pending (its calls are spent, so a retry stays within
    /// the budget).
    async fn store_image(
        &self,
        job: &Job,
        index: usize,
        image: GeneratedImage,
        outcome: &mut ImageOutcome,
    ) {
        let image = match self.in_requested_format(job, image).await {
            Ok(image) => image,
            // Another call would most likely make an image that fails the same way: the image
            // ends here, not charged, rather than cost more calls.
            Err(e) => {
                tracing::warn!(job_id = %job.job_id, image = index, error = %e, "re-encoding an image failed");
                outcome.end(
                    ImageState::Failed,
                    "output_format_failed",
                    "the image could not be delivered in the output_format asked for".into(),
                );
                return;
            }
        };
        let key = blobs::generated_key(
            &job.tenant,
            job.job_id.as_str(),
            job.attempts,
            index,
            image.format.extension(),
        );
        let stored = StoredImage {
            key: key.clone(),
            mime_type: image.mime_type().to_owned(),
            width: image.width,
            height: image.height,
            bytes: image.data.len() as u64,
        };
        match self
            .app
            .blobs
            .put(&key, image.mime_type(), image.data)
            .await
        {
            Ok(()) => {
                outcome.state = ImageState::Delivered;
                outcome.code = None;
                outcome.message = None;
                outcome.image = Some(stored);
            }
            Err(e) => {
                tracing::warn!(job_id = %job.job_id, image = index, error = %e, "storing an image failed");
                if outcome.calls >= self.image_attempts {
                    outcome.end(
                        ImageState::Failed,
                        "storage_failed",
                        "the image could not be stored".into(),
                    );
                } else {
                    outcome.code = Some("storage_failed".into());
                    outcome.message = Some("the image could not be stored".into());
                }
            }
        }
    }

    /// Resolves once the job should stop: its `Cancel-After` passed (known without asking), or
    /// the record says a cancel was asked (read every [`CANCEL_POLL`]). A failed read is
    /// skipped: the final write still meets the cancel.
    async fn watch_cancel(
        &self,
        job: &Job,
        cancel: &tokio::sync::watch::Sender<Option<CancelReason>>,
    ) {
        loop {
            tokio::time::sleep(CANCEL_POLL).await;
            let reason = match job.cancel_reason(self.app.clock.now()) {
                Some(reason) => Some(reason),
                None => match self.app.store.get_job(&job.job_id).await {
                    Ok(Some(current)) if current.cancel_requested => Some(CancelReason::Requested),
                    _ => None,
                },
            };
            if let Some(reason) = reason {
                tracing::info!(job_id = %job.job_id, code = reason.code(), "canceling the job's images in flight");
                cancel.send_replace(Some(reason));
                return;
            }
        }
    }

    /// Writes `next` over `job`; if that conflicts because the client asked for a cancel
    /// meanwhile (and nothing else changed), writes the canceled job instead: a job still
    /// pending ends `canceled` with what it delivered, a finished one stays as it ended. The
    /// job written is returned; a conflict with anything else is the caller's.
    async fn write_seeing_cancel(&self, next: Job, job: &Job) -> Result<Job, StoreError> {
        let conflict = match self.write(&next, job).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict(c)) => c,
            Err(e) => return Err(e),
        };
        let current = match self.app.store.get_job(&job.job_id).await? {
            Some(current)
                if current.cancel_requested
                    && !job.cancel_requested
                    && current.status == job.status
                    && current.attempts == job.attempts =>
            {
                current
            }
            _ => return Err(StoreError::Conflict(conflict)),
        };
        let next = if next.status.is_final() {
            Job {
                cancel_requested: true,
                ..next
            }
        } else {
            // The stored record lacks this delivery's tokens; `next` has them.
            Job {
                usage: next.usage,
                ..current.canceled(next.outcomes, CancelReason::Requested, next.updated_at)
            }
        };
        self.write(&next, &current).await?;
        Ok(next)
    }

    /// Writes the ended job `done` over `job` (conditional on `job`'s state), then, only if
    /// that write won, releases what it did not use.
    async fn finish(&self, job: &Job, done: Job) -> Result<StepOutcome, StepError> {
        match self.write_seeing_cancel(done, job).await {
            Ok(done) => Ok(self.ended(job, &done).await),
            Err(StoreError::Conflict(_)) => Ok(StepOutcome::Skipped),
            Err(e) => Err(e.into()),
        }
    }

    /// After the write that ended `job` as `done` won: the refund, metrics and the log line.
    async fn ended(&self, job: &Job, done: &Job) -> StepOutcome {
        let app = &self.app;
        let now = done.updated_at;
        super::jobs::settle(&self.app, done).await;
        let delivered = done.delivered_images();
        let duration_ms = (now - job.created_at).as_seconds_f64() * 1e3;
        app.metrics.emit(
            &[],
            &[
                ("ImagesGenerated", f64::from(delivered), Unit::Count),
                ("ImagesRefused", f64::from(done.refused_images), Unit::Count),
                ("JobDuration", duration_ms, Unit::Milliseconds),
            ],
        );
        tracing::info!(
            job_id = %job.job_id,
            tenant = %job.tenant,
            status = done.status.as_str(),
            delivered,
            refused = done.refused_images,
            refunded = done.refunded_images,
            code = done.error.as_ref().map(|e| e.code.as_str()),
            "job finished"
        );
        match done.status {
            JobStatus::Succeeded => StepOutcome::Succeeded,
            JobStatus::Canceled => StepOutcome::Canceled,
            _ => StepOutcome::Failed,
        }
    }

    /// Ends a job that will not run again (the queue gave up on its message, or it is past its
    /// deadline): its pending images fail with `failure`, what is not delivered is refunded.
    /// Nothing to do for an unknown or finished job; a job a worker holds within its lease is
    /// left to that worker (`Busy`: if it never finishes, the deadline sweep ends it).
    pub async fn abandon(
        &self,
        job_id: &crate::domain::ids::JobId,
        failure: JobFailure,
    ) -> Result<StepOutcome, StepError> {
        let Some(job) = self.app.store.get_job(job_id).await? else {
            return Ok(StepOutcome::Skipped);
        };
        if job.status.is_final() {
            // In the janitor's index only while its end event waits to be queued.
            super::webhooks::notify(&self.app, &job).await;
            return Ok(StepOutcome::Skipped);
        }
        if self.leased(&job) {
            return Err(StepError::Busy);
        }
        let now = self.app.clock.now();
        if let Some(reason) = job.cancel_reason(now) {
            tracing::info!(job_id = %job.job_id, tenant = %job.tenant, code = reason.code(), "canceling a job no worker holds");
            let done = job.canceled(job.outcomes_or_pending(), reason, now);
            return self.finish(&job, done).await;
        }
        tracing::warn!(job_id = %job.job_id, tenant = %job.tenant, status = job.status.as_str(), code = %failure.code, "ending an abandoned job");
        self.fail(job, failure).await
    }

    /// Fails the job's pending images for good: everything not delivered goes back to the quota.
    async fn fail(&self, job: Job, failure: JobFailure) -> Result<StepOutcome, StepError> {
        let done = job.failed(failure, self.app.clock.now());
        self.finish(&job, done).await
    }

    /// Writes `next` over `job` (conditional on `job`'s state): see [`super::jobs::write`].
    async fn write(&self, next: &Job, job: &Job) -> Result<(), StoreError> {
        super::jobs::write(&self.app, next, job).await
    }

    fn emit_calls(&self, calls: u32, failed: u32, usage: &Usage, cost: u64, started: Instant) {
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        self.app.metrics.emit(
            &[("Generator", self.generator.name())],
            &[
                ("GeminiRequests", f64::from(calls), Unit::Count),
                ("GeminiErrors", f64::from(failed), Unit::Count),
                ("GeminiLatency", latency_ms, Unit::Milliseconds),
                (
                    "GeminiOutputTokens",
                    usage.output_tokens as f64,
                    Unit::Count,
                ),
                ("GeminiInputTokens", usage.prompt_tokens as f64, Unit::Count),
                // Micro-dollars: CloudWatch has no currency unit.
                ("EstimatedCostMicrodollars", cost as f64, Unit::Count),
            ],
        );
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
        "upstream_malformed" => "the model's answer held no usable image".into(),
        _ => "the image model failed; try again later".into(),
    }
}
