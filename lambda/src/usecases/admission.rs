//! Admitting an image job: idempotency, reference images, quota reservation, the job record
//! and the queue message. A job that cannot be queued gives its reservation back.

use sha2::{Digest, Sha256};

use crate::App;
use crate::blobs::{self, BlobError};
use crate::domain::ids::{JobId, UploadId, hex};
use crate::domain::jobs::{Job, JobFailure, JobParams, JobStatus};
use crate::domain::keys::Caller;
use crate::domain::limits::{self, CounterAdd, Measure, PolicyState, PolicyUnit, Subject, Window};
use crate::domain::webhooks::JobWebhook;
use crate::images::{self, ImageLimits};
use crate::queue::{JobMessage, QueueError};
use crate::store::{IdempotencyRecord, Reservation, StoreError};
use crate::telemetry::Unit;

/// A reference image as the client gave it.
#[derive(Debug, Clone)]
pub enum ReferenceInput {
    Inline(Vec<u8>),
    Upload(UploadId),
}

#[derive(Debug, Clone)]
pub struct NewImageJob {
    pub prompt: String,
    pub aspect_ratio: Option<String>,
    pub count: u8,
    pub references: Vec<ReferenceInput>,
    /// `Cancel-After`: cancel the job if it has not finished this long after admission.
    pub cancel_after: Option<std::time::Duration>,
    /// Validated by `domain::request::validate_output`.
    pub output_format: Option<String>,
    pub quality: Option<u8>,
    pub image_size: Option<String>,
    /// The request's `webhook_url` and `webhook_events` (the URL already checked); without
    /// one, the key's default applies.
    pub webhook: Option<JobWebhook>,
}

/// An `Idempotency-Key` and the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_sha256: String,
}

#[derive(Debug, Clone)]
pub enum Admitted {
    /// A new job, and where its tenant now stands in its image quotas.
    New(Job, Vec<PolicyState>),
    /// The same key and body were seen before: this is that job.
    Replayed(Job),
}

impl AdmitError {
    /// The quota this refusal is about, with nothing left of it for this job.
    pub fn policy(&self) -> Option<PolicyState> {
        match self {
            AdmitError::QuotaExceeded { policy, .. }
            | AdmitError::RefusalLimitExceeded { policy, .. } => Some(*policy),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error("{field}: {message}")]
    InvalidReference {
        field: String,
        issue: &'static str,
        message: String,
        /// The bytes are not an image format we take (the HTTP layer answers 415).
        unsupported: bool,
    },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still being admitted")]
    IdempotencyInProgress,
    #[error("{scope} quota exhausted")]
    QuotaExceeded {
        scope: &'static str,
        retry_after: u64,
        policy: PolicyState,
    },
    #[error("daily refusal limit ({limit}) reached")]
    RefusalLimitExceeded {
        limit: u32,
        retry_after: u64,
        policy: PolicyState,
    },
    /// A webhook was named, and the tenant has no signing secret to sign its events with.
    #[error(
        "webhook_url: the tenant has no webhook signing secret yet; create one with POST /v1/webhooks/secret"
    )]
    NoSigningSecret,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Idempotency records live as long as jobs are worth replaying.
const IDEMPOTENCY_TTL: time::Duration = time::Duration::hours(24);

pub fn prompt_sha256(prompt: &str) -> String {
    hex(&Sha256::digest(prompt.as_bytes()))
}

pub async fn admit(
    app: &App,
    caller: &Caller,
    new: NewImageJob,
    idempotency: Option<IdempotencyKey>,
) -> Result<Admitted, AdmitError> {
    let now = app.clock.now();
    let idem_pk = idempotency
        .as_ref()
        .map(|i| format!("{}#{}", caller.tenant, i.key));
    if let (Some(pk), Some(i)) = (&idem_pk, &idempotency)
        && let Some(existing) = app.store.get_idempotency(pk).await?
    {
        return replay(app, &existing, &i.request_sha256).await;
    }

    let webhook = new.webhook.clone().or_else(|| caller.webhook.clone());
    // A job may name a webhook only once its tenant has a secret to sign the events with.
    if new.webhook.is_some()
        && app
            .store
            .get_signing_secrets(&caller.tenant)
            .await?
            .is_none()
    {
        return Err(AdmitError::NoSigningSecret);
    }
    let prepared = prepare_references(app, caller, &new.references).await?;

    let job_id = JobId::generate();
    if let (Some(pk), Some(i)) = (&idem_pk, &idempotency) {
        let record = IdempotencyRecord {
            pk: pk.clone(),
            job_id: job_id.clone(),
            request_sha256: i.request_sha256.clone(),
            expires_at: (now + IDEMPOTENCY_TTL).unix_timestamp(),
        };
        if let Some(existing) = app.store.claim_idempotency(&record).await? {
            return replay(app, &existing, &i.request_sha256).await;
        }
    }
    let release_claim = || async {
        if let Some(pk) = &idem_pk
            && let Err(e) = app.store.delete_idempotency(pk).await
        {
            tracing::warn!(error = %e, "could not release an idempotency claim");
        }
    };

    let counters = quota_counters(app, caller, now, u64::from(new.count));
    let policy = |q: &QuotaCounter, used: u64| {
        PolicyState::of(
            q.policy,
            PolicyUnit::Images,
            q.window,
            &q.add,
            q.ends,
            used,
            now,
        )
    };
    let quotas: Vec<PolicyState>;
    match app
        .store
        .reserve(&counters.iter().map(|q| q.add.clone()).collect::<Vec<_>>())
        .await
    {
        Ok(Reservation::Granted { values }) => {
            // The tenant's own quotas on every accepted job; the service-wide budget and the
            // refusal allowance only on the 429 they cause.
            quotas = counters
                .iter()
                .zip(&values)
                .take(2)
                .map(|(q, used)| policy(q, *used))
                .collect();
            if let (Some(global), Some(q)) = (values.get(2), counters.get(2)) {
                let remaining = q.add.limit.saturating_sub(*global) as f64;
                app.metrics.emit(
                    &[("Scope", "global_daily")],
                    &[("QuotaRemaining", remaining, Unit::Count)],
                );
            }
        }
        Ok(Reservation::Denied { index, current }) => {
            release_claim().await;
            let denied = counters.get(index).unwrap_or(&counters[0]);
            let scope = denied.scope;
            app.metrics
                .emit(&[("Scope", scope)], &[("QuotaExceeded", 1.0, Unit::Count)]);
            let retry_after = limits::seconds_until(denied.ends, now);
            // What is left is less than this job asks for (possibly nothing).
            let policy = policy(denied, current);
            if scope == REFUSALS_SCOPE {
                return Err(AdmitError::RefusalLimitExceeded {
                    limit: caller.limits.daily_refusal_limit,
                    retry_after,
                    policy,
                });
            }
            return Err(AdmitError::QuotaExceeded {
                scope,
                retry_after,
                policy,
            });
        }
        Err(e) => {
            release_claim().await;
            return Err(e.into());
        }
    }

    let reserved: Vec<CounterAdd> = counters.into_iter().map(|q| q.add).collect();
    let (images_reserved, refusals_reserved) = reserved.split_at(reserved.len() - 1);
    let job = Job {
        job_id: job_id.clone(),
        tenant: caller.tenant.clone(),
        key_id: caller.key_id.clone(),
        status: JobStatus::Queued,
        prompt_sha256: prompt_sha256(&new.prompt),
        params: JobParams {
            prompt: new.prompt,
            aspect_ratio: new.aspect_ratio,
            count: new.count,
            reference_keys: Vec::new(),
            output_format: new.output_format,
            quality: new.quality,
            image_size: new.image_size,
        },
        attempts: 0,
        images: Vec::new(),
        outcomes: Vec::new(),
        error: None,
        quota_counters: images_reserved.iter().map(|c| c.pk.clone()).collect(),
        refusal_counter: refusals_reserved.first().map(|c| c.pk.clone()),
        reserved_images: u32::from(new.count),
        refunded_images: 0,
        refused_images: 0,
        created_at: now,
        updated_at: now,
        expires_at: (now + app.config.job_retention).unix_timestamp(),
        deadline_at: (now + app.config.job_deadline()).unix_timestamp(),
        cancel_at: 0,
        cancel_requested: false,
        idempotency_pk: idem_pk.clone(),
        usage: Default::default(),
        webhook,
        webhook_pending: false,
    };
    let job = match new.cancel_after {
        // The janitor sweeps by deadline: it ends the job at the sooner of the two.
        Some(after) => {
            let cancel_at = (now + after).unix_timestamp();
            Job {
                cancel_at,
                deadline_at: job.deadline_at.min(cancel_at),
                ..job
            }
        }
        None => job,
    };
    match store_and_enqueue(app, job, prepared).await {
        Ok(job) => Ok(Admitted::New(job, quotas)),
        Err(NotQueued { job, stored, error }) => {
            // Nothing reached Gemini. The reservation goes back once: here if no job record
            // exists, or with the write that ends the stored one; if that write loses (the
            // message went out after all and a worker has the job) or fails, the worker or the
            // janitor ends the job and refunds it instead.
            let give_back = if stored {
                let failed = job.failed(
                    JobFailure {
                        code: "not_queued".into(),
                        message: "the job could not be queued; it was not charged".into(),
                    },
                    app.clock.now(),
                );
                match app.store.update_job(&failed, job.expected()).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, job_id = %job_id, "a job that was not queued could not be ended; the janitor will");
                        false
                    }
                }
            } else {
                true
            };
            if give_back && let Err(refund_err) = app.store.release(&reserved).await {
                tracing::error!(error = %refund_err, job_id = %job_id, "quota refund failed");
            }
            release_claim().await;
            Err(error)
        }
    }
}

/// A job admission could not queue: whether its record was stored, and why.
struct NotQueued {
    job: Job,
    stored: bool,
    error: AdmitError,
}

async fn store_and_enqueue(
    app: &App,
    mut job: Job,
    prepared: Vec<images::PreparedImage>,
) -> Result<Job, NotQueued> {
    for (n, image) in prepared.into_iter().enumerate() {
        let key = blobs::reference_key(
            &job.tenant,
            job.job_id.as_str(),
            n,
            image.format.extension(),
        );
        if let Err(e) = app
            .blobs
            .put(&key, image.format.mime_type(), image.data)
            .await
        {
            return Err(NotQueued {
                job,
                stored: false,
                error: e.into(),
            });
        }
        job.params.reference_keys.push(key);
    }
    if let Err(e) = app.store.create_job(&job).await {
        // A create that timed out may still have written (and a retried one then finds its own
        // record): look, so the reservation is given back once, with the write that ends it.
        // If even that read fails, the record most likely is not there (the store is failing):
        // refund now. The rare record written nonetheless ends at its deadline with a second
        // refund; holding the reservation instead would cost every tenant of a throttled table
        // its quota until the month ends.
        let stored = matches!(app.store.get_job(&job.job_id).await, Ok(Some(_)));
        return Err(NotQueued {
            job,
            stored,
            error: e.into(),
        });
    }
    let message = JobMessage {
        job_id: job.job_id.clone(),
    };
    if let Err(e) = app.queue.enqueue(&message).await {
        return Err(NotQueued {
            job,
            stored: true,
            error: e.into(),
        });
    }
    Ok(job)
}

async fn replay(
    app: &App,
    existing: &IdempotencyRecord,
    request_sha256: &str,
) -> Result<Admitted, AdmitError> {
    if existing.request_sha256 != request_sha256 {
        return Err(AdmitError::IdempotencyMismatch);
    }
    match app.store.get_job(&existing.job_id).await? {
        Some(job) => Ok(Admitted::Replayed(job)),
        None => Err(AdmitError::IdempotencyInProgress),
    }
}

/// The scope of the refusal allowance among a job's reservations.
const REFUSALS_SCOPE: &str = "daily_refusals";

/// The tenant's refusals today, capped by `limit`. Admission reserves every requested image on
/// it, as it does on the image quotas: each may yet be refused. When the job ends, what was not
/// refused goes back, so the counter holds today's refusals plus the images still in flight,
/// and refusals can never pass the limit.
pub fn refusal_counter(
    tenant: &str,
    now: time::OffsetDateTime,
    amount: u64,
    limit: u32,
) -> (CounterAdd, time::OffsetDateTime) {
    limits::counter(
        Measure::Refusals,
        &Subject::Tenant(tenant),
        Window::Day,
        now,
        amount,
        limit,
    )
}

/// One counter a job reserves on: the name a 429 reports, the name of its `RateLimit` policy,
/// its window and when that ends.
struct QuotaCounter {
    add: CounterAdd,
    scope: &'static str,
    policy: &'static str,
    window: Window,
    ends: time::OffsetDateTime,
}

/// The counters a job of `images` reserves on, all or nothing: the tenant's day and month, the
/// global daily image budget, and (last) the tenant's refusal allowance, in that order.
fn quota_counters(
    app: &App,
    caller: &Caller,
    now: time::OffsetDateTime,
    images: u64,
) -> Vec<QuotaCounter> {
    let tenant = Subject::Tenant(&caller.tenant);
    let l = caller.limits;
    let g = app.config.limits.global_daily_images;
    let (day, day_ends) = limits::counter(
        Measure::Images,
        &tenant,
        Window::Day,
        now,
        images,
        l.daily_quota,
    );
    let (month, month_ends) = limits::counter(
        Measure::Images,
        &tenant,
        Window::Month,
        now,
        images,
        l.monthly_quota,
    );
    let (global, global_ends) = limits::counter(
        Measure::Images,
        &Subject::Global,
        Window::Day,
        now,
        images,
        g,
    );
    let (refusals, refusals_ends) =
        refusal_counter(&caller.tenant, now, images, l.daily_refusal_limit);
    let quota = |add, scope, policy, window, ends| QuotaCounter {
        add,
        scope,
        policy,
        window,
        ends,
    };
    vec![
        quota(day, "daily", "daily", Window::Day, day_ends),
        quota(month, "monthly", "monthly", Window::Month, month_ends),
        quota(
            global,
            "global_daily",
            "global-daily",
            Window::Day,
            global_ends,
        ),
        quota(
            refusals,
            REFUSALS_SCOPE,
            "daily-refusals",
            Window::Day,
            refusals_ends,
        ),
    ]
}

/// Gives back what an ended job did not use, to the windows it reserved in: its undelivered
/// images to the image quotas, its unrefused images to the refusal allowance.
pub async fn release_unused(app: &App, job: &Job) -> Result<(), StoreError> {
    let give_back = |pk: &String, amount: u32| CounterAdd {
        pk: pk.clone(),
        amount: u64::from(amount),
        limit: u64::MAX,
        expires_at: job.expires_at,
    };
    let unrefused = job.reserved_images.saturating_sub(job.refused_images);
    let adds: Vec<CounterAdd> = job
        .quota_counters
        .iter()
        .map(|pk| give_back(pk, job.refunded_images))
        .chain(
            job.refusal_counter
                .iter()
                .map(|pk| give_back(pk, unrefused)),
        )
        .filter(|add| add.amount > 0)
        .collect();
    if adds.is_empty() {
        return Ok(());
    }
    app.store.release(&adds).await
}

async fn prepare_references(
    app: &App,
    caller: &Caller,
    references: &[ReferenceInput],
) -> Result<Vec<images::PreparedImage>, AdmitError> {
    let limits = ImageLimits {
        longest_side: app.config.reference_longest_side,
        ..ImageLimits::default()
    };
    let mut out = Vec::with_capacity(references.len());
    let mut inline_index = 0;
    let mut upload_index = 0;
    for reference in references {
        let (field, bytes) = match reference {
            ReferenceInput::Inline(data) => {
                let field = format!("reference_images[{inline_index}].data");
                inline_index += 1;
                (field, data.clone())
            }
            ReferenceInput::Upload(id) => {
                let field = format!("reference_upload_ids[{upload_index}]");
                upload_index += 1;
                let key = blobs::upload_key(&caller.tenant, id.as_str());
                let Some(blob) = app.blobs.get(&key).await? else {
                    return Err(AdmitError::InvalidReference {
                        field,
                        issue: "not_found",
                        message: "no upload with this id (uploads expire; upload again)".into(),
                        unsupported: false,
                    });
                };
                if blob.data.len() as u64 > app.config.upload_max_bytes {
                    return Err(AdmitError::InvalidReference {
                        field,
                        issue: "too_many_bytes",
                        message: format!(
                            "uploads are limited to {} bytes",
                            app.config.upload_max_bytes
                        ),
                        unsupported: false,
                    });
                }
                (field, blob.data)
            }
        };
        let limits = limits.clone();
        // Decoding and resizing is CPU work: keep it off the async executor's threads.
        let prepared =
            tokio::task::spawn_blocking(move || images::prepare_reference(&bytes, &limits))
                .await
                .map_err(|e| {
                    AdmitError::Store(StoreError::Unavailable(format!("image worker: {e}")))
                })?;
        match prepared {
            Ok(image) => out.push(image),
            Err(e) => {
                return Err(AdmitError::InvalidReference {
                    field,
                    issue: e.issue(),
                    message: e.to_string(),
                    unsupported: e.is_unsupported(),
                });
            }
        }
    }
    Ok(out)
}
