//! `POST /v1/images`: admit an image job, optionally waiting for it (`Prefer: wait=N`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::App;
use crate::domain::admission::{self, Admitted, IdempotencyKey, NewImageJob, ReferenceInput};
use crate::domain::ids::{UploadId, hex};
use crate::domain::jobs::Job;
use crate::domain::request;
use crate::http::auth::{Authorized, scope};
use crate::http::json::JsonBody;
use crate::http::views::{AcceptedJob, JobView, job_link};
use crate::http::{ApiError, ErrorCode, ErrorEnvelope};

/// Longest `Prefer: wait=N` honoured: API Gateway ends integrations at 29 s.
pub const MAX_WAIT_SECS: u64 = 25;
const POLL_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceImage {
    /// Base64 of the image bytes (PNG, JPEG or WebP; the bytes decide, not `mime_type`).
    pub data: String,
    pub mime_type: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImageRequest {
    /// 1..=4000 characters.
    pub prompt: String,
    /// At most 3, together with `reference_upload_ids`.
    #[serde(default)]
    pub reference_images: Vec<ReferenceImage>,
    /// Ids from `POST /v1/uploads` whose URL received an image.
    #[serde(default)]
    pub reference_upload_ids: Vec<String>,
    /// One of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9.
    pub aspect_ratio: Option<String>,
    /// Images to generate, 1..=4 (default 1).
    pub count: Option<u8>,
}

#[utoipa::path(
    post, path = "/v1/images", tag = "images",
    request_body = CreateImageRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "same key + same body -> same job; other body -> 409"),
        ("Prefer" = Option<String>, Header, description = "`wait=N` (N <= 25): wait up to N seconds for the job to finish"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 202, body = AcceptedJob, description = "queued; poll `Location`"),
        (status = 200, body = JobView, description = "finished within `Prefer: wait`"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope), (status = 500, body = ErrorEnvelope),
    )
)]
pub async fn create_image(
    State(app): State<App>,
    auth: Authorized<scope::ImagesWrite>,
    headers: HeaderMap,
    body: JsonBody<CreateImageRequest>,
) -> Result<Response, ApiError> {
    let req = body.value;
    let issues = request::validate(
        &req.prompt,
        req.aspect_ratio.as_deref(),
        req.count,
        req.reference_images.len(),
        req.reference_upload_ids.len(),
    );
    let mut err = ApiError::new(ErrorCode::InvalidRequest, "the image request is invalid");
    if let Some(first) = issues.first() {
        err.message = first.message.clone();
    }
    for issue in &issues {
        err = err.with_detail(issue.field.clone(), issue.issue);
    }
    let mut references = Vec::new();
    for (i, image) in req.reference_images.iter().enumerate() {
        match base64::engine::general_purpose::STANDARD.decode(image.data.trim()) {
            Ok(bytes) if !bytes.is_empty() => references.push(ReferenceInput::Inline(bytes)),
            Ok(_) => err = err.with_detail(format!("reference_images[{i}].data"), "empty"),
            Err(_) => {
                err = err.with_detail(format!("reference_images[{i}].data"), "invalid_base64")
            }
        }
    }
    for (i, id) in req.reference_upload_ids.iter().enumerate() {
        match UploadId::parse(id) {
            Some(id) => references.push(ReferenceInput::Upload(id)),
            None => err = err.with_detail(format!("reference_upload_ids[{i}]"), "malformed"),
        }
    }
    let idempotency = idempotency_key(&headers, &body.raw);
    if let Err(detail) = &idempotency {
        err = err.with_detail("idempotency-key", *detail);
    }
    let wait = prefer_wait(&headers);
    if !err.details.is_empty() {
        if issues.is_empty() {
            err.message = "the image request is invalid; see details".into();
        }
        return Err(err);
    }

    let new = NewImageJob {
        prompt: req.prompt,
        aspect_ratio: req.aspect_ratio,
        count: req.count.unwrap_or(1),
        references,
    };
    let admitted = admission::admit(&app, &auth.caller, new, idempotency.unwrap_or(None)).await?;
    let (job, replayed) = match admitted {
        Admitted::New(job) => {
            tracing::info!(
                job_id = %job.job_id,
                tenant = %job.tenant,
                prompt_chars = job.params.prompt.chars().count(),
                count = job.params.count,
                references = job.params.reference_keys.len(),
                "job admitted"
            );
            (job, false)
        }
        Admitted::Replayed(job) => (job, true),
    };
    let job = match wait {
        Some(secs) => wait_for(&app, job, Duration::from_secs(secs)).await?,
        None => job,
    };
    let mut res = if job.status.is_final() && wait.is_some() {
        (StatusCode::OK, Json(JobView::render(&app, &job).await?)).into_response()
    } else {
        (StatusCode::ACCEPTED, Json(AcceptedJob::from_job(&job))).into_response()
    };
    let h = res.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&job_link(&job)) {
        h.insert(header::LOCATION, location);
    }
    if let Some(secs) = wait {
        h.insert(
            "preference-applied",
            HeaderValue::from_str(&format!("wait={secs}"))
                .unwrap_or(HeaderValue::from_static("wait")),
        );
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// `Idempotency-Key`: 1..=255 visible ASCII characters, bound to a hash of the body.
fn idempotency_key(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, &'static str> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| "not_ascii")?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("invalid");
    }
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_sha256: hex(&Sha256::digest(body)),
    }))
}

/// `Prefer: wait=N` (RFC 7240), capped at [`MAX_WAIT_SECS`].
pub fn prefer_wait(headers: &HeaderMap) -> Option<u64> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pref| pref.trim().strip_prefix("wait="))
        .find_map(|n| n.trim().parse::<u64>().ok())
        .map(|n| n.min(MAX_WAIT_SECS))
}

async fn wait_for(app: &App, job: Job, budget: Duration) -> Result<Job, ApiError> {
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
